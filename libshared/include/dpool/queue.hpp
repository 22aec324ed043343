// dpool::Queue<T>: multiprocessing.Queue (and JoinableQueue) for this
// program and its Processes, on one machine. A cheap copyable handle: every
// copy refers to the one queue; given as an argument to a dpool::Process it
// travels as a reference to that queue, never as a copy of its items.
#pragma once

#include <chrono>
#include <cstddef>
#include <dpool/async_result.hpp>
#include <dpool/connection.hpp>
#include <dpool/detail/codec.hpp>
#include <dpool/errors.hpp>
#include <dpool/export.hpp>
#include <dpool/shared_block.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace dpool {
namespace detail {

// An untyped queue of byte strings in shared memory: a ring of serialized
// items guarded by a robust, process-shared mutex, with process-shared
// condition variables, so that a blocked put or get sleeps in the kernel
// until it can go on (nothing polls) and a holder that dies does not lock
// the others out. Thread-safe; shared by every process that has its
// descriptor.
class DPOOL_API QueueCore {
 public:
  // Holds at most `maxsize` items (0: no limit) and `ring_bytes` bytes of
  // serialized items (what an "unbounded" queue is bounded by).
  static std::shared_ptr<QueueCore> create(std::size_t maxsize, std::size_t ring_bytes);
  // The queue in `block` (one create made, passed to a child).
  static std::shared_ptr<QueueCore> attach(std::shared_ptr<SharedBlock> block);
  QueueCore(const QueueCore&) = delete;
  QueueCore& operator=(const QueueCore&) = delete;

  enum class Status { kDone, kTimeout, kShutDown };
  using TimePoint = std::chrono::steady_clock::time_point;
  // Waits until `deadline` (TimePoint::max(): forever; now or earlier: not at
  // all). Throws dpool::Error for an item larger than the whole queue.
  Status put(std::string_view item, TimePoint deadline);
  Status get(std::string& item, TimePoint deadline);
  std::size_t qsize() const;
  bool full() const;
  std::size_t maxsize() const;
  void task_done();  // std::logic_error when called more often than put
  void join();
  void shutdown(bool immediate);
  const std::shared_ptr<SharedBlock>& block() const noexcept { return block_; }

  struct Shared;  // the header in shared memory

 private:
  explicit QueueCore(std::shared_ptr<SharedBlock> block);
  std::shared_ptr<SharedBlock> block_;
  Shared* shared_;
};

// What an unbounded queue holds at most, in serialized bytes.
inline constexpr std::size_t kQueueRingBytes = std::size_t{16} << 20;

}  // namespace detail

template <class T>
class Queue {
 public:
  Queue() : Queue(0) {}
  // At most `maxsize` items (0: unbounded, up to kQueueRingBytes of them).
  explicit Queue(std::size_t maxsize)
      : core_(detail::QueueCore::create(maxsize, detail::kQueueRingBytes)) {}

  // Waits while the queue is full. SerializationError (nothing enqueued)
  // when the value cannot be serialized; ShutDown after shutdown().
  void put(const T& value) { put_until(value, detail::QueueCore::TimePoint::max()); }
  // Full if it is still full at the timeout.
  template <class Rep, class Period>
  void put(const T& value, std::chrono::duration<Rep, Period> timeout) {
    if (!put_until(value, detail::deadline_after(detail::timeout_of(timeout))))
      throw Full("Queue::put: the queue stayed full (" + std::to_string(qsize()) +
                 " items) until the timeout of " +
                 detail::describe(std::chrono::duration_cast<std::chrono::nanoseconds>(timeout)));
  }
  bool try_put(const T& value) { return put_until(value, detail::QueueCore::TimePoint::min()); }

  // Waits while the queue is empty. ShutDown once it is shut down and
  // drained (at once after shutdown(true)).
  T get() { return *get_until(detail::QueueCore::TimePoint::max()); }
  // Empty if it is still empty at the timeout.
  template <class Rep, class Period>
  T get(std::chrono::duration<Rep, Period> timeout) {
    auto v = get_until(detail::deadline_after(detail::timeout_of(timeout)));
    if (!v)
      throw Empty("Queue::get: the queue stayed empty until the timeout of " +
                  detail::describe(std::chrono::duration_cast<std::chrono::nanoseconds>(timeout)));
    return std::move(*v);
  }
  std::optional<T> try_get() { return get_until(detail::QueueCore::TimePoint::min()); }

  std::size_t qsize() const { return core_->qsize(); }
  bool empty() const { return qsize() == 0; }
  bool full() const { return core_->full(); }

  // JoinableQueue: each get's item is marked done once; join() waits until
  // every item ever put is.
  void task_done() { core_->task_done(); }
  void join() { core_->join(); }
  // Puts then throw ShutDown; gets drain what is left, then throw ShutDown
  // (at once, dropping it, if `immediate`). Wakes every blocked caller.
  void shutdown(bool immediate = false) { core_->shutdown(immediate); }

  // As an argument to a Process: a reference to this queue.
  template <class Ar>
  void save(Ar& ar) const {
    detail::SharedBlock::save(ar, core_->block());
  }
  template <class Ar>
  void load(Ar& ar) {
    core_ = detail::QueueCore::attach(
        detail::SharedBlock::load(ar, "a dpool::Queue", "pool.queue or mgr.queue"));
  }

 private:
  bool put_until(const T& value, detail::QueueCore::TimePoint deadline) {
    std::string bytes;
    try {
      detail::encode_into(bytes, value);
    } catch (const std::exception& e) {
      throw SerializationError(std::string("Queue::put: the item could not be serialized: ") +
                               e.what());
    }
    switch (core_->put(bytes, deadline)) {
      case detail::QueueCore::Status::kDone:
        return true;
      case detail::QueueCore::Status::kTimeout:
        return false;
      case detail::QueueCore::Status::kShutDown:
        break;
    }
    throw ShutDown("Queue::put on a queue that was shut down");
  }

  std::optional<T> get_until(detail::QueueCore::TimePoint deadline) {
    std::string bytes;
    switch (core_->get(bytes, deadline)) {
      case detail::QueueCore::Status::kDone:
        break;
      case detail::QueueCore::Status::kTimeout:
        return std::nullopt;
      case detail::QueueCore::Status::kShutDown:
        throw ShutDown("Queue::get on a queue that was shut down and has nothing left");
    }
    T value{};
    try {
      detail::decode_into(bytes, value);
    } catch (const std::exception& e) {
      throw SerializationError(std::string("Queue::get: the item could not be decoded: ") +
                               e.what());
    }
    return value;
  }

  std::shared_ptr<detail::QueueCore> core_;
};

}  // namespace dpool
