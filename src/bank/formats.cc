#include "safeguard/bank/formats.h"

#include <algorithm>
#include <istream>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <ostream>
#include <pugixml.hpp>

#include "import_util.h"
#include "safeguard/bank/signatures.h"

namespace safeguard {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

// One entry to add or remove, as a format describes it.
struct Record {
  std::string where;  // "line 3", "record 7"
  std::string signal_name;
  std::optional<SignalType> signal;  // set when the format names it directly
  std::string value;
  Labels labels;
  std::string source_id;
  bool deleted = false;
  // `value` is a signature as text (SignatureFromText), e.g. NCMEC's
  // <tmk_pdqf>, for a signal with a payload.
  bool signature = false;
};

// Checks and applies one record to the open writer.
Status Apply(EntryWriter& writer, const Record& r, const ImportOptions& options,
             ImportReport* report) {
  auto fail = [&](const std::string& why) {
    return bank_internal::SkipOrFail(Status::InvalidArgument(r.where + ": " + why),
                                     options.skip_invalid, report);
  };
  SignalType signal = options.signal;
  if (r.signal) {
    signal = *r.signal;
  } else if (!r.signal_name.empty()) {
    Result<SignalType> s = ParseSignalType(r.signal_name);
    if (!s.ok()) return fail(s.status().message());
    signal = *s;
  }
  std::optional<Entry> signature;
  if (SignalHasPayload(signal)) {
    if (!r.signature) {
      return fail(std::string(SignalTypeName(signal)) +
                  " entries are signatures: import them from their files (--format " +
                  std::string(SignalTypeName(signal)) + ")");
    }
    Result<std::string> bytes = SignatureFromText(r.value);
    Result<Entry> entry = bytes.ok() ? SignatureEntry(signal, *bytes) : bytes.status();
    if (!entry.ok()) return fail(entry.status().message());
    signature = std::move(*entry);
  }
  Result<std::string> value = signature
                                  ? Result<std::string>(signature->value)
                                  : NormalizeSignalValue(signal, bank_internal::Trim(r.value));
  if (!value.ok()) return fail(value.status().message());
  if (r.deleted) {
    Result<bool> removed = writer.Remove(signal, *value, options.now, "deleted by source");
    if (!removed.ok()) return removed.status();
    if (*removed) ++report->removed;
    return Status::Ok();
  }
  Entry e;
  e.signal = signal;
  e.value = std::move(*value);
  if (signature) e.payload = std::move(signature->payload);
  e.labels = options.labels;
  for (const auto& [k, v] : r.labels) e.labels[k] = v;
  e.provenance = {options.source, r.source_id, options.now, options.added_by};
  Result<AddOutcome> added = writer.Add(e);
  if (!added.ok()) return added.status();
  bank_internal::Count(*added, report);
  return Status::Ok();
}

// ---- CSV ----

// Splits one CSV line (RFC 4180 quoting, no line breaks inside fields).
Result<std::vector<std::string>> SplitCsv(std::string_view line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"' && fields.back().empty()) {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  if (quoted) return Status::InvalidArgument("unterminated quoted field");
  return fields;
}

std::string CsvField(std::string_view s) {
  if (s.find_first_of(",\"\n\r") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

Result<Labels> ParseLabelList(std::string_view text) {
  Labels labels;
  while (!text.empty()) {
    const size_t semi = text.find(';');
    std::string_view pair = bank_internal::Trim(text.substr(0, semi));
    text = semi == std::string_view::npos ? std::string_view() : text.substr(semi + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return Status::InvalidArgument("label '" + std::string(pair) + "' is not KEY=VALUE");
    }
    labels[std::string(pair.substr(0, eq))] = std::string(pair.substr(eq + 1));
  }
  return labels;
}

std::string LabelList(const Labels& labels) {
  std::string out;
  for (const auto& [k, v] : labels) {
    if (!out.empty()) out += ';';
    out += k + "=" + v;
  }
  return out;
}

Status ImportCsv(EntryWriter& writer, std::istream& in, const ImportOptions& options,
                 ImportReport* report) {
  std::vector<char> buffer(kMaxImportLineBytes + 2);
  int value_col = -1, signal_col = -1, id_col = -1, labels_col = -1, deleted_col = -1;
  size_t columns = 0;
  bool header = false;
  for (;;) {
    in.getline(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const std::streamsize got = in.gcount();
    if (got == 0 && in.eof()) break;
    if (in.bad()) return Status::IoError("read error after line " + std::to_string(report->lines));
    ++report->lines;
    const std::string where = "line " + std::to_string(report->lines);
    if (in.fail() && !in.eof()) {
      in.clear();
      in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
      Status s = Status::LimitExceeded(where + ": longer than " +
                                       std::to_string(kMaxImportLineBytes) + " bytes");
      if (!header) return s;
      if (Status k = bank_internal::SkipOrFail(s, options.skip_invalid, report); !k.ok()) return k;
      continue;
    }
    const size_t length = static_cast<size_t>(in.eof() ? got : got - 1);
    std::string_view text = bank_internal::Trim(std::string_view(buffer.data(), length));
    if (text.empty()) continue;
    Result<std::vector<std::string>> fields = SplitCsv(text);
    if (!header) {
      if (!fields.ok()) return Status::InvalidArgument(where + ": " + fields.status().message());
      columns = fields->size();
      for (size_t i = 0; i < fields->size(); ++i) {
        std::string name(bank_internal::Trim((*fields)[i]));
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        const int col = static_cast<int>(i);
        if (name == "value" || name == "hash") value_col = col;
        if (name == "signal" || name == "signal_type") signal_col = col;
        if (name == "source_id" || name == "id") id_col = col;
        if (name == "labels") labels_col = col;
        if (name == "deleted") deleted_col = col;
      }
      if (value_col < 0) {
        return Status::InvalidArgument(where + ": the header names no 'value' (or 'hash') column");
      }
      header = true;
      continue;
    }
    auto skip = [&](const std::string& why) {
      return bank_internal::SkipOrFail(Status::InvalidArgument(where + ": " + why),
                                       options.skip_invalid, report);
    };
    if (!fields.ok()) {
      if (Status k = skip(fields.status().message()); !k.ok()) return k;
      continue;
    }
    if (fields->size() != columns) {
      if (Status k = skip(std::to_string(fields->size()) + " fields, the header has " +
                          std::to_string(columns));
          !k.ok())
        return k;
      continue;
    }
    Record r;
    r.where = where;
    r.value = (*fields)[static_cast<size_t>(value_col)];
    if (signal_col >= 0) {
      r.signal_name = std::string(bank_internal::Trim((*fields)[static_cast<size_t>(signal_col)]));
    }
    if (id_col >= 0) r.source_id = (*fields)[static_cast<size_t>(id_col)];
    if (labels_col >= 0) {
      Result<Labels> labels = ParseLabelList((*fields)[static_cast<size_t>(labels_col)]);
      if (!labels.ok()) {
        if (Status k = skip(labels.status().message()); !k.ok()) return k;
        continue;
      }
      r.labels = std::move(*labels);
    }
    if (deleted_col >= 0) {
      const std::string_view d = bank_internal::Trim((*fields)[static_cast<size_t>(deleted_col)]);
      if (d == "true" || d == "1") {
        r.deleted = true;
      } else if (!d.empty() && d != "false" && d != "0") {
        if (Status k = skip("deleted is '" + std::string(d) + "', not true or false"); !k.ok()) {
          return k;
        }
        continue;
      }
    }
    if (Status s = Apply(writer, r, options, report); !s.ok()) return s;
  }
  if (!header) return Status::InvalidArgument("line 1: no header (an empty file)");
  return Status::Ok();
}

// ---- JSON formats ----

// A whole JSON or XML document, refused past kMaxJsonImportBytes.
Result<std::string> ReadDocument(std::istream& in) {
  std::string text;
  char chunk[65536];
  while (in.read(chunk, sizeof(chunk)) || in.gcount() > 0) {
    text.append(chunk, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxJsonImportBytes) {
      return Status::LimitExceeded("document over " + std::to_string(kMaxJsonImportBytes) +
                                   " bytes");
    }
  }
  if (in.bad()) return Status::IoError("read error");
  return text;
}

Result<Json> ReadJson(std::istream& in) {
  Result<std::string> document = ReadDocument(in);
  if (!document.ok()) return document.status();
  const std::string& text = *document;
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    return Status::InvalidArgument("malformed JSON at byte " + std::to_string(e.byte) + ": " +
                                   e.what());
  }
}

std::string String(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

const std::pair<const char*, SignalType> kTeTypes[] = {{"HASH_PDQ", SignalType::kPdq},
                                                       {"HASH_MD5", SignalType::kMd5},
                                                       {"HASH_SHA1", SignalType::kSha1},
                                                       {"HASH_SHA256", SignalType::kSha256}};

// Calls fn(record) for each record of a parsed document; a record the format
// cannot read gets an error through fn too (signal_name = "!" + why).
Status ForEachJsonRecord(ExchangeFormat format, const Json& doc,
                         const std::function<Status(Record)>& fn) {
  int64_t number = 0;
  auto bad = [&](const std::string& why) {
    Record r;
    r.where = "record " + std::to_string(number);
    r.signal_name = "!" + why;
    return fn(std::move(r));
  };
  if (!doc.is_object()) return Status::InvalidArgument("the document is not a JSON object");
  if (format == ExchangeFormat::kThreatExchange || format == ExchangeFormat::kStopNcii) {
    const char* list = format == ExchangeFormat::kThreatExchange ? "data" : "hashRecords";
    auto it = doc.find(list);
    if (it == doc.end() || !it->is_array()) {
      return Status::InvalidArgument(std::string("no \"") + list + "\" array");
    }
    for (const Json& item : *it) {
      ++number;
      if (!item.is_object()) {
        if (Status s = bad("not an object"); !s.ok()) return s;
        continue;
      }
      Record r;
      r.where = "record " + std::to_string(number);
      if (format == ExchangeFormat::kThreatExchange) {
        const std::string type = String(item, "type");
        for (const auto& [name, signal] : kTeTypes) {
          if (type == name) r.signal = signal;
        }
        if (!r.signal) {
          if (Status s = bad("unknown type '" + type + "'"); !s.ok()) return s;
          continue;
        }
        r.value = String(item, "indicator");
        r.source_id = String(item, "id");
        if (auto tags = item.find("tags"); tags != item.end() && tags->is_array()) {
          std::string joined;
          for (const Json& t : *tags) {
            if (!t.is_string()) continue;
            if (!joined.empty()) joined += ',';
            joined += t.get<std::string>();
          }
          if (!joined.empty()) r.labels["tags"] = joined;
        }
        auto del = item.find("should_delete");
        r.deleted = del != item.end() && del->is_boolean() && del->get<bool>();
      } else {
        const std::string type = String(item, "signalType");
        if (type == "PDQ") {
          r.signal = SignalType::kPdq;
        } else if (type == "MD5") {
          r.signal = SignalType::kMd5;
        } else {
          if (Status s = bad("unknown signalType '" + type + "'"); !s.ok()) return s;
          continue;
        }
        r.value = String(item, "hashValue");
        if (auto cases = item.find("caseNumbers"); cases != item.end() && cases->is_array()) {
          std::string joined;
          for (const Json& c : *cases) {
            if (!joined.empty()) joined += ',';
            joined += c.is_string() ? c.get<std::string>() : c.dump();
          }
          r.source_id = joined;
        }
        const std::string status = String(item, "hashStatus");
        if (status == "Withdrawn" || status == "Deleted") {
          r.deleted = true;
        } else if (!status.empty() && status != "Active") {
          if (Status s = bad("unknown hashStatus '" + status + "'"); !s.ok()) return s;
          continue;
        }
      }
      if (Status s = fn(std::move(r)); !s.ok()) return s;
    }
    return Status::Ok();
  }
  // VICS: {"value": [{"Media": [...]}, ...]} or {"Media": [...]}.
  std::vector<const Json*> media_lists;
  if (auto m = doc.find("Media"); m != doc.end() && m->is_array()) media_lists.push_back(&*m);
  if (auto v = doc.find("value"); v != doc.end() && v->is_array()) {
    for (const Json& c : *v) {
      if (!c.is_object()) continue;
      if (auto m = c.find("Media"); m != c.end() && m->is_array()) media_lists.push_back(&*m);
    }
  }
  if (media_lists.empty()) return Status::InvalidArgument("no \"Media\" array");
  for (const Json* media : media_lists) {
    for (const Json& item : *media) {
      ++number;
      if (!item.is_object()) {
        if (Status s = bad("not an object"); !s.ok()) return s;
        continue;
      }
      const std::string md5 = String(item, "MD5"), sha1 = String(item, "SHA1");
      if (md5.empty() && sha1.empty()) {
        if (Status s = bad("neither MD5 nor SHA1"); !s.ok()) return s;
        continue;
      }
      Record r;
      r.where = "record " + std::to_string(number);
      r.source_id = String(item, "MediaID");
      const std::string category = String(item, "Category");
      if (!category.empty()) r.labels["category"] = category;
      for (const auto& [value, signal] :
           {std::pair{md5, SignalType::kMd5}, std::pair{sha1, SignalType::kSha1}}) {
        if (value.empty()) continue;
        Record one = r;
        one.signal = signal;
        one.value = value;
        if (Status s = fn(std::move(one)); !s.ok()) return s;
      }
    }
  }
  return Status::Ok();
}

Status ImportJson(ExchangeFormat format, EntryWriter& writer, std::istream& in,
                  const ImportOptions& options, ImportReport* report) {
  Result<Json> doc = ReadJson(in);
  if (!doc.ok()) return doc.status();
  return ForEachJsonRecord(format, *doc, [&](Record r) -> Status {
    ++report->lines;
    if (r.signal_name.starts_with("!")) {
      return bank_internal::SkipOrFail(
          Status::InvalidArgument(r.where + ": " + r.signal_name.substr(1)), options.skip_invalid,
          report);
    }
    return Apply(writer, r, options, report);
  });
}

// NCMEC hash-sharing XML: <image>/<video> elements anywhere, each with <id>,
// optional <classification> and <fingerprints> (<md5>, <sha1>, <pdq>,
// <tmk_pdqf> (a .tmk as base64 or hex), ...; other types such as <pdna> are
// ignored). An element inside
// <deletedEntries>, or with deleted="true", removes its fingerprints, or, when
// it lists none, every entry with its id. Deletions apply after every
// addition of the file, wherever they stand in it: an entry that a file both
// adds and deletes ends up deleted. A document with no element at all is
// refused unless it has an (empty) <images>, <videos> or <deletedEntries>
// list, as an export of an empty bank does.
Status ImportNcmec(EntryWriter& writer, std::istream& in, const ImportOptions& options,
                   ImportReport* report) {
  Result<std::string> document = ReadDocument(in);
  if (!document.ok()) return document.status();
  const std::string& text = *document;
  pugi::xml_document doc;
  pugi::xml_parse_result parsed = doc.load_buffer(text.data(), text.size());
  if (!parsed) {
    return Status::InvalidArgument("malformed XML at byte " + std::to_string(parsed.offset) + ": " +
                                   parsed.description());
  }
  // The elements in document order (their numbers in messages), each with
  // whether it is a deletion, and whether the document has a list at all.
  struct Walker : pugi::xml_tree_walker {
    std::vector<std::pair<pugi::xml_node, bool>> elements;
    bool has_list = false;
    int deleted_depth = -1;  // of the outermost open <deletedEntries>, or -1
    bool for_each(pugi::xml_node& node) override {
      // Pre-order: a node no deeper than the open <deletedEntries> is past it.
      if (deleted_depth >= 0 && depth() <= deleted_depth) deleted_depth = -1;
      const std::string_view name = node.name();
      if (name == "images" || name == "videos" || name == "deletedEntries") has_list = true;
      if (name == "deletedEntries" && deleted_depth < 0) deleted_depth = depth();
      if (name == "image" || name == "video") {
        elements.emplace_back(
            node, deleted_depth >= 0 ||
                      std::string_view(node.attribute("deleted").as_string()) == "true");
      }
      return true;
    }
  } walker;
  doc.traverse(walker);
  auto apply = [&](pugi::xml_node node, size_t number, bool deleted) -> Status {
    ++report->lines;
    const std::string where =
        "element " + std::to_string(number) + " (byte " + std::to_string(node.offset_debug()) + ")";
    Record base;
    base.where = where;
    base.deleted = deleted;
    base.source_id = bank_internal::Trim(node.child_value("id"));
    const std::string classification(bank_internal::Trim(node.child_value("classification")));
    if (!classification.empty()) base.labels["classification"] = classification;
    int found = 0;
    for (pugi::xml_node f : node.child("fingerprints").children()) {
      std::string type = f.name();
      std::transform(type.begin(), type.end(), type.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      std::optional<SignalType> signal;
      if (type == "md5") signal = SignalType::kMd5;
      if (type == "sha1") signal = SignalType::kSha1;
      if (type == "sha256") signal = SignalType::kSha256;
      if (type == "pdq") signal = SignalType::kPdq;
      if (type == "tmk_pdqf") signal = SignalType::kTmk;
      if (!signal) continue;
      ++found;
      Record r = base;
      r.signal = signal;
      r.value = f.child_value();
      r.signature = signal == SignalType::kTmk;
      if (Status s = Apply(writer, r, options, report); !s.ok()) return s;
    }
    if (found > 0) return Status::Ok();
    if (deleted && !base.source_id.empty()) {
      Result<int64_t> n = writer.RemoveBySourceId(base.source_id, options.now, "deleted by source");
      if (!n.ok()) return n.status();
      report->removed += *n;
      return Status::Ok();
    }
    return bank_internal::SkipOrFail(
        Status::InvalidArgument(where + ": no md5, sha1, sha256, pdq or tmk_pdqf fingerprint"),
        options.skip_invalid, report);
  };
  // Additions first, then deletions, each in document order.
  for (bool deletions : {false, true}) {
    for (size_t i = 0; i < walker.elements.size(); ++i) {
      const auto [node, deleted] = walker.elements[i];
      if (deleted != deletions) continue;
      if (Status s = apply(node, i + 1, deleted); !s.ok()) return s;
    }
  }
  if (walker.elements.empty() && !walker.has_list) {
    return Status::InvalidArgument(
        "no <image> or <video> elements, nor an <images>, <videos> or <deletedEntries> list");
  }
  return Status::Ok();
}

std::string DumpJson(const OrderedJson& j) {
  return j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string_view ExchangeFormatName(ExchangeFormat format) {
  switch (format) {
    case ExchangeFormat::kPlain:
      return "plain";
    case ExchangeFormat::kCsv:
      return "csv";
    case ExchangeFormat::kThreatExchange:
      return "threatexchange";
    case ExchangeFormat::kStopNcii:
      return "stopncii";
    case ExchangeFormat::kVics:
      return "vics";
    case ExchangeFormat::kNcmecXml:
      return "ncmec";
  }
  return "unknown";
}

Result<ExchangeFormat> ParseExchangeFormat(std::string_view name) {
  for (ExchangeFormat f :
       {ExchangeFormat::kPlain, ExchangeFormat::kCsv, ExchangeFormat::kThreatExchange,
        ExchangeFormat::kStopNcii, ExchangeFormat::kVics, ExchangeFormat::kNcmecXml}) {
    if (name == ExchangeFormatName(f)) return f;
  }
  return Status::InvalidArgument("unknown format '" + std::string(name) +
                                 "' (plain, csv, threatexchange, stopncii, vics, ncmec)");
}

Result<ImportReport> ImportList(Store& store, std::string_view bank_name, ExchangeFormat format,
                                std::istream& in, const ImportOptions& options) {
  if (format == ExchangeFormat::kPlain) return ImportPlainList(store, bank_name, in, options);
  Result<Bank> bank = store.GetBank(bank_name);
  if (!bank.ok()) return bank.status();
  Result<std::unique_ptr<EntryWriter>> writer = store.BeginWrite(bank->id);
  if (!writer.ok()) return writer.status();
  ImportReport report;
  Status s = format == ExchangeFormat::kCsv ? ImportCsv(**writer, in, options, &report)
             : format == ExchangeFormat::kNcmecXml
                 ? ImportNcmec(**writer, in, options, &report)
                 : ImportJson(format, **writer, in, options, &report);
  if (!s.ok()) return s;
  if (Status c = (*writer)->Commit(); !c.ok()) return c;
  return report;
}

Result<int64_t> ExportList(Store& store, std::string_view bank_name, ExchangeFormat format,
                           std::optional<SignalType> signal, std::ostream& out) {
  if (format == ExchangeFormat::kPlain) {
    if (!signal) return Status::InvalidArgument("plain export needs a signal type");
    return ExportPlainList(store, bank_name, *signal, out);
  }
  Result<Bank> bank = store.GetBank(bank_name);
  if (!bank.ok()) return bank.status();
  int64_t count = 0;
  OrderedJson items = OrderedJson::array();
  if (format == ExchangeFormat::kCsv) out << "signal,value,source_id,labels\n";
  pugi::xml_document xml;
  pugi::xml_node result = xml.append_child("queryResult");
  pugi::xml_node images = result.append_child("images");
  pugi::xml_node videos;  // made for the first TMK
  Store::EntryFilter filter;
  filter.signal = signal;
  // Only NCMEC carries a signature (TMK); the other formats leave them out.
  filter.payloads = format == ExchangeFormat::kNcmecXml;
  Status s = store.ForEachEntry(bank->id, filter, [&](const Entry& e) -> Status {
    if (SignalHasPayload(e.signal) &&
        (format != ExchangeFormat::kNcmecXml || e.signal != SignalType::kTmk)) {
      return Status::Ok();
    }
    switch (format) {
      case ExchangeFormat::kPlain:
        break;
      case ExchangeFormat::kCsv:
        out << SignalTypeName(e.signal) << ',' << e.value << ',' << CsvField(e.provenance.source_id)
            << ',' << CsvField(LabelList(e.labels)) << '\n';
        break;
      case ExchangeFormat::kThreatExchange: {
        OrderedJson j;
        j["id"] = e.provenance.source_id;
        std::string type;
        for (const auto& [name, sig] : kTeTypes) {
          if (sig == e.signal) type = name;
        }
        j["type"] = type;
        j["indicator"] = e.value;
        OrderedJson tags = OrderedJson::array();
        if (auto t = e.labels.find("tags"); t != e.labels.end()) {
          std::string_view rest = t->second;
          while (!rest.empty()) {
            const size_t comma = rest.find(',');
            tags.push_back(std::string(rest.substr(0, comma)));
            rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
          }
        }
        j["tags"] = std::move(tags);
        items.push_back(std::move(j));
        break;
      }
      case ExchangeFormat::kStopNcii: {
        if (e.signal != SignalType::kPdq && e.signal != SignalType::kMd5) return Status::Ok();
        OrderedJson j;
        j["signalType"] = e.signal == SignalType::kPdq ? "PDQ" : "MD5";
        j["hashValue"] = e.value;
        j["hashStatus"] = "Active";
        OrderedJson cases = OrderedJson::array();
        if (!e.provenance.source_id.empty()) cases.push_back(e.provenance.source_id);
        j["caseNumbers"] = std::move(cases);
        items.push_back(std::move(j));
        break;
      }
      case ExchangeFormat::kVics: {
        if (e.signal != SignalType::kMd5 && e.signal != SignalType::kSha1) return Status::Ok();
        OrderedJson j;
        if (!e.provenance.source_id.empty()) j["MediaID"] = e.provenance.source_id;
        if (auto c = e.labels.find("category"); c != e.labels.end()) j["Category"] = c->second;
        j[e.signal == SignalType::kMd5 ? "MD5" : "SHA1"] = e.value;
        items.push_back(std::move(j));
        break;
      }
      case ExchangeFormat::kNcmecXml: {
        const bool tmk = e.signal == SignalType::kTmk;
        if (tmk && !videos) videos = result.insert_child_after("videos", images);
        pugi::xml_node item = tmk ? videos.append_child("video") : images.append_child("image");
        item.append_child("id").text().set(e.provenance.source_id.c_str());
        if (auto c = e.labels.find("classification"); c != e.labels.end()) {
          item.append_child("classification").text().set(c->second.c_str());
        }
        item.append_child("fingerprints")
            .append_child(tmk ? "tmk_pdqf" : std::string(SignalTypeName(e.signal)).c_str())
            .text()
            .set(tmk ? SignatureToText(e.payload).c_str() : e.value.c_str());
        break;
      }
    }
    if (!out) return Status::IoError("write error");
    ++count;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (format == ExchangeFormat::kThreatExchange) {
    out << DumpJson(OrderedJson{{"data", std::move(items)}}) << '\n';
  } else if (format == ExchangeFormat::kStopNcii) {
    out << DumpJson(OrderedJson{{"hashRecords", std::move(items)}}) << '\n';
  } else if (format == ExchangeFormat::kVics) {
    OrderedJson doc;
    doc["odata.metadata"] = "safeguard export";
    doc["value"] = OrderedJson::array({OrderedJson{{"Media", std::move(items)}}});
    out << DumpJson(doc) << '\n';
  } else if (format == ExchangeFormat::kNcmecXml) {
    xml.save(out, "  ");
  }
  if (!out) return Status::IoError("write error");
  return count;
}

}  // namespace safeguard
