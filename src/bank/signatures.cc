#include "safeguard/bank/signatures.h"

#include <openssl/evp.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "import_util.h"
#include "safeguard/core/file.h"
#include "safeguard/hash/tmk.h"
#include "safeguard/hash/vpdq.h"

namespace safeguard {

std::string_view SignatureFileExtension(SignalType signal) {
  return signal == SignalType::kTmk ? ".tmk" : ".vpdq.txt";
}

Result<std::string> CanonicalSignature(SignalType signal, std::string_view bytes) {
  if (!SignalHasPayload(signal)) {
    return Status::InvalidArgument(std::string(SignalTypeName(signal)) +
                                   " values are not signatures");
  }
  if (bytes.size() > kMaxPayloadBytes) {
    return Status::LimitExceeded("a signature of " + std::to_string(bytes.size()) +
                                 " bytes is over the limit of " + std::to_string(kMaxPayloadBytes));
  }
  if (signal == SignalType::kTmk) {
    Result<TmkSignature> tmk =
        ParseTmk(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    if (!tmk.ok()) return tmk.status();
    const std::vector<uint8_t> canonical = TmkToBytes(*tmk);
    return std::string(canonical.begin(), canonical.end());
  }
  Result<std::vector<VpdqFrame>> frames = ParseVpdq(bytes);
  if (!frames.ok()) return frames.status();
  if (frames->empty()) return Status::InvalidArgument("a vPDQ signature without frames");
  return FormatVpdq(*frames);
}

Result<Entry> SignatureEntry(SignalType signal, std::string_view bytes) {
  Result<std::string> payload = CanonicalSignature(signal, bytes);
  if (!payload.ok()) return payload.status();
  Entry e;
  e.signal = signal;
  e.value = PayloadKey(*payload);
  e.payload = std::move(*payload);
  return e;
}

namespace {

// One signature to import: where it came from (for messages and provenance)
// and its bytes, or why they could not be read.
struct Item {
  std::string name;
  std::string source_id;
  Result<std::string> bytes;
};

// `why` with `name: ` before its message. (Appends: GCC 12 at -O3 warns
// wrongly about overlapping copies in `a + ": " + b` chains.)
Status Named(const std::string& name, const Status& why) {
  std::string message = name;
  message.append(": ").append(why.message());
  return Status::Error(why.code(), message);
}

// Imports items(i) for i in [0, n) in one transaction.
template <typename Items>
Result<ImportReport> ImportItems(Store& store, std::string_view bank_name, SignalType signal,
                                 size_t n, const Items& items, const ImportOptions& options) {
  if (!SignalHasPayload(signal)) {
    return Status::InvalidArgument(std::string(SignalTypeName(signal)) +
                                   " values are imported from lists, not signatures");
  }
  Result<Bank> bank = store.GetBank(bank_name);
  if (!bank.ok()) return bank.status();
  Result<std::unique_ptr<EntryWriter>> writer = store.BeginWrite(bank->id);
  if (!writer.ok()) return writer.status();
  ImportReport report;
  for (size_t i = 0; i < n; ++i) {
    ++report.lines;
    const Item item = items(i);
    Result<Entry> entry =
        item.bytes.ok() ? SignatureEntry(signal, *item.bytes) : Result<Entry>(item.bytes.status());
    if (!entry.ok()) {
      if (Status s = bank_internal::SkipOrFail(Named(item.name, entry.status()),
                                               options.skip_invalid, &report);
          !s.ok()) {
        return s;
      }
      continue;
    }
    entry->labels = options.labels;
    entry->provenance = {options.source.empty() ? item.name : options.source, item.source_id,
                         options.now, options.added_by};
    Result<AddOutcome> added = (*writer)->Add(*entry);
    if (!added.ok()) {
      return Named(item.name, added.status());
    }
    bank_internal::Count(*added, &report);
  }
  if (Status s = (*writer)->Commit(); !s.ok()) return s;
  return report;
}

}  // namespace

Result<ImportReport> ImportSignature(Store& store, std::string_view bank_name, SignalType signal,
                                     std::string_view bytes, const ImportOptions& options) {
  return ImportItems(
      store, bank_name, signal, 1,
      [&](size_t) {
        return Item{"signature", "", std::string(bytes)};
      },
      options);
}

Result<ImportReport> ImportSignatureFiles(Store& store, std::string_view bank_name,
                                          SignalType signal, const std::vector<std::string>& paths,
                                          const ImportOptions& options) {
  return ImportItems(
      store, bank_name, signal, paths.size(),
      [&](size_t i) {
        const std::string& path = paths[i];
        std::string id = std::filesystem::path(path).filename().string();
        const std::string_view ext = SignatureFileExtension(signal);
        if (id.size() > ext.size() && id.ends_with(ext)) {
          id.erase(id.size() - ext.size());
        } else if (const size_t dot = id.rfind('.'); dot != std::string::npos && dot > 0) {
          id.erase(dot);
        }
        Result<std::vector<uint8_t>> bytes = ReadFileBounded(path, kMaxPayloadBytes);
        return Item{path, id,
                    bytes.ok() ? Result<std::string>(std::string(bytes->begin(), bytes->end()))
                               : Result<std::string>(bytes.status())};
      },
      options);
}

Result<int64_t> ExportSignatureFiles(Store& store, std::string_view bank_name, SignalType signal,
                                     const std::string& dir) {
  if (!SignalHasPayload(signal)) {
    return Status::InvalidArgument(std::string(SignalTypeName(signal)) +
                                   " values are exported as lists, not signature files");
  }
  Result<Bank> bank = store.GetBank(bank_name);
  if (!bank.ok()) return bank.status();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IoError(dir + ": " + ec.message());
  Store::EntryFilter filter;
  filter.signal = signal;
  filter.payloads = true;
  int64_t written = 0;
  Status s = store.ForEachEntry(bank->id, filter, [&](const Entry& e) {
    const std::string path = dir + "/" + e.value + std::string(SignatureFileExtension(signal));
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(e.payload.data(), static_cast<std::streamsize>(e.payload.size()));
    f.close();
    if (!f) return Status::IoError(path + ": cannot write");
    ++written;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return written;
}

std::string SignatureToText(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Result<std::string> SignatureFromText(std::string_view text) {
  std::string compact;
  compact.reserve(text.size());
  for (char c : text) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') compact += c;
  }
  if (compact.size() > 2 * kMaxPayloadBytes) {
    return Status::LimitExceeded("an encoded signature over " + std::to_string(kMaxPayloadBytes) +
                                 " bytes");
  }
  const bool hex =
      compact.size() % 2 == 0 && !compact.empty() &&
      std::all_of(compact.begin(), compact.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
      });
  if (hex) {
    auto nibble = [](char c) {
      return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;  // checked above
    };
    std::string bytes(compact.size() / 2, '\0');
    for (size_t i = 0; i < bytes.size(); ++i) {
      bytes[i] = static_cast<char>(nibble(compact[2 * i]) << 4 | nibble(compact[2 * i + 1]));
    }
    return bytes;
  }
  if (compact.empty() || compact.size() % 4 != 0) {
    return Status::InvalidArgument("a signature must be hex or base64");
  }
  std::string bytes(compact.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(bytes.data()),
                                reinterpret_cast<const unsigned char*>(compact.data()),
                                static_cast<int>(compact.size()));
  if (n < 0) return Status::InvalidArgument("a signature must be hex or base64");
  // EVP_DecodeBlock counts the padding's zero bytes.
  size_t size = static_cast<size_t>(n);
  for (size_t i = compact.size(); i > 0 && compact[i - 1] == '=' && size > 0; --i) --size;
  bytes.resize(size);
  return bytes;
}

}  // namespace safeguard
