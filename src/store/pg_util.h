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

// One libpq connection. A connection lost between transactions is opened
// again by the next statement (the statement that met the loss fails with
// kIoError). One lost inside a transaction is not: every statement fails
// until the caller's ROLLBACK or COMMIT ends it (COMMIT fails: the server
// has rolled it back), so that no statement of it ever runs on a new
// connection outside the transaction.
class PgConnection {
 public:
  explicit PgConnection(PGconn* conn) : conn_(conn) {}
  ~PgConnection() { PQfinish(conn_); }
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  Result<ResultPtr> Exec(const std::string& sql, const Params& params = {}) {
    if (Status s = Usable(sql); !s.ok()) return s;
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
  // Several statements, no parameters. "BEGIN", "COMMIT" and "ROLLBACK"
  // (exactly so) mark where the caller's transactions start and end.
  Status Script(const char* sql) {
    const std::string_view text(sql);
    const bool begin = text == "BEGIN";
    const bool end = text == "COMMIT" || text == "ROLLBACK";
    if (end && (lost_ || PQstatus(conn_) == CONNECTION_BAD)) {
      // The server ended it when the connection went.
      in_transaction_ = lost_ = false;
      if (text == "ROLLBACK") return Status::Ok();
      return Status::IoError("postgres: the connection was lost; the transaction is rolled back");
    }
    if (Status s = Usable(text); !s.ok()) return s;
    ResultPtr r(PQexec(conn_, sql), &PQclear);
    const ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (end) in_transaction_ = false;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      return Status::IoError(std::string("postgres: ") + PQerrorMessage(conn_));
    }
    if (begin) in_transaction_ = true;
    return Status::Ok();
  }

 private:
  // Before a statement: reopens a lost connection between transactions;
  // refuses statements of a transaction whose connection was lost.
  Status Usable(std::string_view sql) {
    if (PQstatus(conn_) != CONNECTION_BAD) return Status::Ok();
    if (in_transaction_) {
      lost_ = true;
      return Status::IoError("postgres: the connection was lost inside a transaction (" +
                             std::string(sql.substr(0, 40)) + ")");
    }
    PQreset(conn_);
    if (PQstatus(conn_) != CONNECTION_OK) {
      std::string message = std::string("postgres: reconnecting: ") + PQerrorMessage(conn_);
      while (!message.empty() && message.back() == '\n') message.pop_back();
      return Status::IoError(message);
    }
    return Status::Ok();
  }

  PGconn* conn_;
  bool in_transaction_ = false;  // between the caller's BEGIN and its COMMIT/ROLLBACK
  bool lost_ = false;            // the connection went while in_transaction_
};

inline int64_t Int(const PGresult* r, int row, int col) {
  return std::strtoll(PQgetvalue(r, row, col), nullptr, 10);
}
inline std::string Text(const PGresult* r, int row, int col) {
  return std::string(PQgetvalue(r, row, col), static_cast<size_t>(PQgetlength(r, row, col)));
}

}  // namespace safeguard::store_internal
