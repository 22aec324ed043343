// The client side of a ThreadPool: a PoolCore whose tasks run on threads of
// this process, through the registry, with no coordinator or executor.
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <dpool/init.hpp>
#include <dpool/thread_pool.hpp>
#include <mutex>
#include <thread>
#include <vector>

#include "task_runner.hpp"

namespace dpool {
namespace internal {
namespace {

class ThreadCore final : public detail::PoolCore, public std::enable_shared_from_this<ThreadCore> {
 public:
  explicit ThreadCore(unsigned threads) : size_(threads ? threads : cpu_count()) {}

  void start() {
    for (unsigned i = 0; i < size_; ++i) threads_.emplace_back([this] { work(); });
  }

  ~ThreadCore() override { stop(); }

  bool submit(const std::string& name, std::uint64_t fingerprint,
              std::vector<detail::TaskRequest>&& tasks, std::shared_ptr<detail::StateBase> sink,
              const TaskOptions& options, bool) override {
    std::unique_lock lock(mu_);
    if (closed_)
      throw PoolClosed(
          "cannot submit '" + name +
          "': this thread pool was closed or terminated; make a new one for more work");
    sink->bind_tasks(weak_from_this(), next_id_, tasks.size(), options.cancel_running);
    for (auto& t : tasks)
      queue_.push_back(Item{next_id_++, name, fingerprint, std::move(t.args), t.chunk, sink, t.part,
                            TaskInfo::Clock::now()});
    outstanding_ += tasks.size();
    cv_.notify_all();
    return true;
  }

  bool cancel(std::uint64_t first, std::size_t count, bool) override {
    return drop_queued(first, count) == count;  // a running task cannot be stopped
  }
  void drop(std::uint64_t first, std::size_t count) override { drop_queued(first, count); }
  unsigned executors() override { return size_; }

  void close() override {
    std::lock_guard lock(mu_);
    closed_ = true;
    cv_.notify_all();
  }

  void join() override {
    std::unique_lock lock(mu_);
    if (!closed_) throw std::logic_error("ThreadPool::join() needs close() or terminate() first");
    idle_.wait(lock, [this] { return outstanding_ == 0; });
  }

  void terminate() override {
    std::deque<Item> dropped;
    {
      std::lock_guard lock(mu_);
      closed_ = true;
      dropped.swap(queue_);
      outstanding_ -= dropped.size();
      idle_.notify_all();
    }
    for (auto& item : dropped) cancelled(item, "the thread pool was terminated before it ran");
  }

  void stop() {
    terminate();
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      cv_.notify_all();
    }
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    threads_.clear();
  }

 private:
  struct Item {
    std::uint64_t id;
    std::string name;
    std::uint64_t fingerprint;
    std::string args;
    bool chunk;
    std::shared_ptr<detail::StateBase> sink;
    std::size_t part;
    TaskInfo::Clock::time_point submitted;
  };

  static void cancelled(Item& item, const char* why) {
    detail::Outcome o;
    o.failure.code = ErrorCode::kCancelled;
    o.failure.message = why;
    item.sink->deliver(item.part, std::move(o));
  }

  std::size_t drop_queued(std::uint64_t first, std::size_t count) {
    std::deque<Item> dropped;
    {
      std::lock_guard lock(mu_);
      for (auto it = queue_.begin(); it != queue_.end();)
        if (it->id >= first && it->id < first + count) {
          dropped.push_back(std::move(*it));
          it = queue_.erase(it);
        } else {
          ++it;
        }
      outstanding_ -= dropped.size();
      idle_.notify_all();
    }
    for (auto& item : dropped) cancelled(item, "cancelled before it started");
    return dropped.size();
  }

  void work() {
    const std::string where = "this program's thread pool";
    for (;;) {
      Item item;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping
        item = std::move(queue_.front());
        queue_.pop_front();
      }
      detail::Outcome o;
      o.info.node = "threads";
      o.info.pid = static_cast<int>(::getpid());
      o.info.attempts = 1;
      o.info.submitted = item.submitted;
      o.info.started = TaskInfo::Clock::now();
      std::string out;
      o.failure = run_registered(item.name, item.fingerprint, item.chunk, item.args, where, out);
      o.info.finished = TaskInfo::Clock::now();
      if (o.failure.code == ErrorCode::kNone) o.payload = detail::Bytes::from(std::move(out));
      item.sink->deliver(item.part, std::move(o));
      std::lock_guard lock(mu_);
      if (--outstanding_ == 0) idle_.notify_all();
    }
  }

  const unsigned size_;
  std::mutex mu_;
  std::condition_variable cv_, idle_;
  std::deque<Item> queue_;
  std::uint64_t next_id_ = 1;
  std::size_t outstanding_ = 0;
  bool closed_ = false;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace
}  // namespace internal

ThreadPool::ThreadPool(unsigned threads) : PoolView(nullptr, {}) {
  auto core = std::make_shared<internal::ThreadCore>(threads);
  core->start();
  core_ = core;
}

ThreadPool::~ThreadPool() {
  std::static_pointer_cast<internal::ThreadCore>(core_)->stop();
}

void ThreadPool::close() {
  core_->close();
}
void ThreadPool::join() {
  core_->join();
}
void ThreadPool::terminate() {
  core_->terminate();
}
unsigned ThreadPool::size() const {
  return core_->executors();
}

}  // namespace dpool
