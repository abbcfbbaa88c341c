// `safeguard serve`, `safeguard keys` and `safeguard audit`: the service and
// its administration from the command line (docs/service.md).
//
//   safeguard [--store URL] serve [--config FILE] [--set KEY=VALUE]... [--listen HOST:PORT]
//                                 [--print-config]
//   safeguard [--store URL] keys create NAME --scopes submit,review,admin   (prints the token)
//   safeguard [--store URL] keys list | revoke ID
//   safeguard [--store URL] audit verify
//
// serve runs until SIGINT or SIGTERM, then finishes the requests in flight.
// Exit codes: 0 done; 1 audit verify found a broken chain; 2 nothing done
// (the error is on stderr: a bad config value names its key).
#pragma once

#include <CLI/CLI.hpp>
#include <iosfwd>
#include <string>
#include <vector>

namespace safeguard::cli {

class ServeCommand {
 public:
  // Adds `serve`, `keys` and `audit` to `app`. `store_url` is read at Run;
  // `store_given` tells whether --store was on the command line.
  ServeCommand(CLI::App* app, const std::string* store_url, const CLI::Option* store_option);
  bool parsed() const;
  // REQUIRES: parsed().
  int Run(std::ostream& out, std::ostream& err);

 private:
  int RunServe(std::ostream& out, std::ostream& err);
  int RunKeys(std::ostream& out, std::ostream& err);
  int RunAudit(std::ostream& out, std::ostream& err);

  const std::string* store_url_;
  const CLI::Option* store_option_;
  CLI::App* serve_;
  CLI::App* keys_;
  CLI::App* keys_create_;
  CLI::App* keys_list_;
  CLI::App* keys_revoke_;
  CLI::App* audit_;
  CLI::App* audit_verify_;
  std::string config_file_;
  std::vector<std::string> sets_;
  std::string listen_;
  bool print_config_ = false;
  std::string key_name_;
  std::string scopes_;
  int64_t key_id_ = 0;
};

}  // namespace safeguard::cli
