#include "match_command.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "bank_cli_test_util.h"
#include "bank_command.h"
#include "safeguard/media/image.h"
#include "test_support.h"

namespace safeguard::cli {
namespace {

using Json = nlohmann::json;

// A 24-bit BMP of a smooth synthetic pattern (enough structure for PDQ
// quality well over 50).
std::string SyntheticBmp(int w, int h, int seed) {
  const uint32_t row = static_cast<uint32_t>((w * 3 + 3) & ~3);
  const uint32_t size = 54 + row * static_cast<uint32_t>(h);
  std::string b(size, '\0');
  auto put32 = [&](size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
  };
  b[0] = 'B';
  b[1] = 'M';
  put32(2, size);
  put32(10, 54);
  put32(14, 40);
  put32(18, static_cast<uint32_t>(w));
  put32(22, static_cast<uint32_t>(h));
  b[26] = 1;
  b[28] = 24;
  put32(34, row * static_cast<uint32_t>(h));
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const double v = 127.5 + 60 * std::sin(x * 0.11 * seed) + 60 * std::cos(y * 0.07 + seed);
      const auto c = static_cast<char>(static_cast<uint8_t>(std::clamp(v, 0.0, 255.0)));
      const size_t at = 54 + static_cast<size_t>(y) * row + static_cast<size_t>(x) * 3;
      b[at] = c;
      b[at + 1] = static_cast<char>(static_cast<uint8_t>((x * 2 + y) & 0xff));
      b[at + 2] = c;
    }
  }
  return b;
}

class MatchCommandTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ASSERT_TRUE(InitializeImageDecoding().ok()); }
  std::string Store() const { return "--store sqlite:" + dir_.File("db.sqlite") + " "; }
  test_support::ScratchDir dir_;
};

// Files are hashed on several threads; lines keep the input order, and are
// the same as with one thread.
TEST_F(MatchCommandTest, ParallelHashingKeepsInputOrder) {
  std::string args;
  std::vector<std::string> paths;
  for (int i = 0; i < 12; ++i) {
    paths.push_back(i % 4 == 3 ? dir_.File("missing-" + std::to_string(i) + ".bmp")
                               : dir_.Write("f" + std::to_string(i) + ".bmp",
                                            SyntheticBmp(64 + 8 * i, 48, i + 1)));
    args += " " + paths.back();
  }
  ASSERT_EQ(RunBankCli(Store() + "bank create hotline").rc, 0);
  CliResult one = RunBankCli(Store() + "match -j 1" + args);
  CliResult many = RunBankCli(Store() + "match -j 4" + args);
  EXPECT_EQ(one.rc, 1);  // the missing files
  EXPECT_EQ(many.rc, 1);
  EXPECT_EQ(many.out, one.out);
  std::istringstream lines(many.out);
  std::string line;
  size_t i = 0;
  while (std::getline(lines, line)) {
    ASSERT_LT(i, paths.size());
    EXPECT_EQ(Json::parse(line)["path"], paths[i++]);
  }
  EXPECT_EQ(i, paths.size());
}

// Matching only reads: without a store it says so and creates nothing.
TEST_F(MatchCommandTest, MissingStoreIsReportedNotCreated) {
  const std::string path = dir_.File("absent/db.sqlite");
  CliResult r = RunBankCli("--store sqlite:" + path + " match --hashes -", std::string(64, '0'));
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("no store at " + path), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir_.File("absent")));
}

