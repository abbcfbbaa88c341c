#include "safeguard/text/message.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "json_error.h"

namespace safeguard::text {
namespace {

// Reads digits s[*i, *i + n) as a number; false if any is not a digit.
bool Digits(std::string_view s, size_t* i, size_t n, int* value) {
  if (*i + n > s.size()) return false;
  int v = 0;
  for (size_t k = 0; k < n; ++k) {
    const char c = s[*i + k];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *i += n;
  *value = v;
  return true;
}

bool Take(std::string_view s, size_t* i, char c) {
  if (*i < s.size() && s[*i] == c) {
    ++*i;
    return true;
  }
  return false;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
// days_from_civil).
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

// Ids: non-empty strings, or integers written in decimal.
Status ReadId(const nlohmann::json& j, const char* key, size_t max_bytes, std::string* out) {
  if (j.is_string()) {
    *out = j.get<std::string>();
  } else if (j.is_number_integer()) {
    *out = j.dump();
  } else {
    return Status::InvalidArgument(std::string("\"") + key + "\" must be a string or an integer");
  }
  if (out->empty()) return Status::InvalidArgument(std::string("\"") + key + "\" is empty");
  if (out->size() > max_bytes) {
    return Status::LimitExceeded(std::string("\"") + key + "\" is " + std::to_string(out->size()) +
                                 " bytes, more than max_id_bytes " + std::to_string(max_bytes));
  }
  return Status::Ok();
}

Status ReadFacts(const nlohmann::json& j, PlatformFacts* f) {
  if (!j.is_object()) return Status::InvalidArgument("\"facts\" must be an object");
  auto flag = [&](const char* key, std::optional<bool>* out) -> Status {
    if (!j.contains(key) || j[key].is_null()) return Status::Ok();
    if (!j[key].is_boolean()) {
      return Status::InvalidArgument(std::string("\"facts.") + key + "\" must be true or false");
    }
    *out = j[key].get<bool>();
    return Status::Ok();
  };
  auto band = [&](const char* key, std::optional<AgeBand>* out) -> Status {
    if (!j.contains(key) || j[key].is_null()) return Status::Ok();
    if (!j[key].is_string()) {
      return Status::InvalidArgument(std::string("\"facts.") + key + "\" must be a string");
    }
    Result<AgeBand> b = ParseAgeBand(j[key].get<std::string>());
    if (!b.ok()) {
      return Status::InvalidArgument(std::string("\"facts.") + key + "\": " + b.status().message());
    }
    *out = *b;
    return Status::Ok();
  };
  if (Status s = flag("sender_minor", &f->sender_minor); !s.ok()) return s;
  if (Status s = flag("recipient_minor", &f->recipient_minor); !s.ok()) return s;
  if (Status s = flag("connected", &f->connected); !s.ok()) return s;
  if (Status s = flag("family", &f->family); !s.ok()) return s;
  if (Status s = band("sender_age_band", &f->sender_age); !s.ok()) return s;
  if (Status s = band("recipient_age_band", &f->recipient_age); !s.ok()) return s;
  if (j.contains("sender_account_age_days") && !j["sender_account_age_days"].is_null()) {
    const nlohmann::json& a = j["sender_account_age_days"];
    if (!a.is_number() || !(a.get<double>() >= 0) || !std::isfinite(a.get<double>())) {
      return Status::InvalidArgument("\"facts.sender_account_age_days\" must be a number >= 0");
    }
    f->sender_account_age_days = a.get<double>();
  }
  return Status::Ok();
}

}  // namespace

Result<int64_t> ParseTimestamp(std::string_view s) {
  const auto bad = [&] {
    return Status::InvalidArgument("timestamp \"" + std::string(s.substr(0, 64)) +
                                   "\" is not ISO 8601 (2024-05-01T16:05:00Z) or epoch seconds");
  };
  if (!s.empty() && s.size() <= 12 && s.find_first_not_of("0123456789") == std::string_view::npos) {
    return static_cast<int64_t>(std::stoll(std::string(s))) * 1000;
  }
  size_t i = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!Digits(s, &i, 4, &year) || !Take(s, &i, '-') || !Digits(s, &i, 2, &month) ||
      !Take(s, &i, '-') || !Digits(s, &i, 2, &day)) {
    return bad();
  }
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month)) return bad();
  int64_t millis = 0;
  int64_t offset_minutes = 0;
  if (i < s.size()) {
    if (s[i] != 'T' && s[i] != 't' && s[i] != ' ') return bad();
    ++i;
    if (!Digits(s, &i, 2, &hour) || !Take(s, &i, ':') || !Digits(s, &i, 2, &minute)) return bad();
    if (Take(s, &i, ':')) {
      if (!Digits(s, &i, 2, &second)) return bad();
      if (Take(s, &i, '.') || Take(s, &i, ',')) {
        int scale = 100;
        size_t digits = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
          millis += (s[i] - '0') * scale;
          scale /= 10;
          ++i;
          ++digits;
        }
        if (digits == 0) return bad();
      }
    }
    if (hour > 23 || minute > 59 || second > 60) return bad();
    if (second == 60) second = 59;  // a leap second: the instant before
    if (i < s.size()) {
      if (s[i] == 'Z' || s[i] == 'z') {
        ++i;
      } else if (s[i] == '+' || s[i] == '-') {
        const int sign = s[i] == '-' ? -1 : 1;
        ++i;
        int oh = 0, om = 0;
        if (!Digits(s, &i, 2, &oh)) return bad();
        if (Take(s, &i, ':')) {
          if (!Digits(s, &i, 2, &om)) return bad();
        } else if (i < s.size()) {
          if (!Digits(s, &i, 2, &om)) return bad();
        }
        if (oh > 23 || om > 59) return bad();
        offset_minutes = sign * (oh * 60 + om);
      } else {
        return bad();
      }
    }
    if (i != s.size()) return bad();
  }
  const int64_t days = DaysFromCivil(year, month, day);
  const int64_t seconds = ((days * 24 + hour) * 60 + minute - offset_minutes) * 60 + second;
  return seconds * 1000 + millis;
}

