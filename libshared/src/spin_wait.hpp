// Spinning before blocking, for the waits where an answer usually comes
// within tens of microseconds: a thread that has not gone to sleep needs no
// waking, and on a VM a CPU that went idle takes about 40 us to wake. Shared
// by every spinning wait of the process so that together they leave a CPU
// free: at most one thread fewer than the CPUs spins at once.
#pragma once

#include <atomic>
#include <chrono>

namespace dpool::internal {

// How long a wait spins at most before it blocks.
inline constexpr std::chrono::microseconds kSpinBudget{100};

// A place among the spinning threads, held for one spin; empty (false) if
// the other spinners already take every spare CPU. Any thread.
class SpinSlot {
 public:
  SpinSlot() noexcept;
  ~SpinSlot();
  SpinSlot(const SpinSlot&) = delete;
  SpinSlot& operator=(const SpinSlot&) = delete;
  explicit operator bool() const noexcept { return held_; }
  void release() noexcept;  // before the destructor: blocks after this do not hold it

 private:
  bool held_;
};

// Whether waits of one kind are worth spinning for: a running average of
// how long they took, and spinning only while it is under kSpinBudget. A
// round trip through a cluster on one machine (hundreds of microseconds)
// is not, and spinning there only took CPU from the processes doing the work.
// Lock-free; concurrent updates may lose one sample, which does not matter.
class SpinAdvice {
 public:
  bool worth_spinning() const noexcept {
    return average_ns_.load(std::memory_order_relaxed) < kBudgetNs;
  }
  void waited(std::chrono::steady_clock::duration d) noexcept;

 private:
  static constexpr long long kBudgetNs =
      std::chrono::duration_cast<std::chrono::nanoseconds>(kSpinBudget).count();
  std::atomic<long long> average_ns_{0};
};

}  // namespace dpool::internal
