// `safeguard bank`: create, inspect, fill and empty hash banks (docs/banks.md).
//
//   safeguard [--store URL] bank create NAME [--kind block|allow] [--label KEY=VALUE]...
//   safeguard [--store URL] bank list | show NAME | enable NAME | disable NAME
//   safeguard [--store URL] bank import NAME --format plain --signal pdq FILE|- [--skip-invalid]
//   safeguard [--store URL] bank export NAME --format plain --signal pdq        (to stdout)
//   (formats: plain, csv, threatexchange, stopncii, vics, ncmec; see bank/formats.h)
//   safeguard [--store URL] bank import NAME --format vpdq|tmk FILE|FOLDER
//   safeguard [--store URL] bank export NAME --format vpdq|tmk --out FOLDER
//   (video signatures, one file per video in the reference formats; see
//   bank/signatures.h; import reports count files as "lines")
//   safeguard [--store URL] bank remove-entry NAME --signal S VALUE [--reason TEXT]
//
// Output is JSON (one object per line) except export, which writes the
// format asked for. Exit codes: 0 done; 1 done, but lines were skipped
// (import --skip-invalid) or nothing was removed; 2 nothing done (the error
// is on stderr).
#pragma once

#include <CLI/CLI.hpp>
#include <iosfwd>
#include <string>
#include <vector>

#include "safeguard/bank/plain_list.h"
#include "safeguard/store/store.h"

namespace safeguard::cli {

// Parses "KEY=VALUE" labels. Errors: kInvalidArgument.
Result<Labels> ParseLabels(const std::vector<std::string>& pairs);

class BankCommand {
 public:
  // Adds `bank` and its subcommands to `app`. `store_url` is read at Run.
  BankCommand(CLI::App* app, const std::string* store_url);
  bool parsed() const { return bank_->parsed(); }
  // REQUIRES: parsed(). `in` is the input of `import ... -`.
  int Run(std::istream& in, std::ostream& out, std::ostream& err);

 private:
  int RunWith(Store& store, std::istream& in, std::ostream& out, std::ostream& err);
  // Prints an import's report as JSON; returns the exit code.
  int ImportReportOut(const ImportReport& report, std::ostream& out) const;

  const std::string* store_url_;
  CLI::App* bank_;
  CLI::App* create_;
  CLI::App* list_;
  CLI::App* show_;
  CLI::App* import_;
  CLI::App* export_;
  CLI::App* enable_;
  CLI::App* disable_;
  CLI::App* remove_;
  std::string name_;
  std::string kind_ = "block";
  std::string description_;
  std::string source_;
  std::vector<std::string> labels_;
  int pdq_max_distance_ = kDefaultPdqMaxDistance;
  int pdq_min_quality_ = kDefaultPdqMinQuality;
  bool disabled_ = false;
  std::string format_ = "plain";
  std::string signal_ = "pdq";
  std::string file_;
  std::string out_dir_;
  bool skip_invalid_ = false;
  std::string added_by_;
  std::string value_;
  std::string reason_ = "removed by operator";
};

}  // namespace safeguard::cli
