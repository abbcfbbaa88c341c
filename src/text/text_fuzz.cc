// libFuzzer target for the text subsystem's parsers. The first byte picks
// one; the rest is its input:
//   0  a message JSON line, then the engine on it
//   1  a pattern pack (JSON)
//   2  PAN 2012 XML
//   3  a fastText model file (the structural check)
//   4  normalisation and pattern syntax
// Built with -DSAFEGUARD_FUZZ=ON (clang):
//   ./build-fuzz/src/text/text_fuzz -max_total_time=60

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fasttext_model_check.h"
#include "normalizer.h"
#include "pattern.h"
#include "safeguard/text/indicators.h"
#include "safeguard/text/message.h"
#include "safeguard/text/pan.h"
#include "safeguard/text/risk_engine.h"

namespace {

using namespace safeguard::text;

RiskEngine& Engine() {
  static RiskEngine* engine = [] {
    RiskOptions o;
    o.max_conversations = 1000;  // state stays small across runs
    o.max_senders = 1000;
    return new RiskEngine(*IndicatorSet::Load({*BuiltinPack("en")}), nullptr, o);
  }();
  return *engine;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 5) {
    case 0: {
      Message m;
      if (ParseMessageJson(input, MessageLimits{}, &m).ok()) {
        Assessment a;
        Engine().Process(m, &a);
      }
      break;
    }
    case 1: {
      const auto set = IndicatorSet::Load({{"fuzz", std::string(input)}});
      if (set.ok()) (void)(*set)->Find("dont tell anyone");
      break;
    }
    case 2: {
      const auto corpus = ParsePanXml(input, "fuzz");
      if (corpus.ok()) (void)PanToMessages(*corpus);
      break;
    }
    case 3: {
      const auto shape = CheckFastTextModel(data + 1, size - 1, 512);
      (void)shape;
      break;
    }
    default: {
      NormalizedText n;
      Normalize(input, &n);
      const auto expansions = ExpandPattern(input, 64);
      (void)expansions;
      break;
    }
  }
  return 0;
}
