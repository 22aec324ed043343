#include "processes.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <stdexcept>

extern char** environ;

namespace test_support {
namespace {
using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}
}  // namespace

Child::Child(std::vector<std::string> argv, bool merge_stderr, bool own_group) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  if (merge_stderr) posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  if (own_group) {
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
  }
  int rc = ::posix_spawn(&pid_, args[0], &actions, &attr, args.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    throw std::runtime_error("cannot start " + argv[0]);
  }
  out_fd_ = fds[0];
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
}

Child::~Child() {
  if (!reaped_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status;
    ::waitpid(pid_, &status, 0);
  }
  if (out_fd_ >= 0) ::close(out_fd_);
  if (pidfd_ >= 0) ::close(pidfd_);
}

std::string Child::wait_line(const std::string& needle, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto pos = output_.find(needle, scanned_);
    if (pos != std::string::npos) {
      auto start = output_.rfind('\n', pos);
      start = start == std::string::npos ? 0 : start + 1;
      auto end = output_.find('\n', pos);
      if (end != std::string::npos) {
        scanned_ = end + 1;
        return output_.substr(start, end - start);
      }
    }
    pollfd p{out_fd_, POLLIN, 0};
    int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n == 0)
      throw std::runtime_error("no line with '" + needle + "' in time; output:\n" + output_);
    char buf[4096];
    ssize_t r = ::read(out_fd_, buf, sizeof buf);
    if (r == 0)
      throw std::runtime_error("output ended without '" + needle + "'; output:\n" + output_);
    if (r > 0) output_.append(buf, static_cast<std::size_t>(r));
  }
}

void Child::signal(int sig) {
  ::kill(pid_, sig);
}

void Child::signal_group(int sig) {
  ::kill(-pid_, sig);
}

int Child::wait_exit(std::chrono::milliseconds timeout) {
  pollfd p{pidfd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return -1;
  int status = 0;
  ::waitpid(pid_, &status, 0);
  reaped_ = true;
  return status;
}

bool wait_gone(int pid, std::chrono::milliseconds timeout) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return errno == ESRCH;
  pollfd p{fd, POLLIN, 0};
  int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
  ::close(fd);
  return n > 0;
}

namespace {
std::vector<std::string> joined(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
}  // namespace

// The start-up bounds only bound a failure: a coordinator or worker under the
// sanitizers, on a loaded machine, once took more than 10 s to start.
Coordinator::Coordinator(std::vector<std::string> extra, std::string bind)
    : process(joined({DPOOL_BIN, "coordinator", "--bind", bind, "--log", "info"}, extra)) {
  auto line = process.wait_line("listening on", std::chrono::seconds(30));
  address = line.substr(line.find("tcp://"));
}

Worker::Worker(const std::string& address, const std::string& mode, int procs,
               const std::string& name, std::vector<std::string> extra)
    : process(joined(
          {DPOOL_BIN, "worker", "--connect", address, "--procs", std::to_string(procs), "--name",
           name, "--log", "warn", mode, mode == "--exec" ? TEST_TASK_HOST : TEST_TASK_LIB},
          extra)) {
  process.wait_line("connected", std::chrono::seconds(30));
}

}  // namespace test_support

namespace test_support {
Run run_to_end(std::vector<std::string> argv, std::chrono::milliseconds limit) {
  Child child(std::move(argv));
  try {
    child.wait_line("\x01never printed", limit);  // reads until the output ends
  } catch (const std::runtime_error& e) {
    if (!std::string(e.what()).starts_with("output ended")) throw;
  }
  int status = child.wait_exit(limit);
  return {status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1, child.output()};
}

std::vector<int> children_of(int pid) {
  std::vector<int> pids;
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  for (auto& t : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(t.path() / "children");
    int c;
    while (in >> c) pids.push_back(c);
  }
  return pids;
}
}  // namespace test_support
