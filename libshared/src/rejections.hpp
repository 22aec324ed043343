// Refused input, counted per source and logged at a bounded rate, with the
// verdict to drop a source that keeps sending it. A source is a peer, or
// anything the caller numbers (all handshakes together, say). Between two
// report() calls (an interval) a source gets at most one line of its own when
// it is first refused; what follows is summed into one line per source at the
// next report, and past `max_lines` in the interval into one line for all.
// Pure: no clock, no logger; the caller writes the lines. One thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace dpool::internal {

class Rejections {
 public:
  struct Options {
    std::string subject = "message";  // what is refused, for the lines
    std::uint64_t drop_after = 0;     // hostile refusals that drop a source; 0 = never
    std::size_t max_lines = 20;       // lines per interval, every source together
  };
  struct Verdict {
    std::string line;   // log it now; empty: it waits for the next report
    bool drop = false;  // this refusal brought the source to drop_after
  };

  explicit Rejections(Options options) : options_(std::move(options)) {}

  // One refusal from `source`, named `who` in lines (empty: unnamed), for
  // reason `why`. `hostile` refusals count towards dropping the source;
  // others (a message that a well-behaved peer can send, such as one sent
  // before it registered) are only logged.
  Verdict refuse(std::uint64_t source, std::string_view who, std::string_view why,
                 bool hostile = true);
  // The lines for refusals not logged yet; starts a new interval.
  std::vector<std::string> report();
  // The source is gone; its refusals not logged yet go to the next report.
  void forget(std::uint64_t source);

  std::uint64_t total() const noexcept { return total_; }
  std::uint64_t dropped() const noexcept { return dropped_; }

 private:
  struct Source {
    std::string who;
    std::uint64_t count = 0;    // every refusal
    std::uint64_t hostile = 0;  // those that count towards dropping it
    std::uint64_t pending = 0;  // refused since its last line
    std::string last_why;
    bool lined = false;  // had a line of its own this interval
  };
  std::string from(const Source& s) const;

  Options options_;
  std::unordered_map<std::uint64_t, Source> sources_;
  std::size_t lines_ = 0;  // written this interval
  std::uint64_t total_ = 0, dropped_ = 0;
  std::uint64_t orphans_ = 0, orphan_sources_ = 0;  // pending refusals of forgotten sources
  std::uint64_t unlined_drops_ = 0;                 // drops the budget left without a line
};

}  // namespace dpool::internal
