// Progress of a long map on stderr, turned on by TaskOptions::progress or by
// DPOOL_PROGRESS=1 in the environment. On a terminal: one line redrawn at
// most five times a second with a bar, done/total, the rate and the time
// left. Otherwise (a log file, a batch job): a plain line every 5 s. The
// last line, when the map ends, is always printed.
#pragma once

#include <chrono>
#include <cstddef>
#include <dpool/export.hpp>
#include <mutex>
#include <string>

namespace dpool::detail {

class DPOOL_API Progress {
 public:
  // `total` 0: not known (a lazy input), so neither bar nor time left.
  Progress(std::string what, std::size_t total);
  ~Progress();  // finish()
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // `n` more items are done. Any thread.
  void advance(std::size_t n);
  // The map ended (done or failed): prints the last line, once. Any thread.
  void finish();

 private:
  void print(bool last);  // with mu_ held

  std::mutex mu_;
  const std::string what_;
  const std::size_t total_;
  std::size_t done_ = 0;
  bool finished_ = false;
  const bool terminal_;
  const std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_print_;
};

// Whether a map shows progress: `option` (TaskOptions::progress), or
// DPOOL_PROGRESS set to anything but "0" or "".
DPOOL_API bool progress_wanted(bool option);

}  // namespace dpool::detail
