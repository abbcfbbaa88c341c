// The fastText window classifier: training on synthetic windows, our
// window scoring against fastText's own prediction, the model-file checks,
// and the engine combining classifier and indicators.

#include "safeguard/text/classifier.h"

#include <fasttext/fasttext.h>
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

#include "fasttext_model_check.h"
#include "normalizer.h"
#include "safeguard/text/json.h"
#include "safeguard/text/risk_engine.h"
#include "test_support.h"

namespace safeguard::text {
namespace {

// Non-explicit phrases from the indicator categories, and ordinary chat.
const std::vector<std::string> kRisky = {"you are so mature for your age",
                                         "how old are you",
                                         "are your parents home",
                                         "are you home alone",
                                         "dont tell anyone about us",
                                         "this is our little secret",
                                         "add me on snap",
                                         "whats your number",
                                         "send me a selfie",
                                         "we should meet up",
                                         "i can buy you a gift",
                                         "delete our chats"};
const std::vector<std::string> kOrdinary = {"did you finish the homework",
                                            "the game last night was great",
                                            "lol same",
                                            "what time is practice",
                                            "can you grab milk",
                                            "see you at lunch",
                                            "happy birthday",
                                            "that movie was so funny",
                                            "my dog ate my sock",
                                            "are you coming to class",
                                            "i like your drawing",
                                            "ok sounds good"};

std::vector<TrainingExample> Examples(int count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<TrainingExample> out;
  for (int i = 0; i < count; ++i) {
    TrainingExample e;
    e.positive = i % 2 == 0;
    const auto& pool = e.positive ? kRisky : kOrdinary;
    for (int m = 0; m < 4; ++m) {
      // Risky windows also hold ordinary lines, as real conversations do.
      const bool ordinary_line = e.positive && m % 2 == 1;
      const auto& from = ordinary_line ? kOrdinary : pool;
      e.messages.push_back(from[rng() % from.size()]);
    }
    out.push_back(std::move(e));
  }
  return out;
}

TrainOptions SmallModel() {
  TrainOptions o;
  o.dim = 8;
  o.epoch = 30;
  o.bucket = 20000;
  return o;
}

class ClassifierTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test_support::ScratchDir();
    model_path_ = new std::string(dir_->File("model.bin"));
    Result<TrainReport> report = TrainClassifier(Examples(400, 1), SmallModel(), *model_path_);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    report_ = new TrainReport(*report);
  }
  static void TearDownTestSuite() {
    delete report_;
    delete model_path_;
    delete dir_;
  }
  static test_support::ScratchDir* dir_;
  static std::string* model_path_;
  static TrainReport* report_;
};
test_support::ScratchDir* ClassifierTest::dir_ = nullptr;
std::string* ClassifierTest::model_path_ = nullptr;
TrainReport* ClassifierTest::report_ = nullptr;

TEST_F(ClassifierTest, TrainsAndSeparatesTheSyntheticClasses) {
  EXPECT_EQ(report_->examples, 400u);
  EXPECT_EQ(report_->positives, 200u);
  EXPECT_GT(report_->words, 20u);
  EXPECT_GE(report_->training_accuracy, 0.95);
  Result<std::shared_ptr<const WindowClassifier>> model = WindowClassifier::Load(*model_path_);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ((*model)->dim(), 8);
  EXPECT_GT((*model)->Score({"hey", "dont tell anyone about us", "add me on snap"}), 0.5);
  EXPECT_LT((*model)->Score({"lol same", "see you at lunch", "what time is practice"}), 0.5);
}

TEST_F(ClassifierTest, WindowScoreEqualsFastTextsOwnPrediction) {
  Result<std::shared_ptr<const WindowClassifier>> model = WindowClassifier::Load(*model_path_);
  ASSERT_TRUE(model.ok());
  fasttext::FastText reference;
  reference.loadModel(*model_path_);
  for (const std::string& text :
       {std::string("how old are you"), std::string("did you finish the homework lol"),
        std::string("add me on snap whats your number"), std::string("never seen words zzq")}) {
    NormalizedText n;
    Normalize(text, &n);
    std::string line;
    for (size_t i = 0; i < n.tokens.size(); ++i) line += std::string(n.TokenText(i)) + " ";
    std::istringstream in(line + "\n");
    std::vector<std::pair<fasttext::real, std::string>> predictions;
    reference.predictLine(in, predictions, 2, 0);
    double expected = -1;
    for (const auto& [p, label] : predictions) {
      if (label == "__label__pos") expected = p;
    }
    ASSERT_GE(expected, 0);
    EXPECT_NEAR((*model)->Score({text}), expected, 1e-4) << text;
  }
}

TEST_F(ClassifierTest, EngineCombinesClassifierAndIndicators) {
  std::shared_ptr<const IndicatorSet> set = *IndicatorSet::Load({*BuiltinPack("en")});
  std::shared_ptr<const WindowClassifier> model = *WindowClassifier::Load(*model_path_);
  RiskOptions options;
  RiskEngine with(set, model, options);
  RiskEngine without(set, nullptr, options);
  Assessment a, b;
  Message m;
  m.conversation_id = "c";
  m.sender_id = "g";
  m.recipient_ids = {"k"};
  int i = 0;
  for (const char* text : {"hey", "you are so mature for your age", "dont tell anyone about us"}) {
    m.message_id = std::to_string(++i);
    m.timestamp_ms = i * 60000;
    m.text = text;
    with.Process(m, &a);
    without.Process(m, &b);
  }
  EXPECT_GT(a.conversation.factors.classifier, 0.5);
  EXPECT_EQ(b.conversation.factors.classifier, -1);
  EXPECT_GT(a.conversation.score, b.conversation.score);
  EXPECT_NE(AssessmentJson(m, a, *set).find("\"classifier\""), std::string::npos);
  // Without indicators the classifier alone is capped at classifier_weight.
  RiskEngine alone(set, model, options);
  m.conversation_id = "d";
  for (const char* text : {"whatever you say", "anyway thats that", "ok then"}) {
    m.text = text;
    alone.Process(m, &a);
    EXPECT_TRUE(a.hits.empty());
    EXPECT_LE(a.conversation.score, options.classifier_weight);
  }
  // Embedding sums are all the engine keeps of the text.
  EXPECT_EQ(alone.DebugStateJson().find("whatever"), std::string::npos);
}

