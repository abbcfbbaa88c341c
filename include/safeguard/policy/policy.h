// Policy: the rules that turn what the engine found (bank matches, a
// conversation-risk score) into a recommendation with its reasons.
//
// A policy is an ordered list of rules, written in JSON or YAML
// (docs/policy.md). Each rule has conditions ("when") and actions ("then");
// rules are evaluated in order, every rule whose conditions hold fires, and a
// rule marked final stops the evaluation once it fires. The decision is the
// most severe verdict among the fired rules (block > review > allow), plus a
// review priority, report drafts and webhooks, and the fired rules with the
// matches each one cites: what a reviewer reads to see why.
//
// A decision is a recommendation. A person confirms before anything is
// reported: a rule that drafts a report must also ask for review.
//
// Example:
//   Result<Policy> policy = ParsePolicy(text);
//   if (!policy.ok()) return policy.status();
//   Decision d = Evaluate(*policy, input);
//   nlohmann::json explanation = DecisionToJson(d, input);
//
// Thread safety: plain values and pure functions. A Policy may be shared by
// any number of threads evaluating at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "safeguard/core/status.h"
#include "safeguard/store/store.h"

namespace safeguard {

// Part of the stored decision format (by name and number): add, never
// renumber. The verdicts allow < review < block are ordered by severity.
enum class Action : int {
  kAllow = 0,
  kReview = 1,
  kBlock = 2,
  kReportDraft = 3,  // prepare a report for a person to confirm; never filed automatically
  kWebhook = 4,      // notify a named endpoint
};

std::string_view ActionName(Action action);  // "allow","review","block","report_draft","webhook"
// The inverse of ActionName; nullopt for anything else.
std::optional<Action> ActionFromName(std::string_view name);

// One match the engine found, as policy sees it.
struct MatchFact {
  SignalType signal = SignalType::kPdq;
  std::string bank;  // bank name
  BankKind bank_kind = BankKind::kBlock;
  Labels bank_labels;
  Labels entry_labels;
  int64_t entry_id = 0;
  int distance = 0;  // Hamming distance for PDQ; 0 for exact digests
  int quality =
      -1;  // the query's PDQ quality, -1 when not known (digests, client lookups without quality)
};

// The content kinds a PolicyInput may carry (and a content_kind condition may
// name): "image", "video", "file", "hashes", "message".
inline constexpr std::string_view kContentKinds[] = {"image", "video", "file", "hashes", "message"};

struct PolicyInput {
  std::string content_kind;  // one of kContentKinds
  std::string surface;       // the platform's surface name, may be empty
  std::vector<MatchFact> matches;
  std::optional<double>
      text_risk;  // 0..1 conversation risk score, when the input is a message/conversation
};

// One fired rule.
struct Reason {
  std::string rule;             // rule id
  std::string description;      // the rule's description
  std::vector<size_t> matches;  // indices into PolicyInput::matches that satisfied the rule (empty
                                // for non-match rules)
  std::vector<Action> actions;  // what the rule contributed, in the rule's order
  // Added to the brief's API: the details of those actions, so that a reason
  // explains itself without the policy at hand.
  std::optional<int> review_priority;  // the rule's review priority, when it asks for review
  std::vector<std::string> webhooks;   // the webhook names it notifies
};

struct Decision {
  Action action = Action::kAllow;  // most severe verdict among fired rules: block > review > allow
  std::optional<int> review_priority;  // set when any fired rule asked for review (also together
                                       // with block); highest priority wins
  bool report_draft = false;
  std::vector<std::string> webhooks;  // webhook names to notify (deduplicated, in rule order)
  std::vector<Reason>
      reasons;  // fired rules in evaluation order; empty when nothing fired (the default allow)
  int64_t policy_version = 0;
};

// Review priorities: 0 (lowest) .. 100 (highest), inclusive.
inline constexpr int kMinReviewPriority = 0;
inline constexpr int kMaxReviewPriority = 100;
// The priority of a plain "review" action (no priority given).
inline constexpr int kDefaultReviewPriority = 50;

// One action of a rule.
struct RuleAction {
  Action action = Action::kAllow;
  int priority =
      kDefaultReviewPriority;  // kReview only (ignored, and left at the default, otherwise)
  std::string webhook;         // kWebhook only: a name from Policy::webhooks

  bool operator==(const RuleAction&) const = default;
};

// When a rule fires. Unset (empty) conditions always hold; a rule with no
// conditions at all fires on every input.
//
// Match conditions: a rule that has any fires when at least one match
// satisfies all of them (the same match for all), and its Reason cites every
// such match. A rule without match conditions fires regardless of matches.
struct RuleConditions {
  // --- over one match ---
  std::vector<SignalType> signals;  // the match's signal is one of these
  std::optional<BankKind> bank_kind;
  std::vector<std::string> banks;  // the match's bank name is one of these
  // For every key, the match's label value is one of the listed values. The
  // value is the entry's label when the entry has the key, else the bank's;
  // a match with neither fails. Exact, case-sensitive comparison.
  std::map<std::string, std::vector<std::string>> labels;
  std::optional<int> max_distance;  // distance <= max_distance (inclusive), 0..256
  // quality >= min_quality (inclusive), 0..100. Applies to PDQ matches only:
  // a PDQ match of unknown quality (-1) fails it, while exact digests (MD5,
  // SHA-1, SHA-256), which have no quality, always pass it.
  std::optional<int> min_quality;

