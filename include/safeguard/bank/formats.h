// Hash-list exchange formats beyond plain lists, one entry point for all.
//
//   plain           one hex value per line (plain_list.h); signal from options
//   csv             header line naming columns: value (or hash), and optionally
//                   signal, source_id, labels ("k=v;k=v"), deleted (true/false);
//                   without a signal column, options.signal applies
//   threatexchange  {"data": [{"id", "type": "HASH_PDQ"|"HASH_MD5"|"HASH_SHA1"|
//                   "HASH_SHA256", "indicator", "tags": [...], "should_delete"}]}
//   stopncii        {"hashRecords": [{"hashValue", "signalType": "PDQ"|"MD5",
//                   "caseNumbers": [...], "hashStatus": "Active"|"Withdrawn"|"Deleted"}]}
//   vics            Project VIC / VICS OData: {"value": [{"Media": [{"MediaID",
//                   "Category", "MD5", "SHA1"}]}]} (also "Media" at the top)
//   ncmec           NCMEC hash-sharing XML: <image>/<video> with <id>,
//                   <classification>, <fingerprints><md5|sha1|sha256|pdq|
//                   tmk_pdqf>... (tmk_pdqf: a .tmk as base64 or hex, see
//                   signatures.h); other fingerprint types (pdna, ...) are
//                   ignored; entries in <deletedEntries> (or deleted="true")
//                   remove their fingerprints, or everything with their id,
//                   after every addition of the file (an entry a file adds
//                   and deletes ends deleted); an empty <images>, <videos>
//                   or <deletedEntries> list is an empty import
//
// Records marked deleted or withdrawn remove (tombstone) their entries.
// Every import is one transaction, errors name the line (csv) or the record
// number (JSON formats, counted from 1 in document order) or the element
// number and byte offset (ncmec), and skip_invalid works as for plain lists.
// csv streams; the JSON and XML formats read the whole document, refused
// over kMaxJsonImportBytes.
//
// Thread safety: as the Store passed in.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string_view>

#include "safeguard/bank/plain_list.h"

namespace safeguard {

inline constexpr uint64_t kMaxJsonImportBytes = uint64_t{1} << 30;

enum class ExchangeFormat { kPlain, kCsv, kThreatExchange, kStopNcii, kVics, kNcmecXml };

// "plain", "csv", "threatexchange", "stopncii", "vics", "ncmec".
std::string_view ExchangeFormatName(ExchangeFormat format);
Result<ExchangeFormat> ParseExchangeFormat(std::string_view name);

Result<ImportReport> ImportList(Store& store, std::string_view bank_name, ExchangeFormat format,
                                std::istream& in, const ImportOptions& options);

// Writes the bank's live entries in `format`, only those of `signal` when
// given (plain needs one). Entries a format cannot carry (e.g. SHA-256 in
// vics) are left out. Returns how many were written.
Result<int64_t> ExportList(Store& store, std::string_view bank_name, ExchangeFormat format,
                           std::optional<SignalType> signal, std::ostream& out);

}  // namespace safeguard
