#include "text_command.h"

#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>

#include "safeguard/text/indicators.h"
#include "safeguard/text/json.h"
#include "safeguard/text/pan.h"

namespace safeguard::cli {
namespace {

using text::Assessment;
using text::IndicatorSet;
using text::RiskLevel;
using text::WindowClassifier;

std::string Dump(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

struct Loaded {
  std::shared_ptr<const IndicatorSet> indicators;
  std::shared_ptr<const WindowClassifier> classifier;
};

Result<Loaded> LoadModel(const TextModelOptions& o) {
  std::vector<text::PackSource> packs;
  if (o.builtin_pack) packs.push_back(*text::BuiltinPack("en"));
  for (const std::string& path : o.packs) {
    Result<text::PackSource> p = text::ReadPackFile(path);
    if (!p.ok()) return p.status();
    packs.push_back(std::move(*p));
  }
  if (packs.empty()) {
    return Status::InvalidArgument("no pattern packs (--no-builtin-pack and no --pack)");
  }
  Result<std::shared_ptr<const IndicatorSet>> set = IndicatorSet::Load(packs);
  if (!set.ok()) return set.status();
  Loaded loaded;
  loaded.indicators = *set;
  if (!o.model.empty()) {
    Result<std::shared_ptr<const WindowClassifier>> model = WindowClassifier::Load(o.model);
    if (!model.ok()) return model.status();
    loaded.classifier = *model;
  }
  return loaded;
}

int Fatal(std::ostream& err, const Status& s) {
  err << "safeguard text: " << s.ToString() << "\n";
  return 2;
}

std::string ErrorLine(size_t line, const Status& s) {
  nlohmann::ordered_json j;
  j["line"] = line;
  j["error"] = s.message();
  j["error_code"] = std::string(ErrorCodeName(s.code()));
  return Dump(j);
}

// Messages of a JSON-lines file, all of them; the first malformed line is
// an error naming the file and line.
Result<std::vector<text::Message>> ReadMessages(const std::string& path,
                                                const text::MessageLimits& limits) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return Status::Error(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIoError,
                         path + ": " + std::strerror(errno));
  }
  text::JsonLinesReader reader(f, limits.max_line_bytes);
  std::vector<text::Message> messages;
  std::string_view line;
  Status status;
  while (status.ok()) {
    const text::JsonLinesReader::Outcome r = reader.Next(&line);
    if (r == text::JsonLinesReader::kEnd) break;
    const std::string where = path + ":" + std::to_string(reader.line_number()) + ": ";
    if (r == text::JsonLinesReader::kIoError) {
      status = Status::IoError(path + ": read error");
    } else if (r == text::JsonLinesReader::kTooLong) {
      status = Status::LimitExceeded(where + "line longer than max_line_bytes");
    } else if (line.find_first_not_of(" \t") != std::string_view::npos) {
      text::Message m;
      if (Status s = text::ParseMessageJson(line, limits, &m); !s.ok()) {
        status = Status::Error(s.code(), where + s.message());
      } else {
        messages.push_back(std::move(m));
      }
    }
  }
  std::fclose(f);
  if (!status.ok()) return status;
  return messages;
}

}  // namespace

