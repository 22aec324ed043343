// Process-shared pthread objects in a SharedBlock: robust mutexes (a holder
// that dies leaves the mutex to the next locker, consistent) and condition
// variables on CLOCK_MONOTONIC, so that waiters sleep in the kernel until
// woken or until their deadline. Used by Queue and the synchronisation
// objects.
#pragma once

#include <pthread.h>

#include <chrono>

namespace dpool::internal {

using Deadline = std::chrono::steady_clock::time_point;  // max(): no limit

void init_robust_mutex(pthread_mutex_t& mu, bool recursive);
void init_shared_cond(pthread_cond_t& cv);

// Locks `mu` until `deadline` (min(): try once); false if it could not. A
// holder that died leaves it consistent to us.
bool lock_until(pthread_mutex_t& mu, Deadline deadline);

// Holds a robust mutex for a scope.
class RobustLock {
 public:
  explicit RobustLock(pthread_mutex_t& mu) : mu_(mu) { lock_until(mu_, Deadline::max()); }
  ~RobustLock() { pthread_mutex_unlock(&mu_); }
  RobustLock(const RobustLock&) = delete;
  RobustLock& operator=(const RobustLock&) = delete;
  pthread_mutex_t& mutex() { return mu_; }

 private:
  pthread_mutex_t& mu_;
};

// Waits on `cv` (with `mu` held) until woken or `deadline`; false at the
// deadline. Spurious wake-ups return true: callers loop on their condition.
bool wait_until(pthread_cond_t& cv, pthread_mutex_t& mu, Deadline deadline);

}  // namespace dpool::internal
