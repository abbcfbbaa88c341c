// Request counters and latency histograms per route, rendered with the
// engine's gauges in the Prometheus text format (version 0.0.4).
#pragma once

#include <array>
#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <string>

#include "safeguard/engine/engine.h"

namespace safeguard {

class Metrics {
 public:
  // Upper bounds of the latency buckets, in seconds (+Inf implied).
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1.0,  2.5};

  class Route {
   public:
    explicit Route(std::string name) : name_(std::move(name)) {}
    void Observe(int status, double seconds);

   private:
    friend class Metrics;
    std::string name_;
    std::array<std::atomic<uint64_t>, kBuckets.size() + 1> buckets_{};
    std::atomic<uint64_t> count_{0};
    std::atomic<uint64_t> sum_us_{0};
    std::mutex codes_mu_;
    std::map<int, uint64_t> codes_;
  };

  // REQUIRES: called before requests are served (not thread-safe with Observe).
  Route* Add(const std::string& name);
  std::string Render(const EngineStats& stats);

 private:
  std::deque<Route> routes_;  // stable addresses
};

}  // namespace safeguard
