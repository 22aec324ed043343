// Synchronisation between this program and its Processes on one machine:
// multiprocessing's Lock, RLock, Semaphore, BoundedSemaphore, Event,
// Condition and Barrier. Each lives in shared memory and its waiters sleep in
// the kernel (process-shared pthread objects), with no coordinator on the
// path. Every handle is a cheap copyable value: copies refer to the one
// object, and given as an argument to a dpool::Process it travels as a
// reference to it. A lock or recursive lock held by a process that dies is
// released: the next acquire succeeds (Python's multiprocessing.Lock stays
// locked forever in that case). Semaphore permits that a process acquired and
// did not release are given back when it ends, however it ends (its tracker
// process, started at its first acquire, sees it gone), and waiters blocked
// in acquire() wake then.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <dpool/async_result.hpp>
#include <dpool/errors.hpp>
#include <dpool/export.hpp>
#include <dpool/shared_block.hpp>
#include <memory>

namespace dpool {
namespace detail {

using SyncDeadline = std::chrono::steady_clock::time_point;  // max(): no limit; past: try once

template <class Rep, class Period>
SyncDeadline sync_deadline(std::chrono::duration<Rep, Period> timeout) {
  auto d = timeout_of(timeout);
  return d == std::chrono::steady_clock::duration::zero() ? SyncDeadline::min() : deadline_after(d);
}

// A handle to an object that is its whole SharedBlock (Semaphore, Event,
// Barrier, Value, Array): copies share the block; as an argument of a
// Process it travels as the block's descriptor.
class DPOOL_API BlockHandle {
 public:
  template <class Ar>
  void save(Ar& ar) const {
    SharedBlock::save(ar, block_);
  }
  template <class Ar>
  void load(Ar& ar) {
    block_ = SharedBlock::load(ar, "a dpool Value, Array, Semaphore, Event or Barrier",
                               "the Manager's mgr.value, mgr.semaphore, mgr.event or mgr.barrier");
  }

 protected:
  BlockHandle() = default;  // refers to nothing until assigned or loaded
  explicit BlockHandle(std::shared_ptr<SharedBlock> block) : block_(std::move(block)) {}

  std::shared_ptr<SharedBlock> block_;
};

// A robust, process-shared mutex in a SharedBlock: what Lock and RLock are.
class DPOOL_API SharedMutex {
 public:
  // BasicLockable, for std::lock_guard and std::unique_lock.
  void lock();
  void unlock();
  bool try_lock();
  // Python's acquire(timeout=...): true if it got the lock in time
  // (acquire(0ms) tries once). Python's acquire() without a timeout is lock().
  template <class Rep, class Period>
  bool acquire(std::chrono::duration<Rep, Period> timeout) {
    return acquire_until(sync_deadline(timeout));
  }
  void acquire() { lock(); }
  void release() { unlock(); }

  template <class Ar>
  void save(Ar& ar) const {
    SharedBlock::save(ar, block_);
    ar(offset_);
  }
  template <class Ar>
  void load(Ar& ar) {
    block_ = SharedBlock::load(ar, "a dpool::Lock or RLock", "mgr.lock");
    ar(offset_);
  }

  // The mutex at `offset` in `block` (for objects that embed one: Value, Array).
  SharedMutex(std::shared_ptr<SharedBlock> block, std::size_t offset)
      : block_(std::move(block)), offset_(offset) {}
  void* native() const;  // the pthread_mutex_t
  const std::shared_ptr<SharedBlock>& block() const { return block_; }
  std::uint64_t offset() const { return offset_; }

 protected:
  SharedMutex() = default;
  bool acquire_until(SyncDeadline deadline);

  std::shared_ptr<SharedBlock> block_;
  std::uint64_t offset_ = 0;
};

}  // namespace detail

// multiprocessing.Lock: acquired by one thread at a time; released by the
// thread that holds it. Acquiring it again from the thread that holds it
// throws dpool::Error (a certain deadlock) instead of hanging.
class DPOOL_API Lock : public detail::SharedMutex {
 public:
  Lock();
  using SharedMutex::SharedMutex;
};

// multiprocessing.RLock: the holding thread may acquire it again; it is free
// once released as often as acquired.
class DPOOL_API RLock : public detail::SharedMutex {
 public:
  RLock();
  using SharedMutex::SharedMutex;
};

// multiprocessing.Semaphore: acquire takes one of `value` permits, waiting
// while there are none; release gives one back. A permit belongs to the
// process that acquired it until that process releases one (releases beyond
// what it holds add permits and belong to no one); what it still holds when
// it ends, by a normal exit or a kill, comes back (see the top of this file),
// for up to 64 holding processes at once per semaphore. So hand work between
// processes with a Queue or an Event rather than with permits that a
// consumer keeps. Thread-safe; acquire and release throw dpool::Error on a
// handle that refers to nothing.
class DPOOL_API Semaphore : public detail::BlockHandle {
 public:
  explicit Semaphore(unsigned value = 1) : Semaphore(value, 0) {}
  void acquire() { acquire_until(detail::SyncDeadline::max()); }
  template <class Rep, class Period>
  bool acquire(std::chrono::duration<Rep, Period> timeout) {
    return acquire_until(detail::sync_deadline(timeout));
  }
  // Throws std::logic_error on a BoundedSemaphore already at its bound.
  void release();
  unsigned value() const;  // permits left now (get_value in Python)
  // BasicLockable.
  void lock() { acquire(); }
  void unlock() { release(); }

