// Elapsed time, for checks that an operation returned within a bound.
#pragma once

#include <chrono>

namespace test_support {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace test_support