Result<AgeBand> ParseAgeBand(std::string_view s) {
  const auto bad = [&] {
    return Status::InvalidArgument("age band \"" + std::string(s.substr(0, 32)) +
                                   "\" is not \"13-15\", \"18+\" or \"16\"");
  };
  auto number = [](std::string_view t, int* out) {
    if (t.empty() || t.size() > 3) return false;
    int v = 0;
    for (char c : t) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    *out = v;
    return true;
  };
  AgeBand band;
  if (!s.empty() && s.back() == '+') {
    if (!number(s.substr(0, s.size() - 1), &band.min_years)) return bad();
    band.max_years = AgeBand::kOpenAge;
  } else if (const size_t dash = s.find('-'); dash != std::string_view::npos) {
    if (!number(s.substr(0, dash), &band.min_years) ||
        !number(s.substr(dash + 1), &band.max_years)) {
      return bad();
    }
  } else {
    if (!number(s, &band.min_years)) return bad();
    band.max_years = band.min_years;
  }
  if (band.min_years > band.max_years || band.min_years > 150) return bad();
  return band;
}

Status ParseMessageJson(std::string_view line, const MessageLimits& limits, Message* out) {
  if (line.size() > limits.max_line_bytes) {
    return Status::LimitExceeded("line is " + std::to_string(line.size()) +
                                 " bytes, more than max_line_bytes " +
                                 std::to_string(limits.max_line_bytes));
  }
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded()) return Status::InvalidArgument("not valid JSON: " + JsonParseError(line));
  if (!j.is_object()) return Status::InvalidArgument("not a JSON object");
  *out = Message();
  for (const char* key : {"conversation", "message", "sender", "text"}) {
    if (!j.contains(key)) return Status::InvalidArgument(std::string("\"") + key + "\" is missing");
  }
  if (Status s =
          ReadId(j["conversation"], "conversation", limits.max_id_bytes, &out->conversation_id);
      !s.ok()) {
    return s;
  }
  if (Status s = ReadId(j["message"], "message", limits.max_id_bytes, &out->message_id); !s.ok()) {
    return s;
  }
  if (Status s = ReadId(j["sender"], "sender", limits.max_id_bytes, &out->sender_id); !s.ok()) {
    return s;
  }
  const nlohmann::json& text = j["text"];
  if (!text.is_string()) return Status::InvalidArgument("\"text\" must be a string");
  const std::string& t = text.get_ref<const std::string&>();
  if (t.size() > limits.max_text_bytes) {
    return Status::LimitExceeded("\"text\" is " + std::to_string(t.size()) +
                                 " bytes, more than max_text_bytes " +
                                 std::to_string(limits.max_text_bytes));
  }
  out->text = t;
  if (j.contains("recipients") && !j["recipients"].is_null()) {
    const nlohmann::json& r = j["recipients"];
    if (!r.is_array()) return Status::InvalidArgument("\"recipients\" must be an array");
    if (r.size() > limits.max_recipients) {
      return Status::LimitExceeded("\"recipients\" has " + std::to_string(r.size()) +
                                   " entries, more than max_recipients " +
                                   std::to_string(limits.max_recipients));
    }
    for (const nlohmann::json& id : r) {
      std::string rid;
      if (Status s = ReadId(id, "recipients[]", limits.max_id_bytes, &rid); !s.ok()) return s;
      out->recipient_ids.push_back(std::move(rid));
    }
  }
  if (j.contains("timestamp") && !j["timestamp"].is_null()) {
    const nlohmann::json& ts = j["timestamp"];
    if (ts.is_number()) {
      const double seconds = ts.get<double>();
      if (!std::isfinite(seconds) || std::fabs(seconds) > 1e11) {
        return Status::InvalidArgument("\"timestamp\" is out of range");
      }
      out->timestamp_ms = std::llround(seconds * 1000);
    } else if (ts.is_string()) {
      Result<int64_t> ms = ParseTimestamp(ts.get<std::string>());
      if (!ms.ok()) return Status::InvalidArgument("\"timestamp\": " + ms.status().message());
      out->timestamp_ms = *ms;
    } else {
      return Status::InvalidArgument("\"timestamp\" must be a string or a number");
    }
  }
  if (j.contains("facts") && !j["facts"].is_null()) {
    if (Status s = ReadFacts(j["facts"], &out->facts); !s.ok()) return s;
  }
  return Status::Ok();
}

