// Elapsed wall-clock time, for checks that an operation returned in time.
#pragma once

#include <doctest/doctest.h>

#include <chrono>

namespace test_support {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace test_support

// CHECK_WITHIN(t0, limit_s): fewer than `limit_s` seconds have passed since
// `t0`. A generous upper bound: it only catches a hang or a pathological
// slowness (a wait that runs into its own timeout, a task left running) on a
// loaded 2-core CI box that builds and tests at once. It is never a
// performance assertion: keep the limit many times what the operation takes
// on an idle machine, and measure speed in bench/, not here.
#define CHECK_WITHIN(t0, limit_s)                                                           \
  do {                                                                                      \
    const double dpool_elapsed_s_ = ::test_support::seconds_since(t0);                      \
    CHECK_MESSAGE(dpool_elapsed_s_ < (limit_s),                                             \
                  "took " << dpool_elapsed_s_ << " s; the bound is " << (limit_s) << " s"); \
  } while (0)