  // --- over the input ---
  std::vector<std::string> content_kinds;  // PolicyInput::content_kind is one of these
  std::vector<std::string> surfaces;       // PolicyInput::surface is one of these
  std::optional<double> text_risk_min;     // text_risk is present and >= this (inclusive), 0..1
  bool no_matches = false;                 // PolicyInput::matches is empty (allow hits count)

  // Whether any of the match conditions above is set.
  bool HasMatchConditions() const;

  bool operator==(const RuleConditions&) const = default;
};

struct Rule {
  std::string id;  // unique in the policy; 1..kMaxRuleIdLength of [A-Za-z0-9._-]
  std::string description;
  RuleConditions when;
  std::vector<RuleAction> then;  // at least one; no action twice (webhooks: no name twice)
  bool final = false;            // stop evaluating once this rule fires

  bool operator==(const Rule&) const = default;
};

struct Policy {
  // Which policy a decision came from. Set by whoever stores policies (the
  // document may carry one; 0 when it does not).
  int64_t version = 0;
  std::string version_note;  // free text: what changed in this version
  std::vector<Rule> rules;
  std::map<std::string, std::string> webhooks;  // name -> http(s) URL

  bool operator==(const Policy&) const = default;
};

// Limits on a policy document. Going over the first two is kLimitExceeded,
// the others kInvalidArgument.
inline constexpr size_t kMaxPolicyBytes = size_t{1} << 20;  // 1 MiB of JSON or YAML
inline constexpr size_t kMaxPolicyRules = 1000;
inline constexpr size_t kMaxRuleIdLength = 128;
inline constexpr size_t kMaxPolicyTextLength = 4096;  // a description or version note, in bytes
inline constexpr size_t kMaxPolicyWebhooks = 100;
inline constexpr size_t kMaxWebhookNameLength = 64;  // [A-Za-z0-9._-]
inline constexpr size_t kMaxWebhookUrlLength = 2048;
inline constexpr size_t kMaxConditionValues = 1000;  // entries of one condition's list
inline constexpr int kMaxPolicyDistance = 256;       // max_distance is 0..256

// Parses JSON or YAML (detected: a document whose first non-space character
// is '{' is JSON, anything else YAML) and validates it (ValidatePolicy).
// Unknown keys and duplicate keys are errors. Errors: kInvalidArgument with a
// message naming the rule (by index and id) and the key, e.g.
//   rules[2] (id "x"): unknown key "max_distanse" in "when"
// kLimitExceeded for a document over kMaxPolicyBytes or kMaxPolicyRules.
//
// Example:
//   Result<Policy> p = ParsePolicy(R"({"rules": [{"id": "known",
//       "when": {"bank_kind": "block"}, "then": ["block", {"review": {"priority": 80}}]}]})");
Result<Policy> ParsePolicy(std::string_view text);

// Checks a policy however it was made: rule ids unique and well-formed, at
// least one action per rule and none twice, actions' arguments in range
// (priorities 0..100), conditions in range (max_distance 0..256, min_quality
// 0..100, text_risk_min 0..1, content kinds known, bank names valid, lists
// non-empty and at most kMaxConditionValues long, no_matches not combined
// with match conditions), webhooks referenced by rules defined, webhook URLs
// http:// or https://, "report_draft" only beside "review" in the same rule,
// the limits above. Errors: as ParsePolicy.
Status ValidatePolicy(const Policy& policy);

// The policy as canonical JSON: keys sorted, every list-valued condition as a
// list, every review with its priority. ParsePolicy of it gives an equal
// policy. REQUIRES: ValidatePolicy(policy) is OK (otherwise the text may not
// parse back).
std::string PolicyToJson(const Policy& policy);

// The default policy:
//   1. "allow-list": any allow-bank hit -> allow, final (known false positives
//      suppress what follows);
//   2. "known-category-a", "known-category-b", "known-material": a block-bank
//      match -> block and review, priority 90 for label category A/A1/A2,
//      70 for B/B1/B2, 50 otherwise (the highest applicable wins);
//   3. "conversation-risk", "conversation-urgent": a text-risk score at the
//      risk engine's review level (>= 0.45) -> review, priority 60; at its
//      urgent level (>= 0.7) -> priority 85; never block;
//   4. nothing else: allow (no rule needed).
// Report drafts are not automatic: a reviewer asks for one.
Policy DefaultPolicy();

// Applies the policy to one input. Pure; never fails.
Decision Evaluate(const Policy& policy, const PolicyInput& input);

// The decision as the explanation a reviewer reads:
//   {"action": "block", "review_priority": 90 | null, "report_draft": false,
//    "webhooks": ["soc"], "policy_version": 3,
//    "reasons": [{"rule": "known-category-a", "description": "...",
//                 "actions": ["block", "review"], "review_priority": 90 | null,
//                 "webhooks": [],
//                 "matches": [{"index": 0, "bank": "hotline", "bank_kind": "block",
//                              "entry_id": 17, "signal": "pdq", "distance": 4,
//                              "quality": 92 | null, "labels": {"category": "A1"}}]}]}
// "labels" are the match's effective labels (bank labels overridden by the
// entry's), the ones conditions look at. No hash values appear. Label text
// is copied as given: dump with json::error_handler_t::replace unless labels
// are known to be valid UTF-8.
// REQUIRES: `decision` came from Evaluate on `input` (indices in range;
// out-of-range indices are skipped).
nlohmann::json DecisionToJson(const Decision& decision, const PolicyInput& input);

}  // namespace safeguard
