#include "child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <system_error>
#include <utility>

extern char** environ;

namespace dpool::internal {
namespace {

[[noreturn]] void fail(const char* what, int err) {
  throw std::system_error(err, std::generic_category(), what);
}
}  // namespace

ChildProcess ChildProcess::spawn(const SpawnSpec& spec) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) fail("socketpair", errno);
  if (sv[1] == kChildFd) {  // dup2(3, 3) would keep close-on-exec set
    int moved = ::fcntl(sv[1], F_DUPFD_CLOEXEC, kChildFd + 1);
    ::close(sv[1]);
    sv[1] = moved;
  }
  std::vector<std::string> env_strings;
  auto dropped = [&](std::string_view kv) {
    auto name = kv.substr(0, kv.find('='));
    for (auto& [k, v] : spec.env)
      if (name == k) return true;
    for (auto& k : spec.unset)
      if (name == k) return true;
    return false;
  };
  for (char** e = environ; *e; ++e)
    if (!dropped(*e)) env_strings.emplace_back(*e);
  for (auto& [k, v] : spec.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, argv;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = spec.argv;
  if (args.empty()) args.push_back(spec.program);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, sv[1], kChildFd);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t mask;
  sigemptyset(&mask);
  for (int sig : spec.blocked) sigaddset(&mask, sig);
  posix_spawnattr_setsigmask(&attr, &mask);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGCHLD);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, spec.program.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(sv[1]);
  if (rc != 0) {
    ::close(sv[0]);
    fail(("cannot start " + spec.program).c_str(), rc);
  }
  ChildProcess p;
  p.pid_ = pid;
  p.socket_ = sv[0];
  // Without pidfds (valgrind, old kernels or seccomp profiles) the parent
  // watches the child through its socket instead; see has_pidfd().
  if (!std::getenv("DPOOL_NO_PIDFD"))
    p.pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  return p;
}

ChildProcess::ChildProcess(ChildProcess&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)),
      socket_(std::exchange(o.socket_, -1)),
      pidfd_(std::exchange(o.pidfd_, -1)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& o) noexcept {
  if (this != &o) {
    this->~ChildProcess();
    new (this) ChildProcess(std::move(o));
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  if (socket_ >= 0) ::close(socket_);
  if (pidfd_ >= 0) ::close(pidfd_);
  if (pid_ > 0) {
    kill();
    reap();
  }
}

int ChildProcess::release_socket() noexcept {
  return std::exchange(socket_, -1);
}
int ChildProcess::release_pidfd() noexcept {
  return std::exchange(pidfd_, -1);
}

void ChildProcess::kill() noexcept {
  signal(SIGKILL);
}

void ChildProcess::signal(int sig) noexcept {
  if (pid_ > 0) ::kill(pid_, sig);
}

namespace {
std::pair<int, int> decode_status(int status) {
  if (WIFSIGNALED(status)) return {WTERMSIG(status), -1};
  return {0, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}
}  // namespace

std::pair<int, int> ChildProcess::reap() noexcept {
  if (pid_ <= 0) return {0, 0};
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return decode_status(status);
}

std::optional<std::pair<int, int>> ChildProcess::try_reap() noexcept {
  if (pid_ <= 0) return std::nullopt;
  int status = 0;
  pid_t r;
  while ((r = ::waitpid(pid_, &status, WNOHANG)) < 0 && errno == EINTR) {
  }
  if (r == 0) return std::nullopt;
  pid_ = -1;
  return decode_status(status);
}

}  // namespace dpool::internal
