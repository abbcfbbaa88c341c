// `safeguard text` end to end: the real binary on the synthetic corpora in
// src/text/testdata and on inputs the test writes.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.h"

namespace safeguard::cli {
namespace {

const std::string kTestData = SAFEGUARD_TEXT_TESTDATA;

struct CliRun {
  int exit_code = -1;
  std::vector<nlohmann::json> lines;
  std::string out;
  std::string err;
};

// Runs `safeguard <args>` through the shell (so args may redirect stdin).
CliRun RunSafeguard(const std::string& args) {
  test_support::ScratchDir dir;
  const std::string err_path = dir.File("stderr");
  CliRun r;
  const std::string cmd = std::string(SAFEGUARD_BINARY) + " " + args + " 2>" + err_path;
  FILE* p = ::popen(cmd.c_str(), "r");
  EXPECT_NE(p, nullptr);
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream e(err_path);
  std::stringstream es;
  es << e.rdbuf();
  r.err = es.str();
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON: " << line;
    r.lines.push_back(std::move(j));
  }
  return r;
}

TEST(TextScore, ScoresTheSyntheticCorpus) {
  const CliRun r = RunSafeguard("text score " + kTestData + "/conversations.jsonl");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(r.lines.size(), 74u);
  std::map<std::string, std::string> last_level;
  for (const auto& j : r.lines) last_level[j["conversation"]] = j["level"];
  EXPECT_EQ(last_level["grooming-1"], "urgent");
  EXPECT_EQ(last_level["benign-family"], "watch");  // family: three stages, lowered
  for (const auto& [conversation, level] : last_level) {
    const bool grooming = conversation.rfind("grooming-", 0) == 0;
    EXPECT_EQ(grooming, level == "review" || level == "urgent") << conversation << " " << level;
  }
  // Evidence by reference, never text.
  for (const char* word : {"drawing", "selfie", "surprise", "jersey"}) {
    EXPECT_EQ(r.out.find(word), std::string::npos) << word;
  }
}

TEST(TextScore, StdinMalformedLinesAndSummary) {
  test_support::ScratchDir dir;
  const std::string input = dir.Write(
      "in.jsonl",
      "{\"conversation\": \"c\", \"message\": \"1\", \"sender\": \"a\", \"text\": \"hi\"}\n"
      "{not json\n"
      "\n"
      "{\"conversation\": \"c\", \"message\": \"2\", \"sender\": \"a\"}\n"
      "{\"conversation\": \"c\", \"message\": \"3\", \"sender\": \"a\", \"text\": \"dont tell "
      "anyone\"}\n");
  const CliRun r = RunSafeguard("text score --summary - < " + input);
  EXPECT_EQ(r.exit_code, 1);
  ASSERT_EQ(r.lines.size(), 5u);
  EXPECT_EQ(r.lines[1]["line"], 2);
  EXPECT_EQ(r.lines[1]["error_code"], "invalid_argument");
  EXPECT_NE(r.lines[1]["error"].get<std::string>().find("not valid JSON"), std::string::npos);
  EXPECT_EQ(r.lines[2]["line"], 4);
  EXPECT_EQ(r.lines[2]["error"], "\"text\" is missing");
  EXPECT_EQ(r.lines[3]["hits"][0]["indicator"], "secrecy_request");
  EXPECT_EQ(r.lines[4]["summary"]["messages"], 2);
  EXPECT_EQ(r.lines[4]["summary"]["errors"], 2);

  const CliRun stop = RunSafeguard("text score --stop-on-error " + input);
  EXPECT_EQ(stop.exit_code, 1);
  EXPECT_EQ(stop.lines.size(), 2u);  // the first message and the first error
}

TEST(TextScore, LimitsAndEmitModes) {
  test_support::ScratchDir dir;
  std::string content =
      "{\"conversation\": \"c\", \"message\": \"1\", \"sender\": \"a\", \"text\": \"" +
      std::string(500, 'x') + "\"}\n";
  const std::string input = dir.Write("long.jsonl", content);
  const CliRun line = RunSafeguard("text score --max-line-bytes 100 " + input);
  EXPECT_EQ(line.exit_code, 1);
  ASSERT_EQ(line.lines.size(), 1u);
  EXPECT_EQ(line.lines[0]["error_code"], "limit_exceeded");
  const CliRun text = RunSafeguard("text score --max-text-bytes 100 " + input);
  ASSERT_EQ(text.lines.size(), 1u);
  EXPECT_EQ(text.lines[0]["error_code"], "limit_exceeded");

  const CliRun alerts =
      RunSafeguard("text score --emit alerts " + kTestData + "/conversations.jsonl");
  EXPECT_EQ(alerts.exit_code, 0);
  ASSERT_FALSE(alerts.lines.empty());
  for (const auto& j : alerts.lines) {
    EXPECT_TRUE(j["level"] == "review" || j["level"] == "urgent");
    EXPECT_NE(j["level"], j["previous_level"]);
    EXPECT_EQ(j["conversation"].get<std::string>().rfind("grooming-", 0), 0u);
  }
  const CliRun changes =
      RunSafeguard("text score --emit changes " + kTestData + "/conversations.jsonl");
  EXPECT_GT(changes.lines.size(), alerts.lines.size());
}

TEST(TextScore, FatalErrorsExitTwo) {
  test_support::ScratchDir dir;
  const CliRun missing = RunSafeguard("text score " + dir.File("missing.jsonl"));
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("not_found"), std::string::npos) << missing.err;
  const std::string bad_pack = dir.Write("bad.json", "{\"format\": \"safeguard-text-pack\"}");
  const CliRun pack =
      RunSafeguard("text score --pack " + bad_pack + " " + kTestData + "/conversations.jsonl");
  EXPECT_EQ(pack.exit_code, 2);
  EXPECT_NE(pack.err.find("bad.json"), std::string::npos) << pack.err;
  const CliRun model = RunSafeguard("text score --model " + bad_pack + " - < /dev/null");
  EXPECT_EQ(model.exit_code, 2);
  EXPECT_NE(model.err.find("not a fastText model"), std::string::npos) << model.err;
  EXPECT_EQ(RunSafeguard("text score --emit sometimes -").exit_code, 105);  // CLI11 validation
}