int RunTextScore(const TextScoreOptions& o, std::ostream& out, std::ostream& err) {
  if (Status s = text::ValidateRiskOptions(o.risk); !s.ok()) return Fatal(err, s);
  Result<Loaded> loaded = LoadModel(o.model);
  if (!loaded.ok()) return Fatal(err, loaded.status());
  std::FILE* in = stdin;
  if (o.input != "-") {
    in = std::fopen(o.input.c_str(), "rb");
    if (in == nullptr) {
      return Fatal(err, Status::Error(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIoError,
                                      o.input + ": " + std::strerror(errno)));
    }
  }
  text::RiskEngine engine(loaded->indicators, loaded->classifier, o.risk);
  text::JsonLinesReader reader(in, o.limits.max_line_bytes);
  text::Message message;
  Assessment a;
  std::string_view line;
  size_t messages = 0, errors = 0, raised = 0;
  bool stop = false;
  while (!stop) {
    const text::JsonLinesReader::Outcome r = reader.Next(&line);
    if (r == text::JsonLinesReader::kEnd) break;
    Status status;
    if (r == text::JsonLinesReader::kIoError) {
      err << "safeguard text: " << o.input << ": read error: " << std::strerror(errno) << "\n";
      ++errors;
      break;
    }
    if (r == text::JsonLinesReader::kTooLong) {
      status = Status::LimitExceeded("line longer than max_line_bytes " +
                                     std::to_string(o.limits.max_line_bytes));
    } else if (line.find_first_not_of(" \t") == std::string_view::npos) {
      continue;  // blank lines are allowed
    } else {
      status = text::ParseMessageJson(line, o.limits, &message);
    }
    if (!status.ok()) {
      ++errors;
      out << ErrorLine(reader.line_number(), status) << "\n";
      stop = o.stop_on_error;
      continue;
    }
    engine.Process(message, &a);
    ++messages;
    const bool changed = a.conversation.level != a.conversation.previous_level;
    raised += changed;
    bool emit = true;
    if (o.emit == TextScoreOptions::Emit::kChanges) emit = changed;
    if (o.emit == TextScoreOptions::Emit::kAlerts) {
      emit = changed && a.conversation.level >= RiskLevel::kReview;
    }
    if (emit) out << text::AssessmentJson(message, a, engine.indicators()) << "\n";
  }
  if (in != stdin) std::fclose(in);
  if (o.summary) {
    nlohmann::ordered_json j;
    j["summary"]["messages"] = messages;
    j["summary"]["errors"] = errors;
    j["summary"]["level_changes"] = raised;
    j["summary"]["conversations_held"] = engine.conversations();
    j["summary"]["senders_held"] = engine.senders();
    j["summary"]["conversations_expired"] = engine.stats().conversations_expired;
    j["summary"]["conversations_evicted"] = engine.stats().conversations_evicted;
    j["summary"]["stopped_early"] = stop;
    out << Dump(j) << "\n";
  }
  out.flush();
  return errors > 0 ? 1 : 0;
}

int RunTextTrain(const TextTrainOptions& o, std::ostream& out, std::ostream& err) {
  const bool jsonl = !o.messages.empty();
  const bool pan = !o.pan.empty();
  if (jsonl == pan) {
    return Fatal(err, Status::InvalidArgument(
                          "give either --messages and --positives, or --pan and --predators"));
  }
  if ((jsonl && o.positives.empty()) || (pan && o.predators.empty())) {
    return Fatal(err, Status::InvalidArgument(jsonl ? "--messages needs --positives"
                                                    : "--pan needs --predators"));
  }
  std::vector<text::Message> messages;
  Result<std::unordered_set<std::string>> positives =
      text::ReadAuthorList(jsonl ? o.positives : o.predators);
  if (!positives.ok()) return Fatal(err, positives.status());
  if (jsonl) {
    Result<std::vector<text::Message>> m = ReadMessages(o.messages, text::MessageLimits{});
    if (!m.ok()) return Fatal(err, m.status());
    messages = std::move(*m);
  } else {
    Result<std::vector<text::PanConversation>> corpus = text::ReadPanXml(o.pan);
    if (!corpus.ok()) return Fatal(err, corpus.status());
    messages = text::PanToMessages(*corpus);
  }
  const std::vector<text::TrainingExample> examples =
      text::MakeTrainingWindows(messages, *positives, o.window, o.stride);
  Result<text::TrainReport> report = text::TrainClassifier(examples, o.train, o.out);
  if (!report.ok()) return Fatal(err, report.status());
  nlohmann::ordered_json j;
  j["model"] = o.out;
  j["messages"] = messages.size();
  j["examples"] = report->examples;
  j["positive_examples"] = report->positives;
  j["words"] = report->words;
  j["training_accuracy"] = text::RoundScore(report->training_accuracy);
  j["window"] = o.window;
  j["stride"] = o.stride;
  j["dim"] = o.train.dim;
  j["note"] = "training accuracy is a sanity check on the training data, not a quality measure";
  out << Dump(j) << "\n";
  return 0;
}

