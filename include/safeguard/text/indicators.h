// Grooming-risk indicators: named patterns with a stage and a weight, loaded
// from pattern packs (JSON data files, one per language; English is built
// into the binary; operators add packs without rebuilding). The format is in
// docs/text.md ("Pattern packs").
//
// Example:
//   Result<std::shared_ptr<const IndicatorSet>> set =
//       IndicatorSet::Load({*BuiltinPack("en"), *ReadPackFile("extra.json")});
//   if (!set.ok()) return set.status();
//   for (const IndicatorHit& h : (*set)->Find("dont tell anyone ok")) ...
//
// Thread safety: an IndicatorSet is immutable once loaded; share it freely
// (by shared_ptr) between threads and engines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "safeguard/core/status.h"

namespace safeguard::text {

// Stages of the grooming process the indicators document (O'Connell's
// stages, Luring Communication Theory; see docs/text.md). Part of the output
// format and of pack files, by name: add, never rename or renumber.
enum class Stage : uint8_t {
  kRapport = 0,         // "rapport": flattery, compliments, trust building
  kPersonalInfo = 1,    // "personal_info": probing age, location, school
  kRiskAssessment = 2,  // "risk_assessment": are parents around, are you alone
  kExclusivity = 3,     // "exclusivity": isolation, "only I understand you"
  kSecrecy = 4,         // "secrecy": "don't tell anyone", "delete this"
  kPlatformMove = 5,    // "platform_move": another app, a phone number
  kGifts = 6,           // "gifts": presents, money, game currency
  kPhotoRequest = 7,    // "photo_request": asks for a photo or the camera
  kMeeting = 8,         // "meeting": arranging to meet in person
};
inline constexpr size_t kStageCount = 9;

// "rapport", "personal_info", ... as in the comments above.
std::string_view StageName(Stage stage);
std::optional<Stage> StageFromName(std::string_view name);

struct Indicator {
  std::string name;  // [a-z0-9_], unique in a set
  Stage stage = Stage::kRapport;
  double weight = 0;        // evidence of one occurrence, in (0, 1]
  std::string description;  // for reviewers
  std::string origin;       // the pack that defined it ("builtin:en" or a path)
  size_t patterns = 0;      // patterns after expanding alternatives
};

// The JSON text of one pack and where it came from (for error messages).
struct PackSource {
  std::string origin;
  std::string json;
};

// Limits on pack files, so that a malformed or hostile pack is refused
// instead of exhausting memory. Defaults fit packs hundreds of times larger
// than the built-in one.
struct PackLimits {
  size_t max_pack_bytes = 4 << 20;           // one pack file
  size_t max_indicators = 1024;              // in all loaded packs
  size_t max_patterns_per_indicator = 4096;  // as written
  size_t max_pattern_tokens = 16;            // tokens of one expanded pattern
  size_t max_expansions_per_pattern = 4096;  // (a|b) (c|d) [e] expands to 8
  size_t max_total_expansions = 1'000'000;   // in all loaded packs
};

// Languages with a built-in pack ("en").
std::vector<std::string> BuiltinPackLanguages();
// The built-in pack for `language`, embedded at build time from
// src/text/packs/<language>.json; nullopt if there is none.
std::optional<PackSource> BuiltinPack(std::string_view language);

// Reads a pack file. Errors: those of reading files; kLimitExceeded over
// limits.max_pack_bytes. The content is checked by IndicatorSet::Load.
Result<PackSource> ReadPackFile(const std::string& path, const PackLimits& limits = {});

class Matcher;  // src/text/matcher.h

// One indicator found in one text: the tokens [first_token, last_token] and
// the original characters [begin, end) (Unicode code points) they came from.
struct IndicatorHit {
  uint32_t indicator = 0;  // index into IndicatorSet::indicators()
  uint32_t first_token = 0;
  uint32_t last_token = 0;
  uint32_t begin = 0;
  uint32_t end = 0;
};

class IndicatorSet {
 public:
  // Parses and compiles packs, in order. An indicator whose name an earlier
  // pack defined extends it: its patterns are added; a weight or description
  // given replaces the earlier one; a different stage is an error.
  // Errors: kInvalidArgument (a malformed pack, naming the pack, indicator
  // and pattern), kUnsupported (another format version), kLimitExceeded.
  static Result<std::shared_ptr<const IndicatorSet>> Load(const std::vector<PackSource>& packs,
                                                          const PackLimits& limits = {});

  ~IndicatorSet();
  IndicatorSet(const IndicatorSet&) = delete;
  IndicatorSet& operator=(const IndicatorSet&) = delete;

  const std::vector<Indicator>& indicators() const { return indicators_; }
  // Names of the packs loaded, in order ("builtin:en", paths).
  const std::vector<std::string>& origins() const { return origins_; }

  // Every indicator occurrence in `text`, sorted by position; an indicator
  // found by several patterns at the same tokens is reported once.
  // Convenience for tools and tests: the engine uses the allocation-free
  // path in src/text.
  std::vector<IndicatorHit> Find(std::string_view text) const;

  // The compiled patterns (internal type, for src/text and bench).
  const Matcher& matcher() const { return *matcher_; }

 private:
  IndicatorSet() = default;

  std::vector<Indicator> indicators_;
  std::vector<std::string> origins_;
  std::unique_ptr<const Matcher> matcher_;
};

}  // namespace safeguard::text
