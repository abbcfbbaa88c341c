// Helpers shared by the tests of every subsystem: where the reference test
// data is, scratch directories, and readers for the data's file formats.
// Test-only: linked into test binaries, never into the library.
#pragma once

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace safeguard::test_support {

// The reference test data folder: $SAFEGUARD_TESTDATA if set, else
// <source root>/../shared/testdata; "" if absent. Tests that need it skip
// themselves by name (SAFEGUARD_REQUIRE_TESTDATA) rather than pass silently.
const std::string& TestDataDir();

// testdata/pdq/<relative>.
std::string PdqTestFile(const std::string& relative);

#define SAFEGUARD_REQUIRE_TESTDATA()                                                      \
  do {                                                                                    \
    if (::safeguard::test_support::TestDataDir().empty()) {                               \
      GTEST_SKIP() << "reference test data not found (set SAFEGUARD_TESTDATA or provide " \
                      "../shared/testdata)";                                              \
    }                                                                                     \
  } while (0)

std::vector<uint8_t> ReadBytes(const std::string& path);
void WriteBytes(const std::string& path, std::string_view bytes);
void WriteBytes(const std::string& path, const std::vector<uint8_t>& bytes);

// A fresh, uniquely named directory under the system temp directory,
// removed with its contents at destruction.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // The path of `name` inside the directory (not created).
  std::string File(const std::string& name) const { return (path_ / name).string(); }
  // Writes `bytes` to `name` and returns its path.
  std::string Write(const std::string& name, std::string_view bytes) const;
  std::string Write(const std::string& name, const std::vector<uint8_t>& bytes) const;

 private:
  std::filesystem::path path_;
};

// Binary PPM (P6, maxval 255), as in testdata/pdq/pixels. False if malformed.
struct Ppm {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;  // packed RGB
};
bool ReadPpm(const std::string& path, Ppm* ppm);

// `digits` random lowercase hex digits (synthetic hash values for tests).
std::string RandomHex(std::mt19937_64& rng, size_t digits);

// The data rows of a comma-separated file whose first line is a header.
std::vector<std::vector<std::string>> ReadCsv(const std::string& path);

}  // namespace safeguard::test_support
