// A child process of this one, started with posix_spawn (never a bare fork
// of a process that holds a ZeroMQ context) with one end of a socketpair as
// its fd 3 and the environment that tells it what it is: a node's executor,
// or a local dpool::Process. Destroying it kills and reaps the process, so an
// unwinding parent leaves neither zombies nor orphans.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace dpool::internal {

// The fd at which the child finds its end of the socketpair.
inline constexpr int kChildFd = 3;

struct SpawnSpec {
  std::string program;
  std::vector<std::string> argv;  // argv[0] included
  // Set in the child; an inherited variable of the same name is replaced.
  std::vector<std::pair<std::string, std::string>> env;
  // Inherited variables the child must not see (the markers of other roles).
  std::vector<std::string> unset;
  // Signals the child starts with blocked (none by default), so that it can
  // ignore them before one can kill it.
  std::vector<int> blocked;
};

class ChildProcess {
 public:
  ChildProcess() = default;
  // Starts `spec.program` with the child's socket end at kChildFd, a signal
  // mask of `spec.blocked` only and default dispositions for SIGPIPE, SIGTERM, SIGINT and
  // SIGCHLD. Throws std::system_error if the process cannot be started.
  static ChildProcess spawn(const SpawnSpec& spec);
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ~ChildProcess();

  pid_t pid() const noexcept { return pid_; }
  // The parent's end of the socketpair, and a pidfd (or -1, see has_pidfd).
  int socket() const noexcept { return socket_; }
  int pidfd() const noexcept { return pidfd_; }
  // Ownership of those passes to the caller.
  int release_socket() noexcept;
  int release_pidfd() noexcept;
  // False when pidfd_open failed or DPOOL_NO_PIDFD is set.
  bool has_pidfd() const noexcept { return pidfd_ >= 0; }
  void kill() noexcept;
  // Sends `signal` while the process has not been reaped; never to a pid
  // that may already belong to another process.
  void signal(int signal) noexcept;
  // Reaps the exited process: {signal, exit_code} (signal 0 if it exited).
  std::pair<int, int> reap() noexcept;
  // As reap(), if the process has exited; nullopt while it runs.
  std::optional<std::pair<int, int>> try_reap() noexcept;
  // Forgets the process without killing it (it was reaped elsewhere, or is
  // meant to outlive this handle).
  void release() noexcept { pid_ = -1; }

 private:
  pid_t pid_ = -1;  // -1 once reaped: a reaped pid may already belong to a stranger
  int socket_ = -1;
  int pidfd_ = -1;
};
static_assert(std::is_nothrow_move_constructible_v<ChildProcess>);

}  // namespace dpool::internal
