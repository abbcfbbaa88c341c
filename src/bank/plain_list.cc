#include "safeguard/bank/plain_list.h"

#include <istream>
#include <limits>
#include <ostream>

#include "import_util.h"

namespace safeguard {

Result<ImportReport> ImportPlainList(Store& store, std::string_view bank_name, std::istream& in,
                                     const ImportOptions& options) {
  Result<Bank> bank = store.GetBank(bank_name);
  if (!bank.ok()) return bank.status();
  Result<std::unique_ptr<EntryWriter>> writer = store.BeginWrite(bank->id);
  if (!writer.ok()) return writer.status();
  ImportReport report;
  // One extra byte tells an over-long line from one of exactly the limit.
  std::vector<char> buffer(kMaxImportLineBytes + 2);
  Entry entry;
  entry.signal = options.signal;
  entry.labels = options.labels;
  entry.provenance = {options.source, "", options.now, options.added_by};
  for (;;) {
    in.getline(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const std::streamsize got = in.gcount();
    if (got == 0 && in.eof()) break;
    if (in.bad()) return Status::IoError("read error after line " + std::to_string(report.lines));
    ++report.lines;
    const std::string where = "line " + std::to_string(report.lines);
    if (in.fail() && !in.eof()) {
      in.clear();
      in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
      Status s = Status::LimitExceeded(where + ": longer than " +
                                       std::to_string(kMaxImportLineBytes) + " bytes");
      if (Status k = bank_internal::SkipOrFail(s, options.skip_invalid, &report); !k.ok()) {
        return k;
      }
      continue;
    }
    const size_t length = static_cast<size_t>(in.eof() ? got : got - 1);
    std::string_view text = bank_internal::Trim(std::string_view(buffer.data(), length));
    if (text.empty() || text.front() == '#') continue;
    Result<std::string> value = NormalizeSignalValue(options.signal, text);
    if (!value.ok()) {
      Status s = Status::InvalidArgument(where + ": " + value.status().message());
      if (Status k = bank_internal::SkipOrFail(s, options.skip_invalid, &report); !k.ok()) {
        return k;
      }
      continue;
    }
    entry.value = std::move(*value);
    Result<AddOutcome> added = (*writer)->Add(entry);
    if (!added.ok())
      return Status::Error(added.status().code(), where + ": " + added.status().message());
    bank_internal::Count(*added, &report);
  }
  if (Status s = (*writer)->Commit(); !s.ok()) return s;
  return report;
}

Result<int64_t> ExportPlainList(Store& store, std::string_view bank_name, SignalType signal,
                                std::ostream& out) {
  Result<Bank> bank = store.GetBank(bank_name);
  if (!bank.ok()) return bank.status();
  int64_t count = 0;
  Status s = store.ForEachEntry(bank->id, {signal, false}, [&](const Entry& e) {
    out << e.value << '\n';
    if (!out) return Status::IoError("write error after " + std::to_string(count) + " entries");
    ++count;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return count;
}

}  // namespace safeguard
