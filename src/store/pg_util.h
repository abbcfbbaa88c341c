// libpq helpers shared by the store's PostgreSQL implementations (internal).
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "safeguard/core/status.h"

namespace safeguard::store_internal {

using ResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;

// Query parameters as text.
class Params {
 public:
  Params& Add(int64_t v) {
    values_.push_back(std::to_string(v));
    return *this;
  }
  Params& Add(std::string_view v) {
    values_.emplace_back(v);
    return *this;
  }
  std::vector<const char*> Pointers() const {
    std::vector<const char*> p;
    for (const std::string& v : values_) p.push_back(v.c_str());
    return p;
  }
  int size() const { return static_cast<int>(values_.size()); }

 private:
  std::vector<std::string> values_;
};

class PgConnection {
 public:
  explicit PgConnection(PGconn* conn) : conn_(conn) {}
  ~PgConnection() { PQfinish(conn_); }
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  Result<ResultPtr> Exec(const std::string& sql, const Params& params = {}) {
    std::vector<const char*> p = params.Pointers();
    ResultPtr r(
        PQexecParams(conn_, sql.c_str(), params.size(), nullptr, p.data(), nullptr, nullptr, 0),
        &PQclear);
    const ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      const char* state = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
      std::string message = std::string("postgres: ") + PQerrorMessage(conn_);
      while (!message.empty() && message.back() == '\n') message.pop_back();
      if (state != nullptr && std::string_view(state) == "23505") {
        return Status::InvalidArgument(message);
      }
      return Status::IoError(message);
    }
    return r;
  }
  // Several statements, no parameters.
  Status Script(const char* sql) {
    ResultPtr r(PQexec(conn_, sql), &PQclear);
    const ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      return Status::IoError(std::string("postgres: ") + PQerrorMessage(conn_));
    }
    return Status::Ok();
  }

 private:
  PGconn* conn_;
};

inline int64_t Int(const PGresult* r, int row, int col) {
  return std::strtoll(PQgetvalue(r, row, col), nullptr, 10);
}
inline std::string Text(const PGresult* r, int row, int col) {
  return std::string(PQgetvalue(r, row, col), static_cast<size_t>(PQgetlength(r, row, col)));
}

}  // namespace safeguard::store_internal
