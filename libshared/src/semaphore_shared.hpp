// The shared block of a Semaphore or BoundedSemaphore: the count, and who
// holds permits. A permit belongs to the process that acquired it until that
// process releases one; what a process still holds when it ends (however it
// ends) is given back by its tracker (shm_tracker.hpp), which sees the end as
// the end-of-file of its socket and then calls give_back. Waiters sleep on
// the condition variable in the kernel; nothing polls.
#pragma once

#include <pthread.h>
#include <sys/types.h>

#include <cstdint>

namespace dpool::internal {

// Processes that may hold permits of one semaphore at once and get them back
// when they die; permits of further holders are not recovered.
inline constexpr int kSemaphoreHolders = 64;

struct SemaphoreHolder {
  std::int32_t pid;    // 0: a free slot
  std::uint32_t held;  // permits acquired and not released by that process
};

struct SemaphoreShared {
  pthread_mutex_t mu;  // robust: guards everything below
  pthread_cond_t cv;
  std::uint32_t count;
  std::uint32_t bound;  // 0: none
  SemaphoreHolder holders[kSemaphoreHolders];
};

// With s.mu held: `pid` took one permit, or gave one back.
void note_acquired(SemaphoreShared& s, pid_t pid);
void note_released(SemaphoreShared& s, pid_t pid);

// Locks s.mu, gives back what `pid` held (a BoundedSemaphore never above its
// bound) and wakes the waiters. Called by the tracker of `pid` once `pid` is
// gone; idempotent.
void give_back(SemaphoreShared& s, pid_t pid);

}  // namespace dpool::internal
