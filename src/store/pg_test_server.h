// A throwaway PostgreSQL server for tests (test-only): initdb + pg_ctl from
// Debian's `postgresql` package, in a temporary directory, on a loopback
// port; started on first use, stopped and deleted when the test program
// ends. As root it runs the server as `nobody` (initdb refuses root).
#pragma once

#include <string>

namespace safeguard::test_support {

class PgTestServer {
 public:
  // The server of this process, starting it if needed.
  static PgTestServer& Get();

  // False when the server could not start; reason() then says why.
  bool ok() const { return ok_; }
  const std::string& reason() const { return reason_; }

  // Creates a fresh, empty database and returns its libpq connection string.
  // "" (and reason() set) on failure. REQUIRES: ok().
  std::string NewDatabase();

  void Stop();

 private:
  PgTestServer();
  bool Start();

  bool ok_ = false;
  std::string reason_;
  std::string dir_;
  std::string bin_;
  std::string as_user_;  // "runuser -u nobody -- " when root
  int port_ = 0;
  int databases_ = 0;
};

}  // namespace safeguard::test_support