TEST_F(MatchCommandTest, HashesFileGivesOneObjectPerHash) {
  std::mt19937_64 rng(21);
  Hash256 stored;
  for (uint64_t& w : stored.words) w = rng();
  Hash256 near = stored;
  near.words[0] ^= 0xfff;  // 12 bits
  Hash256 far;
  for (uint64_t& w : far.words) w = rng();
  ASSERT_EQ(RunBankCli(Store() + "bank create hotline --label category=A1").rc, 0);
  ASSERT_EQ(RunBankCli(Store() + "bank create fp --kind allow").rc, 0);
  ASSERT_EQ(RunBankCli(Store() + "bank import hotline --signal pdq -", stored.ToHex() + "\n").rc,
            0);
  ASSERT_EQ(RunBankCli(Store() + "bank import fp --signal pdq -", near.ToHex() + "\n").rc, 0);

  const std::string hashes = near.ToHex() + "\n\n" + far.ToHex() + "\nnot-hex\n";
  const std::string file = dir_.Write("hashes.txt", hashes);
  auto r = RunBankCli(Store() + "match --hashes " + file);
  EXPECT_EQ(r.rc, 1);  // one bad line
  std::istringstream lines(r.out);
  std::string line;
  std::vector<Json> out;
  while (std::getline(lines, line)) out.push_back(Json::parse(line));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0]["pdq"], near.ToHex());
  ASSERT_EQ(out[0]["matches"].size(), 1u);
  EXPECT_EQ(out[0]["matches"][0]["bank"], "hotline");
  EXPECT_EQ(out[0]["matches"][0]["distance"], 12);
  EXPECT_EQ(out[0]["matches"][0]["signal"], "pdq");
  EXPECT_EQ(out[0]["matches"][0]["labels"]["category"], "A1");
  EXPECT_TRUE(out[0]["matches"][0]["entry"].is_number_integer());
  ASSERT_EQ(out[0]["allow"].size(), 1u);
  EXPECT_EQ(out[0]["allow"][0]["bank"], "fp");
  EXPECT_EQ(out[0]["allow"][0]["distance"], 0);
  EXPECT_TRUE(out[1]["matches"].empty());
  EXPECT_TRUE(out[1]["allow"].empty());
  EXPECT_EQ(out[2]["line"], 4);
  EXPECT_EQ(out[2]["error_code"], "invalid_argument");

  // Disabled banks are not consulted.
  ASSERT_EQ(RunBankCli(Store() + "bank disable hotline").rc, 0);
  r = RunBankCli(Store() + "match --hashes -", near.ToHex() + "\n");
  EXPECT_EQ(r.rc, 0);
  EXPECT_TRUE(Json::parse(r.out)["matches"].empty());
}

TEST_F(MatchCommandTest, FilesMatchByPdqAndDigest) {
  std::filesystem::create_directories(dir_.path() / "media");
  const std::string image = dir_.Write("media/a.bmp", SyntheticBmp(96, 80, 3));
  const std::string other = dir_.Write("media/b.bmp", SyntheticBmp(96, 80, 9));
  const std::string text = dir_.Write("media/c.txt", "a plain synthetic file\n");
  Result<FileSignals> a = ComputeFileSignals(image, {});
  ASSERT_TRUE(a.ok() && a->complete()) << a.status().ToString();
  ASSERT_GE(a->pdq.quality, 50);
  Result<FileSignals> c = ComputeFileSignals(text, {});
  ASSERT_TRUE(c.ok());

  ASSERT_EQ(RunBankCli(Store() + "bank create hotline").rc, 0);
  ASSERT_EQ(RunBankCli(Store() + "bank import hotline --signal pdq -", a->pdq.hash.ToHex()).rc, 0);
  ASSERT_EQ(RunBankCli(Store() + "bank import hotline --signal md5 -", c->digests.md5).rc, 0);

  auto r = RunBankCli(Store() + "match --dihedral " + dir_.File("media") + " " +
                      dir_.File("missing.png"));
  EXPECT_EQ(r.rc, 1);  // the missing file
  std::istringstream lines(r.out);
  std::string line;
  std::vector<Json> out;
  while (std::getline(lines, line)) out.push_back(Json::parse(line));
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0]["path"], image);
  EXPECT_EQ(out[0]["pdq"], a->pdq.hash.ToHex());
  ASSERT_GE(out[0]["matches"].size(), 1u);
  EXPECT_EQ(out[0]["matches"][0]["distance"], 0);
  EXPECT_EQ(out[0]["matches"][0]["variant"], 0);
  EXPECT_EQ(out[1]["path"], other);
  for (const Json& m : out[1]["matches"]) EXPECT_LE(m["distance"].get<int>(), 31);
  EXPECT_EQ(out[2]["path"], text);
  ASSERT_EQ(out[2]["matches"].size(), 1u);
  EXPECT_EQ(out[2]["matches"][0]["signal"], "md5");
  EXPECT_EQ(out[3]["error_code"], "not_found");

  EXPECT_EQ(RunBankCli(Store() + "match").rc, 2);  // neither paths nor --hashes
}

}  // namespace
}  // namespace safeguard::cli
