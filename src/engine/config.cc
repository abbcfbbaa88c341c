#include "safeguard/engine/config.h"

#include <array>
#include <charconv>
#include <cmath>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <variant>

namespace safeguard {
namespace {

// A key's storage: which member of ServiceConfig it sets, and its range.
struct IntField {
  int ServiceConfig::*member;
  int min, max;
};
struct Int64Field {
  int64_t ServiceConfig::*member;
  int64_t min, max;
};
struct FloatField {
  double ServiceConfig::*member;
  double min, max;
};
struct BoolField {
  bool ServiceConfig::*member;
};
struct StringField {
  std::string ServiceConfig::*member;
  size_t max_length;
};
struct PdqModeField {};

using Field = std::variant<IntField, Int64Field, FloatField, BoolField, StringField, PdqModeField>;

struct Key {
  ConfigKeyInfo info;
  Field field;
};

const std::array<Key, 24>& Keys() {
  using C = ServiceConfig;
  static const std::array<Key, 24> keys = {{
      {{"listen.host", "string", "an IP address or host name",
        "Address the HTTP server binds (127.0.0.1: this machine only)"},
       StringField{&C::listen_host, 255}},
      {{"listen.port", "int", "0..65535",
        "TCP port of the HTTP server (0: any free port; the start-up line says which)"},
       IntField{&C::listen_port, 0, 65535}},
      {{"store", "string", "sqlite:PATH | postgresql://...",
        "Where banks and records live (the same URL forms as --store)"},
       StringField{&C::store_url, 4096}},
      {{"http.threads", "int", "1..256",
        "Request worker threads; each holds one keep-alive connection while it is open, so "
        "set at least the number of client connections"},
       IntField{&C::http_threads, 1, 256}},
      {{"hash.pdq_mode", "enum", "canonical|fast",
        "canonical: full-resolution PDQ as the hash lists compute it; fast: reduced decode"},
       PdqModeField{}},
      {{"hash.dihedral", "bool", "true|false", "Match all eight rotations and flips of an image"},
       BoolField{&C::pdq_dihedral}},
      {{"hash.video", "bool", "true|false",
        "Fingerprint uploaded videos (vPDQ, TMK+PDQF); false: videos get digests only"},
       BoolField{&C::video}},
      {{"hash.video_tmk", "bool", "true|false",
        "Also compute TMK+PDQF besides vPDQ (from the same decode; about a third more CPU "
        "per video)"},
       BoolField{&C::video_tmk}},
      {{"hash.vpdq_seconds", "float", "0.1..60", "Seconds between the video frames vPDQ hashes"},
       FloatField{&C::vpdq_seconds, 0.1, 60}},
      {{"limits.max_body_bytes", "int", "1024..1073741824", "Largest request body accepted"},
       Int64Field{&C::max_body_bytes, 1024, int64_t{1} << 30}},
      {{"limits.max_video_seconds", "float", "1..14400",
        "Longest video fingerprinted (its duration, from the container and while decoding); "
        "longer ones are refused with 413: a video costs about 1/20 of its duration in CPU"},
       FloatField{&C::max_video_seconds, 1, 14400}},
      {{"limits.max_lookup_signals", "int", "1..10000", "Most signals in one lookup request"},
       IntField{&C::max_lookup_signals, 1, 10000}},
      {{"rate.per_key", "float", "0..1000000",
        "Requests per second each API key may make (0: unlimited); guards against use as an "
        "oracle"},
       FloatField{&C::rate_per_key, 0, 1e6}},
      {{"rate.burst", "float", "1..10000000", "Requests a key may make at once above the rate"},
       FloatField{&C::rate_burst, 1, 1e7}},
      {{"review.lease_seconds", "int", "10..86400",
        "How long a reviewer holds an item before it returns to the queue"},
       IntField{&C::review_lease_s, 10, 86400}},
      {{"review.own_block_bank", "string", "a bank name",
        "Block bank that confirmed items are added to (created at start)"},
       StringField{&C::own_block_bank, kMaxBankNameLength}},
      {{"review.own_allow_bank", "string", "a bank name",
        "Allow bank that false positives are added to (created at start)"},
       StringField{&C::own_allow_bank, kMaxBankNameLength}},
      {{"review.keep_media", "bool", "true|false",
        "Keep the media of items sent to review, for the reviewer"},
       BoolField{&C::keep_review_media}},
      {{"review.blur_sigma", "int", "0..64",
        "Blur of the default reviewer rendition, in pixels at 512 px (0: greyscale only)"},
       IntField{&C::review_blur_sigma, 0, 64}},
      {{"webhook.secret", "string", "any text",
        "HMAC-SHA256 key that signs webhook bodies (required when the policy uses webhooks)"},
       StringField{&C::webhook_secret, 4096}},
      {{"webhook.max_attempts", "int", "1..100", "Deliveries tried before a message is dead"},
       IntField{&C::webhook_max_attempts, 1, 100}},
      {{"webhook.backoff_ms", "int", "10..3600000", "First retry delay; doubles each attempt"},
       IntField{&C::webhook_backoff_ms, 10, 3600000}},
      {{"webhook.timeout_ms", "int", "100..60000", "Connect and read timeout of one delivery"},
       IntField{&C::webhook_timeout_ms, 100, 60000}},
      {{"index.refresh_ms", "int", "50..600000",
        "How often the in-memory indexes apply the bank change log"},
       IntField{&C::index_refresh_ms, 50, 600000}},
  }};
  return keys;
}

// Concatenation by appending: GCC 12 at -O3 warns falsely (-Wrestrict) on
// long chains of operator+ over temporaries.
std::string Cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view p : parts) out.append(p);
  return out;
}