int RunTextEval(const TextEvalOptions& o, std::ostream& out, std::ostream& err) {
  std::optional<RiskLevel> flag = text::RiskLevelFromName(o.flag_level);
  if (!flag || *flag == RiskLevel::kNone) {
    return Fatal(err, Status::InvalidArgument("--flag-level must be watch, review or urgent"));
  }
  Result<Loaded> loaded = LoadModel(o.model);
  if (!loaded.ok()) return Fatal(err, loaded.status());
  Result<std::vector<text::PanConversation>> corpus = text::ReadPanXml(o.pan);
  if (!corpus.ok()) return Fatal(err, corpus.status());
  Result<std::unordered_set<std::string>> predators = text::ReadAuthorList(o.predators);
  if (!predators.ok()) return Fatal(err, predators.status());
  text::EvalOptions eval;
  eval.flag_level = *flag;
  eval.risk = o.risk;
  Result<std::vector<text::AuthorOutcome>> outcomes =
      text::RunPanEvaluation(*corpus, *predators, loaded->indicators, loaded->classifier, eval);
  if (!outcomes.ok()) return Fatal(err, outcomes.status());
  size_t absent = predators->size();
  for (const text::AuthorOutcome& a : *outcomes) absent -= a.predator;
  if (o.authors) {
    for (const text::AuthorOutcome& a : *outcomes) {
      nlohmann::ordered_json j;
      j["author"] = a.author;
      j["predator"] = a.predator;
      j["flagged"] = a.flagged;
      if (a.flagged) {
        j["messages_to_warning"] = a.messages_to_warning;
        j["conversation"] = a.conversation;
      }
      out << Dump(j) << "\n";
    }
  }
  const text::EvalMetrics m = text::ComputeMetrics(*outcomes, o.latency_p);
  nlohmann::ordered_json j;
  j["conversations"] = corpus->size();
  j["authors"] = m.authors;
  j["predators"] = m.positives;
  j["predators_listed_but_absent"] = absent;
  j["flag_level"] = o.flag_level;
  j["flagged"] = m.flagged;
  j["true_positives"] = m.true_positives;
  j["false_positives"] = m.false_positives;
  j["false_negatives"] = m.false_negatives;
  j["precision"] = text::RoundScore(m.precision);
  j["recall"] = text::RoundScore(m.recall);
  j["f1"] = text::RoundScore(m.f1);
  j["f0_5"] = text::RoundScore(m.f05);
  j["latency_p"] = m.latency_p;
  j["speed"] = text::RoundScore(m.speed);
  j["latency_weighted_f1"] = text::RoundScore(m.latency_weighted_f1);
  j["median_messages_to_warning"] = m.median_messages_to_warning;
  j["mean_messages_to_warning"] = text::RoundScore(m.mean_messages_to_warning);
  j["classifier"] = !o.model.model.empty();
  out << Dump(j) << "\n";
  return 0;
}

int RunTextIndicators(const TextModelOptions& o, std::ostream& out, std::ostream& err) {
  Result<Loaded> loaded = LoadModel(o);
  if (!loaded.ok()) return Fatal(err, loaded.status());
  for (const text::Indicator& ind : loaded->indicators->indicators()) {
    out << text::IndicatorJson(ind) << "\n";
  }
  return 0;
}

namespace {

void AddModelOptions(CLI::App* cmd, TextModelOptions* o, bool with_model) {
  cmd->add_option("--pack", o->packs, "Add a pattern pack (JSON); repeatable")
      ->allow_extra_args(false);  // one file per --pack
  cmd->add_flag("!--no-builtin-pack", o->builtin_pack, "Do not load the built-in English pack");
  if (with_model) {
    cmd->add_option("--model", o->model, "fastText model from `safeguard text train`");
  }
}

void AddRiskOptions(CLI::App* cmd, text::RiskOptions* r) {
  cmd->add_option("--window-messages", r->window_messages, "Evidence window, in messages")
      ->capture_default_str();
  cmd->add_option("--latch-k", r->latch_k, "Latch: k of the last n evaluations")
      ->capture_default_str();
  cmd->add_option("--latch-n", r->latch_n, "Latch: n")->capture_default_str();
  cmd->add_option("--classifier-window", r->classifier_window,
                  "Sender messages the classifier scores together (match training --window)")
      ->capture_default_str();
  cmd->add_option("--classifier-weight", r->classifier_weight,
                  "The most the classifier alone can contribute")
      ->capture_default_str();
  cmd->add_option("--max-conversations", r->max_conversations,
                  "Conversations held at once (least recently active out first)")
      ->capture_default_str();
}

}  // namespace

