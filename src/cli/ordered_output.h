// Work on many threads, output in input order: what `hash` and `match` share.
#pragma once

#include <cstddef>
#include <functional>
#include <iosfwd>
#include <string>

namespace safeguard::cli {

// One output line of PrintInOrder, and whether its item had an error.
struct OrderedLine {
  std::string text;
  bool failed = false;
};

// Computes line_of(i) for i in [0, n) on `jobs` threads (0: one per core)
// and writes the lines to `out` in order of i, each as soon as it and those
// before it are ready; workers run at most 64 items per thread ahead of the
// writer. After each line is written, on_written(lines written so far) is
// called from the calling thread, when given (e.g. for progress). Returns 1
// when any line failed, else 0.
// REQUIRES: line_of may be called from several threads at once.
int PrintInOrder(size_t n, int jobs, const std::function<OrderedLine(size_t)>& line_of,
                 std::ostream& out, const std::function<void(size_t)>& on_written = {});

}  // namespace safeguard::cli
