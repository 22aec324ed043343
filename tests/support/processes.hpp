// Real child processes for integration tests: `dpool coordinator`, `dpool
// worker`, and programs whose exit the tests wait on. Waiting is on events
// (a line on the child's stdout, a pidfd turning readable); timeouts only
// bound a failure.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace test_support {

class Child {
 public:
  // Starts `argv` with stdout (and stderr, if merge) captured; with
  // `own_group`, as the leader of a new process group, as a shell starts a job.
  explicit Child(std::vector<std::string> argv, bool merge_stderr = true, bool own_group = false);
  ~Child();  // SIGKILL and reap if still running
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  int pid() const { return pid_; }
  // Reads output until a line containing `needle` arrives; returns that line.
  // Throws std::runtime_error with everything read so far after `timeout`.
  std::string wait_line(const std::string& needle, std::chrono::milliseconds timeout);
  void signal(int sig);
  // Signals the child's whole process group, as Ctrl-C in a terminal does.
  void signal_group(int sig);
  // Waits for exit; returns the raw wait status, or -1 on timeout.
  int wait_exit(std::chrono::milliseconds timeout);
  const std::string& output() const { return output_; }

 private:
  int pid_ = -1;
  int out_fd_ = -1;
  int pidfd_ = -1;
  bool reaped_ = false;
  std::string output_;
  std::size_t scanned_ = 0;
};

// Waits until process `pid` (any process, not only a child) has exited.
bool wait_gone(int pid, std::chrono::milliseconds timeout);

// A program run to its end: its exit code (-1 if it did not exit within the
// limit, or died of a signal) and its output, stdout and stderr together.
struct Run {
  int code = -1;
  std::string output;
};
Run run_to_end(std::vector<std::string> argv, std::chrono::milliseconds limit);

// A coordinator on `bind` (default: an ephemeral loopback port).
struct Coordinator {
  Child process;
  std::string address;
  explicit Coordinator(std::vector<std::string> extra = {}, std::string bind = "tcp://127.0.0.1:*");
};

// A worker node connected to `address`. mode: "--exec" or "--load".
struct Worker {
  Child process;
  Worker(const std::string& address, const std::string& mode, int procs, const std::string& name,
         std::vector<std::string> extra = {});
};

// The pids of a process's children (a node daemon's executors).
std::vector<int> children_of(int pid);

}  // namespace test_support