TEST(TrainingWindows, PerSenderAndConversationInOrder) {
  std::vector<Message> msgs;
  auto add = [&](const char* c, const char* s, const char* t) {
    Message m;
    m.conversation_id = c;
    m.sender_id = s;
    m.text = t;
    msgs.push_back(m);
  };
  for (const char* t : {"1", "2", "3", "4", "5"}) add("c1", "a", t);
  add("c1", "b", "x");
  add("c2", "a", "y");
  const std::vector<TrainingExample> w = MakeTrainingWindows(msgs, {"a"}, 3, 2);
  ASSERT_EQ(w.size(), 4u);
  EXPECT_EQ(w[0].messages, (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(w[1].messages, (std::vector<std::string>{"3", "4", "5"}));
  EXPECT_TRUE(w[0].positive);
  EXPECT_EQ(w[2].messages, (std::vector<std::string>{"x"}));
  EXPECT_FALSE(w[2].positive);
  EXPECT_EQ(w[3].messages, (std::vector<std::string>{"y"}));
}

TEST(ClassifierTraining, NeedsBothClasses) {
  test_support::ScratchDir dir;
  std::vector<TrainingExample> one(3);
  EXPECT_EQ(TrainClassifier(one, SmallModel(), dir.File("m.bin")).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(TrainClassifier({}, SmallModel(), dir.File("m.bin")).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(
      TrainClassifier(Examples(20, 2), SmallModel(), dir.File("no/such/dir/m.bin")).status().code(),
      ErrorCode::kIoError);
}

std::vector<uint8_t> Bytes(const std::string& path) { return test_support::ReadBytes(path); }

TEST_F(ClassifierTest, ModelFilesAreCheckedBeforeFastTextReadsThem) {
  const std::vector<uint8_t> good = Bytes(*model_path_);
  ASSERT_TRUE(CheckFastTextModel(good.data(), good.size(), 512).ok());
  auto check = [&](std::vector<uint8_t> bytes) {
    return CheckFastTextModel(bytes.data(), bytes.size(), 512).status();
  };
  EXPECT_EQ(check({}).message(), "not a fastText model");
  EXPECT_EQ(check({1, 2, 3, 4, 5, 6, 7, 8}).message(), "not a fastText model");
  for (size_t cut : {size_t{6}, size_t{40}, size_t{100}, good.size() / 2, good.size() - 1}) {
    const Status s =
        check(std::vector<uint8_t>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut)));
    EXPECT_EQ(s.code(), ErrorCode::kCorrupt) << cut << ": " << s.ToString();
  }
  std::vector<uint8_t> longer = good;
  longer.push_back(0);
  EXPECT_EQ(check(longer).message(), "fastText model: trailing bytes");
  std::vector<uint8_t> old_version = good;
  old_version[4] = 11;
  EXPECT_EQ(check(old_version).code(), ErrorCode::kUnsupported);
  EXPECT_EQ(CheckFastTextModel(good.data(), good.size(), 4).status().code(),
            ErrorCode::kLimitExceeded);
  std::vector<uint8_t> huge_dim = good;
  huge_dim[8] = 0xFF;
  huge_dim[9] = 0xFF;
  huge_dim[10] = 0xFF;
  huge_dim[11] = 0x7F;  // dim = 2^31 - 1
  EXPECT_EQ(check(huge_dim).code(), ErrorCode::kLimitExceeded);

  // Through Load: errors name the file; nothing crashes.
  test_support::ScratchDir dir;
  const std::string truncated =
      dir.Write("t.bin", std::vector<uint8_t>(good.begin(), good.begin() + 200));
  const Status s = WindowClassifier::Load(truncated).status();
  EXPECT_EQ(s.code(), ErrorCode::kCorrupt);
  EXPECT_NE(s.message().find(truncated), std::string::npos);
  EXPECT_EQ(WindowClassifier::Load(dir.File("missing.bin")).status().code(), ErrorCode::kNotFound);
  ClassifierLimits small;
  small.max_model_bytes = 100;
  EXPECT_EQ(WindowClassifier::Load(*model_path_, small).status().code(), ErrorCode::kLimitExceeded);
}

TEST(ClassifierLabels, ModelsWithOtherLabelsAreRefused) {
  test_support::ScratchDir dir;
  const std::string data = dir.Write("d.txt", "__label__a hello there\n__label__b good bye\n");
  fasttext::Args args;
  args.input = data;
  args.model = fasttext::model_name::sup;
  args.loss = fasttext::loss_name::softmax;
  args.dim = 4;
  args.epoch = 1;
  args.minCount = 1;
  args.minn = 0;
  args.maxn = 0;
  args.bucket = 100;
  args.thread = 1;
  args.verbose = 0;
  fasttext::FastText ft;
  ft.train(args);
  const std::string path = dir.File("other.bin");
  ft.saveModel(path);
  EXPECT_EQ(WindowClassifier::Load(path).status().code(), ErrorCode::kUnsupported);
}

}  // namespace
}  // namespace safeguard::text
