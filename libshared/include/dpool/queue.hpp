// dpool::Queue<T>: multiprocessing.Queue (and JoinableQueue). Made here, it
// lives on this machine and serves this program, its Processes and the tasks
// of its local pools; made by pool.queue or mgr.queue, its coordinator hosts
// it and every node reaches it. A cheap copyable handle: every copy refers to
// the one queue; as an argument of a Process or task it travels as a
// reference to that queue, never as a copy of its items.
#pragma once

#include <chrono>
#include <cstddef>
#include <dpool/async_result.hpp>
#include <dpool/connection.hpp>
#include <dpool/detail/codec.hpp>
#include <dpool/detail/hosted.hpp>
#include <dpool/errors.hpp>
#include <dpool/export.hpp>
#include <dpool/shared_block.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace dpool {
namespace detail {

// An untyped queue of byte strings: what a Queue<T> handle holds. Either
// QueueCore (shared memory, this machine) or a queue its coordinator hosts
// (pool.queue, mgr.queue; see hosted.hpp). Thread-safe.
class DPOOL_API QueueBackend {
 public:
  virtual ~QueueBackend() = default;
  enum class Status { kDone, kTimeout, kShutDown };
  using TimePoint = std::chrono::steady_clock::time_point;
  // Wait until `deadline` (TimePoint::max(): for ever; now or earlier: not
  // at all). Throw dpool::Error for an item the queue can never hold.
  virtual Status put(std::string_view item, TimePoint deadline) = 0;
  virtual Status get(std::string& item, TimePoint deadline) = 0;
  virtual std::size_t qsize() const = 0;
  virtual bool full() const = 0;
  virtual void task_done() = 0;  // too many calls: std::logic_error (local), dpool::Error (hosted)
  virtual void join() = 0;
  virtual void shutdown(bool immediate) = 0;
  // The hosted object behind it, or nullptr for a queue on this machine.
  virtual const HostedObject* hosted() const noexcept { return nullptr; }
};

// A queue in shared memory: a ring of serialized items guarded by a robust,
// process-shared mutex, with process-shared condition variables, so that a
// blocked put or get sleeps in the kernel until it can go on (nothing polls)
// and a holder that dies does not lock the others out. Shared by every
// process that has its descriptor.
class DPOOL_API QueueCore final : public QueueBackend {
 public:
  // Holds at most `maxsize` items (0: no limit) and `ring_bytes` bytes of
  // serialized items (what an "unbounded" queue is bounded by).
  static std::shared_ptr<QueueCore> create(std::size_t maxsize, std::size_t ring_bytes);
  // The queue in `block` (one create made, passed to a child).
  static std::shared_ptr<QueueCore> attach(std::shared_ptr<SharedBlock> block);
  QueueCore(const QueueCore&) = delete;
  QueueCore& operator=(const QueueCore&) = delete;

  Status put(std::string_view item, TimePoint deadline) override;
  Status get(std::string& item, TimePoint deadline) override;
  std::size_t qsize() const override;
  bool full() const override;
  std::size_t maxsize() const;
  void task_done() override;
  void join() override;
  void shutdown(bool immediate) override;
  const std::shared_ptr<SharedBlock>& block() const noexcept { return block_; }

  struct Shared;  // the header in shared memory

 private:
  explicit QueueCore(std::shared_ptr<SharedBlock> block);
  std::shared_ptr<SharedBlock> block_;
  Shared* shared_;
};

// A queue its coordinator hosts, reached through a HostedObject.
DPOOL_API std::shared_ptr<QueueBackend> hosted_queue(HostedObject object);

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
  // Over a queue of bytes (pool.queue and mgr.queue make hosted ones).
  explicit Queue(std::shared_ptr<detail::QueueBackend> backend) : core_(std::move(backend)) {}

  // Waits while the queue is full. SerializationError (nothing enqueued)
  // when the value cannot be serialized; ShutDown after shutdown().
  void put(const T& value) { put_until(value, detail::QueueBackend::TimePoint::max()); }
  // Full if it is still full at the timeout.
  template <class Rep, class Period>
  void put(const T& value, std::chrono::duration<Rep, Period> timeout) {
    if (!put_until(value, detail::deadline_after(detail::timeout_of(timeout))))
      throw Full("Queue::put: the queue stayed full (" + std::to_string(qsize()) +
                 " items) until the timeout of " +
                 detail::describe(std::chrono::duration_cast<std::chrono::nanoseconds>(timeout)));
  }
  bool try_put(const T& value) { return put_until(value, detail::QueueBackend::TimePoint::min()); }

  // Waits while the queue is empty. ShutDown once it is shut down and
  // drained (at once after shutdown(true)).
  T get() { return *get_until(detail::QueueBackend::TimePoint::max()); }
  // Empty if it is still empty at the timeout.
  template <class Rep, class Period>
  T get(std::chrono::duration<Rep, Period> timeout) {
    auto v = get_until(detail::deadline_after(detail::timeout_of(timeout)));
    if (!v)
      throw Empty("Queue::get: the queue stayed empty until the timeout of " +
                  detail::describe(std::chrono::duration_cast<std::chrono::nanoseconds>(timeout)));
    return std::move(*v);
  }
  std::optional<T> try_get() { return get_until(detail::QueueBackend::TimePoint::min()); }

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

  // As an argument to a Process or task: a reference to this queue.
  template <class Ar>
  void save(Ar& ar) const {
    const detail::HostedObject* hosted = core_->hosted();
    ar(hosted != nullptr);
    if (hosted)
      ar(*hosted);
    else
      detail::SharedBlock::save(ar, static_cast<const detail::QueueCore&>(*core_).block());
  }
  template <class Ar>
  void load(Ar& ar) {
    bool hosted = false;
    ar(hosted);
    if (hosted) {
      detail::HostedObject object;
      ar(object);
      core_ = detail::hosted_queue(std::move(object));
    } else {
      core_ = detail::QueueCore::attach(
          detail::SharedBlock::load(ar, "a dpool::Queue", "pool.queue or mgr.queue"));
    }
  }

 private:
  bool put_until(const T& value, detail::QueueBackend::TimePoint deadline) {
    std::string bytes;
    try {
      detail::encode_into(bytes, value);
    } catch (const std::exception& e) {
      throw SerializationError(std::string("Queue::put: the item could not be serialized: ") +
                               e.what());
    }
    switch (core_->put(bytes, deadline)) {
      case detail::QueueBackend::Status::kDone:
        return true;
      case detail::QueueBackend::Status::kTimeout:
        return false;
      case detail::QueueBackend::Status::kShutDown:
        break;
    }
    throw ShutDown("Queue::put on a queue that was shut down");
  }

  std::optional<T> get_until(detail::QueueBackend::TimePoint deadline) {
    std::string bytes;
    switch (core_->get(bytes, deadline)) {
      case detail::QueueBackend::Status::kDone:
        break;
      case detail::QueueBackend::Status::kTimeout:
        return std::nullopt;
      case detail::QueueBackend::Status::kShutDown:
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

  std::shared_ptr<detail::QueueBackend> core_;
};

}  // namespace dpool
