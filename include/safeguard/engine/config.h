// The service's configuration: one typed table of keys, each with a type, a
// default, a range and a line of documentation (docs/service.md lists them).
//
// Values come from, in increasing precedence: the defaults, a config file
// (`key = value` lines, `#` comments), then `--set key=value` flags. A bad
// value is refused at start with the key and the reason; nothing is guessed.
//
// Example:
//   ServiceConfig config;
//   Status s = config.LoadFile("safeguard.conf");
//   if (s.ok()) s = config.Set("listen.port", "9090");
//   if (!s.ok()) Die(s);          // "listen.port: 99999 is out of range 1..65535"
//   int port = config.listen_port;
//
// Thread safety: a plain value once loaded.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "safeguard/core/status.h"
#include "safeguard/hash/file_signals.h"
#include "safeguard/store/store.h"

namespace safeguard {

struct ServiceConfig {
  std::string listen_host = "127.0.0.1";
  int listen_port = 8080;
  std::string store_url = kDefaultStoreUrl;
  int http_threads = 8;

  PdqMode pdq_mode = PdqMode::kCanonical;
  bool pdq_dihedral = true;
  bool video = true;                // fingerprint videos (vPDQ, TMK+PDQF)
  bool video_tmk = true;            // TMK+PDQF besides vPDQ
  double vpdq_seconds = 1;          // seconds between vPDQ frames
  double max_video_seconds = 3600;  // longer videos are refused (413)

  int64_t max_body_bytes = 32LL << 20;
  int max_lookup_signals = 64;
  double rate_per_key = 5000;  // requests per second per API key; 0: unlimited
  double rate_burst = 10000;   // bucket size

  int review_lease_s = 900;
  std::string own_block_bank = "platform-confirmed";
  std::string own_allow_bank = "platform-false-positives";
  bool keep_review_media = true;
  int review_blur_sigma = 12;  // pixels, on the rendition's 512-px scale

  std::string webhook_secret;  // HMAC-SHA256 key; empty: webhooks are refused by policy validation
  int webhook_max_attempts = 10;
  int webhook_backoff_ms = 1000;  // first retry; doubles each attempt
  int webhook_timeout_ms = 5000;

  int index_refresh_ms = 1000;  // how often the matcher follows the bank change log

  // Sets one key from its text form. Errors: kInvalidArgument naming the key
  // and the reason (unknown key, wrong type, out of range).
  Status Set(std::string_view key, std::string_view value);
  // Reads `key = value` lines. Errors name the file and line.
  Status LoadFile(const std::string& path);
  // Every key with its current value, as `key = value` lines.
  std::string Dump() const;
};

// One row of the table, for documentation and `safeguard serve --print-config`.
struct ConfigKeyInfo {
  std::string_view key;
  std::string_view type;   // "int", "float", "bool", "string", "enum"
  std::string_view range;  // e.g. "1..65535", "canonical|fast"
  std::string_view help;
};
std::span<const ConfigKeyInfo> ServiceConfigKeys();

}  // namespace safeguard
