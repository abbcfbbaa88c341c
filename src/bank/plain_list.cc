#include "safeguard/bank/plain_list.h"

#include <algorithm>
#include <array>
#include <istream>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "import_util.h"

namespace safeguard {

namespace {

// Checked values waiting for one EntryWriter::AddBatch, kept as one buffer of
// fixed-width hex (every value of a plain list has the same type).
class PendingValues {
 public:
  explicit PendingValues(SignalType signal) : width_(SignalHexDigits(signal)) {}

  size_t size() const { return hex_.size() / width_; }

  // Appends `text` in canonical form: what NormalizeSignalValue accepts (the
  // right length, hex digits of either case), lowercased, without its string
  // and locale calls, which cost more than the store's work per line. False,
  // appending nothing, for anything else.
  bool Append(std::string_view text, int64_t line) {
    static constexpr auto kLower = [] {
      std::array<char, 256> t{};
      for (int c = '0'; c <= '9'; ++c) t[static_cast<size_t>(c)] = static_cast<char>(c);
      for (int c = 'a'; c <= 'f'; ++c) t[static_cast<size_t>(c)] = static_cast<char>(c);
      for (int c = 'A'; c <= 'F'; ++c) t[static_cast<size_t>(c)] = static_cast<char>(c - 'A' + 'a');
      return t;
    }();
    if (text.size() != width_) return false;
    const size_t start = hex_.size();
    hex_.resize(start + width_);
    char* out = hex_.data() + start;
    bool ok = true;
    for (size_t i = 0; i < width_; ++i) {
      const char c = kLower[static_cast<unsigned char>(text[i])];
      ok &= c != 0;
      out[i] = c;
    }
    if (!ok) {
      hex_.resize(start);
      return false;
    }
    if (start == 0) first_line_ = line;
    last_line_ = line;
    return true;
  }

  // Writes the values, counts the outcomes, and empties the buffer.
  Status Flush(EntryWriter& writer, const Entry& common, ImportReport* report) {
    const size_t n = size();
    if (n == 0) return Status::Ok();
    views_.resize(n);
    for (size_t i = 0; i < n; ++i) views_[i] = std::string_view(hex_).substr(i * width_, width_);
    outcomes_.resize(n);
    if (Status s = writer.AddBatch(common, views_, outcomes_); !s.ok()) {
      return Status::Error(s.code(), "lines " + std::to_string(first_line_) + "-" +
                                         std::to_string(last_line_) + ": " + s.message());
    }
    for (AddOutcome o : outcomes_) bank_internal::Count(o, report);
    hex_.clear();
    return Status::Ok();
  }

 private:
  size_t width_;
  std::string hex_;
  std::vector<std::string_view> views_;
  std::vector<AddOutcome> outcomes_;
  int64_t first_line_ = 0;
  int64_t last_line_ = 0;
};

}  // namespace

Result<ImportReport> ImportPlainList(Store& store, std::string_view bank_name, std::istream& in,
                                     const ImportOptions& options) {
  if (SignalHasPayload(options.signal)) {
    const std::string name(SignalTypeName(options.signal));
    return Status::InvalidArgument(name +
                                   " entries are signatures, not list values: import them "
                                   "as signature files (format " +
                                   name + ")");
  }
  Result<Bank> bank = store.GetBank(bank_name);
  if (!bank.ok()) return bank.status();
  Result<std::unique_ptr<EntryWriter>> writer = store.BeginWrite(bank->id);
  if (!writer.ok()) return writer.status();
  ImportReport report;
  // One extra byte tells an over-long line from one of exactly the limit.
  std::vector<char> buffer(kMaxImportLineBytes + 2);
  Entry common;
  common.signal = options.signal;
  common.labels = options.labels;
  common.provenance = {options.source, "", options.now, options.added_by};
  const size_t batch = std::max<size_t>(options.batch, 1);
  PendingValues pending(options.signal);
  for (;;) {
    in.getline(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const std::streamsize got = in.gcount();
    if (got == 0 && in.eof()) break;
    if (in.bad()) return Status::IoError("read error after line " + std::to_string(report.lines));
    ++report.lines;
    if (in.fail() && !in.eof()) {
      in.clear();
      in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
      Status s = Status::LimitExceeded("line " + std::to_string(report.lines) + ": longer than " +
                                       std::to_string(kMaxImportLineBytes) + " bytes");
      if (Status k = bank_internal::SkipOrFail(s, options.skip_invalid, &report); !k.ok()) {
        return k;
      }
      continue;
    }
    const size_t length = static_cast<size_t>(in.eof() ? got : got - 1);
    std::string_view text = bank_internal::Trim(std::string_view(buffer.data(), length));
    if (text.empty() || text.front() == '#') continue;
    if (!pending.Append(text, report.lines)) {
      // Not canonical in any case: NormalizeSignalValue says why.
      Result<std::string> value = NormalizeSignalValue(options.signal, text);
      Status s = Status::InvalidArgument(
          "line " + std::to_string(report.lines) + ": " +
          (value.ok() ? std::string("not a hex value") : value.status().message()));
      if (Status k = bank_internal::SkipOrFail(s, options.skip_invalid, &report); !k.ok()) {
        return k;
      }
      continue;
    }
    if (pending.size() >= batch) {
      if (Status s = pending.Flush(**writer, common, &report); !s.ok()) return s;
    }
  }
  if (Status s = pending.Flush(**writer, common, &report); !s.ok()) return s;
  if (Status s = (*writer)->Commit(); !s.ok()) return s;
  return report;
}

Result<int64_t> ExportPlainList(Store& store, std::string_view bank_name, SignalType signal,
                                std::ostream& out) {
  if (SignalHasPayload(signal)) {
    return Status::InvalidArgument(std::string(SignalTypeName(signal)) +
                                   " entries are signatures: export them as signature files");
  }
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
