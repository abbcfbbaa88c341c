// Delivery of one webhook message: an HTTP POST of its JSON body, signed so
// the receiver can tell it came from this service and was not altered.
//
// Headers: Content-Type: application/json; X-Safeguard-Delivery: <message id>
// (receivers deduplicate on it: a message may be delivered more than once
// when an answer is lost); X-Safeguard-Signature: sha256=<hex HMAC-SHA256 of
// the body under webhook.secret>.
#pragma once

#include <string>
#include <string_view>

#include "safeguard/core/status.h"
#include "safeguard/store/records.h"

namespace safeguard {

// Lowercase hex HMAC-SHA256 of `body` under `key`.
std::string WebhookSignature(std::string_view key, std::string_view body);

// http(s)://host[:port]/path -> ("http(s)://host[:port]", "/path").
// Errors: kInvalidArgument for anything else.
Result<std::pair<std::string, std::string>> SplitUrl(std::string_view url);

class WebhookSender {
 public:
  // OK on a 2xx answer; otherwise why not (connection refused, timeout, the
  // status code).
  Status Send(const OutboxMessage& message, std::string_view secret, int timeout_ms);
};

}  // namespace safeguard