Status Bad(std::string_view key, std::string_view why) {
  return Status::InvalidArgument(Cat({key, ": ", why}));
}

template <typename T>
Status ParseInteger(std::string_view key, std::string_view text, T min, T max, T* out) {
  T v{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return Bad(key, Cat({"\"", text, "\" is not an integer"}));
  }
  if (v < min || v > max) {
    return Bad(key,
               Cat({text, " is out of range ", std::to_string(min), "..", std::to_string(max)}));
  }
  *out = v;
  return Status::Ok();
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string FormatDouble(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

}  // namespace

std::span<const ConfigKeyInfo> ServiceConfigKeys() {
  static const std::vector<ConfigKeyInfo> infos = [] {
    std::vector<ConfigKeyInfo> v;
    for (const Key& k : Keys()) v.push_back(k.info);
    return v;
  }();
  return infos;
}

Status ServiceConfig::Set(std::string_view key, std::string_view value) {
  for (const Key& k : Keys()) {
    if (k.info.key != key) continue;
    return std::visit(
        [&](const auto& f) -> Status {
          using F = std::decay_t<decltype(f)>;
          if constexpr (std::is_same_v<F, IntField>) {
            return ParseInteger(key, value, f.min, f.max, &(this->*f.member));
          } else if constexpr (std::is_same_v<F, Int64Field>) {
            return ParseInteger(key, value, f.min, f.max, &(this->*f.member));
          } else if constexpr (std::is_same_v<F, FloatField>) {
            const std::string text(value);
            char* end = nullptr;
            const double v = std::strtod(text.c_str(), &end);
            if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v)) {
              return Bad(key, Cat({"\"", text, "\" is not a number"}));
            }
            if (v < f.min || v > f.max) {
              return Bad(key, Cat({text, " is out of range ", FormatDouble(f.min), "..",
                                   FormatDouble(f.max)}));
            }
            this->*f.member = v;
            return Status::Ok();
          } else if constexpr (std::is_same_v<F, BoolField>) {
            if (value == "true" || value == "1" || value == "yes") {
              this->*f.member = true;
            } else if (value == "false" || value == "0" || value == "no") {
              this->*f.member = false;
            } else {
              return Bad(key, Cat({"\"", value, "\" is not true or false"}));
            }
            return Status::Ok();
          } else if constexpr (std::is_same_v<F, StringField>) {
            if (value.size() > f.max_length) {
              return Bad(key, Cat({"longer than ", std::to_string(f.max_length), " characters"}));
            }
            this->*f.member = std::string(value);
            return Status::Ok();
          } else {
            if (value == "canonical") {
              pdq_mode = PdqMode::kCanonical;
            } else if (value == "fast") {
              pdq_mode = PdqMode::kFast;
            } else {
              return Bad(key, Cat({"\"", value, "\" is not canonical or fast"}));
            }
            return Status::Ok();
          }
        },
        k.field);
  }
  return Bad(key, "unknown key (safeguard serve --print-config lists them)");
}

Status ServiceConfig::LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("config file " + path + ": cannot be read");
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::string_view text = Trim(line);
    if (text.empty() || text.front() == '#') continue;
    const size_t eq = text.find('=');
    const std::string where = Cat({path, ":", std::to_string(number), ": "});
    if (eq == std::string_view::npos) {
      return Status::InvalidArgument(where + "expected key = value");
    }
    if (Status s = Set(Trim(text.substr(0, eq)), Trim(text.substr(eq + 1))); !s.ok()) {
      return Status::InvalidArgument(Cat({where, s.message()}));
    }
  }
  if (in.bad()) return Status::IoError("config file " + path + ": read failed");
  return Status::Ok();
}

std::string ServiceConfig::Dump() const {
  std::string out;
  for (const Key& k : Keys()) {
    std::string value = std::visit(
        [&](const auto& f) -> std::string {
          using F = std::decay_t<decltype(f)>;
          if constexpr (std::is_same_v<F, IntField> || std::is_same_v<F, Int64Field>) {
            return std::to_string(this->*f.member);
          } else if constexpr (std::is_same_v<F, FloatField>) {
            return FormatDouble(this->*f.member);
          } else if constexpr (std::is_same_v<F, BoolField>) {
            return this->*f.member ? "true" : "false";
          } else if constexpr (std::is_same_v<F, StringField>) {
            if (k.info.key == "webhook.secret" && !(this->*f.member).empty()) return "(set)";
            return this->*f.member;
          } else {
            return std::string(PdqModeName(pdq_mode));
          }
        },
        k.field);
    out += Cat({"# ", k.info.help, " [", k.info.type, ": ", k.info.range, "]\n"});
    out += Cat({k.info.key, " = ", value, "\n"});
  }
  return out;
}

}  // namespace safeguard
