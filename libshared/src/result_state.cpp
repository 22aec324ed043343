// Waiting, callbacks and error construction behind AsyncResult.
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <deque>
#include <dpool/async_result.hpp>
#include <thread>

#include "spin_wait.hpp"

namespace dpool::detail {
namespace {

// One thread per process runs user callbacks in order, so a slow or
// throwing callback never stalls or kills an I/O thread.
class CallbackThread {
 public:
  ~CallbackThread() {
    {
      std::lock_guard lock(mu_);
      if (!thread_.joinable()) return;
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  void post(std::function<void()> fn) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(fn));
      if (!thread_.joinable())
        thread_ = std::thread([this] {
          ::pthread_setname_np(::pthread_self(), "dpool-callback");
          run();
        });
    }
    cv_.notify_one();
  }

 private:
  void run() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      auto fn = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      try {
        fn();
      } catch (const std::exception& e) {
        spdlog::error("dpool: a result callback threw and was ignored: {}", e.what());
      } catch (...) {
        spdlog::error("dpool: a result callback threw a non-standard exception; ignored");
      }
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::thread thread_;
  bool stop_ = false;
};

std::string where(const TaskInfo& info) {
  std::string s;
  if (!info.node.empty()) s += " on node " + info.node;
  if (info.pid) s += " (pid " + std::to_string(info.pid) + ")";
  return s;
}

std::string signal_text(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return "signal " + std::to_string(sig) + (abbrev ? std::string(" (SIG") + abbrev + ")" : "");
}

}  // namespace

void post_callback(std::function<void()> fn) {
  static CallbackThread thread;
  thread.post(std::move(fn));
}

std::string describe(std::chrono::nanoseconds d) {
  using namespace std::chrono;
  if (d >= seconds(1) && d % seconds(1) == nanoseconds(0))
    return std::to_string(duration_cast<seconds>(d).count()) + " s";
  if (d >= milliseconds(1)) return std::to_string(duration_cast<milliseconds>(d).count()) + " ms";
  return std::to_string(duration_cast<microseconds>(d).count()) + " us";
}

std::exception_ptr make_error(const Failure& f, const TaskInfo& info, const std::string& task,
                              const std::string& signature) {
  std::string t = "task '" + task + "'";
  switch (f.code) {
    case ErrorCode::kNone:
      return nullptr;
    case ErrorCode::kTaskRaised:
      return std::make_exception_ptr(
          RemoteError(t + " raised " + f.type + where(info) + ": " + f.message, f.type, f.message,
                      info.node, info.pid));
    case ErrorCode::kWorkerCrashed: {
      std::string how = f.signal ? "was killed by " + signal_text(f.signal)
                                 : "exited with code " + std::to_string(f.exit_code);
      std::string what = "the executor running " + t + where(info) + " " + how;
      what +=
          f.message.empty() ? "; it was replaced and the other tasks carry on" : "; " + f.message;
      return std::make_exception_ptr(WorkerCrashed(what, f.signal, f.exit_code));
    }
    case ErrorCode::kTaskTimeout:
      return std::make_exception_ptr(
          TaskTimeout(t + " ran past its timeout" + where(info) + " and was killed: " + f.message));
    case ErrorCode::kWorkerLost:
      return std::make_exception_ptr(WorkerLost(t + ": " + f.message));
    case ErrorCode::kCancelled:
      return std::make_exception_ptr(Cancelled(t + " was cancelled: " + f.message));
    case ErrorCode::kUnknownTask:
      return std::make_exception_ptr(UnknownTask(f.message));
    case ErrorCode::kSignatureMismatch:
      return std::make_exception_ptr(
          SignatureMismatch(t + " was called as " + signature + " but " + f.message +
                            "; rebuild the caller and the node from the same task declarations"));
    case ErrorCode::kPoolClosed:
    case ErrorCode::kConnection:
      return error_of(f.code, f.message);
    case ErrorCode::kQueueFull:
      return std::make_exception_ptr(QueueFull(t + " was refused: " + f.message));
    case ErrorCode::kRefused:
      return std::make_exception_ptr(Error(t + " failed: " + f.message, f.code));
    default:
      return error_of(f.code, t + ": " + f.message);
  }
}

std::exception_ptr error_of(ErrorCode code, const std::string& what) {
  switch (code) {
    case ErrorCode::kNone:
      return nullptr;
    case ErrorCode::kTaskTimeout:
      return std::make_exception_ptr(TaskTimeout(what));
    case ErrorCode::kWorkerLost:
      return std::make_exception_ptr(WorkerLost(what));
    case ErrorCode::kCancelled:
      return std::make_exception_ptr(Cancelled(what));
    case ErrorCode::kUnknownTask:
      return std::make_exception_ptr(UnknownTask(what));
    case ErrorCode::kSignatureMismatch:
      return std::make_exception_ptr(SignatureMismatch(what));
    case ErrorCode::kSerialization:
      return std::make_exception_ptr(SerializationError(what));
    case ErrorCode::kPoolClosed:
      return std::make_exception_ptr(PoolClosed(what));
    case ErrorCode::kConnection:
      return std::make_exception_ptr(ConnectionError(what));
    case ErrorCode::kQueueFull:
      return std::make_exception_ptr(QueueFull(what));
    case ErrorCode::kEOF:
      return std::make_exception_ptr(EOFError(what));
    case ErrorCode::kFull:
      return std::make_exception_ptr(Full(what));
    case ErrorCode::kEmpty:
      return std::make_exception_ptr(Empty(what));
    case ErrorCode::kShutDown:
      return std::make_exception_ptr(ShutDown(what));
    case ErrorCode::kBrokenBarrier:
      return std::make_exception_ptr(BrokenBarrierError(what));
    case ErrorCode::kAuthentication:
      return std::make_exception_ptr(AuthenticationError(what));
    default:  // codes whose errors carry more than a message are built by make_error
      return std::make_exception_ptr(Error(what, code));
  }
}

