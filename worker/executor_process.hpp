// One executor process and its end of the socketpair. Destroying it kills and
// reaps the process, so an unwinding node leaves neither zombies nor orphans.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace dpool::internal {

struct SpawnSpec {
  std::string program;
  std::vector<std::string> argv;  // argv[0] included
  std::string node_name;
};

class ExecutorProcess {
 public:
  ExecutorProcess() = default;
  // Starts `spec.program` with the child's socket end as an inherited fd.
  // Throws std::system_error if the process cannot be started.
  static ExecutorProcess spawn(const SpawnSpec& spec);
  ExecutorProcess(ExecutorProcess&& other) noexcept;
  ExecutorProcess& operator=(ExecutorProcess&& other) noexcept;
  ~ExecutorProcess();

  pid_t pid() const noexcept { return pid_; }
  // The parent's end of the socketpair and a pidfd; ownership passes to the caller.
  int release_socket() noexcept;
  int release_pidfd() noexcept;
  // False when pidfd_open failed or DPOOL_NO_PIDFD is set.
  bool has_pidfd() const noexcept { return pidfd_ >= 0; }
  void kill() noexcept;
  // Reaps the exited process: {signal, exit_code} (signal 0 if it exited).
  std::pair<int, int> reap() noexcept;
  // As reap(), if the process has exited; nullopt while it runs.
  std::optional<std::pair<int, int>> try_reap() noexcept;

 private:
  pid_t pid_ = -1;  // -1 once reaped: a reaped pid may already belong to a stranger
  int socket_ = -1;
  int pidfd_ = -1;
};
static_assert(std::is_nothrow_move_constructible_v<ExecutorProcess>);

}  // namespace dpool::internal
