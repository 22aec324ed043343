#include "spin_wait.hpp"

#include <algorithm>
#include <thread>

namespace dpool::internal {
namespace {

std::atomic<unsigned> spinners{0};
const unsigned max_spinners = std::max(std::thread::hardware_concurrency(), 1u) - 1;

}  // namespace

SpinSlot::SpinSlot() noexcept : held_(false) {
  for (auto n = spinners.load(std::memory_order_relaxed); n < max_spinners;)
    if (spinners.compare_exchange_weak(n, n + 1, std::memory_order_relaxed)) {
      held_ = true;
      return;
    }
}

SpinSlot::~SpinSlot() {
  release();
}

void SpinSlot::release() noexcept {
  if (held_) spinners.fetch_sub(1, std::memory_order_relaxed);
  held_ = false;
}

void SpinAdvice::waited(std::chrono::steady_clock::duration d) noexcept {
  // An average over about the last 8 waits.
  const long long ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  const long long old = average_ns_.load(std::memory_order_relaxed);
  average_ns_.store(old + (ns - old) / 8, std::memory_order_relaxed);
}

}  // namespace dpool::internal
