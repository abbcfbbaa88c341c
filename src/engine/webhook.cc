#include "webhook.h"

#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "safeguard/core/hash256.h"

namespace safeguard {

std::string WebhookSignature(std::string_view key, std::string_view body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &length);
  return BytesToHex(mac, length);
}

Result<std::pair<std::string, std::string>> SplitUrl(std::string_view url) {
  size_t scheme_end = 0;
  if (url.starts_with("http://")) {
    scheme_end = 7;
  } else if (url.starts_with("https://")) {
    scheme_end = 8;
  } else {
    return Status::InvalidArgument("webhook URL must start with http:// or https://");
  }
  const size_t path = url.find('/', scheme_end);
  if (path == scheme_end) return Status::InvalidArgument("webhook URL has no host");
  if (path == std::string_view::npos) return std::pair{std::string(url), std::string("/")};
  return std::pair{std::string(url.substr(0, path)), std::string(url.substr(path))};
}

Status WebhookSender::Send(const OutboxMessage& message, std::string_view secret, int timeout_ms) {
  Result<std::pair<std::string, std::string>> parts = SplitUrl(message.url);
  if (!parts.ok()) return parts.status();
  httplib::Client client(parts->first);
  const time_t sec = timeout_ms / 1000;
  const time_t usec = (timeout_ms % 1000) * 1000;
  client.set_connection_timeout(sec, usec);
  client.set_read_timeout(sec, usec);
  client.set_write_timeout(sec, usec);
  httplib::Headers headers = {
      {"X-Safeguard-Delivery", std::to_string(message.id)},
      {"X-Safeguard-Signature", "sha256=" + WebhookSignature(secret, message.body_json)}};
  httplib::Result r = client.Post(parts->second, headers, message.body_json, "application/json");
  if (!r) return Status::IoError("webhook " + message.name + ": " + httplib::to_string(r.error()));
  if (r->status < 200 || r->status >= 300) {
    return Status::IoError("webhook " + message.name + ": HTTP " + std::to_string(r->status));
  }
  return Status::Ok();
}

}  // namespace safeguard
