#include "safeguard/text/indicators.h"

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "json_error.h"
#include "matcher.h"
#include "pattern.h"
#include "safeguard/core/file.h"
#include "text_packs.inc"  // generated from packs/*.json (embed_packs.cmake)

namespace safeguard::text {
namespace {

constexpr std::array<std::string_view, kStageCount> kStageNames = {
    "rapport",       "personal_info", "risk_assessment", "exclusivity", "secrecy",
    "platform_move", "gifts",         "photo_request",   "meeting",
};

constexpr std::string_view kPackFormat = "safeguard-text-pack";
constexpr int kPackVersion = 1;

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

struct SourcePattern {
  std::string text;
  size_t pack = 0;  // index into origins
};

}  // namespace

std::string_view StageName(Stage stage) { return kStageNames[static_cast<size_t>(stage)]; }

std::optional<Stage> StageFromName(std::string_view name) {
  for (size_t i = 0; i < kStageCount; ++i) {
    if (kStageNames[i] == name) return static_cast<Stage>(i);
  }
  return std::nullopt;
}

std::vector<std::string> BuiltinPackLanguages() {
  std::vector<std::string> out;
  for (const EmbeddedPack& p : kEmbeddedPacks) out.emplace_back(p.language);
  return out;
}

std::optional<PackSource> BuiltinPack(std::string_view language) {
  for (const EmbeddedPack& p : kEmbeddedPacks) {
    if (p.language == language) {
      return PackSource{"builtin:" + std::string(language),
                        std::string(reinterpret_cast<const char*>(p.data), p.size)};
    }
  }
  return std::nullopt;
}

Result<PackSource> ReadPackFile(const std::string& path, const PackLimits& limits) {
  Result<std::vector<uint8_t>> bytes = ReadFileBounded(path, limits.max_pack_bytes);
  if (!bytes.ok()) return bytes.status();
  return PackSource{path, std::string(bytes->begin(), bytes->end())};
}

IndicatorSet::~IndicatorSet() = default;

Result<std::shared_ptr<const IndicatorSet>> IndicatorSet::Load(const std::vector<PackSource>& packs,
                                                               const PackLimits& limits) {
  std::shared_ptr<IndicatorSet> set(new IndicatorSet());
  std::vector<std::vector<SourcePattern>> sources;
  std::unordered_map<std::string, size_t> by_name;

  for (size_t pi = 0; pi < packs.size(); ++pi) {
    const PackSource& pack = packs[pi];
    const std::string where = "pack " + pack.origin;
    if (pack.json.size() > limits.max_pack_bytes) {
      return Status::LimitExceeded(where + ": " + std::to_string(pack.json.size()) +
                                   " bytes exceeds max_pack_bytes " +
                                   std::to_string(limits.max_pack_bytes));
    }
    nlohmann::json doc = nlohmann::json::parse(pack.json, nullptr, false);
    if (doc.is_discarded()) {
      return Status::InvalidArgument(where + ": not valid JSON: " + JsonParseError(pack.json));
    }
    if (!doc.is_object()) return Status::InvalidArgument(where + ": not a JSON object");
    for (const auto& [key, value] : doc.items()) {
      if (key != "format" && key != "version" && key != "language" && key != "name" &&
          key != "description" && key != "indicators") {
        return Status::InvalidArgument(where + ": unknown key \"" + key + "\"");
      }
    }
    if (!doc.contains("format") || doc["format"] != kPackFormat) {
      return Status::InvalidArgument(where + ": \"format\" must be \"" + std::string(kPackFormat) +
                                     "\"");
    }
    if (!doc.contains("version") || !doc["version"].is_number_integer()) {
      return Status::InvalidArgument(where + ": \"version\" must be an integer");
    }
    if (doc["version"] != kPackVersion) {
      return Status::Unsupported(where + ": format version " + doc["version"].dump() +
                                 " (this build reads version " + std::to_string(kPackVersion) +
                                 ")");
    }
    if (!doc.contains("indicators") || !doc["indicators"].is_array()) {
      return Status::InvalidArgument(where + ": \"indicators\" must be an array");
    }
    size_t k = 0;
    for (const nlohmann::json& entry : doc["indicators"]) {
      const std::string at = where + ": indicator " + std::to_string(k++);
      if (!entry.is_object()) return Status::InvalidArgument(at + ": not an object");
      for (const auto& [key, value] : entry.items()) {
        if (key != "name" && key != "stage" && key != "weight" && key != "description" &&
            key != "patterns") {
          return Status::InvalidArgument(at + ": unknown key \"" + key + "\"");
        }
      }
      if (!entry.contains("name") || !entry["name"].is_string() ||
          !ValidName(entry["name"].get<std::string>())) {
        return Status::InvalidArgument(at + ": \"name\" must be 1-64 characters of [a-z0-9_]");
      }
      const std::string name = entry["name"];
      const std::string named = where + ": indicator '" + name + "'";
      std::optional<Stage> stage;
      if (entry.contains("stage")) {
        if (entry["stage"].is_string()) stage = StageFromName(entry["stage"].get<std::string>());
        if (!stage) {
          return Status::InvalidArgument(named + ": unknown stage " + entry["stage"].dump());
        }
      }
      std::optional<double> weight;
      if (entry.contains("weight")) {
        if (!entry["weight"].is_number() || !(entry["weight"].get<double>() > 0) ||
            entry["weight"].get<double>() > 1) {
          return Status::InvalidArgument(named + ": \"weight\" must be a number in (0, 1]");
        }
        weight = entry["weight"].get<double>();
      }
      if (entry.contains("description") && !entry["description"].is_string()) {
        return Status::InvalidArgument(named + ": \"description\" must be a string");
      }
      std::vector<std::string> patterns;
      if (entry.contains("patterns")) {
        if (!entry["patterns"].is_array()) {
          return Status::InvalidArgument(named + ": \"patterns\" must be an array of strings");
        }
        for (const nlohmann::json& p : entry["patterns"]) {
          if (!p.is_string()) {
            return Status::InvalidArgument(named + ": \"patterns\" must be an array of strings");
          }
          patterns.push_back(p.get<std::string>());
        }
      }

      size_t index;
      auto it = by_name.find(name);
      if (it == by_name.end()) {
        if (!stage || !weight || patterns.empty()) {
          return Status::InvalidArgument(
              named + ": a new indicator needs \"stage\", \"weight\" and \"patterns\"");
        }
        if (set->indicators_.size() >= limits.max_indicators) {
          return Status::LimitExceeded(named + ": more than " +
                                       std::to_string(limits.max_indicators) +
                                       " indicators (max_indicators)");
        }
        index = set->indicators_.size();
        by_name.emplace(name, index);
        Indicator ind;
        ind.name = name;
        ind.stage = *stage;
        ind.weight = *weight;
        ind.origin = pack.origin;
        set->indicators_.push_back(std::move(ind));
        sources.emplace_back();
      } else {
        index = it->second;
        if (stage && *stage != set->indicators_[index].stage) {
          return Status::InvalidArgument(named + ": stage " + std::string(StageName(*stage)) +
                                         " differs from " +
                                         std::string(StageName(set->indicators_[index].stage)) +
                                         " given by pack " + set->indicators_[index].origin);
        }
        if (weight) set->indicators_[index].weight = *weight;
      }
      if (entry.contains("description")) {
        set->indicators_[index].description = entry["description"].get<std::string>();
      }
      for (std::string& p : patterns) sources[index].push_back({std::move(p), pi});
      if (sources[index].size() > limits.max_patterns_per_indicator) {
        return Status::LimitExceeded(named + ": more than " +
                                     std::to_string(limits.max_patterns_per_indicator) +
                                     " patterns (max_patterns_per_indicator)");
      }
    }
    set->origins_.push_back(pack.origin);
  }

  Vocabulary vocabulary;
  std::vector<CompiledPattern> compiled;
  NormalizedText scratch;
  for (size_t i = 0; i < set->indicators_.size(); ++i) {
    Indicator& ind = set->indicators_[i];
    for (size_t j = 0; j < sources[i].size(); ++j) {
      const SourcePattern& src = sources[i][j];
      auto fail = [&](const Status& st) {
        return Status::Error(st.code(), "pack " + packs[src.pack].origin + ": indicator '" +
                                            ind.name + "': pattern \"" + src.text +
                                            "\": " + st.message());
      };
      Result<std::vector<PatternExpansion>> expansions =
          ExpandPattern(src.text, limits.max_expansions_per_pattern);
      if (!expansions.ok()) return fail(expansions.status());
      for (const PatternExpansion& e : *expansions) {
        Result<std::vector<PatternElem>> elems =
            CompilePattern(e, limits.max_pattern_tokens, &vocabulary, &scratch);
        if (!elems.ok()) return fail(elems.status());
        compiled.push_back({static_cast<uint32_t>(i), std::move(*elems)});
        ++ind.patterns;
        if (compiled.size() > limits.max_total_expansions) {
          return fail(Status::LimitExceeded("more than " +
                                            std::to_string(limits.max_total_expansions) +
                                            " patterns in all (max_total_expansions)"));
        }
      }
    }
  }
  set->matcher_ = std::make_unique<const Matcher>(std::move(vocabulary), std::move(compiled));
  return std::shared_ptr<const IndicatorSet>(std::move(set));
}

std::vector<IndicatorHit> IndicatorSet::Find(std::string_view text) const {
  NormalizedText normalized;
  Normalize(text, &normalized);
  std::vector<Match> matches;
  MatchScratch scratch;
  matcher_->Find(normalized, &matches, &scratch);
  std::vector<IndicatorHit> hits;
  hits.reserve(matches.size());
  for (const Match& m : matches) {
    hits.push_back({m.indicator, m.first, m.last, normalized.tokens[m.first].orig_begin,
                    normalized.tokens[m.last].orig_end});
  }
  return hits;
}

}  // namespace safeguard::text
