// The child side of a local dpool::Process, and who the current process is.
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <dpool/connection.hpp>
#include <dpool/process.hpp>
#include <dpool/registry.hpp>
#include <mutex>

#include "exception_type.hpp"
#include "exec_channel.hpp"
#include "executor_loop.hpp"
#include "fd_io.hpp"
#include "process_calls.hpp"
#include "process_start.hpp"
#include "shm_tracker.hpp"

namespace dpool::internal {
namespace {

std::mutex g_name_mu;
std::string g_name = "MainProcess";

[[noreturn]] void die(const std::string& name, const std::string& why) {
  std::fprintf(stderr, "Process %s (pid %d): %s\n", name.c_str(), static_cast<int>(::getpid()),
               why.c_str());
  std::fflush(nullptr);
  shm_tracker_normal_end();  // it ended by our hand, not by a signal: its permits stay taken
  std::_Exit(1);
}

// Reads the one RUN record the parent writes first, and the descriptors
// that come with it.
Record read_start(int fd, std::vector<int>& fds) {
  RecordReader reader;
  for (;;) {
    auto r = reader.next();
    if (!r) die("?", "bad start record from the parent: " + r.error());
    if (*r) return std::move(**r);
    ssize_t n = recv_with_fds(fd, reader.buffer(), fds);
    if (n <= 0) std::_Exit(1);  // the parent went away before saying what to run
    reader.commit(static_cast<std::size_t>(n));
  }
}

}  // namespace

void set_current_process_name(std::string name) {
  std::lock_guard lock(g_name_mu);
  g_name = std::move(name);
}

void become_process_if_spawned() {
  const char* fd_text = std::getenv(kEnvProcessFd);
  if (!fd_text) return;
  int fd = std::atoi(fd_text);
  ::unsetenv(kEnvProcessFd);  // our own children are not this Process
  // Kept open until exit, so that the parent sees its end then; not inherited.
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  std::vector<int> fds;
  auto record = read_start(fd, fds);
  auto start = wire::decode_meta<ProcessStart>(record.meta);
  if (!start || record.kind != RecordKind::kRun) die("?", "bad start record from the parent");
  if (start->daemon) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a daemon process dies with its parent
    const char* parent = std::getenv(kEnvParentPid);
    if (parent && std::atoi(parent) != ::getppid()) std::_Exit(1);  // it died before prctl
  }
  ::unsetenv(kEnvParentPid);
  set_current_process_name(start->name);
  auto* entry = detail::Registry::instance().find(start->task);
  if (!entry)
    die(start->name, "no task named '" + start->task +
                         "' is registered in this program; register it with DPOOL_REGISTER");
  if (entry->fingerprint != start->fingerprint)
    die(start->name, "'" + start->task + "' is registered as " + entry->signature +
                         ", not as the Process was started with");
  if (fds.size() != start->fds + (start->calls ? 1 : 0))
    die(start->name, "expected " + std::to_string(start->fds + (start->calls ? 1 : 0)) +
                         " descriptors from the parent, got " + std::to_string(fds.size()));
  if (start->calls) {
    use_parent_channel(fds.back());
    fds.pop_back();
  }
  detail::FdTable table(std::move(fds));  // Connections among the arguments take them
  std::string out;
  try {
    entry->invoke(record.payload.view(), false, out);
  } catch (const std::exception& e) {
    die(start->name, current_exception_type() + ": " + e.what());
  } catch (...) {
    die(start->name, current_exception_type() + ": an exception not derived from std::exception");
  }
  std::fflush(nullptr);
  shm_tracker_normal_end();
  std::_Exit(0);
}

}  // namespace dpool::internal

namespace dpool {

ProcessIdentity current_process() {
  std::lock_guard lock(internal::g_name_mu);
  return ProcessIdentity(internal::g_name, static_cast<int>(::getpid()));
}

}  // namespace dpool
