// Tasks finished per second over the last minute, for `dpool status`: a
// fixed ring of one-second buckets, so the cost is the same at 10 tasks a
// second or 10 million. Pure: the caller passes the time (the coordinator's
// loop, the time a batch of results arrived). Loop thread only.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>

namespace dpool::internal {

class Throughput {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;
  static constexpr std::int64_t kSeconds = 60;  // the window
  // The window's whole seconds and the one under way.
  static constexpr std::int64_t kBuckets = kSeconds + 1;

  // `start`: when counting began; a rate asked for sooner than a minute
  // after it is over the time since then, not over a minute of which part
  // was never counted.
  explicit Throughput(TimePoint start) : start_(start) {}

  // `n` tasks finished at `now`. A time earlier than one already passed
  // counts in the newest bucket (steady clocks do not go back, but callers
  // may pass the time they read before another caller's).
  void add(std::uint64_t n, TimePoint now) {
    auto s = std::max(second(now), newest_);
    advance(s);
    buckets_[static_cast<std::size_t>(s % kBuckets)] += n;
  }

  // Tasks per second over the minute before `now` (or since start, if
  // shorter): the sixty whole seconds before the one under way, and what
  // that one counted so far.
  double per_second(TimePoint now) const {
    auto s = second(now);
    std::uint64_t sum = 0;
    for (auto b = s - kSeconds; b <= s; ++b)
      if (b >= 0 && b <= newest_ && b > newest_ - kBuckets)
        sum += buckets_[static_cast<std::size_t>(b % kBuckets)];
    double span = std::chrono::duration<double>(now - start_).count();
    span = std::clamp(span, 1.0, static_cast<double>(kSeconds));
    return static_cast<double>(sum) / span;
  }

 private:
  // Whole seconds since start.
  std::int64_t second(TimePoint t) const {
    return t <= start_ ? 0 : std::chrono::duration_cast<std::chrono::seconds>(t - start_).count();
  }
  // Empties the buckets of the seconds after newest_ up to `s`, which it
  // becomes.
  void advance(std::int64_t s) {
    for (auto b = std::max(newest_ + 1, s - kBuckets + 1); b <= s; ++b)
      buckets_[static_cast<std::size_t>(b % kBuckets)] = 0;
    newest_ = std::max(newest_, s);
  }

  TimePoint start_;
  std::array<std::uint64_t, kBuckets> buckets_{};
  std::int64_t newest_ = 0;  // the second buckets_ last counted in
};

}  // namespace dpool::internal
