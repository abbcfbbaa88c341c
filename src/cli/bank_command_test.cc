#include "bank_command.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "bank_cli_test_util.h"
#include "hash_command.h"
#include "match_command.h"
#include "test_support.h"

namespace safeguard::cli {
namespace {

using Json = nlohmann::json;

using test_support::RandomHex;

class BankCommandTest : public ::testing::Test {
 protected:
  std::string Store() const { return "--store sqlite:" + dir_.File("store/db.sqlite") + " "; }
  test_support::ScratchDir dir_;
};

TEST_F(BankCommandTest, CreateListShowEnableDisable) {
  auto r = RunBankCli(Store() +
                      "bank create hotline --kind block --label severity=A --label kind=image "
                      "--description test");
  ASSERT_EQ(r.rc, 0) << r.err;
  Json j = Json::parse(r.out);
  EXPECT_EQ(j["name"], "hotline");
  EXPECT_EQ(j["kind"], "block");
  EXPECT_EQ(j["labels"]["severity"], "A");
  EXPECT_EQ(j["pdq_max_distance"], 31);
  EXPECT_EQ(j["pdq_min_quality"], 50);
  EXPECT_EQ(j["entries"], 0);

  ASSERT_EQ(RunBankCli(Store() + "bank create fp --kind allow").rc, 0);
  EXPECT_EQ(RunBankCli(Store() + "bank create fp").rc, 2);  // taken
  EXPECT_EQ(RunBankCli(Store() + "bank create x --label novalue").rc, 2);
  EXPECT_EQ(RunBankCli(Store() + "bank create y --kind deny").rc, 2);

  r = RunBankCli(Store() + "bank list");
  ASSERT_EQ(r.rc, 0);
  std::istringstream lines(r.out);
  std::string first, second;
  std::getline(lines, first);
  std::getline(lines, second);
  EXPECT_EQ(Json::parse(first)["name"], "fp");
  EXPECT_EQ(Json::parse(first)["kind"], "allow");
  EXPECT_EQ(Json::parse(second)["name"], "hotline");

  r = RunBankCli(Store() + "bank disable hotline");
  ASSERT_EQ(r.rc, 0);
  EXPECT_FALSE(Json::parse(r.out)["enabled"].get<bool>());
  r = RunBankCli(Store() + "bank show hotline");
  EXPECT_FALSE(Json::parse(r.out)["enabled"].get<bool>());
  r = RunBankCli(Store() + "bank enable hotline");
  EXPECT_TRUE(Json::parse(r.out)["enabled"].get<bool>());
  r = RunBankCli(Store() + "bank show missing");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("not_found"), std::string::npos);
}

TEST_F(BankCommandTest, ImportExportRemoveEntry) {
  ASSERT_EQ(RunBankCli(Store() + "bank create b").rc, 0);
  std::mt19937_64 rng(11);
  std::string list;
  for (int i = 0; i < 20; ++i) list += RandomHex(rng, 64) + "\n";
  const std::string file = dir_.Write("list.txt", list);
  auto r = RunBankCli(Store() + "bank import b --format plain --signal pdq " + file);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(Json::parse(r.out)["added"], 20);
  r = RunBankCli(Store() + "bank import b --format plain --signal pdq " + file);
  EXPECT_EQ(Json::parse(r.out)["unchanged"], 20);

  r = RunBankCli(Store() + "bank export b --format plain --signal pdq");
  ASSERT_EQ(r.rc, 0);
  EXPECT_EQ(r.out, list);

  // From standard input, with a bad line: refused with its number, then skipped.
  const std::string md5s = RandomHex(rng, 32) + "\nbad\n" + RandomHex(rng, 32) + "\n";
  r = RunBankCli(Store() + "bank import b --format plain --signal md5 -", md5s);
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("line 2:"), std::string::npos) << r.err;
  EXPECT_EQ(RunBankCli(Store() + "bank export b --signal md5").out, "");
  r = RunBankCli(Store() + "bank import b --signal md5 --skip-invalid -", md5s);
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(Json::parse(r.out)["skipped"], 1);
  EXPECT_EQ(Json::parse(r.out)["added"], 2);

  const std::string victim = list.substr(0, 64);
  r = RunBankCli(Store() + "bank remove-entry b --signal pdq " + victim + " --reason withdrawn");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(Json::parse(r.out)["removed"].get<bool>());
  EXPECT_EQ(RunBankCli(Store() + "bank remove-entry b --signal pdq " + victim).rc, 1);
  EXPECT_EQ(RunBankCli(Store() + "bank export b --signal pdq").out, list.substr(65));
  r = RunBankCli(Store() + "bank show b");
  EXPECT_EQ(Json::parse(r.out)["entries"], 21);
  EXPECT_EQ(Json::parse(r.out)["removed"], 1);

  EXPECT_EQ(RunBankCli(Store() + "bank import b --signal pdq " + dir_.File("none")).rc, 2);
  EXPECT_EQ(RunBankCli(Store() + "bank import b --format xml --signal pdq " + file).rc, 2);
  EXPECT_EQ(RunBankCli(Store() + "bank import b --format csv --signal pdq " + file).rc, 2);

