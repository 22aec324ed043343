// concurrent.futures for dpool: Executor (ProcessPoolExecutor, on a local
// pool or a cluster), ThreadPoolExecutor (threads of this process), Future,
// as_completed and wait.
#pragma once

#include <chrono>
#include <cstddef>
#include <dpool/async_result.hpp>
#include <dpool/pool.hpp>
#include <dpool/thread_pool.hpp>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace dpool {

// One call's eventual result. Move-only; its observers are const.
template <class R>
class Future {
 public:
  Future() = default;
  explicit Future(AsyncResult<R> result) : result_(std::move(result)) {}
  Future(Future&&) noexcept = default;
  Future& operator=(Future&&) noexcept = default;
  Future(const Future&) = delete;
  Future& operator=(const Future&) = delete;

  // Waits; rethrows the call's error (Cancelled if it was cancelled).
  R result() const { return result_.get(); }
  // TimeoutError if it is not done in time.
  template <class Rep, class Period>
  R result(std::chrono::duration<Rep, Period> timeout) const {
    return result_.get(timeout);
  }
  // Waits; the call's error, or nullptr if it succeeded.
  std::exception_ptr exception() const {
    result_.wait();
    return error();
  }
  template <class Rep, class Period>
  std::exception_ptr exception(std::chrono::duration<Rep, Period> timeout) const {
    if (!result_.wait(timeout))
      throw TimeoutError("the future was not done within " +
                         detail::describe(detail::timeout_of(timeout)));
    return error();
  }
  bool done() const { return result_.ready(); }
  // Submitted and not done: queued or executing (dpool does not tell the two apart).
  bool running() const { return !done(); }
  bool cancelled() const {
    if (!done() || result_.successful()) return false;
    try {
      result_.state()->rethrow();
    } catch (const Cancelled&) {
      return true;
    } catch (...) {
    }
    return false;
  }
  // True if it was cancelled before it started (or had been cancelled).
  bool cancel() { return cancelled() || result_.cancel(); }
  // Runs cb(const Future<R>&) once on a dpool thread when it is done (at once
  // if it is); an exception from cb is logged, never propagated.
  template <class F>
  void add_done_callback(F cb) {
    auto state = result_.state();
    state->on_ready([state, cb = std::move(cb)]() mutable {
      Future<R> view{AsyncResult<R>(state)};
      cb(std::as_const(view));
    });
  }

  const AsyncResult<R>& async_result() const noexcept { return result_; }

 private:
  std::exception_ptr error() const {
    if (result_.successful()) return nullptr;
    try {
      result_.state()->rethrow();
    } catch (...) {
      return std::current_exception();
    }
    return nullptr;
  }
  AsyncResult<R> result_;
};

// Executor::map's options (the Python keyword arguments).
struct MapOptions {
  std::chrono::milliseconds timeout{0};  // counted from the call; 0 = none
  std::size_t chunksize = 1;
  std::size_t buffersize = 0;  // accepted; dpool always reads the input a few chunks ahead
};

// What wait() waits for.
enum class Return { first_completed, first_exception, all_completed };

namespace detail {

// The lazy, ordered range Executor::map returns: TimeoutError once the
// deadline (from the call) passes.
template <class R>
class ExecutorMap {
 public:
  ExecutorMap(Results<R> results, std::chrono::milliseconds timeout)
      : results_(std::move(results)),
        deadline_(timeout.count() ? deadline_after(timeout_of(timeout))
                                  : std::chrono::steady_clock::time_point::max()) {}
  std::optional<R> next() {
    if (deadline_ == std::chrono::steady_clock::time_point::max()) return results_.next();
    auto left = deadline_ - std::chrono::steady_clock::now();
    return results_.next(std::max(left, std::chrono::steady_clock::duration::zero()));
  }
  using iterator = NextIterator<ExecutorMap, R>;
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() { return {}; }

 private:
  Results<R> results_;
  std::chrono::steady_clock::time_point deadline_;
};

// The Executor interface over a pool type (Pool or ThreadPool).
template <class P>
class ExecutorOf {
 public:
  template <class... A>
  explicit ExecutorOf(A&&... pool_args) : pool_(std::forward<A>(pool_args)...) {}
  // As leaving Python's `with` block: shutdown(wait = true).
  ~ExecutorOf() { shutdown(true); }
  ExecutorOf(const ExecutorOf&) = delete;
  ExecutorOf& operator=(const ExecutorOf&) = delete;

