#include "metrics.h"

#include <cstdio>

namespace safeguard {
namespace {

// Label values are escaped as the text format asks (backslash, quote, newline).
std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

}  // namespace

void Metrics::Route::Observe(int status, double seconds) {
  size_t bucket = 0;
  while (bucket < kBuckets.size() && seconds > kBuckets[bucket]) ++bucket;
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
  std::lock_guard lock(codes_mu_);
  ++codes_[status];
}

Metrics::Route* Metrics::Add(const std::string& name) { return &routes_.emplace_back(name); }

std::string Metrics::Render(const EngineStats& stats) {
  std::string out;
  out += "# HELP safeguard_http_requests_total HTTP requests by route and status code.\n";
  out += "# TYPE safeguard_http_requests_total counter\n";
  for (Route& r : routes_) {
    std::lock_guard lock(r.codes_mu_);
    for (const auto& [code, n] : r.codes_) {
      out += "safeguard_http_requests_total{route=\"" + Escape(r.name_) + "\",code=\"" +
             std::to_string(code) + "\"} " + std::to_string(n) + "\n";
    }
  }
  out += "# HELP safeguard_http_request_duration_seconds Time to answer, by route.\n";
  out += "# TYPE safeguard_http_request_duration_seconds histogram\n";
  for (Route& r : routes_) {
    const std::string label = "route=\"" + Escape(r.name_) + "\"";
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= kBuckets.size(); ++i) {
      cumulative += r.buckets_[i].load(std::memory_order_relaxed);
      const std::string le = i < kBuckets.size() ? Number(kBuckets[i]) : "+Inf";
      out += "safeguard_http_request_duration_seconds_bucket{" + label + ",le=\"" + le + "\"} " +
             std::to_string(cumulative) + "\n";
    }
    out += "safeguard_http_request_duration_seconds_sum{" + label + "} " +
           Number(static_cast<double>(r.sum_us_.load()) / 1e6) + "\n";
    out += "safeguard_http_request_duration_seconds_count{" + label + "} " +
           std::to_string(r.count_.load()) + "\n";
  }
  out += "# HELP safeguard_matches_total Block-bank matches since start, by bank.\n";
  out += "# TYPE safeguard_matches_total counter\n";
  for (const auto& [bank, n] : stats.matches_per_bank) {
    out += "safeguard_matches_total{bank=\"" + Escape(bank) + "\"} " + std::to_string(n) + "\n";
  }
  auto gauge = [&](const char* name, const char* help, int64_t v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n" + name +
           " " + std::to_string(v) + "\n";
  };
  gauge("safeguard_review_queue_depth", "Review items waiting for a reviewer.",
        stats.review_queued);
  gauge("safeguard_review_leased", "Review items leased to a reviewer now.", stats.review_leased);
  gauge("safeguard_index_entries", "Live bank entries in the in-memory indexes.",
        stats.index_entries);
  gauge("safeguard_index_sequence", "Last bank change applied to the indexes.",
        stats.index_sequence);
  gauge("safeguard_webhook_outbox_pending", "Webhook messages not yet delivered.",
        stats.outbox_pending);
  gauge("safeguard_webhook_outbox_dead", "Webhook messages given up on.", stats.outbox_dead);
  gauge("safeguard_submissions", "Submissions stored.", stats.submissions);
  return out;
}

}  // namespace safeguard
