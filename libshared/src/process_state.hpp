// What a dpool::Process is behind its public face: a child of this program
// on this machine (LocalProcess, process.cpp) or a Process that a node of a
// pool's cluster runs (NodeProcess, node_process.cpp). Process forwards its
// calls here; every method may be called from any thread.
#pragma once

#include <chrono>
#include <dpool/pool.hpp>
#include <dpool/process.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace dpool::internal {

class ProcessState {
 public:
  explicit ProcessState(ProcessOptions options);
  virtual ~ProcessState() = default;

  // Starts it (std::logic_error the second time; the checks of
  // Process::start). Returns once it runs, or has ended.
  virtual void start() = 0;
  // True once it has ended within `timeout`. std::logic_error before start().
  virtual bool join_for(std::chrono::steady_clock::duration timeout) = 0;
  virtual std::optional<int> exitcode() = 0;  // reaps it when it has ended
  virtual int pid() = 0;
  virtual std::string node() = 0;
  // Sends `signal` while it runs.
  virtual void send_signal(int signal) = 0;

  bool started() {
    std::lock_guard lock(mu_);
    return started_;
  }
  const ProcessOptions& options() const noexcept { return options_; }

 protected:
  // Under mu_: throws std::logic_error if it was started already.
  void check_not_started() const;
  // Under mu_: throws std::logic_error if it was not started.
  void check_started(const char* what) const;
  // Throws UnknownTask when f was not found in the registry when the
  // Process was made.
  void check_registered(const Call& call) const;

  mutable std::mutex mu_;
  ProcessOptions options_;
  bool started_ = false;
};

// A Process run by a node of `core`'s cluster, with `call` as its function.
std::unique_ptr<ProcessState> node_process(std::shared_ptr<detail::PoolCore> core,
                                           ProcessOptions options, Call call);

}  // namespace dpool::internal