  // PoolClosed after shutdown().
  template <class F, class... A>
  auto submit(F f, A&&... args) -> Future<ResultOf<F>> {
    auto r = pool_.apply_async(f, std::forward<A>(args)...);
    std::lock_guard lock(mu_);
    std::erase_if(submitted_, [](const auto& w) { return w.expired(); });
    submitted_.push_back(r.state());
    return Future<ResultOf<F>>(std::move(r));
  }
  // Lazy and ordered; TimeoutError once options.timeout (from this call) passes.
  template <class F, std::ranges::input_range Range>
  auto map(F f, Range&& items, MapOptions options = {}) -> ExecutorMap<ResultOf<F>> {
    return ExecutorMap<ResultOf<F>>(
        pool_.imap(f, std::forward<Range>(items), std::max<std::size_t>(1, options.chunksize)),
        options.timeout);
  }
  // No more submissions; with cancel_futures, the calls not started are
  // cancelled; with wait, returns once the others are done.
  void shutdown(bool wait = true, bool cancel_futures = false) {
    if (!shut_) {
      shut_ = true;
      pool_.close();
    }
    if (cancel_futures) {
      std::vector<std::shared_ptr<StateBase>> live;
      {
        std::lock_guard lock(mu_);
        for (auto& w : submitted_)
          if (auto s = w.lock()) live.push_back(s);
      }
      for (auto& s : live)
        if (!s->ready()) s->cancel();
    }
    if (wait) pool_.join();
  }

 protected:
  P pool_;

 private:
  bool shut_ = false;
  std::mutex mu_;
  std::vector<std::weak_ptr<StateBase>> submitted_;
};

}  // namespace detail

// concurrent.futures.ProcessPoolExecutor: Executor(4) on a local pool of 4
// processes, Executor(dpool::Connect{...}) on a cluster. A crashed executor
// fails only its own future (WorkerCrashed) and is replaced: no "broken pool".
class Executor : public detail::ExecutorOf<Pool> {
 public:
  explicit Executor(unsigned processes = 0) : ExecutorOf(processes) {}
  explicit Executor(Connect options) : ExecutorOf(std::move(options)) {}
  unsigned size() const { return pool_.size(); }
};

// concurrent.futures.ThreadPoolExecutor: the Executor interface on threads.
class ThreadPoolExecutor : public detail::ExecutorOf<ThreadPool> {
 public:
  explicit ThreadPoolExecutor(unsigned threads = 0) : ExecutorOf(threads) {}
};

namespace detail {

template <class R>
class FuturesAsCompleted {
 public:
  FuturesAsCompleted(std::vector<Future<R>>& futures, std::chrono::steady_clock::duration timeout)
      : futures_(futures), order_(futures.size(), timeout, "futures") {
    for (std::size_t i = 0; i < futures_.size(); ++i)
      order_.watch(*futures_[i].async_result().state(), i);
  }
  // The next future to finish; nullopt at the end; TimeoutError past the timeout.
  std::optional<const Future<R>*> next() {
    auto i = order_.next();
    if (!i) return std::nullopt;
    return &futures_[*i];
  }
  using iterator = NextIterator<FuturesAsCompleted, const Future<R>*>;
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() { return {}; }

 private:
  std::vector<Future<R>>& futures_;
  CompletionOrder order_;
};

}  // namespace detail

// Yields each of `futures` once, as it is done; TimeoutError if some are not
// done when `timeout` (from the call) passes. The vector must not change
// while it is iterated.
template <class R>
detail::FuturesAsCompleted<R> as_completed(std::vector<Future<R>>& futures,
                                           std::chrono::steady_clock::duration timeout = kForever) {
  return detail::FuturesAsCompleted<R>(futures, timeout);
}

// Waits as `when` says, or until `timeout`; returns the indices of the done
// and the not-done futures (it does not throw at the timeout).
template <class R>
std::pair<std::vector<std::size_t>, std::vector<std::size_t>> wait(
    std::vector<Future<R>>& futures, std::chrono::steady_clock::duration timeout = kForever,
    Return when = Return::all_completed) {
  auto waiter = std::make_shared<detail::Waiter>();
  for (std::size_t i = 0; i < futures.size(); ++i)
    futures[i].async_result().state()->watch(waiter, i);
  auto deadline = detail::deadline_after(timeout);
  std::vector<bool> done(futures.size(), false);
  std::size_t count = 0;
  bool stop = futures.empty();
  while (!stop) {
    auto i = waiter->next(deadline);
    if (!i) break;
    done[*i] = true;
    ++count;
    stop = count == futures.size() || when == Return::first_completed ||
           (when == Return::first_exception && futures[*i].exception() != nullptr);
  }
  std::pair<std::vector<std::size_t>, std::vector<std::size_t>> r;
  for (std::size_t i = 0; i < futures.size(); ++i) (done[i] ? r.first : r.second).push_back(i);
  return r;
}

}  // namespace dpool
