// Status and Result<T>: how Safeguard reports expected failures.
//
// Expected outcomes (a corrupt file, an image over a limit, an unknown hex
// string) are values, not exceptions. A function that can fail returns
// Status (no payload) or Result<T> (a T or the Status that explains why not).
// Both are [[nodiscard]]: ignoring a failure is a compile-time warning.
//
// Example:
//   Result<Hash256> h = Hash256::FromHex(text);
//   if (!h.ok()) return h.status();
//   Use(*h);
//
// Thread safety: plain values; safe to copy between threads.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace safeguard {

// Part of the CLI's JSON error output (by name): add, never renumber.
enum class ErrorCode : int {
  kOk = 0,
  kInvalidArgument = 1,     // the caller passed something malformed
  kNotFound = 2,            // a named thing (file, entry) does not exist
  kIoError = 3,             // the operating system refused a read or write
  kCorrupt = 4,             // the data is damaged or truncated
  kUnsupported = 5,         // well-formed, but a format or feature we do not handle
  kLimitExceeded = 6,       // over a documented limit (size, pixels, dimensions)
  kInternal = 7,            // a bug in Safeguard
  kFailedPrecondition = 8,  // the state forbids it now (a lease expired, already decided)
  kPermissionDenied = 9,    // the caller is not allowed to (scope, credentials)
};

// Short lowercase name of a code, e.g. "limit_exceeded".
std::string_view ErrorCodeName(ErrorCode code);

class [[nodiscard]] Status {
 public:
  // An OK status.
  Status() = default;

  static Status Ok() { return Status(); }
  static Status Error(ErrorCode code, std::string message) {
    return Status(code, std::move(message));
  }
  static Status InvalidArgument(std::string m) {
    return Error(ErrorCode::kInvalidArgument, std::move(m));
  }
  static Status NotFound(std::string m) { return Error(ErrorCode::kNotFound, std::move(m)); }
  static Status IoError(std::string m) { return Error(ErrorCode::kIoError, std::move(m)); }
  static Status Corrupt(std::string m) { return Error(ErrorCode::kCorrupt, std::move(m)); }
  static Status Unsupported(std::string m) { return Error(ErrorCode::kUnsupported, std::move(m)); }
  static Status LimitExceeded(std::string m) {
    return Error(ErrorCode::kLimitExceeded, std::move(m));
  }
  static Status Internal(std::string m) { return Error(ErrorCode::kInternal, std::move(m)); }
  static Status FailedPrecondition(std::string m) {
    return Error(ErrorCode::kFailedPrecondition, std::move(m));
  }
  static Status PermissionDenied(std::string m) {
    return Error(ErrorCode::kPermissionDenied, std::move(m));
  }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "ok", or "<code name>: <message>".
  std::string ToString() const;

 private:
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {
    assert(code != ErrorCode::kOk);
  }

  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

// A T, or the non-OK Status that says why there is none.
// REQUIRES: value() and operator* only on ok() results.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok() && "Result needs a value or a failed Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }

  // The failure, or an OK status when there is a value.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }

  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  // The value, or `fallback` on failure (for figures where a failure is
  // reported some other way).
  T value_or(T fallback) const& { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace safeguard
