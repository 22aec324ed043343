// A rate limit: tokens accrue at `rate` a second up to `burst`, and each use
// spends some. Pure (the caller passes the time); one thread.
#pragma once

#include <algorithm>
#include <chrono>

namespace dpool::internal {

class TokenBucket {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // Starts full at `now`.
  TokenBucket(double rate, double burst, TimePoint now)
      : rate_(rate), burst_(burst), tokens_(burst), at_(now) {}

  // Spends `n` tokens if there are that many by `now`; false (nothing
  // spent) otherwise.
  bool take(double n, TimePoint now) {
    if (!has(n, now)) return false;
    tokens_ -= n;
    return true;
  }
  // Whether there are `n` tokens by `now`, spending none.
  bool has(double n, TimePoint now) {
    refill(now);
    return tokens_ >= n;
  }

 private:
  void refill(TimePoint now) {
    if (now <= at_) return;
    tokens_ = std::min(burst_, tokens_ + rate_ * std::chrono::duration<double>(now - at_).count());
    at_ = now;
  }

  double rate_, burst_, tokens_;
  TimePoint at_;
};

}  // namespace dpool::internal
