#include "ordered_output.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <ostream>
#include <thread>
#include <vector>

namespace safeguard::cli {

int PrintInOrder(size_t n, int jobs, const std::function<OrderedLine(size_t)>& line_of,
                 std::ostream& out, const std::function<void(size_t)>& on_written) {
  if (jobs <= 0) jobs = static_cast<int>(std::thread::hardware_concurrency());
  jobs = std::clamp(jobs, 1, 256);
  if (static_cast<size_t>(jobs) > n) jobs = static_cast<int>(std::max<size_t>(n, 1));
  // Workers take items in order and park their line; this thread prints
  // lines in order as soon as each is ready. Workers stay at most `window`
  // items ahead of the printer, so memory stays bounded.
  const size_t window = static_cast<size_t>(jobs) * 64;
  std::vector<std::optional<OrderedLine>> lines(n);
  std::mutex mu;
  std::condition_variable ready, room;
  std::atomic<size_t> next{0};
  size_t printed = 0;
  auto worker = [&] {
    for (;;) {
      const size_t i = next.fetch_add(1);
      if (i >= n) return;
      {
        std::unique_lock lock(mu);
        room.wait(lock, [&] { return i < printed + window; });
      }
      OrderedLine line = line_of(i);
      {
        std::lock_guard lock(mu);
        lines[i] = std::move(line);
      }
      ready.notify_all();
    }
  };
  std::vector<std::jthread> threads;
  for (int t = 0; t < jobs; ++t) threads.emplace_back(worker);
  bool any_failed = false;
  for (size_t i = 0; i < n; ++i) {
    OrderedLine line;
    {
      std::unique_lock lock(mu);
      ready.wait(lock, [&] { return lines[i].has_value(); });
      line = std::move(*lines[i]);
      lines[i].reset();
      printed = i + 1;
    }
    room.notify_all();
    any_failed = any_failed || line.failed;
    out << line.text << '\n';
    if (on_written) on_written(i + 1);
  }
  out.flush();
  return any_failed ? 1 : 0;
}

}  // namespace safeguard::cli