  // CSV of every signal, round-tripped into another bank.
  r = RunBankCli(Store() + "bank export b --format csv");
  ASSERT_EQ(r.rc, 0);
  EXPECT_EQ(r.out.rfind("signal,value,source_id,labels\n", 0), 0u);
  const std::string csv = dir_.Write("b.csv", r.out);
  ASSERT_EQ(RunBankCli(Store() + "bank create c").rc, 0);
  r = RunBankCli(Store() + "bank import c --format csv " + csv);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(Json::parse(r.out)["added"], 21);
  EXPECT_EQ(RunBankCli(Store() + "bank export c --format csv").out,
            RunBankCli(Store() + "bank export b --format csv").out);
  EXPECT_EQ(RunBankCli(Store() + "bank import nope --signal pdq " + file).rc, 2);
}

// The forms scripts rely on, through the real binary and its default store.
TEST_F(BankCommandTest, BinaryUsesDefaultStoreInWorkingDirectory) {
  std::mt19937_64 rng(12);
  const std::string hash = RandomHex(rng, 64);
  dir_.Write("list.txt", hash + "\n");
  const std::string cd = "cd " + dir_.path().string() + " && " + SAFEGUARD_BINARY;
  ASSERT_EQ(std::system((cd + " bank create b --kind block --label c=A >/dev/null").c_str()), 0);
  ASSERT_EQ(
      std::system((cd + " bank import b --format plain --signal pdq list.txt >/dev/null").c_str()),
      0);
  EXPECT_TRUE(std::filesystem::exists(dir_.path() / "safeguard-data" / "safeguard.db"));
  FILE* p = ::popen((cd + " bank export b --format plain --signal pdq").c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[256];
  while (size_t n = std::fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  EXPECT_EQ(::pclose(p), 0);
  EXPECT_EQ(out, hash + "\n");
}

// Videos end to end: `hash --signatures-dir` writes the reference files,
// `bank import --format vpdq|tmk` takes them (a folder, a second time
// unchanged), `match` finds the video by vPDQ and TMK and not another one,
// `bank export` gives the same .tmk back and `remove-entry` takes it out.
TEST_F(BankCommandTest, VideoSignaturesFromHashToMatch) {
  SAFEGUARD_REQUIRE_TESTDATA();
  const std::string videos = test_support::TestDataDir() + "/tmk/sample-videos/";
  const std::string chair = videos + "chair-19-sd-bar.mp4";
  const std::string sigs = dir_.File("sigs");
  HashCommandOptions hash;
  hash.paths = {chair};
  hash.signatures_dir = sigs;
  hash.progress = false;
  std::ostringstream hashed;
  ASSERT_EQ(RunHashCommand(hash, hashed), 0);
  const Json line = Json::parse(hashed.str());
  EXPECT_EQ(line["type"], "video");
  const std::string tmk_file = line["tmk_file"];
  const std::string vpdq_file = line["vpdq_file"];
  // The .tmk written is the reference's, byte for byte.
  EXPECT_EQ(test_support::ReadBytes(tmk_file),
            test_support::ReadBytes(test_support::TestDataDir() +
                                    "/tmk/sample-hashes/chair-19-sd-bar.tmk"));

  ASSERT_EQ(RunBankCli(Store() + "bank create videos").rc, 0);
  auto r = RunBankCli(Store() + "bank import videos --format tmk " + sigs);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(Json::parse(r.out)["added"], 1);
  r = RunBankCli(Store() + "bank import videos --format vpdq " + vpdq_file);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(Json::parse(r.out)["added"], 1);
  r = RunBankCli(Store() + "bank import videos --format tmk " + tmk_file);
  EXPECT_EQ(Json::parse(r.out)["unchanged"], 1);
  // A vPDQ text is not a .tmk: refused, naming the file, nothing changes.
  r = RunBankCli(Store() + "bank import videos --format tmk " + vpdq_file);
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find(vpdq_file), std::string::npos) << r.err;

  r = RunBankCli(Store() + "match " + chair + " " + videos + "doorknob-hd-no-bar.mp4");
  ASSERT_EQ(r.rc, 0) << r.err;
  std::istringstream lines(r.out);
  std::string first, second;
  std::getline(lines, first);
  std::getline(lines, second);
  const Json same = Json::parse(first);
  EXPECT_EQ(same["type"], "video");
  std::set<std::string> signals;
  for (const Json& m : same["matches"]) {
    signals.insert(m["signal"].get<std::string>());
    if (m["signal"] == "vpdq") {
      EXPECT_DOUBLE_EQ(m["query_percent"].get<double>(), 100.0);
    } else if (m["signal"] == "tmk") {
      EXPECT_NEAR(m["level2"].get<double>(), 1.0, 1e-5);  // float arithmetic
    }
  }
  EXPECT_EQ(signals, (std::set<std::string>{"tmk", "vpdq"}));
  EXPECT_TRUE(Json::parse(second)["matches"].empty()) << second;

  r = RunBankCli(Store() + "bank export videos --format tmk --out " + dir_.File("out"));
  ASSERT_EQ(r.rc, 0) << r.err;
  const std::string key = line["tmk_sha256"];
  EXPECT_EQ(test_support::ReadBytes(dir_.File("out/" + key + ".tmk")),
            test_support::ReadBytes(tmk_file));
  EXPECT_EQ(RunBankCli(Store() + "bank export videos --format tmk").rc, 2);  // no --out
  r = RunBankCli(Store() + "bank remove-entry videos --signal tmk " + key);
  ASSERT_EQ(r.rc, 0) << r.err;
  r = RunBankCli(Store() + "match " + chair);
  const Json after = Json::parse(r.out);  // named: it must outlive the loop
  for (const Json& m : after["matches"]) {
    EXPECT_NE(m["signal"], "tmk");
  }
}

}  // namespace
}  // namespace safeguard::cli
