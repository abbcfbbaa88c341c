// `safeguard-bench text`: the conversation-risk engine on a synthetic stream
// of many concurrent conversations, generated here (ordinary chat with a few
// grooming-pattern conversations expressed through the documented indicator
// categories only; some obfuscated, some non-ASCII). Per core (one thread):
//
//   normalize / normalize-oracle       the fast normaliser beside the ICU
//                                      whole-string oracle it is tested against
//   match / match-oracle               the token trie beside brute force
//   engine-indicators                  RiskEngine::Process, no model (floor 200,000 msg/s)
//   engine-classifier                  with a fastText model (floor 50,000 msg/s)
//   cli-parse-engine / cli-end-to-end  JSON parsing (+ output) around the engine
//   memory                             bytes per active conversation
//
// See bench/README.md and docs/performance.md ("Conversation risk").

#include <malloc.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../src/text/matcher.h"
#include "../src/text/normalizer.h"
#include "machine.h"
#include "safeguard/text/classifier.h"
#include "safeguard/text/indicators.h"
#include "safeguard/text/json.h"
#include "safeguard/text/message.h"
#include "safeguard/text/risk_engine.h"

namespace safeguard::bench {
namespace {

using Clock = std::chrono::steady_clock;
using namespace safeguard::text;

struct Options {
  size_t conversations = 20000;
  size_t messages = 200000;
  double min_seconds = 1.0;
  uint32_t seed = 1;
  std::string model;  // "" = train a small model here
  int dim = 16;
};

std::string Machine() { return MachineDescription(); }

// Ordinary chat: friends, family, school, games. Some emoji, accents,
// fullwidth letters and stretched words, as real chat has.
const std::vector<std::string> kOrdinary = {
    "hey whats up",
    "lol that's so funny",
    "did you see the game last night",
    "can you send me the notes from class",
    "brb dinner",
    "omg same",
    "what time is practice tomorrow",
    "ok see you at 5",
    "i'm so tired today honestly",
    "this level is impossible, i've tried like 20 times",
    "gg wp",
    "haha no way 😂",
    "are you coming to the party saturday?",
    "my mom says hi",
    "can't wait for the weekend!!",
    "did you finish the homework for monday",
    "that movie was amazing, the ending though",
    "i got a new puppy, she's so tiny",
    "where are we meeting for the group project",
    "lunch at noon?",
    "the bus was late again ugh",
    "happy birthday!! 🎉🎉",
    "café after school?",
    "ｗｈａｔｅｖｅｒ",
    "nooooo waaaay",
    "k",
    "thx",
    "can you pick up milk on the way home",
    "the wifi here is terrible",
    "i'll call you later tonight",
    "who's driving to the game",
    "did you get the new update",
    "my phone is at 2 percent",
    "that test was brutal",
    "we should study together for the final",
    "send me the link to the playlist",
    "grandma made her famous soup 😋",
    "i can't find my charger anywhere",
    "see you tomorrow",
    "sounds good 👍",
    "ok so basically the teacher said the project is due friday but nobody has started yet lol",
    "can you ask your brother if he still has my hoodie, i think i left it there last week",
    "the new map is actually really fun once you figure out where the good loot spawns are",
    "mum says we're having pasta tonight and you can come over if your parents say yes",
    "i watched the first three episodes and now i can't stop, don't spoil anything please!!"};

// Grooming-pattern lines: indicator categories only, never explicit; some
// obfuscated.
const std::vector<std::string> kRisky = {"you are so mature for your age",
                                         "how old are you?",
                                         "h0w 0ld r u",
                                         "are your parents home right now?",
                                         "r u h0me al0ne",
                                         "dont tell anyone we talk ok",
                                         "d0n't t3ll ａｎｙｏｎｅ, it's our s.e.c.r.e.t",
                                         "add me on snap its easier",
                                         "add me on sn@pch@t",
                                         "send me a selfie",
                                         "i can buy you that game",
                                         "we should meet up sometime",
                                         "your parents dont understand you like i do",
                                         "delete our chats ok"};

struct Stream {
  std::vector<Message> messages;
  size_t risky_conversations = 0;
};

Stream Generate(const Options& o) {
  std::mt19937 rng(o.seed);
  Stream s;
  const size_t n = std::max<size_t>(o.conversations, 1);
  std::vector<bool> risky(n);
  for (size_t c = 0; c < n; ++c) {
    risky[c] = rng() % 100 < 3;
    s.risky_conversations += risky[c];
  }
  std::vector<uint32_t> count(n, 0);
  int64_t t = 1714579500000;
  for (size_t i = 0; i < o.messages; ++i) {
    const size_t c = rng() % n;
    Message m;
    m.conversation_id = "conversation-" + std::to_string(c);
    m.message_id = "m" + std::to_string(i);
    const bool first = count[c]++ % 2 == 0;
    const std::string a = "user-" + std::to_string(c * 2);
    const std::string b = "user-" + std::to_string(c * 2 + 1);
    m.sender_id = first ? a : b;
    m.recipient_ids = {first ? b : a};
    t += 1 + static_cast<int64_t>(rng() % 1000);
    m.timestamp_ms = t;
    const bool risky_line = risky[c] && first && rng() % 3 == 0;
    m.text = risky_line ? kRisky[rng() % kRisky.size()] : kOrdinary[rng() % kOrdinary.size()];
    if (c % 4 == 0) {  // platforms that send facts
      m.facts.sender_minor = !first;
      m.facts.recipient_minor = first;
      m.facts.connected = rng() % 2 == 0;
    }
    s.messages.push_back(std::move(m));
  }
  return s;
}

// Seconds per item of the fastest of several rounds (at least three, and
// at least min_seconds in all): the least disturbed by other work.
template <typename F>
double SecondsPerItem(size_t items, double min_seconds, F&& round) {
  const auto start = Clock::now();
  double best = 0;
  for (int r = 0;; ++r) {
    const auto t0 = Clock::now();
    round();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (r == 0 || s < best) best = s;
    if (r >= 2 && std::chrono::duration<double>(Clock::now() - start).count() >= min_seconds) break;
  }
  return best / static_cast<double>(items);
}

void Emit(const nlohmann::ordered_json& j) { std::cout << j.dump() << std::endl; }

nlohmann::ordered_json Row(const std::string& impl, size_t messages, double seconds_per_message,
                           const std::string& machine) {
  nlohmann::ordered_json j;
  j["bench"] = "text";
  j["impl"] = impl;
  j["messages"] = messages;
  j["messages_per_s"] = std::round(1 / seconds_per_message);
  j["ns_per_message"] = std::round(seconds_per_message * 1e9 * 10) / 10;
  j["threads"] = 1;
  j["machine"] = machine;
  return j;
}

size_t HeapInUse() { return mallinfo2().uordblks; }

std::shared_ptr<const WindowClassifier> TrainModel(const Options& o, const Stream& s,
                                                   const std::string& dir) {
  std::unordered_set<std::string> positives;
  // Senders of the risky conversations: the first speaker of each.
  for (const Message& m : s.messages) {
    for (const std::string& r : kRisky) {
      if (m.text == r) positives.insert(m.sender_id);
    }
  }
  std::vector<Message> sample(
      s.messages.begin(),
      s.messages.begin() + static_cast<std::ptrdiff_t>(std::min<size_t>(s.messages.size(), 50000)));
  TrainOptions t;
  t.dim = o.dim;
  t.epoch = 5;
  const std::string path = dir + "/safeguard-bench-text-model.bin";
  Result<TrainReport> report =
      TrainClassifier(MakeTrainingWindows(sample, positives, 4, 2), t, path);
  if (!report.ok()) {
    std::cerr << "training failed: " << report.status().ToString() << "\n";
    return nullptr;
  }
  Result<std::shared_ptr<const WindowClassifier>> model = WindowClassifier::Load(path);
  std::filesystem::remove(path);
  return model.ok() ? *model : nullptr;
}

int RunText(const Options& o) {
  const std::string machine = Machine();
  Result<std::shared_ptr<const IndicatorSet>> loaded = IndicatorSet::Load({*BuiltinPack("en")});
  if (!loaded.ok()) {
    std::cerr << loaded.status().ToString() << "\n";
    return 2;
  }
  const std::shared_ptr<const IndicatorSet> set = *loaded;
  const Stream stream = Generate(o);
  const size_t n = stream.messages.size();
  {
    nlohmann::ordered_json j;
    j["bench"] = "text";
    j["workload"] = "synthetic-stream";
    j["messages"] = n;
    j["conversations"] = o.conversations;
    j["risky_conversations"] = stream.risky_conversations;
    size_t bytes = 0, ascii = 0;
    for (const Message& m : stream.messages) {
      bytes += m.text.size();
      ascii += std::all_of(m.text.begin(), m.text.end(),
                           [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    }
    j["mean_text_bytes"] =
        std::round(static_cast<double>(bytes) / static_cast<double>(n) * 10) / 10;
    j["ascii_share"] =
        std::round(static_cast<double>(ascii) / static_cast<double>(n) * 1000) / 1000;
    j["indicators"] = set->indicators().size();
    j["patterns"] = set->matcher().patterns().size();
    j["machine"] = machine;
    Emit(j);
  }

  // Normalisation and matching, each beside its oracle (on a sample: the
  // oracles are slow by design).
  NormalizedText normalized;
  std::vector<Match> matches;
  MatchScratch scratch;
  volatile size_t sink = 0;
  const double normalize = SecondsPerItem(n, o.min_seconds, [&] {
    for (const Message& m : stream.messages) {
      Normalize(m.text, &normalized);
      sink = sink + normalized.tokens.size();
    }
  });
  const size_t oracle_n = std::min<size_t>(n, 5000);
  const double normalize_oracle = SecondsPerItem(oracle_n, o.min_seconds / 4, [&] {
    for (size_t i = 0; i < oracle_n; ++i)
      sink = sink + NormalizeOracle(stream.messages[i].text).size();
  });
  const double match = SecondsPerItem(n, o.min_seconds, [&] {
    for (const Message& m : stream.messages) {
      Normalize(m.text, &normalized);
      set->matcher().Find(normalized, &matches, &scratch);
      sink = sink + matches.size();
    }
  });
  const size_t brute_n = std::min<size_t>(n, 500);
  const double match_oracle = SecondsPerItem(brute_n, o.min_seconds / 4, [&] {
    for (size_t i = 0; i < brute_n; ++i) {
      Normalize(stream.messages[i].text, &normalized);
      FindOracle(set->matcher().vocabulary(), set->matcher().patterns(), normalized, &matches);
      sink = sink + matches.size();
    }
  });
  Emit(Row("normalize", n, normalize, machine));
  Emit(Row("normalize-oracle", oracle_n, normalize_oracle, machine));
  Emit(Row("normalize+match", n, match, machine));
  Emit(Row("normalize+match-oracle", brute_n, match_oracle, machine));
  {
    nlohmann::ordered_json j;
    j["bench"] = "text";
    j["ratio"] = "normalize-oracle / normalize";
    j["value"] = std::round(normalize_oracle / normalize * 10) / 10;
    Emit(j);
    j["ratio"] = "normalize+match-oracle / normalize+match";
    j["value"] = std::round(match_oracle / match * 10) / 10;
    Emit(j);
  }

  // The engine, from an empty state each round (conversations are created
  // as they first appear, as in a live stream).
  const RiskOptions options;
  auto engine_round = [&](std::shared_ptr<const WindowClassifier> model) {
    Assessment a;
    return SecondsPerItem(n, o.min_seconds, [&] {
      RiskEngine engine(set, model, options);
      for (const Message& m : stream.messages) engine.Process(m, &a);
      sink = sink + engine.conversations();
    });
  };
  auto floor_row = [&](const std::string& impl, double seconds, double floor) {
    nlohmann::ordered_json j = Row(impl, n, seconds, machine);
    j["floor_messages_per_s"] = floor;
    j["meets_floor"] = 1 / seconds >= floor;
    Emit(j);
  };
  floor_row("engine-indicators", engine_round(nullptr), 200000);

  std::shared_ptr<const WindowClassifier> model;
  if (!o.model.empty()) {
    Result<std::shared_ptr<const WindowClassifier>> m = WindowClassifier::Load(o.model);
    if (!m.ok()) {
      std::cerr << m.status().ToString() << "\n";
      return 2;
    }
    model = *m;
  } else {
    model = TrainModel(o, stream, std::filesystem::temp_directory_path().string());
  }
  if (model) {
    nlohmann::ordered_json j = Row("engine-classifier", n, engine_round(model), machine);
    const double seconds = 1 / j["messages_per_s"].get<double>();
    j["floor_messages_per_s"] = 50000;
    j["meets_floor"] = 1 / seconds >= 50000;
    j["model_dim"] = model->dim();
    Emit(j);
  }

  // What `safeguard text score` adds: parsing each JSON line, and printing
  // each assessment.
  std::vector<std::string> lines;
  lines.reserve(n);
  for (const Message& m : stream.messages) {
    nlohmann::ordered_json j;
    j["conversation"] = m.conversation_id;
    j["message"] = m.message_id;
    j["sender"] = m.sender_id;
    j["recipients"] = m.recipient_ids;
    j["timestamp"] = static_cast<double>(*m.timestamp_ms) / 1000.0;
    j["text"] = m.text;
    if (m.facts.sender_minor) {
      j["facts"] = {{"sender_minor", *m.facts.sender_minor},
                    {"recipient_minor", *m.facts.recipient_minor},
                    {"connected", *m.facts.connected}};
    }
    lines.push_back(j.dump());
  }
  const MessageLimits limits;
  const double parse_engine = SecondsPerItem(n, o.min_seconds, [&] {
    RiskEngine engine(set, nullptr, options);
    Message m;
    Assessment a;
    for (const std::string& line : lines) {
      if (!ParseMessageJson(line, limits, &m).ok()) std::abort();
      engine.Process(m, &a);
    }
  });
  const double end_to_end = SecondsPerItem(n, o.min_seconds, [&] {
    RiskEngine engine(set, nullptr, options);
    Message m;
    Assessment a;
    for (const std::string& line : lines) {
      if (!ParseMessageJson(line, limits, &m).ok()) std::abort();
      engine.Process(m, &a);
      sink = sink + AssessmentJson(m, a, engine.indicators()).size();
    }
  });
  Emit(Row("cli-parse-engine", n, parse_engine, machine));
  Emit(Row("cli-end-to-end", n, end_to_end, machine));

  // Memory per active conversation: every conversation of the stream held.
  for (const bool with_model : {false, true}) {
    if (with_model && !model) continue;
    malloc_trim(0);
    const size_t before = HeapInUse();
    auto engine = std::make_unique<RiskEngine>(set, with_model ? model : nullptr, options);
    Assessment a;
    for (const Message& m : stream.messages) engine->Process(m, &a);
    a = Assessment();
    const size_t after = HeapInUse();
    const double held = static_cast<double>(engine->conversations());
    nlohmann::ordered_json j;
    j["bench"] = "text";
    j["impl"] = with_model ? "memory-with-classifier" : "memory-indicators";
    j["conversations_held"] = engine->conversations();
    j["senders_held"] = engine->senders();
    j["measured_bytes_per_conversation"] =
        std::round((static_cast<double>(after) - static_cast<double>(before)) / held);
    j["estimated_bytes_per_conversation"] =
        std::round(static_cast<double>(engine->ApproximateMemoryBytes()) / held);
    j["note"] = "heap in use (mallinfo2) with every conversation held, senders included";
    j["machine"] = machine;
    Emit(j);
  }
  return 0;
}

}  // namespace

void AddTextSubcommand(CLI::App* app) {
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app->add_subcommand(
      "text", "Conversation risk: messages per second per core, memory per conversation");
  cmd->add_option("--conversations", o->conversations, "Concurrent conversations")
      ->capture_default_str();
  cmd->add_option("--messages", o->messages, "Messages in the stream")->capture_default_str();
  cmd->add_option("--min-seconds", o->min_seconds, "Minimum time per measurement")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Stream seed")->capture_default_str();
  cmd->add_option("--model", o->model, "fastText model (default: train a small one here)");
  cmd->add_option("--dim", o->dim, "Embedding width of the model trained here")
      ->capture_default_str();
  cmd->callback([o] {
    if (const int rc = RunText(*o); rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace safeguard::bench
