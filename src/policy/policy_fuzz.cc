// libFuzzer target for the policy parser (JSON and YAML). Checked beyond the
// sanitizers:
//   - a document ParsePolicy accepts is valid (ValidatePolicy), prints as
//     canonical JSON that parses back to an equal policy, and that JSON
//     prints again to the same text;
//   - evaluating an accepted policy on a few fixed inputs (a block match, an
//     allow hit, a conversation score, nothing) gives decisions whose
//     reasons cite only matches that exist.
// Built with -DSAFEGUARD_FUZZ=ON (clang):
//   cmake --build build-fuzz --target policy_fuzz
//   ./build-fuzz/src/policy/policy_fuzz CORPUS SEEDS -max_total_time=20
// fuzz/run.sh runs it (POLICY_FUZZ_SECONDS, POLICY_FUZZ_RUNS). Its first
// finding, a YAML stream that never ended, is Errors.YamlControlCharacters in
// policy_test.cc.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "safeguard/policy/policy.h"

namespace {

using namespace safeguard;

void Check(bool ok) {
  if (!ok) std::abort();
}

std::vector<PolicyInput> Inputs() {
  MatchFact block;
  block.bank = "hotline";
  block.bank_labels = {{"category", "A1"}};
  block.distance = 12;
  block.quality = 90;
  MatchFact allow = block;
  allow.bank = "known-fp";
  allow.bank_kind = BankKind::kAllow;
  MatchFact md5;
  md5.signal = SignalType::kMd5;
  md5.bank = "list";
  PolicyInput a{"image", "chat", {block}, std::nullopt};
  PolicyInput b{"image", "", {block, allow, md5}, std::nullopt};
  PolicyInput c{"message", "", {}, 0.8};
  PolicyInput d{"file", "profile", {}, std::nullopt};
  return {a, b, c, d};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Result<Policy> policy = ParsePolicy(text);
  if (!policy.ok()) return 0;
  Check(ValidatePolicy(*policy).ok());
  const std::string canonical = PolicyToJson(*policy);
  Result<Policy> again = ParsePolicy(canonical);
  Check(again.ok());
  Check(*again == *policy);
  Check(PolicyToJson(*again) == canonical);
  static const std::vector<PolicyInput> inputs = Inputs();
  for (const PolicyInput& in : inputs) {
    const Decision d = Evaluate(*policy, in);
    for (const Reason& r : d.reasons) {
      for (size_t i : r.matches) Check(i < in.matches.size());
    }
    (void)DecisionToJson(d, in).dump();
  }
  return 0;
}