 protected:
  Semaphore(unsigned value, unsigned bound);  // bound 0: none

 private:
  bool acquire_until(detail::SyncDeadline deadline);
};

// multiprocessing.BoundedSemaphore: release past the initial value throws.
class DPOOL_API BoundedSemaphore : public Semaphore {
 public:
  explicit BoundedSemaphore(unsigned value = 1) : Semaphore(value, value) {}
};

// multiprocessing.Event: a flag that wait() waits for.
class DPOOL_API Event : public detail::BlockHandle {
 public:
  Event();
  void set();
  void clear();
  bool is_set() const;
  void wait() { wait_until(detail::SyncDeadline::max()); }
  // True if the flag was set in time.
  template <class Rep, class Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) {
    return wait_until(detail::sync_deadline(timeout));
  }

 private:
  bool wait_until(detail::SyncDeadline deadline);
};

// multiprocessing.Condition: wait and notify under a lock. Made with a Lock
// or RLock it uses that one; Condition() owns an RLock, as Python's does,
// and is itself BasicLockable. The waiting thread holds the lock (once, for
// an RLock).
class DPOOL_API Condition {
 public:
  Condition() : Condition(RLock()) {}
  explicit Condition(const detail::SharedMutex& lock);

  void wait() { wait_until(detail::SyncDeadline::max()); }
  // False at the timeout.
  template <class Rep, class Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) {
    return wait_until(detail::sync_deadline(timeout));
  }
  // Waits until pred() is true (checked with the lock held); its last value.
  template <class Pred, class Rep, class Period>
  bool wait_for(Pred pred, std::chrono::duration<Rep, Period> timeout) {
    auto deadline = detail::deadline_after(detail::timeout_of(timeout));
    while (!pred())
      if (!wait_until(deadline)) return pred();
    return true;
  }
  template <class Pred>
  void wait_for(Pred pred) {
    while (!pred()) wait();
  }
  void notify(unsigned n = 1);
  void notify_all();

  // Its lock, as BasicLockable and as Python's acquire/release.
  void lock() { lock_.lock(); }
  void unlock() { lock_.unlock(); }
  bool try_lock() { return lock_.try_lock(); }
  void acquire() { lock_.lock(); }
  template <class Rep, class Period>
  bool acquire(std::chrono::duration<Rep, Period> timeout) {
    return lock_.acquire(timeout);
  }
  void release() { lock_.unlock(); }

  template <class Ar>
  void save(Ar& ar) const {
    ar(lock_);
    detail::SharedBlock::save(ar, block_);
  }
  template <class Ar>
  void load(Ar& ar) {
    ar(lock_);
    block_ = detail::SharedBlock::load(ar, "a dpool::Condition", "mgr.condition");
  }

 private:
  bool wait_until(detail::SyncDeadline deadline);
  RLock lock_{nullptr, 0};  // Lock or RLock: the mutex is what counts
  std::shared_ptr<detail::SharedBlock> block_;
};

// multiprocessing.Barrier: `parties` processes or threads meet; each wait()
// returns once all have arrived, with this party's index in [0, parties).
// A timeout or abort() breaks it for every party: BrokenBarrierError, now
// and for later waits until reset().
class DPOOL_API Barrier : public detail::BlockHandle {
 public:
  Barrier() = default;  // refers to nothing until assigned (as an argument before it is decoded)
  explicit Barrier(unsigned parties);
  unsigned wait() { return wait_until(detail::SyncDeadline::max()); }
  template <class Rep, class Period>
  unsigned wait(std::chrono::duration<Rep, Period> timeout) {
    return wait_until(detail::deadline_after(detail::timeout_of(timeout)));
  }
  void abort();
  void reset();  // no longer broken; parties waiting now get BrokenBarrierError
  unsigned parties() const;
  unsigned n_waiting() const;
  bool broken() const;

 private:
  unsigned wait_until(detail::SyncDeadline deadline);
};

}  // namespace dpool
