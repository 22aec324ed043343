// dpool::Process on a node of a pool's cluster (pool.process): submitted as a
// Process task; the node reports when it starts (its pid) and how it ends.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <dpool/async_result.hpp>

#include "process_state.hpp"
#include "protocol.hpp"

namespace dpool::internal {
namespace {

constexpr auto kStartWait = std::chrono::seconds(30);

// Python's exit code for how the node says the Process ended.
int exit_code_of(const detail::Failure& f) {
  switch (f.code) {
    case ErrorCode::kNone:
      return 0;
    case ErrorCode::kWorkerCrashed:
      if (f.signal) return -f.signal;
      return f.exit_code >= 0 ? f.exit_code : 1;
    case ErrorCode::kWorkerLost:
    case ErrorCode::kCancelled:
    case ErrorCode::kConnection:
      return -SIGKILL;  // dpool lost track of it: the node kills it
    default:
      return 1;
  }
}

// Receives the Process task's two reports: started, then ended.
class ProcessSink final : public detail::StateBase {
 public:
  explicit ProcessSink(std::string name) : StateBase(std::move(name), no_signature()) {}

  void deliver(std::size_t, detail::Outcome&& o) override {
    std::unique_lock lock(mu_);
    if (ready_) return;
    if (o.info.pid) pid_ = o.info.pid;
    if (!o.info.node.empty()) node_ = o.info.node;
    if (o.failure.code == wire::kStarted) {
      cv_.notify_all();
      return;
    }
    exitcode_ = exit_code_of(o.failure);
    if (*exitcode_ == -SIGKILL && o.failure.code != ErrorCode::kWorkerCrashed)
      spdlog::warn("dpool: Process {}: {}; its exit code is -9", task(), o.failure.message);
    info_ = o.info;
    finish(lock, nullptr);
  }

  // Waits until the node runs it or it ended, up to `deadline`.
  void wait_started(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, deadline, [&] { return ready_ || pid_ != 0; });
  }
  std::optional<int> exitcode() const {
    std::lock_guard lock(mu_);
    return exitcode_;
  }
  int pid() const {
    std::lock_guard lock(mu_);
    return pid_;
  }
  std::string node() const {
    std::lock_guard lock(mu_);
    return node_;
  }
  std::uint64_t task_id() const {
    std::lock_guard lock(mu_);
    return first_;
  }

 private:
  static const std::string& no_signature() {
    static const std::string none;
    return none;
  }
  int pid_ = 0;
  std::string node_;
  std::optional<int> exitcode_;
};

class NodeProcess final : public ProcessState {
 public:
  NodeProcess(std::shared_ptr<detail::PoolCore> core, ProcessOptions options, Call call)
      : ProcessState(std::move(options)),
        core_(std::move(core)),
        call_(std::move(call)),
        sink_(std::make_shared<ProcessSink>(options_.name)) {}

  void start() override {
    {
      std::lock_guard lock(mu_);
      check_not_started();
      check_registered(call_);
      std::vector<detail::TaskRequest> tasks(1);
      tasks[0].args = std::move(call_.args);
      tasks[0].process = options_.name;
      core_->submit(call_.name, call_.fingerprint, std::move(tasks), sink_, TaskOptions{});
      started_ = true;
    }
    // Like multiprocessing's start(), return once it runs; but never wait
    // for a node that may not come.
    if (core_->executors() > 0) sink_->wait_started(std::chrono::steady_clock::now() + kStartWait);
  }

  bool join_for(std::chrono::steady_clock::duration timeout) override {
    {
      std::lock_guard lock(mu_);
      check_started("join()");
    }
    return sink_->wait_until(detail::deadline_after(timeout));
  }

  std::optional<int> exitcode() override { return sink_->exitcode(); }
  int pid() override { return sink_->pid(); }
  std::string node() override { return sink_->node(); }

  void send_signal(int signal) override {
    if (started() && !sink_->ready()) core_->signal(sink_->task_id(), signal);
  }

 private:
  std::shared_ptr<detail::PoolCore> core_;
  Call call_;
  std::shared_ptr<ProcessSink> sink_;
};

}  // namespace

std::unique_ptr<ProcessState> node_process(std::shared_ptr<detail::PoolCore> core,
                                           ProcessOptions options, Call call) {
  return std::make_unique<NodeProcess>(std::move(core), std::move(options), std::move(call));
}

}  // namespace dpool::internal
