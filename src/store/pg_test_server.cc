#include "pg_test_server.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace safeguard::test_support {
namespace {

namespace fs = std::filesystem;

std::string FindBin() {
  std::error_code ec;
  for (const auto& d : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    if (fs::exists(d.path() / "bin" / "initdb") && fs::exists(d.path() / "bin" / "pg_ctl")) {
      return (d.path() / "bin").string();
    }
  }
  return "";
}

std::string Tail(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > 400 ? s.substr(s.size() - 400) : s;
}

class StopAtExit : public ::testing::Environment {
 public:
  void TearDown() override { PgTestServer::Get().Stop(); }
};

}  // namespace

PgTestServer& PgTestServer::Get() {
  static PgTestServer* server = [] {
    auto* s = new PgTestServer();  // lives to the end of the program
    ::testing::AddGlobalTestEnvironment(new StopAtExit);
    std::atexit([] { PgTestServer::Get().Stop(); });
    return s;
  }();
  return *server;
}

PgTestServer::PgTestServer() { ok_ = Start(); }

bool PgTestServer::Start() {
  bin_ = FindBin();
  if (bin_.empty()) {
    reason_ = "initdb/pg_ctl not found under /usr/lib/postgresql (install Debian's postgresql)";
    return false;
  }
  std::string templ = (fs::temp_directory_path() / "safeguard-pg-XXXXXX").string();
  if (mkdtemp(templ.data()) == nullptr) {
    reason_ = "cannot create a temporary directory";
    return false;
  }
  dir_ = templ;
  if (geteuid() == 0) {
    as_user_ = "runuser -u nobody -- ";
    if (std::system(("chown nobody " + dir_).c_str()) != 0) {
      reason_ = "cannot hand " + dir_ + " to user nobody";
      return false;
    }
  }
  const std::string initdb = as_user_ + bin_ + "/initdb -D " + dir_ +
                             "/data -A trust -U postgres " + "--no-sync -E UTF8 > " + dir_ +
                             "/initdb.log 2>&1";
  if (std::system(initdb.c_str()) != 0) {
    reason_ = "initdb failed: " + Tail(dir_ + "/initdb.log");
    return false;
  }
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = 20000 + static_cast<int>((getpid() * 7 + attempt * 1009) % 30000);
    const std::string start = as_user_ + bin_ + "/pg_ctl -D " + dir_ + "/data -l " + dir_ +
                              "/server.log -w -t 30 -o \"-p " + std::to_string(port_) + " -k " +
                              dir_ + " -c listen_addresses=127.0.0.1 -c fsync=off\" start " +
                              "> /dev/null 2>&1";
    if (std::system(start.c_str()) == 0) return true;
  }
  reason_ = "the server did not start: " + Tail(dir_ + "/server.log");
  return false;
}

std::string PgTestServer::NewDatabase() {
  const std::string base = "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres";
  PGconn* conn = PQconnectdb((base + " dbname=postgres").c_str());
  const std::string name = "sg" + std::to_string(getpid()) + "_" + std::to_string(++databases_);
  std::string result;
  if (PQstatus(conn) == CONNECTION_OK) {
    PGresult* r = PQexec(conn, ("CREATE DATABASE " + name).c_str());
    if (PQresultStatus(r) == PGRES_COMMAND_OK) {
      result = "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + name;
    }
    PQclear(r);
  }
  if (result.empty()) reason_ = std::string("CREATE DATABASE failed: ") + PQerrorMessage(conn);
  PQfinish(conn);
  return result;
}

void PgTestServer::Stop() {
  if (dir_.empty()) return;
  if (ok_) {
    (void)std::system((as_user_ + bin_ + "/pg_ctl -D " + dir_ + "/data -m immediate -w stop " +
                       "> /dev/null 2>&1")
                          .c_str());
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
  dir_.clear();
  ok_ = false;
}

}  // namespace safeguard::test_support
