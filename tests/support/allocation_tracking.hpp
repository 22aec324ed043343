// Tells a test how large the largest single heap allocation was while some
// code ran. Linking allocation_tracking.cpp replaces the global operator new
// of the whole test binary, so every allocation is seen.
#pragma once

#include <cstddef>
#include <utility>

namespace test_support {

void track_allocations(bool on);
std::size_t largest_tracked_allocation();  // since tracking was last switched on

// The largest single allocation `fn` asks for.
template <class F>
std::size_t largest_allocation_during(F&& fn) {
  track_allocations(true);
  try {
    std::forward<F>(fn)();
  } catch (...) {
    track_allocations(false);
    throw;
  }
  track_allocations(false);
  return largest_tracked_allocation();
}

}  // namespace test_support
