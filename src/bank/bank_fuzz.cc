// libFuzzer target for the bank exchange-format parsers. The first byte picks
// the format (its value modulo 6, in ExchangeFormat order: plain, csv,
// threatexchange, stopncii, vics, ncmec) and, in bit 7, --skip-invalid; the
// second byte the signal type of plain lists and csv files without a signal
// column; the rest is the file. Each input goes to a fresh in-memory store.
// Checked beyond the sanitizers:
//   - a refused import leaves the bank and the change log as they were (one
//     transaction);
//   - an accepted import's report agrees with the bank: into an empty bank,
//     live entries = added + revived - removed;
//   - what an import stored exports in the same format, and that export
//     imports again into an empty bank, with as many live entries (formats
//     that cannot carry a signal type leave it out of both counts).
// Built with -DSAFEGUARD_FUZZ=ON (clang):
//   ./build-fuzz/src/bank/bank_fuzz -max_total_time=30

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "safeguard/bank/formats.h"

namespace {

using namespace safeguard;

constexpr ExchangeFormat kFormats[] = {ExchangeFormat::kPlain,          ExchangeFormat::kCsv,
                                       ExchangeFormat::kThreatExchange, ExchangeFormat::kStopNcii,
                                       ExchangeFormat::kVics,           ExchangeFormat::kNcmecXml};
constexpr SignalType kSignals[] = {SignalType::kPdq, SignalType::kMd5, SignalType::kSha1,
                                   SignalType::kSha256};

void Check(bool ok) {
  if (!ok) std::abort();
}

// Live entries of the bank that `format` can carry (plain: of `signal` only).
int64_t Exportable(Store& store, const std::string& bank, ExchangeFormat format,
                   SignalType signal) {
  std::ostringstream out;
  Result<int64_t> n =
      ExportList(store, bank, format,
                 format == ExchangeFormat::kPlain ? std::optional(signal) : std::nullopt, out);
  Check(n.ok());
  return *n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const ExchangeFormat format = kFormats[(data[0] & 0x7f) % 6];
  ImportOptions options;
  options.skip_invalid = (data[0] & 0x80) != 0;
  options.signal = kSignals[data[1] % 4];
  options.source = "fuzz";
  options.now = 1;
  options.batch = 7;  // several batches, even in small inputs
  Result<std::unique_ptr<Store>> store = OpenStore("sqlite::memory:");
  Check(store.ok());
  for (const char* name : {"a", "b"}) {
    BankSpec spec;
    spec.name = name;
    Check((*store)->CreateBank(spec, 1).ok());
  }
  const int64_t seq = *(*store)->LastSequence();
  std::istringstream in(std::string(reinterpret_cast<const char*>(data + 2), size - 2));
  Result<ImportReport> imported = ImportList(**store, "a", format, in, options);
  if (!imported.ok()) {
    const Bank a = *(*store)->GetBank("a");
    Check((*store)->CountEntries(a.id)->live == 0 && (*store)->CountEntries(a.id)->removed == 0);
    Check(*(*store)->LastSequence() == seq);
    return 0;
  }
  const Store::EntryCounts counts = *(*store)->CountEntries((*store)->GetBank("a")->id);
  Check(counts.live == imported->added + imported->revived - imported->removed);
  // Round trip through the format's own export.
  std::ostringstream exported;
  const std::optional<SignalType> signal =
      format == ExchangeFormat::kPlain ? std::optional(options.signal) : std::nullopt;
  Result<int64_t> written = ExportList(**store, "a", format, signal, exported);
  Check(written.ok());
  std::istringstream again(exported.str());
  ImportOptions strict = options;
  strict.skip_invalid = false;
  Result<ImportReport> reimported = ImportList(**store, "b", format, again, strict);
  Check(reimported.ok());
  Check(Exportable(**store, "b", format, options.signal) == *written);
  return 0;
}
