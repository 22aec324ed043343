// AsyncResult<T>: one task's (or one map's) eventual result.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <dpool/detail/bytes.hpp>
#include <dpool/detail/next_iterator.hpp>
#include <dpool/errors.hpp>
#include <dpool/export.hpp>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace dpool {

// Where and when a task ran, as far as known.
struct TaskInfo {
  using Clock = std::chrono::system_clock;
  std::string node;       // node name
  int pid = 0;            // executor process id
  unsigned attempts = 0;  // times it was started
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
DPOOL_API std::exception_ptr make_error(const Failure& failure, const TaskInfo& info,
                                        const std::string& task, const std::string& signature);
// The dpool::Error subclass of `code` with the message `what`: the one table
// from codes to types, for failed results and failed calls alike.
DPOOL_API std::exception_ptr error_of(ErrorCode code, const std::string& what);

// Runs `fn` on dpool's callback thread. Exceptions escaping `fn` are caught
// and logged; they never reach a dpool thread or a waiter.
DPOOL_API void post_callback(std::function<void()> fn);

DPOOL_API std::string describe(std::chrono::nanoseconds d);

// A caller's timeout as the clock's own duration, rounded up. Any duration
// type is accepted, floating-point ones too (2.5 s as duration<double>). A
// timeout beyond what the clock can count means "forever" rather than an
// overflow, and a negative or NaN one means "do not wait".
template <class Rep, class Period>
std::chrono::steady_clock::duration timeout_of(std::chrono::duration<Rep, Period> timeout) {
  using D = std::chrono::steady_clock::duration;
  const long double ticks = std::chrono::duration<long double, typename D::period>(timeout).count();
  if (!(ticks > 0)) return D::zero();
  // Half the range leaves room for "now" to be added to it.
  if (ticks >= static_cast<long double>(D::max().count() / 2)) return D::max();
  return std::chrono::ceil<D>(timeout);
}

inline std::chrono::steady_clock::time_point deadline_after(std::chrono::steady_clock::duration d) {
  auto now = std::chrono::steady_clock::now();
  return d >= std::chrono::steady_clock::time_point::max() - now
             ? std::chrono::steady_clock::time_point::max()
             : now + d;
}

// Cancels tasks by id; implemented by the pool's client side.
class DPOOL_API Canceller {
 public:
  virtual ~Canceller() = default;
  // True if every task in [first, first + count) was cancelled. Waits for the
  // coordinator's answer.
  virtual bool cancel(std::uint64_t first, std::size_t count, bool kill_running) = 0;
  // Cancels what has not started yet, without waiting for an answer.
  virtual void drop(std::uint64_t first, std::size_t count) = 0;
};

// Collects the indexes of results as they become ready, for whoever waits on
// several at once. Thread-safe.
class DPOOL_API Waiter {
 public:
  void notify(std::size_t index) {
    {
      std::lock_guard lock(mu_);
      ready_.push_back(index);
    }
    cv_.notify_all();
  }
  // The next ready index, or nullopt once `deadline` passes.
  std::optional<std::size_t> next(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_until(lock, deadline, [this] { return !ready_.empty(); })) return std::nullopt;
    auto i = ready_.front();
    ready_.erase(ready_.begin());
    return i;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::size_t> ready_;
};

// Receives the outcomes of the tasks behind one result. Called from dpool's
// I/O thread, once per part; must not block.
class DPOOL_API Sink {
 public:
  virtual ~Sink() = default;
  virtual void deliver(std::size_t part, Outcome&& outcome) = 0;
};

// Waiting, readiness and callbacks shared by every result state. Thread-safe.
class DPOOL_API StateBase : public Sink {
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
  void drop();  // cancel without waiting, for results nobody will read
  // Tells `waiter` (index) when this state is ready; at once if it is.
  void watch(const std::shared_ptr<Waiter>& waiter, std::size_t index);