JsonLinesReader::JsonLinesReader(std::FILE* file, size_t max_line_bytes)
    : file_(file), max_line_bytes_(max_line_bytes), buffer_(max_line_bytes + (64 << 10)) {}

bool JsonLinesReader::Fill() {
  if (eof_) return false;
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == buffer_.size()) return false;
  const size_t n = std::fread(buffer_.data() + end_, 1, buffer_.size() - end_, file_);
  end_ += n;
  if (n == 0) {
    eof_ = true;
    error_ = std::ferror(file_) != 0;
  }
  return n > 0;
}

JsonLinesReader::Outcome JsonLinesReader::Next(std::string_view* line) {
  size_t scanned = 0;  // bytes after begin_ known to hold no newline
  while (true) {
    char* data = buffer_.data();
    const void* nl = std::memchr(data + begin_ + scanned, '\n', end_ - begin_ - scanned);
    if (nl != nullptr || (eof_ && begin_ < end_)) {
      const size_t stop =
          nl != nullptr ? static_cast<size_t>(static_cast<const char*>(nl) - data) : end_;
      size_t len = stop - begin_;
      const size_t start = begin_;
      begin_ = nl != nullptr ? stop + 1 : end_;
      ++line_number_;
      if (len > 0 && data[start + len - 1] == '\r') --len;
      if (len > max_line_bytes_) return kTooLong;
      *line = std::string_view(data + start, len);
      return kLine;
    }
    if (eof_) return error_ ? kIoError : kEnd;
    scanned = end_ - begin_;
    if (scanned > max_line_bytes_ + 1) {
      // Too long to keep: drop what is buffered and read on to the newline.
      ++line_number_;
      while (true) {
        begin_ = end_ = 0;
        if (!Fill()) return error_ ? kIoError : kTooLong;
        nl = std::memchr(buffer_.data(), '\n', end_);
        if (nl != nullptr) {
          begin_ = static_cast<size_t>(static_cast<const char*>(nl) - buffer_.data()) + 1;
          return kTooLong;
        }
      }
    }
    Fill();
  }
}

}  // namespace safeguard::text