TextCommand::TextCommand(CLI::App* app) {
  text_ = app->add_subcommand(
      "text", "Conversation risk: score messages for grooming-risk indicators (for human review)");
  text_->require_subcommand(1);

  score_ = text_->add_subcommand("score", "Assess messages (JSON lines) one by one, streaming");
  score_->add_option("input", score_options_.input, "JSON-lines file, or - for standard input")
      ->capture_default_str();
  AddModelOptions(score_, &score_options_.model, true);
  AddRiskOptions(score_, &score_options_.risk);
  score_->add_option("--emit", emit_, "all | changes (level changed) | alerts (rose to review+)")
      ->check(CLI::IsMember({"all", "changes", "alerts"}))
      ->capture_default_str();
  score_->add_flag("--stop-on-error", score_options_.stop_on_error,
                   "Stop at the first malformed line (default: report it and go on)");
  score_->add_flag("--summary", score_options_.summary, "End with a summary line");
  score_->add_option("--max-line-bytes", score_options_.limits.max_line_bytes, "Longest input line")
      ->check(CLI::Range(size_t{64}, size_t{256} << 20))
      ->capture_default_str();
  score_
      ->add_option("--max-text-bytes", score_options_.limits.max_text_bytes, "Longest message text")
      ->check(CLI::Range(size_t{1}, size_t{256} << 20))
      ->capture_default_str();

  train_ = text_->add_subcommand("train", "Train the optional fastText window classifier");
  train_->add_option("--messages", train_options_.messages, "Labelled messages (JSON lines)");
  train_->add_option("--positives", train_options_.positives,
                     "Sender ids whose windows are positive, one per line");
  train_->add_option("--pan", train_options_.pan, "Or a PAN 2012 XML corpus");
  train_->add_option("--predators", train_options_.predators, "Its predator ids, one per line");
  train_->add_option("--out", train_options_.out, "Model file to write")->required();
  train_->add_option("--window", train_options_.window, "Messages per training window")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  train_->add_option("--stride", train_options_.stride, "Window step")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  train_->add_option("--dim", train_options_.train.dim, "Embedding width")
      ->check(CLI::Range(1, 512))
      ->capture_default_str();
  train_->add_option("--epoch", train_options_.train.epoch, "Epochs")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  train_->add_option("--lr", train_options_.train.learning_rate, "Learning rate")
      ->capture_default_str();
  train_->add_option("--word-ngrams", train_options_.train.word_ngrams, "Word n-grams")
      ->check(CLI::Range(1, 5))
      ->capture_default_str();
  train_->add_option("--bucket", train_options_.train.bucket, "Hashed n-gram rows")
      ->check(CLI::Range(0, 10000000))
      ->capture_default_str();
  train_->add_option("--threads", train_options_.train.threads, "Training threads")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  train_->add_option("--seed", train_options_.train.seed, "Seed")->capture_default_str();

  eval_ = text_->add_subcommand(
      "eval", "Author-level precision, recall, F1, F0.5 and early detection on PAN 2012 XML");
  eval_->add_option("--pan", eval_options_.pan, "PAN 2012 XML corpus")->required();
  eval_->add_option("--predators", eval_options_.predators, "Predator ids, one per line")
      ->required();
  AddModelOptions(eval_, &eval_options_.model, true);
  AddRiskOptions(eval_, &eval_options_.risk);
  eval_
      ->add_option("--flag-level", eval_options_.flag_level,
                   "Sender level that counts as a warning: watch | review | urgent")
      ->capture_default_str();
  eval_
      ->add_option("--latency-p", eval_options_.latency_p,
                   "p of the latency penalty (Sadeque et al. 2018)")
      ->capture_default_str();
  eval_->add_flag("--authors", eval_options_.authors, "Also print one line per author");

  indicators_ = text_->add_subcommand("indicators", "List the loaded indicators (checks packs)");
  AddModelOptions(indicators_, &indicators_options_, false);
}

int TextCommand::Run() {
  std::ostream& out = std::cout;
  std::ostream& err = std::cerr;
  if (score_->parsed()) {
    score_options_.emit = emit_ == "changes"  ? TextScoreOptions::Emit::kChanges
                          : emit_ == "alerts" ? TextScoreOptions::Emit::kAlerts
                                              : TextScoreOptions::Emit::kAll;
    return RunTextScore(score_options_, out, err);
  }
  if (train_->parsed()) return RunTextTrain(train_options_, out, err);
  if (eval_->parsed()) return RunTextEval(eval_options_, out, err);
  if (indicators_->parsed()) return RunTextIndicators(indicators_options_, out, err);
  return 2;
}

}  // namespace safeguard::cli