 protected:
  // Spins (see libshared/src/spin_wait.hpp) until ready, the deadline, or
  // the spin budget, if waits for results have been short.
  void spin_until(std::chrono::steady_clock::time_point deadline) const;
  // Marks the state done, wakes waiters, hands callbacks to the callback thread.
  void finish(std::unique_lock<std::mutex>& lock, std::exception_ptr error);
  std::exception_ptr failure_error(const Outcome& o) const {
    return make_error(o.failure, o.info, task_, *signature_);
  }

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  // Written under mu_; atomic so that a spinning wait can read it without.
  std::atomic<bool> ready_{false};
  std::exception_ptr error_;
  TaskInfo info_;
  std::vector<std::function<void()>> callbacks_;
  std::string task_;
  const std::string* signature_;
  std::vector<std::pair<std::weak_ptr<Waiter>, std::size_t>> waiters_;
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
    if (!state_) throw std::logic_error("get() on an empty AsyncResult (default-constructed)");
    state_->wait();
    state_->rethrow();
    if constexpr (!std::is_void_v<T>) return state_->value();
  }
  // As get(), but throws dpool::TimeoutError when the result is not ready in
  // time. The task keeps running; a later get() can still succeed.
  // Any duration type works, floating-point ones too.
  template <class Rep, class Period>
  T get(std::chrono::duration<Rep, Period> timeout) const {
    if (!state_) throw std::logic_error("get() on an empty AsyncResult (default-constructed)");
    const auto d = detail::timeout_of(timeout);
    if (!state_->wait_until(detail::deadline_after(d)))
      throw TimeoutError("the result of task '" + state_->task() + "' was not ready within " +
                         detail::describe(d) +
                         "; the task keeps running and a later get() can still succeed");
    return get();
  }
  void wait() const { state_->wait(); }
  template <class Rep, class Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) const {
    return state_->wait_until(detail::deadline_after(detail::timeout_of(timeout)));
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

inline constexpr std::chrono::steady_clock::duration kForever =
    std::chrono::steady_clock::duration::max();

// Waits until every result is ready (or the timeout passes: TimeoutError).
template <class T>
void wait_all(std::span<AsyncResult<T>> results,
              std::chrono::steady_clock::duration timeout = kForever) {
  auto deadline = detail::deadline_after(timeout);
  for (auto& r : results)
    if (!r.state()->wait_until(deadline))
      throw TimeoutError("not every result was ready within " + detail::describe(timeout));
}

// Waits until at least one result is ready and returns its index (the lowest
// ready one); TimeoutError after `timeout`, std::invalid_argument if empty.
template <class T>
std::size_t wait_any(std::span<AsyncResult<T>> results,
                     std::chrono::steady_clock::duration timeout = kForever) {
  if (results.empty()) throw std::invalid_argument("wait_any needs at least one result");
  for (std::size_t i = 0; i < results.size(); ++i)
    if (results[i].ready()) return i;
  auto waiter = std::make_shared<detail::Waiter>();
  for (std::size_t i = 0; i < results.size(); ++i) results[i].state()->watch(waiter, i);
  auto i = waiter->next(detail::deadline_after(timeout));
  if (!i)
    throw TimeoutError("none of " + std::to_string(results.size()) + " results was ready within " +
                       detail::describe(timeout));
  return *i;
}

namespace detail {

// The order in which watched results finish, as indexes, for the
// as_completed ranges: each index once, TimeoutError once `timeout` (from
// construction) passes with some unfinished. `noun` names the items in that
// error ("results", "futures"). Single consumer.
class CompletionOrder {
 public:
  CompletionOrder(std::size_t count, std::chrono::steady_clock::duration timeout, const char* noun)
      : waiter_(std::make_shared<Waiter>()),
        deadline_(deadline_after(timeout)),
        timeout_(timeout),
        count_(count),
        left_(count),
        noun_(noun) {}
  void watch(StateBase& state, std::size_t index) { state.watch(waiter_, index); }
  // The next finished index; nullopt once every one was given.
  std::optional<std::size_t> next() {
    if (left_ == 0) return std::nullopt;
    auto i = waiter_->next(deadline_);
    if (!i)
      throw TimeoutError(std::to_string(left_) + " of " + std::to_string(count_) + " " + noun_ +
                         " were not done within " + describe(timeout_));
    --left_;
    return i;
  }

 private:
  std::shared_ptr<Waiter> waiter_;
  std::chrono::steady_clock::time_point deadline_;
  std::chrono::steady_clock::duration timeout_;
  std::size_t count_, left_;
  const char* noun_;
};

}  // namespace detail

// A range yielding results in the order they finish, like
// concurrent.futures.as_completed. Iterating past `timeout` (counted from the
// call) throws TimeoutError. Single pass; holds copies of the handles.
template <class T>
class AsCompleted {
 public:
  AsCompleted(std::vector<AsyncResult<T>> results, std::chrono::steady_clock::duration timeout)
      : results_(std::move(results)), order_(results_.size(), timeout, "results") {
    for (std::size_t i = 0; i < results_.size(); ++i) order_.watch(*results_[i].state(), i);
  }
  // The next result to finish; nullopt at the end; TimeoutError past the timeout.
  std::optional<AsyncResult<T>> next() {
    auto i = order_.next();
    if (!i) return std::nullopt;
    return results_[*i];
  }

  using iterator = detail::NextIterator<AsCompleted, AsyncResult<T>>;
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() { return {}; }

 private:
  std::vector<AsyncResult<T>> results_;
  detail::CompletionOrder order_;
};

template <class T>
void wait_all(std::vector<AsyncResult<T>>& results,
              std::chrono::steady_clock::duration timeout = kForever) {
  wait_all(std::span<AsyncResult<T>>(results), timeout);
}
template <class T>
std::size_t wait_any(std::vector<AsyncResult<T>>& results,
                     std::chrono::steady_clock::duration timeout = kForever) {
  return wait_any(std::span<AsyncResult<T>>(results), timeout);
}

template <std::ranges::input_range Range>
auto as_completed(Range&& results, std::chrono::steady_clock::duration timeout = kForever) {
  using R = std::ranges::range_value_t<Range>;
  return AsCompleted<typename R::value_type>(
      std::vector<R>(std::ranges::begin(results), std::ranges::end(results)), timeout);
}

}  // namespace dpool