TEST(TextIndicators, ListsBuiltinAndAddedPacks) {
  const CliRun builtin = RunSafeguard("text indicators");
  EXPECT_EQ(builtin.exit_code, 0);
  EXPECT_EQ(builtin.lines.size(), 19u);
  test_support::ScratchDir dir;
  const std::string pack =
      dir.Write("extra.json",
                R"({"format": "safeguard-text-pack", "version": 1, "language": "en",
          "indicators": [{"name": "gaming_gift", "stage": "gifts", "weight": 0.2,
                          "patterns": ["free emotes"]}]})");
  const CliRun extra = RunSafeguard("text indicators --no-builtin-pack --pack " + pack);
  ASSERT_EQ(extra.lines.size(), 1u);
  EXPECT_EQ(extra.lines[0]["name"], "gaming_gift");
  EXPECT_EQ(extra.lines[0]["origin"], pack);
  const std::string input = dir.Write(
      "in.jsonl",
      R"({"conversation": "c", "message": "1", "sender": "a", "text": "FREE EMOTES here"})");
  const CliRun scored = RunSafeguard("text score --pack " + pack + " " + input);
  ASSERT_EQ(scored.lines.size(), 1u);
  EXPECT_EQ(scored.lines[0]["hits"][0]["indicator"], "gaming_gift");
}

TEST(TextTrainAndEval, PanCorpusEndToEnd) {
  const std::string pan = kTestData + "/pan_small.xml";
  const std::string predators = kTestData + "/pan_small_predators.txt";
  const CliRun eval =
      RunSafeguard("text eval --pan " + pan + " --predators " + predators + " --authors");
  EXPECT_EQ(eval.exit_code, 0) << eval.err;
  ASSERT_EQ(eval.lines.size(), 16u);  // 15 authors, then the metrics
  const nlohmann::json& m = eval.lines.back();
  EXPECT_EQ(m["authors"], 15);
  EXPECT_EQ(m["predators"], 3);
  EXPECT_EQ(m["true_positives"], 2);
  EXPECT_EQ(m["false_positives"], 2);
  EXPECT_EQ(m["false_negatives"], 1);
  EXPECT_EQ(m["precision"], 0.5);
  EXPECT_EQ(m["recall"], 0.667);
  for (const char* key :
       {"f1", "f0_5", "speed", "latency_weighted_f1", "median_messages_to_warning"}) {
    EXPECT_TRUE(m.contains(key)) << key;
  }

  test_support::ScratchDir dir;
  const std::string model = dir.File("m.bin");
  const CliRun train = RunSafeguard("text train --pan " + pan + " --predators " + predators +
                                    " --out " + model + " --dim 8 --bucket 20000");
  EXPECT_EQ(train.exit_code, 0) << train.err;
  ASSERT_EQ(train.lines.size(), 1u);
  EXPECT_GT(train.lines[0]["examples"].get<int>(), 10);
  const CliRun with_model =
      RunSafeguard("text eval --pan " + pan + " --predators " + predators + " --model " + model);
  EXPECT_EQ(with_model.exit_code, 0) << with_model.err;
  EXPECT_EQ(with_model.lines.back()["classifier"], true);
  const CliRun scored =
      RunSafeguard("text score --model " + model + " " + kTestData + "/conversations.jsonl");
  EXPECT_EQ(scored.exit_code, 0);
  EXPECT_TRUE(scored.lines.back()["factors"].contains("classifier"));

  const CliRun from_jsonl = RunSafeguard(
      "text train --messages " + kTestData + "/conversations.jsonl --positives " + kTestData +
      "/conversations_positives.txt --out " + dir.File("j.bin") + " --dim 8 --bucket 20000");
  EXPECT_EQ(from_jsonl.exit_code, 0) << from_jsonl.err;
  EXPECT_EQ(RunSafeguard("text train --out " + dir.File("x.bin")).exit_code, 2);  // no data
}

TEST(TextEval, MalformedXmlIsAClearError) {
  test_support::ScratchDir dir;
  const std::string bad = dir.Write("bad.xml", "<conversations>\n<conversation id=\"c\">\n");
  const std::string ids = dir.Write("ids.txt", "x\n");
  const CliRun r = RunSafeguard("text eval --pan " + bad + " --predators " + ids);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("malformed XML at line"), std::string::npos) << r.err;
  EXPECT_EQ(RunSafeguard("text eval --pan " + bad + " --predators " + ids + " --flag-level none")
                .exit_code,
            2);
}

}  // namespace
}  // namespace safeguard::cli
