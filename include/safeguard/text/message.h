// Messages to assess, and reading them from JSON lines (the input of
// `safeguard text score`; schema in docs/text.md, "Input").
//
//   {"conversation": "c1", "message": "m1", "sender": "u1", "recipients": ["u2"],
//    "timestamp": "2024-05-01T16:05:00Z", "text": "hi",
//    "facts": {"sender_minor": false, "recipient_age_band": "13-15", "connected": false}}
//
// Example:
//   JsonLinesReader reader(stdin, limits.max_line_bytes);
//   std::string_view line;
//   while (reader.Next(&line) == JsonLinesReader::kLine) {
//     Message m;
//     if (Status s = ParseMessageJson(line, limits, &m); !s.ok()) ...
//   }
//
// Thread safety: plain values and functions; a JsonLinesReader is used by
// one thread at a time.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "safeguard/core/status.h"

namespace safeguard::text {

// An age range in whole years, both ends inclusive ("13-15"; "18+" is
// {18, kOpenAge}).
struct AgeBand {
  static constexpr int kOpenAge = 200;
  int min_years = 0;
  int max_years = kOpenAge;

  friend bool operator==(const AgeBand&, const AgeBand&) = default;
};

// What the platform knows about the people in a message. Everything is
// optional: absent facts are unknown, never assumed.
struct PlatformFacts {
  std::optional<bool> sender_minor;  // overrides sender_age when both given
  std::optional<AgeBand> sender_age;
  std::optional<bool> recipient_minor;  // any recipient is a minor
  std::optional<AgeBand> recipient_age;
  std::optional<double> sender_account_age_days;
  std::optional<bool> connected;  // the two are friends/contacts on the platform
  // The platform links sender and recipients as family (a verified parental
  // link, family pairing). Words alone cannot tell a parent's "I'll pick you
  // up, don't tell dad about the surprise" from a stranger's.
  std::optional<bool> family;
};

struct Message {
  std::string conversation_id;
  std::string message_id;
  std::string sender_id;
  std::vector<std::string> recipient_ids;
  std::optional<int64_t> timestamp_ms;  // since the Unix epoch (UTC); absent: the previous one
  std::string text;                     // UTF-8; never stored by the engine
  PlatformFacts facts;
};

// Input limits, each refused with kLimitExceeded naming the limit.
struct MessageLimits {
  size_t max_line_bytes = 1 << 20;   // one JSON line
  size_t max_text_bytes = 64 << 10;  // "text", in UTF-8 bytes
  size_t max_id_bytes = 256;         // each id
  size_t max_recipients = 256;
};

// Parses one JSON line. Unknown keys are ignored (newer producers may add
// some). Ids may be strings or integers. Errors: kInvalidArgument (not JSON,
// wrong types, a missing "conversation", "message", "sender" or "text", a
// bad timestamp or age band), kLimitExceeded.
Status ParseMessageJson(std::string_view line, const MessageLimits& limits, Message* out);

// "2024-05-01T16:05:00Z", "2024-05-01 16:05:00.250+02:00", "2024-05-01"
// (midnight UTC) or digits only (seconds since the epoch) -> milliseconds
// since the epoch. Without a zone, UTC. Errors: kInvalidArgument.
Result<int64_t> ParseTimestamp(std::string_view text);

// "13-15", "18+", "16" -> AgeBand. Errors: kInvalidArgument.
Result<AgeBand> ParseAgeBand(std::string_view text);

// Lines of a stream, each at most max_line_bytes: longer lines are skipped
// (reported, not buffered), so memory stays bounded whatever the input.
class JsonLinesReader {
 public:
  enum Outcome { kLine, kTooLong, kEnd, kIoError };

  // Does not take ownership of `file`.
  JsonLinesReader(std::FILE* file, size_t max_line_bytes);

  // The next line, without its "\n" (or "\r\n"). *line stays valid until
  // the next call. kTooLong: the line was skipped. kIoError: errno says why.
  Outcome Next(std::string_view* line);

  // 1-based number of the line last returned (or skipped).
  size_t line_number() const { return line_number_; }

 private:
  bool Fill();

  std::FILE* file_;
  size_t max_line_bytes_;
  std::vector<char> buffer_;
  size_t begin_ = 0;  // unread data is buffer_[begin_, end_)
  size_t end_ = 0;
  bool eof_ = false;
  bool error_ = false;
  size_t line_number_ = 0;
};

}  // namespace safeguard::text
