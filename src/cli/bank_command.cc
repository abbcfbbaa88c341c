#include "bank_command.h"

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "hash_command.h"
#include "safeguard/bank/formats.h"
#include "safeguard/bank/signatures.h"

namespace safeguard::cli {
namespace {

using Json = nlohmann::ordered_json;

std::string Dump(const Json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Json LabelsJson(const Labels& labels) {
  Json j = Json::object();
  for (const auto& [k, v] : labels) j[k] = v;
  return j;
}

Json BankJson(Store& store, const Bank& bank) {
  Json j;
  j["name"] = bank.spec.name;
  j["kind"] = std::string(BankKindName(bank.spec.kind));
  j["enabled"] = bank.spec.enabled;
  j["description"] = bank.spec.description;
  j["source"] = bank.spec.source;
  j["labels"] = LabelsJson(bank.spec.labels);
  j["pdq_max_distance"] = bank.spec.pdq_max_distance;
  j["pdq_min_quality"] = bank.spec.pdq_min_quality;
  j["created_at"] = bank.created_at;
  if (Result<Store::EntryCounts> n = store.CountEntries(bank.id); n.ok()) {
    j["entries"] = n->live;
    j["removed"] = n->removed;
  }
  return j;
}

int Fail(std::ostream& err, const Status& s) {
  err << "safeguard: " << s.ToString() << "\n";
  return 2;
}

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

std::string DefaultUser() {
  const char* user = std::getenv("USER");
  return user != nullptr && *user != '\0' ? user : "cli";
}

}  // namespace

int BankCommand::ImportReportOut(const ImportReport& r, std::ostream& out) const {
  Json j;
  j["bank"] = name_;
  j["lines"] = r.lines;
  j["added"] = r.added;
  j["revived"] = r.revived;
  j["unchanged"] = r.unchanged;
  j["removed"] = r.removed;
  j["skipped"] = r.skipped;
  j["skip_reasons"] = r.skip_reasons;
  out << Dump(j) << "\n";
  return r.skipped > 0 ? 1 : 0;
}

Result<Labels> ParseLabels(const std::vector<std::string>& pairs) {
  Labels labels;
  for (const std::string& p : pairs) {
    const size_t eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::InvalidArgument("label '" + p + "' is not KEY=VALUE");
    }
    labels[p.substr(0, eq)] = p.substr(eq + 1);
  }
  return labels;
}

BankCommand::BankCommand(CLI::App* app, const std::string* store_url) : store_url_(store_url) {
  bank_ = app->add_subcommand("bank", "Create, inspect, import into and export hash banks.");
  bank_->require_subcommand(1);

  create_ = bank_->add_subcommand("create", "Create a bank.");
  create_->add_option("name", name_, "Bank name (letters, digits, '.', '_', '-')")->required();
  create_->add_option("--kind", kind_, "block: known material; allow: known false positives")
      ->check(CLI::IsMember({"block", "allow"}))
      ->capture_default_str();
  create_->add_option("--label", labels_, "KEY=VALUE label of the bank (repeatable)");
  create_->add_option("--description", description_, "What the bank holds");
  create_->add_option("--source", source_, "Where its entries come from");
  create_->add_option("--pdq-threshold", pdq_max_distance_, "PDQ match distance (inclusive)")
      ->check(CLI::Range(0, 64))
      ->capture_default_str();
  create_->add_option("--pdq-min-quality", pdq_min_quality_, "Ignore PDQ hashes below this")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  create_->add_flag("--disabled", disabled_, "Create it disabled");

  list_ = bank_->add_subcommand("list", "One JSON line per bank.");
  show_ = bank_->add_subcommand("show", "A bank's settings and entry counts as JSON.");
  show_->add_option("name", name_, "Bank name")->required();
  enable_ = bank_->add_subcommand("enable", "Match against a bank.");
  enable_->add_option("name", name_, "Bank name")->required();
  disable_ = bank_->add_subcommand("disable", "Stop matching against a bank (entries are kept).");
  disable_->add_option("name", name_, "Bank name")->required();

  import_ = bank_->add_subcommand("import", "Import a hash list into a bank (one transaction).");
  import_->add_option("name", name_, "Bank name")->required();
  import_
      ->add_option("file", file_,
                   "The list ('-' for standard input); vpdq, tmk: a signature file or a folder")
      ->required();
  import_->add_option("--format", format_, "Exchange format")
      ->check(CLI::IsMember(
          {"plain", "csv", "threatexchange", "stopncii", "vics", "ncmec", "vpdq", "tmk"}))
      ->capture_default_str();
  import_->add_option("--signal", signal_, "Signal type of the values")
      ->check(CLI::IsMember({"pdq", "md5", "sha1", "sha256"}))
      ->capture_default_str();
  import_->add_flag("--skip-invalid", skip_invalid_,
                    "Import the valid lines, report the malformed ones");
  import_->add_option("--label", labels_, "KEY=VALUE label of every entry (repeatable)");
  import_->add_option("--added-by", added_by_, "Who imports (default $USER)");

  export_ = bank_->add_subcommand("export", "Write a bank's live entries to standard output.");
  export_->add_option("name", name_, "Bank name")->required();
  export_->add_option("--format", format_, "Exchange format")
      ->check(CLI::IsMember(
          {"plain", "csv", "threatexchange", "stopncii", "vics", "ncmec", "vpdq", "tmk"}))
      ->capture_default_str();
  export_->add_option("--out", out_dir_, "vpdq, tmk: the folder to write one file per video to");
  export_->add_option("--signal", signal_, "Signal type to export")
      ->check(CLI::IsMember({"pdq", "md5", "sha1", "sha256"}))
      ->capture_default_str();

  remove_ = bank_->add_subcommand("remove-entry", "Tombstone one entry of a bank.");
  remove_->add_option("name", name_, "Bank name")->required();
  remove_->add_option("value", value_, "The entry's hex value")->required();
  remove_->add_option("--signal", signal_, "Signal type of the value")
      ->check(CLI::IsMember({"pdq", "md5", "sha1", "sha256", "vpdq", "tmk"}))
      ->capture_default_str();
  remove_->add_option("--reason", reason_, "Why (kept with the tombstone)")->capture_default_str();
}

int BankCommand::Run(std::istream& in, std::ostream& out, std::ostream& err) {
  Result<std::unique_ptr<Store>> store = OpenStore(*store_url_);
  if (!store.ok()) return Fail(err, store.status());
  return RunWith(**store, in, out, err);
}

int BankCommand::RunWith(Store& store, std::istream& in, std::ostream& out, std::ostream& err) {
  const SignalType signal = *ParseSignalType(signal_);  // validated by IsMember
  if (create_->parsed()) {
    Result<Labels> labels = ParseLabels(labels_);
    if (!labels.ok()) return Fail(err, labels.status());
    BankSpec spec;
    spec.name = name_;
    spec.kind = *ParseBankKind(kind_);
    spec.description = description_;
    spec.source = source_;
    spec.labels = *labels;
    spec.enabled = !disabled_;
    spec.pdq_max_distance = pdq_max_distance_;
    spec.pdq_min_quality = pdq_min_quality_;
    Result<Bank> bank = store.CreateBank(spec, Now());
    if (!bank.ok()) return Fail(err, bank.status());
    out << Dump(BankJson(store, *bank)) << "\n";
    return 0;
  }
  if (list_->parsed()) {
    Result<std::vector<Bank>> banks = store.ListBanks();
    if (!banks.ok()) return Fail(err, banks.status());
    for (const Bank& b : *banks) out << Dump(BankJson(store, b)) << "\n";
    return 0;
  }
  if (show_->parsed()) {
    Result<Bank> bank = store.GetBank(name_);
    if (!bank.ok()) return Fail(err, bank.status());
    out << Dump(BankJson(store, *bank)) << "\n";
    return 0;
  }
  if (enable_->parsed() || disable_->parsed()) {
    if (Status s = store.SetBankEnabled(name_, enable_->parsed(), Now()); !s.ok()) {
      return Fail(err, s);
    }
    out << Dump(BankJson(store, *store.GetBank(name_))) << "\n";
    return 0;
  }
  const bool signatures = format_ == "vpdq" || format_ == "tmk";
  if (import_->parsed()) {
    Result<Labels> labels = ParseLabels(labels_);
    if (!labels.ok()) return Fail(err, labels.status());
    ImportOptions options;
    options.signal = signal;
    options.skip_invalid = skip_invalid_;
    options.labels = *labels;
    options.source = file_ == "-" ? "stdin" : file_;
    options.added_by = added_by_.empty() ? DefaultUser() : added_by_;
    options.now = Now();
    if (signatures) {
      if (file_ == "-") {
        return Fail(err, Status::InvalidArgument("signature files are read from paths, not '-'"));
      }
      options.source.clear();  // each entry's own file
      // A folder: its files with the format's extension (.tmk, .txt).
      std::vector<std::string> files = ExpandPaths({file_});
      std::error_code ec;
      if (std::filesystem::is_directory(file_, ec)) {
        const std::string ext = format_ == "tmk" ? ".tmk" : ".txt";
        std::erase_if(files, [&](const std::string& f) { return !f.ends_with(ext); });
      }
      Result<ImportReport> r =
          ImportSignatureFiles(store, name_, *ParseSignalType(format_), files, options);
      if (!r.ok()) return Fail(err, r.status());
      return ImportReportOut(*r, out);
    }
    std::ifstream file;
    std::istream* input = &in;
    if (file_ != "-") {
      file.open(file_, std::ios::binary);
      if (!file) return Fail(err, Status::NotFound(file_ + ": cannot open"));
      input = &file;
    }
    Result<ImportReport> r =
        ImportList(store, name_, *ParseExchangeFormat(format_), *input, options);
    if (!r.ok()) {
      return Fail(err, Status::Error(r.status().code(), file_ + ": " + r.status().message()));
    }
    return ImportReportOut(*r, out);
  }
  if (export_->parsed() && signatures) {
    if (out_dir_.empty()) {
      return Fail(err, Status::InvalidArgument("--format " + format_ + " needs --out DIR"));
    }
    Result<int64_t> n = ExportSignatureFiles(store, name_, *ParseSignalType(format_), out_dir_);
    if (!n.ok()) return Fail(err, n.status());
    Json j;
    j["bank"] = name_;
    j["signal"] = format_;
    j["files"] = *n;
    j["folder"] = out_dir_;
    out << Dump(j) << "\n";
    return 0;
  }
  if (export_->parsed()) {
    // Plain lists hold one signal type (default pdq); other formats export
    // every type they carry unless --signal narrows it.
    const ExchangeFormat format = *ParseExchangeFormat(format_);
    std::optional<SignalType> only;
    if (format == ExchangeFormat::kPlain || export_->count("--signal") > 0) only = signal;
    Result<int64_t> n = ExportList(store, name_, format, only, out);
    if (!n.ok()) return Fail(err, n.status());
    out.flush();
    return 0;
  }
  if (remove_->parsed()) {
    Result<Bank> bank = store.GetBank(name_);
    if (!bank.ok()) return Fail(err, bank.status());
    Result<std::string> value = NormalizeSignalValue(signal, value_);
    if (!value.ok()) return Fail(err, value.status());
    Result<std::unique_ptr<EntryWriter>> w = store.BeginWrite(bank->id);
    if (!w.ok()) return Fail(err, w.status());
    Result<bool> removed = (*w)->Remove(signal, *value, Now(), reason_);
    if (!removed.ok()) return Fail(err, removed.status());
    if (Status s = (*w)->Commit(); !s.ok()) return Fail(err, s);
    Json j;
    j["bank"] = name_;
    j["signal"] = signal_;
    j["removed"] = *removed;
    out << Dump(j) << "\n";
    return *removed ? 0 : 1;
  }
  return 2;
}

}  // namespace safeguard::cli
