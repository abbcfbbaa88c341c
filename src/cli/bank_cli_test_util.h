// Test-only: runs the `bank` and `match` commands in-process, as the
// `safeguard` binary would, capturing their output.
#pragma once

#include <CLI/CLI.hpp>
#include <sstream>
#include <string>

#include "bank_command.h"
#include "match_command.h"

namespace safeguard::cli {

// Runs `safeguard [--store URL] bank|match ...` in-process.
struct CliResult {
  int rc = 0;
  std::string out;
  std::string err;
};

// `args` as on the command line after the program name (no quoting).
inline CliResult RunBankCli(const std::string& args, const std::string& input = "") {
  CLI::App app;
  std::string url = kDefaultStoreUrl;
  app.add_option("--store", url);
  app.require_subcommand(1);
  BankCommand bank(&app, &url);
  MatchCommand match(&app, &url);
  CliResult r;
  try {
    app.parse(args, /*program_name_included=*/false);
  } catch (const CLI::ParseError& e) {
    r.rc = 2;
    r.err = e.what();
    return r;
  }
  std::istringstream in(input);
  std::ostringstream out, err;
  r.rc = bank.parsed() ? bank.Run(in, out, err) : match.Run(in, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

}  // namespace safeguard::cli
