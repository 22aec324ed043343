// What the node's executors and Processes print, on its way to the
// coordinator: raw chunks (OUTPUT records, each tagged with its task) cut
// into lines, limited in rate so that a task printing in a loop cannot flood
// the coordinator, and gathered into OUTPUT entries. Pure: the caller passes
// the time. Loop thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "protocol.hpp"
#include "token_bucket.hpp"

namespace dpool::internal {

class TaskOutput {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  struct Limits {
    double lines_per_second = 1000;
    double bytes_per_second = 1 << 20;
    double burst_seconds = 2;         // what may be saved up, in seconds of the rates above
    std::size_t max_line = 16 << 10;  // a longer line is cut here
    // Lines dropped are reported with the next line that passes, or after
    // this long, or when the process finishes its task.
    std::chrono::milliseconds report_dropped{1000};
  };

  explicit TaskOutput(TimePoint now) : TaskOutput(Limits{}, now) {}
  TaskOutput(Limits limits, TimePoint now);

  // Bytes process `pid` wrote on `stream` (1 stdout, 2 stderr) while it ran
  // `task` (0: no task). A line begun under another task ends here.
  void add(std::uint64_t task, std::uint32_t pid, std::uint8_t stream, std::string_view bytes,
           TimePoint now);
  // `pid` finished its task or exited: a last line without its newline goes
  // out as it is, and what was dropped of it is reported.
  void finish(std::uint32_t pid, TimePoint now);
  // The entries gathered since the last call, in the order written, and the
  // drop counts that are due.
  std::vector<wire::Lines> take(TimePoint now);
  bool pending() const noexcept { return !out_.empty() || !drops_.empty(); }
  // Lines left out by the rate limit since the start.
  std::uint64_t dropped() const noexcept { return dropped_; }

 private:
  using Source = std::tuple<std::uint64_t, std::uint32_t, std::uint8_t>;  // task, pid, stream
  struct Partial {
    std::uint64_t task = 0;
    std::string text;
  };
  struct Drops {
    std::uint32_t count = 0;
    TimePoint since{};  // the first of them
  };

  void line(const Source& from, std::string_view text, TimePoint now);
  void append(const Source& from, std::string_view text, std::uint32_t dropped);

  Limits limits_;
  TokenBucket lines_, bytes_;
  std::map<std::pair<std::uint32_t, std::uint8_t>, Partial> partial_;  // by pid, stream
  std::map<Source, Drops> drops_;
  std::vector<wire::Lines> out_;
  std::uint64_t dropped_ = 0;
};

}  // namespace dpool::internal
