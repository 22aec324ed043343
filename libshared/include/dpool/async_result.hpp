// AsyncResult<T>: one task's (or one map's) eventual result.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <dpool/detail/bytes.hpp>
#include <dpool/errors.hpp>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace dpool {

// Where and when a task ran, as far as known.
struct TaskInfo {
  using Clock = std::chrono::system_clock;
  std::string node;        // node name
  int pid = 0;             // executor process id
  unsigned attempts = 0;   // times it was started
  Clock::time_point submitted{}, started{}, finished{};
};

namespace detail {

// Why a task failed, as carried on the wire.
struct Failure {
  ErrorCode code = ErrorCode::kNone;
  std::string type;     // exception type (kTaskRaised)
  std::string message;  // what() or a description
  int signal = 0;       // kWorkerCrashed: killing signal, or 0
  int exit_code = -1;   // kWorkerCrashed: exit status, or -1
};

struct Outcome {
  Failure failure;
  Bytes payload;  // serialized result when failure.code == kNone
  TaskInfo info;
};

// Builds the dpool::Error subclass that `failure` stands for. `task` names the
// task and `signature` is the caller's view of its type, for messages.
std::exception_ptr make_error(const Failure& failure, const TaskInfo& info,
                              const std::string& task, const std::string& signature);

// Runs `fn` on dpool's callback thread. Exceptions escaping `fn` are caught
// and logged; they never reach a dpool thread or a waiter.
void post_callback(std::function<void()> fn);

std::string describe(std::chrono::nanoseconds d);

// Cancels tasks by id; implemented by the pool's client side.
class Canceller {
 public:
  virtual ~Canceller() = default;
  // True if every task in [first, first + count) was cancelled.
  virtual bool cancel(std::uint64_t first, std::size_t count, bool kill_running) = 0;
};

// Receives the outcomes of the tasks behind one result. Called from dpool's
// I/O thread, once per part; must not block.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void deliver(std::size_t part, Outcome&& outcome) = 0;
};

// Waiting, readiness and callbacks shared by every result state. Thread-safe.
class StateBase : public Sink {
 public:
  StateBase(std::string task, const std::string& signature)
      : task_(std::move(task)), signature_(&signature) {}
  void wait() const;
  bool wait_until(std::chrono::steady_clock::time_point deadline) const;
  bool ready() const;
  bool successful() const;  // std::logic_error if not ready
  TaskInfo info() const;
  const std::string& task() const noexcept { return task_; }
  // Runs `fn` once on the callback thread when the state is ready (at once if it is).
  void on_ready(std::function<void()> fn);
  // Rethrows the failure, if any. Requires ready().
  void rethrow() const;
  // Fails the state unless it is already done; false if it was.
  bool fail(std::exception_ptr error);
  // Which tasks make up this result, so cancel() can reach them.
  void bind_tasks(std::weak_ptr<Canceller> owner, std::uint64_t first, std::size_t count,
                  bool kill_running);
  bool cancel();

 protected:
  // Marks the state done, wakes waiters, hands callbacks to the callback thread.
  void finish(std::unique_lock<std::mutex>& lock, std::exception_ptr error);
  std::exception_ptr failure_error(const Outcome& o) const {
    return make_error(o.failure, o.info, task_, *signature_);
  }

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool ready_ = false;
  std::exception_ptr error_;
  TaskInfo info_;
  std::vector<std::function<void()>> callbacks_;
  std::string task_;
  const std::string* signature_;
  std::weak_ptr<Canceller> owner_;
  std::uint64_t first_ = 0;
  std::size_t count_ = 0;
  bool kill_running_ = false;
};

template <class T>
class ValueState : public StateBase {
 public:
  using StateBase::StateBase;
  // The decoded value. Requires ready() and success; decodes at most once.
  virtual const T& value() = 0;
  // Moves the value out; for the sole owner of the state.
  virtual T take() { return value(); }
};

template <>
class ValueState<void> : public StateBase {
 public:
  using StateBase::StateBase;
};

}  // namespace detail

// One task's eventual result. A copyable handle to shared state: safe to wait
// on from any thread; dropping every handle does not cancel the task.
template <class T>
class AsyncResult {
 public:
  using value_type = T;
  AsyncResult() = default;
  explicit AsyncResult(std::shared_ptr<detail::ValueState<T>> state) : state_(std::move(state)) {}

  // Waits for the result; rethrows the task's error as a dpool::Error.
  T get() const {
    state_->wait();
    state_->rethrow();
    if constexpr (!std::is_void_v<T>) return state_->value();
  }
  // As get(), but throws dpool::TimeoutError when the result is not ready in
  // time. The task keeps running; a later get() can still succeed.
  template <class Rep, class Period>
  T get(std::chrono::duration<Rep, Period> timeout) const {
    if (!wait(timeout))
      throw TimeoutError("the result of task '" + state_->task() + "' was not ready within " +
                         detail::describe(timeout) +
                         "; the task keeps running and a later get() can still succeed");
    return get();
  }
  void wait() const { state_->wait(); }
  template <class Rep, class Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) const {
    return state_->wait_until(std::chrono::steady_clock::now() +
                              std::chrono::ceil<std::chrono::steady_clock::duration>(timeout));
  }
  bool ready() const { return state_->ready(); }
  bool successful() const { return state_->successful(); }
  TaskInfo info() const { return state_->info(); }
  // Removes the task if it has not started and returns true; its result then
  // raises Cancelled. A running task is stopped only if it was submitted with
  // TaskOptions{.cancel_running = true} (its executor is killed and replaced);
  // otherwise cancel() returns false and the task runs on.
  bool cancel() { return state_->cancel(); }

  // Runs fn(const T&) (fn() for void) once on a dpool thread after success.
  template <class F>
  AsyncResult& then(F fn) {
    state_->on_ready([s = state_, fn = std::move(fn)]() mutable {
      if (!s->successful()) return;
      if constexpr (std::is_void_v<T>)
        fn();
      else
        fn(s->value());
    });
    return *this;
  }
  // Runs fn(std::exception_ptr) once on a dpool thread after a failure.
  template <class F>
  AsyncResult& on_error(F fn) {
    state_->on_ready([s = state_, fn = std::move(fn)]() mutable {
      if (s->successful()) return;
      try {
        s->rethrow();
      } catch (...) {
        fn(std::current_exception());
      }
    });
    return *this;
  }

  // For dpool internals: the shared state.
  const std::shared_ptr<detail::ValueState<T>>& state() const noexcept { return state_; }

 private:
  std::shared_ptr<detail::ValueState<T>> state_;
};

// Waits until every result is ready (or the timeout passes: TimeoutError).
template <class T>
void wait_all(std::span<AsyncResult<T>> results,
              std::chrono::steady_clock::duration timeout = std::chrono::steady_clock::duration::max()) {
  auto deadline = timeout == std::chrono::steady_clock::duration::max()
                      ? std::chrono::steady_clock::time_point::max()
                      : std::chrono::steady_clock::now() + timeout;
  for (auto& r : results)
    if (!r.state()->wait_until(deadline))
      throw TimeoutError("not every result was ready within " + detail::describe(timeout));
}

}  // namespace dpool
