// `safeguard text`: conversation risk from the command line (docs/text.md).
//
//   safeguard text score [INPUT|-]        messages as JSON lines in, assessments out
//   safeguard text train --pan X --predators P --out M   (or --messages J --positives P)
//   safeguard text eval --pan X --predators P            author-level metrics
//   safeguard text indicators                            the loaded indicators
//
// Exit codes: 0 done; 1 done, but some input lines were malformed (each got
// an error line); 2 nothing done (a pack, model or input could not be used).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iosfwd>
#include <string>
#include <vector>

#include "safeguard/text/classifier.h"
#include "safeguard/text/evaluation.h"
#include "safeguard/text/message.h"
#include "safeguard/text/risk_engine.h"

namespace safeguard::cli {

// Which indicators and model to use: shared by score, eval and indicators.
struct TextModelOptions {
  std::vector<std::string> packs;  // extra pack files, after the built-in one
  bool builtin_pack = true;
  std::string model;  // fastText model; "" = indicators only
};

struct TextScoreOptions {
  TextModelOptions model;
  std::string input = "-";  // "-" = standard input
  enum class Emit { kAll, kChanges, kAlerts } emit = Emit::kAll;
  bool stop_on_error = false;
  bool summary = false;
  text::MessageLimits limits;
  text::RiskOptions risk;
};

struct TextTrainOptions {
  std::string messages;   // JSON lines (the score input format) ...
  std::string positives;  // ... and the ids of their positive senders
  std::string pan;        // or a PAN 2012 XML corpus ...
  std::string predators;  // ... and its predator list
  std::string out;
  size_t window = 4;  // match RiskOptions::classifier_window when scoring
  size_t stride = 2;
  text::TrainOptions train;
};

struct TextEvalOptions {
  TextModelOptions model;
  std::string pan;
  std::string predators;
  std::string flag_level = "review";
  double latency_p = text::kDefaultLatencyP;
  bool authors = false;  // one line per author before the metrics
  text::RiskOptions risk;
};

// Each returns the process exit code; output goes to `out`, diagnostics to
// `err`.
int RunTextScore(const TextScoreOptions& options, std::ostream& out, std::ostream& err);
int RunTextTrain(const TextTrainOptions& options, std::ostream& out, std::ostream& err);
int RunTextEval(const TextEvalOptions& options, std::ostream& out, std::ostream& err);
int RunTextIndicators(const TextModelOptions& options, std::ostream& out, std::ostream& err);

// Registers `text` and its subcommands on `app`. After parsing, Run() runs
// whichever was given.
class TextCommand {
 public:
  explicit TextCommand(CLI::App* app);
  bool parsed() const { return text_->parsed(); }
  int Run();

 private:
  CLI::App* text_;
  CLI::App* score_;
  CLI::App* train_;
  CLI::App* eval_;
  CLI::App* indicators_;
  TextScoreOptions score_options_;
  TextTrainOptions train_options_;
  TextEvalOptions eval_options_;
  TextModelOptions indicators_options_;
  std::string emit_ = "all";
};

}  // namespace safeguard::cli
