// Knowing that tasks are running, without sleeping: tasks that run
// test_tasks::started_then_sleep(path, ms) write their executor's pid to the
// FIFO at `path` when they start, and the test waits for those records.
// Header-only and POSIX-only, so tests that link the public library alone can
// use it. Works across processes on one machine (cluster nodes included).
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace test_support {

class TaskStarts {
 public:
  TaskStarts() {
    static int counter = 0;
    path_ = (std::filesystem::temp_directory_path() /
             ("dpool-started-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) +
              "-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count())))
                .string();
    if (::mkfifo(path_.c_str(), 0600) != 0)
      throw std::system_error(errno, std::generic_category(), "mkfifo " + path_);
    // Read and write: this end never sees end-of-file, and a task's open for
    // writing never blocks, however many tasks come and go. (Linux defines
    // O_RDWR on a FIFO.) Executors spawned later must not inherit it.
    fd_ = ::open(path_.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0) {
      int e = errno;
      ::unlink(path_.c_str());
      throw std::system_error(e, std::generic_category(), "open " + path_);
    }
  }
  ~TaskStarts() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  TaskStarts(const TaskStarts&) = delete;
  TaskStarts& operator=(const TaskStarts&) = delete;

  // The argument for started_then_sleep.
  const std::string& path() const { return path_; }

  // Waits until `n` more tasks have announced their start and returns their
  // executors' pids, in the order they started; fewer if `timeout` passes
  // first (the timeout only bounds a failure).
  std::vector<int> wait(std::size_t n, std::chrono::milliseconds timeout) {
    std::vector<int> pids;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pids.size() < n) {
      // Every record is 4 bytes, written at once (a FIFO keeps writes of up to
      // PIPE_BUF bytes whole), so records never interleave.
      std::int32_t pid = 0;
      ssize_t got = ::read(fd_, &pid, sizeof pid);
      if (got == static_cast<ssize_t>(sizeof pid)) {
        pids.push_back(pid);
        continue;
      }
      if (got >= 0) throw std::runtime_error("a short record on " + path_);
      if (errno == EINTR) continue;
      if (errno != EAGAIN) throw std::system_error(errno, std::generic_category(), "read");
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(left.count()) + 1);
      if (r < 0 && errno != EINTR) throw std::system_error(errno, std::generic_category(), "poll");
    }
    return pids;
  }

  // Records that have arrived and not been read yet, without waiting.
  std::vector<int> pending() { return wait(~std::size_t{0}, std::chrono::milliseconds(0)); }

 private:
  std::string path_;
  int fd_ = -1;
};

// A gate a running task waits at until the test opens it: the task opens
// the FIFO at path() for reading, which blocks until the test's open() opens
// it for writing and closes it again (the task then reads end-of-file).
// The task's side of TaskStarts: writes one 4-byte record (by default the
// calling process's pid) to the FIFO at `path`. Never blocks: without a
// reader the open fails and the announcement is skipped.
inline void announce_start(const std::string& path,
                           std::int32_t value = static_cast<std::int32_t>(::getpid())) {
  int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t written = ::write(fd, &value, sizeof value);  // atomic: under PIPE_BUF
  (void)written;
  ::close(fd);
}

class TaskGate {
 public:
  TaskGate() {
    static int counter = 0;
    path_ = (std::filesystem::temp_directory_path() /
             ("dpool-gate-" + std::to_string(::getpid()) + "-" + std::to_string(++counter)))
                .string();
    ::unlink(path_.c_str());
    if (::mkfifo(path_.c_str(), 0600) != 0)
      throw std::system_error(errno, std::generic_category(), "mkfifo " + path_);
  }
  ~TaskGate() { ::unlink(path_.c_str()); }
  TaskGate(const TaskGate&) = delete;
  TaskGate& operator=(const TaskGate&) = delete;

  const std::string& path() const { return path_; }

  // Lets the waiting task go on; blocks until a task waits at the gate.
  void open() {
    int fd = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + path_);
    ::close(fd);
  }

 private:
  std::string path_;
};

}  // namespace test_support
