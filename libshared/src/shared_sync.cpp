#include "shared_sync.hpp"

#include <cerrno>
#include <ctime>

namespace dpool::internal {
namespace {

timespec to_timespec(Deadline deadline) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch());
  return timespec{static_cast<time_t>(ns.count() / 1'000'000'000),
                  static_cast<long>(ns.count() % 1'000'000'000)};
}

}  // namespace

void init_robust_mutex(pthread_mutex_t& mu, bool recursive) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  pthread_mutexattr_settype(&a, recursive ? PTHREAD_MUTEX_RECURSIVE : PTHREAD_MUTEX_ERRORCHECK);
  pthread_mutex_init(&mu, &a);
  pthread_mutexattr_destroy(&a);
}

void init_shared_cond(pthread_cond_t& cv) {
  pthread_condattr_t a;
  pthread_condattr_init(&a);
  pthread_condattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_condattr_setclock(&a, CLOCK_MONOTONIC);  // steady_clock's clock
  pthread_cond_init(&cv, &a);
  pthread_condattr_destroy(&a);
}

bool lock_until(pthread_mutex_t& mu, Deadline deadline) {
  int rc;
  if (deadline == Deadline::max()) {
    rc = pthread_mutex_lock(&mu);
  } else if (deadline <= std::chrono::steady_clock::now()) {
    rc = pthread_mutex_trylock(&mu);
  } else {
    auto ts = to_timespec(deadline);
    rc = pthread_mutex_clocklock(&mu, CLOCK_MONOTONIC, &ts);
  }
  if (rc == EOWNERDEAD) {
    pthread_mutex_consistent(&mu);  // its holder died: the lock is ours now
    return true;
  }
  return rc == 0;
}

bool wait_until(pthread_cond_t& cv, pthread_mutex_t& mu, Deadline deadline) {
  int rc;
  if (deadline == Deadline::max()) {
    rc = pthread_cond_wait(&cv, &mu);
  } else {
    auto ts = to_timespec(deadline);
    rc = pthread_cond_timedwait(&cv, &mu, &ts);
  }
  if (rc == EOWNERDEAD) pthread_mutex_consistent(&mu);
  return rc != ETIMEDOUT;
}

}  // namespace dpool::internal
