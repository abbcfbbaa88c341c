#include "test_support.h"

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <stdexcept>

namespace safeguard::test_support {

namespace fs = std::filesystem;

const std::string& TestDataDir() {
  static const std::string dir = [] {
    if (const char* env = std::getenv("SAFEGUARD_TESTDATA"); env != nullptr && *env != '\0') {
      return fs::is_directory(env) ? std::string(env) : std::string();
    }
    const fs::path p = fs::path(SAFEGUARD_SOURCE_DIR) / ".." / "shared" / "testdata";
    return fs::is_directory(p) ? fs::weakly_canonical(p).string() : std::string();
  }();
  return dir;
}

std::string PdqTestFile(const std::string& relative) { return TestDataDir() + "/pdq/" + relative; }

std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteBytes(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path);
}

void WriteBytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  WriteBytes(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

ScratchDir::ScratchDir() {
  static std::atomic<int> counter{0};
  std::random_device random;
  for (int attempt = 0;; ++attempt) {
    fs::path p =
        fs::temp_directory_path() / ("safeguard-test-" + std::to_string(::getpid()) + "-" +
                                     std::to_string(counter++) + "-" + std::to_string(random()));
    if (fs::create_directory(p)) {
      path_ = p;
      return;
    }
    if (attempt > 100) throw std::runtime_error("cannot create a scratch directory");
  }
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string ScratchDir::Write(const std::string& name, std::string_view bytes) const {
  const std::string p = File(name);
  WriteBytes(p, bytes);
  return p;
}

std::string ScratchDir::Write(const std::string& name, const std::vector<uint8_t>& bytes) const {
  const std::string p = File(name);
  WriteBytes(p, bytes);
  return p;
}

bool ReadPpm(const std::string& path, Ppm* ppm) {
  const std::vector<uint8_t> bytes = ReadBytes(path);
  size_t pos = 0;
  auto next_token = [&]() -> std::string {
    while (true) {
      while (pos < bytes.size() && std::isspace(bytes[pos])) ++pos;
      if (pos < bytes.size() && bytes[pos] == '#') {  // comment to end of line
        while (pos < bytes.size() && bytes[pos] != '\n') ++pos;
        continue;
      }
      break;
    }
    std::string token;
    while (pos < bytes.size() && !std::isspace(bytes[pos]))
      token += static_cast<char>(bytes[pos++]);
    return token;
  };
  if (next_token() != "P6") return false;
  const std::string w = next_token(), h = next_token();
  if (w.empty() || h.empty() || next_token() != "255") return false;
  ppm->width = std::stoi(w);
  ppm->height = std::stoi(h);
  ++pos;  // the single whitespace byte before the raster
  const size_t n = static_cast<size_t>(ppm->width) * static_cast<size_t>(ppm->height) * 3;
  if (pos > bytes.size() || bytes.size() - pos != n) return false;
  ppm->pixels.assign(bytes.begin() + static_cast<std::ptrdiff_t>(pos), bytes.end());
  return true;
}

std::string RandomHex(std::mt19937_64& rng, size_t digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(digits, '0');
  for (char& c : s) c = kHex[rng() & 15];
  return s;
}

std::vector<std::vector<std::string>> ReadCsv(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::stringstream ss(line);
    std::string field;
    while (std::getline(ss, field, ',')) fields.push_back(field);
    if (!fields.empty()) rows.push_back(std::move(fields));
  }
  return rows;
}

}  // namespace safeguard::test_support
