// `safeguard hash` end to end: the real binary on a folder the test writes.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "hash_command.h"
#include "test_support.h"

namespace safeguard::cli {
namespace {

namespace fs = std::filesystem;

struct CliRun {
  int exit_code = -1;
  std::vector<nlohmann::json> lines;
};

CliRun RunSafeguard(const std::string& args) {
  CliRun r;
  const std::string cmd = std::string(SAFEGUARD_BINARY) + " " + args + " 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  EXPECT_NE(p, nullptr);
  if (p == nullptr) return r;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) r.lines.push_back(nlohmann::json::parse(line));
  return r;
}

class HashCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    SAFEGUARD_REQUIRE_TESTDATA();
    data_ = test_support::TestDataDir();
    tmp_ = fs::temp_directory_path() /
           ("safeguard-cli-" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(tmp_);
    fs::create_directories(tmp_ / "sub");
    fs::copy_file(data_ + "/pdq/bridge-mods/aaa-orig.jpg", tmp_ / "b.jpg");
    fs::copy_file(data_ + "/pdq/reg-test-input/pen-and-coaster.png", tmp_ / "sub" / "a.png");
    std::ofstream(tmp_ / "sub" / "c.txt") << "abc";
  }
  void TearDown() override {
    if (!tmp_.empty()) fs::remove_all(tmp_);
  }
  std::string data_;
  fs::path tmp_;
};

TEST_F(HashCommand, FolderGivesOneLinePerFileInSortedOrder) {
  const CliRun r = RunSafeguard("hash -j 2 " + tmp_.string());
  EXPECT_EQ(r.exit_code, 0);
  ASSERT_EQ(r.lines.size(), 3u);
  EXPECT_EQ(r.lines[0]["path"], (tmp_ / "b.jpg").string());
  EXPECT_EQ(r.lines[1]["path"], (tmp_ / "sub" / "a.png").string());
  EXPECT_EQ(r.lines[2]["path"], (tmp_ / "sub" / "c.txt").string());
  EXPECT_EQ(r.lines[0]["type"], "image");
  // The reference's canonical hash of this photo (expected-fullres.csv).
  EXPECT_EQ(r.lines[0]["pdq"], "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22");
  EXPECT_EQ(r.lines[0]["pdq_quality"], 100);
  EXPECT_FALSE(r.lines[0].contains("pdq_dihedral"));
  EXPECT_EQ(r.lines[0]["md5"].get<std::string>().size(), 32u);
  EXPECT_EQ(r.lines[2]["type"], "file");
  EXPECT_FALSE(r.lines[2].contains("pdq"));
  EXPECT_EQ(r.lines[2]["sha1"], "a9993e364706816aba3e25717850c26c9cd0d89d");
}

TEST_F(HashCommand, DihedralAndModes) {
  const CliRun r = RunSafeguard("hash --dihedral " + (tmp_ / "b.jpg").string());
  ASSERT_EQ(r.lines.size(), 1u);
  ASSERT_EQ(r.lines[0]["pdq_dihedral"].size(), 8u);
  EXPECT_EQ(r.lines[0]["pdq_dihedral"][0], r.lines[0]["pdq"]);
  EXPECT_EQ(r.lines[0]["pdq_dihedral"][6],
            "f0a5e102f1ccc0bd945308720fff038de34ef1e8ada9a956d2967ade5ea91a50");
  const CliRun ref = RunSafeguard("hash --mode reference512 " + (tmp_ / "b.jpg").string());
  ASSERT_EQ(ref.lines.size(), 1u);
  EXPECT_EQ(ref.lines[0]["pdq"],
            "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22");
  const CliRun fast = RunSafeguard("hash --mode fast " + (tmp_ / "b.jpg").string());
  ASSERT_EQ(fast.lines.size(), 1u);
  EXPECT_EQ(fast.exit_code, 0);
  EXPECT_EQ(RunSafeguard("hash --mode bogus " + tmp_.string()).exit_code, 105);  // CLI11 validation
}

TEST_F(HashCommand, FailuresAreReportedPerFileAndExitNonZeroAfterTheRest) {
  std::ifstream in(tmp_ / "b.jpg", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(tmp_ / "broken.jpg", std::ios::binary) << bytes.substr(0, bytes.size() / 3);
  const std::string missing = (tmp_ / "missing.png").string();
  const CliRun r = RunSafeguard("hash " + (tmp_ / "broken.jpg").string() + " " + missing + " " +
                                (tmp_ / "b.jpg").string());
  EXPECT_EQ(r.exit_code, 1);
  ASSERT_EQ(r.lines.size(), 3u);
  EXPECT_TRUE(r.lines[0].contains("error"));
  EXPECT_EQ(r.lines[0]["error_code"], "corrupt");
  EXPECT_NE(r.lines[0]["error"].get<std::string>().find("broken.jpg"), std::string::npos);
  EXPECT_EQ(r.lines[0]["type"], "image");
  EXPECT_EQ(r.lines[0]["md5"].get<std::string>().size(), 32u);  // digests survive
  EXPECT_FALSE(r.lines[0].contains("pdq"));
  EXPECT_EQ(r.lines[1]["error_code"], "not_found");
  EXPECT_EQ(r.lines[2]["type"], "image");  // processing went on
}

// A video gets "type": "video", its vPDQ frames (1 per second) and the key of
// its TMK+PDQF signature (equal to the reference's .tmk's SHA-256); a
// truncated copy is still a video, with an error beside its digests;
// --no-video makes it a plain file.
TEST_F(HashCommand, VideosGetVpdqAndTmk) {
  const std::string video = data_ + "/tmk/sample-videos/chair-19-sd-bar.mp4";
  std::ifstream in(video, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(tmp_ / "half.mp4", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  CliRun r = RunSafeguard("hash " + video + " " + (tmp_ / "half.mp4").string());
  EXPECT_EQ(r.exit_code, 1);  // the truncated one
  ASSERT_EQ(r.lines.size(), 2u);
  const nlohmann::json& v = r.lines[0];
  EXPECT_EQ(v["type"], "video");
  EXPECT_EQ(v["codec"], "h264");
  EXPECT_EQ(v["width"], 480);
  EXPECT_EQ(v["height"], 720);
  ASSERT_EQ(v["vpdq"].size(), 19u);  // 18.8 s: frames 0, 30, ..., 540
  EXPECT_EQ(v["vpdq"][1].get<std::string>().substr(0, 7), "30,100,");
  const std::vector<uint8_t> tmk =
      test_support::ReadBytes(data_ + "/tmk/sample-hashes/chair-19-sd-bar.tmk");
  EXPECT_EQ(v["tmk_sha256"], DigestBytes(tmk.data(), tmk.size()).sha256);
  EXPECT_EQ(v["tmk_frames"], 284);  // as the reference .tmk says
  const nlohmann::json& half = r.lines[1];
  EXPECT_EQ(half["type"], "video");
  EXPECT_EQ(half["error_code"], "corrupt") << half.dump();
  EXPECT_EQ(half["sha256"].get<std::string>().size(), 64u);

  r = RunSafeguard("hash --no-video " + video);
  EXPECT_EQ(r.exit_code, 0);
  ASSERT_EQ(r.lines.size(), 1u);
  EXPECT_EQ(r.lines[0]["type"], "file");
  EXPECT_FALSE(r.lines[0].contains("vpdq"));
}

TEST(ExpandPaths, KeepsArgumentOrderAndMissingPaths) {
  const std::vector<std::string> out = ExpandPaths({"/nonexistent/x", "/nonexistent/y"});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], "/nonexistent/x");
}

}  // namespace
}  // namespace safeguard::cli