namespace {

// How long waits for results took, across the process: a result that comes
// back within tens of microseconds (a small task in local mode) is worth
// spinning for; one from a cluster or a long task is not.
internal::SpinAdvice result_waits;

}  // namespace

void StateBase::spin_until(std::chrono::steady_clock::time_point deadline) const {
  if (!result_waits.worth_spinning()) return;
  internal::SpinSlot slot;
  if (!slot) return;
  deadline = std::min(deadline, std::chrono::steady_clock::now() + internal::kSpinBudget);
  // Yielding on each turn lets a thread woken on this CPU (the pool's I/O
  // thread, with the result) run at once rather than after the spin: without
  // it, local round trips on a 2-CPU machine took 35 us in some runs and
  // 137 us in others.
  while (!ready_.load(std::memory_order_acquire) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
}

void StateBase::wait() const {
  if (ready_.load(std::memory_order_acquire)) return;
  const auto t0 = std::chrono::steady_clock::now();
  spin_until(std::chrono::steady_clock::time_point::max());
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return ready_.load(); });
  result_waits.waited(std::chrono::steady_clock::now() - t0);
}

bool StateBase::wait_until(std::chrono::steady_clock::time_point deadline) const {
  if (ready_.load(std::memory_order_acquire)) return true;
  const auto t0 = std::chrono::steady_clock::now();
  spin_until(deadline);
  std::unique_lock lock(mu_);
  if (!cv_.wait_until(lock, deadline, [this] { return ready_.load(); })) return false;
  result_waits.waited(std::chrono::steady_clock::now() - t0);
  return true;
}

bool StateBase::ready() const {
  std::lock_guard lock(mu_);
  return ready_;
}

bool StateBase::successful() const {
  std::lock_guard lock(mu_);
  if (!ready_) throw std::logic_error("successful() called on a result that is not ready yet");
  return !error_;
}

TaskInfo StateBase::info() const {
  std::lock_guard lock(mu_);
  return info_;
}

void StateBase::rethrow() const {
  std::exception_ptr e;
  {
    std::lock_guard lock(mu_);
    e = error_;
  }
  if (e) std::rethrow_exception(e);
}

void StateBase::on_ready(std::function<void()> fn) {
  std::unique_lock lock(mu_);
  if (!ready_) {
    callbacks_.push_back(std::move(fn));
    return;
  }
  lock.unlock();
  post_callback(std::move(fn));
}

bool StateBase::fail(std::exception_ptr error) {
  std::unique_lock lock(mu_);
  if (ready_) return false;
  finish(lock, std::move(error));
  return true;
}

void StateBase::bind_tasks(std::weak_ptr<Canceller> owner, std::uint64_t first, std::size_t count,
                           bool kill_running) {
  std::lock_guard lock(mu_);
  owner_ = std::move(owner);
  first_ = first;
  count_ = count;
  kill_running_ = kill_running;
}

bool StateBase::cancel() {
  std::shared_ptr<Canceller> owner;
  {
    std::lock_guard lock(mu_);
    if (ready_ || count_ == 0) return false;
    owner = owner_.lock();
  }
  if (!owner) return false;
  return owner->cancel(first_, count_, kill_running_);
}

void StateBase::drop() {
  std::shared_ptr<Canceller> owner;
  {
    std::lock_guard lock(mu_);
    if (ready_ || count_ == 0) return;
    owner = owner_.lock();
  }
  if (owner) owner->drop(first_, count_);
}

void StateBase::watch(const std::shared_ptr<Waiter>& waiter, std::size_t index) {
  {
    std::lock_guard lock(mu_);
    if (!ready_) {
      waiters_.emplace_back(waiter, index);
      return;
    }
  }
  waiter->notify(index);
}

void StateBase::finish(std::unique_lock<std::mutex>& lock, std::exception_ptr error) {
  error_ = std::move(error);
  ready_.store(true, std::memory_order_release);
  auto callbacks = std::move(callbacks_);
  auto waiters = std::move(waiters_);
  lock.unlock();
  cv_.notify_all();
  for (auto& [weak, index] : waiters)
    if (auto w = weak.lock()) w->notify(index);
  for (auto& cb : callbacks) post_callback(std::move(cb));
}

}  // namespace dpool::detail
