// Shared by the importers of every exchange format (internal).
#pragma once

#include <string_view>

#include "safeguard/bank/plain_list.h"

namespace safeguard::bank_internal {

// Drops spaces, tabs and line breaks around a value (XML text may carry the
// document's indentation).
inline std::string_view Trim(std::string_view s) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

// With skip_invalid, records `error` as a skip and returns OK; otherwise
// returns it.
inline Status SkipOrFail(const Status& error, bool skip_invalid, ImportReport* report) {
  if (!skip_invalid) return error;
  ++report->skipped;
  if (report->skip_reasons.size() < kMaxReportedSkips) {
    report->skip_reasons.push_back(error.message());
  }
  return Status::Ok();
}

inline void Count(AddOutcome outcome, ImportReport* report) {
  switch (outcome) {
    case AddOutcome::kAdded:
      ++report->added;
      break;
    case AddOutcome::kRevived:
      ++report->revived;
      break;
    case AddOutcome::kUnchanged:
      ++report->unchanged;
      break;
  }
}

}  // namespace safeguard::bank_internal
