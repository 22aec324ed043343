// dpool::Process on this machine: the parent side (start, wait, signal).
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <dpool/process.hpp>
#include <dpool/registry.hpp>
#include <dpool/this_task.hpp>
#include <mutex>
#include <stdexcept>

#include "child_process.hpp"
#include "exec_channel.hpp"
#include "executor_loop.hpp"
#include "fd_io.hpp"
#include "init_state.hpp"
#include "process_start.hpp"

namespace dpool {
namespace internal {
namespace {

std::atomic<unsigned> g_process_counter{0};

std::mutex g_children_mu;
std::vector<Process*> g_children;  // started and not yet destroyed

std::string self_exe() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "/proc/self/exe";
}

std::string host_name() {
  char host[256] = "localhost";
  ::gethostname(host, sizeof host - 1);
  return host;
}

// Sends `bytes`, with `fds` attached to the first of them (SCM_RIGHTS).
bool send_with_fds(int fd, const std::string& bytes, const std::vector<int>& fds) {
  std::size_t sent = 0;
  if (!fds.empty()) {
    std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
    iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    ssize_t n;
    while ((n = ::sendmsg(fd, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
    }
    if (n <= 0) return false;
    sent = static_cast<std::size_t>(n);
  }
  return send_all(fd, std::string_view(bytes).substr(sent));
}

}  // namespace

class ProcessState {
 public:
  explicit ProcessState(ProcessOptions o) : options(std::move(o)) {
    if (options.name.empty()) options.name = "Process-" + std::to_string(++g_process_counter);
  }
  ~ProcessState() { close_fds(); }
  void close_fds() {
    for (int fd : fds) ::close(fd);
    fds.clear();
  }

  // The exit code if the process has ended (reaping it); lock held.
  std::optional<int> poll_exit() {
    if (!started || exitcode) return exitcode;
    if (auto status = child.try_reap()) {
      auto [sig, code] = *status;
      exitcode = sig ? -sig : code;
    }
    return exitcode;
  }

  std::mutex mu;
  ProcessOptions options;
  Call call;
  std::vector<int> fds;  // descriptors of Connection arguments, sent at start
  bool started = false;
  int pid = 0;  // kept after the process is reaped, as in multiprocessing
  ChildProcess child;
  std::optional<int> exitcode;
};

}  // namespace internal

Process::Process(ProcessOptions options, Prepared)
    : state_(std::make_unique<internal::ProcessState>(std::move(options))) {}

void Process::set_call(Call call, std::vector<int> fds) {
  state_->call = std::move(call);
  state_->fds = std::move(fds);
}

Process::~Process() {
  bool started;
  {
    std::lock_guard lock(internal::g_children_mu);
    std::erase(internal::g_children, this);
    std::lock_guard own(state_->mu);
    started = state_->started;
  }
  if (!started) return;
  if (state_->options.daemon) kill();
  join();
}

void Process::start() {
  auto& s = *state_;
  {
    std::lock_guard lock(s.mu);
    if (s.started)
      throw std::logic_error("Process::start() was called twice for " + s.options.name +
                             "; a process can be started once, as in multiprocessing");
    if (s.call.name.empty())
      throw UnknownTask("the function of " + s.options.name +
                        " is not registered as a task; add DPOOL_REGISTER(function_name) at "
                        "namespace scope next to its definition");
    // The child is a copy of this program: what this one has registered is
    // what it can run.
    auto* entry = detail::Registry::instance().find(s.call.name);
    if (!entry)
      throw UnknownTask("no task named '" + s.call.name + "' is registered in this program, so " +
                        s.options.name + " cannot run it; register it with DPOOL_REGISTER");
    if (entry->fingerprint != s.call.fingerprint)
      throw SignatureMismatch(s.options.name + " calls '" + s.call.name +
                              "' with other types than it is registered with (" + entry->signature +
                              ")");
    if (this_task::inside())
      throw Error(
          "a task cannot start a dpool::Process on its executor (pool executors are "
          "daemonic, as in multiprocessing); start it from the program, or use "
          "pool.process");
    internal::require_init("a dpool::Process");
    internal::SpawnSpec spec;
    spec.program = internal::self_exe();
    spec.argv.push_back(spec.program);
    auto& argv = internal::program_argv();
    for (std::size_t i = 1; i < argv.size(); ++i) spec.argv.push_back(argv[i]);
    spec.env = {{internal::kEnvProcessFd, std::to_string(internal::kChildFd)},
                {internal::kEnvParentPid, std::to_string(::getpid())}};
    spec.unset = {internal::kEnvExecutorFd, internal::kEnvNodeName};
    try {
      s.child = internal::ChildProcess::spawn(spec);
    } catch (const std::exception& e) {
      throw Error("could not start " + s.options.name + ": " + e.what());
    }
    internal::ProcessStart start{s.options.name, s.call.name, s.call.fingerprint, s.options.daemon,
                                 static_cast<std::uint32_t>(s.fds.size())};
    auto meta = internal::wire::encode_meta(start);
    std::string record(internal::kRecordHeaderBytes, '\0');
    internal::put_record_header(record.data(), internal::RecordKind::kRun, meta.size(),
                                s.call.args.size());
    record += meta;
    record += s.call.args;
    // A child that dies before reading this is reported by its exit code.
    internal::send_with_fds(s.child.socket(), record, s.fds);
    s.call.args.clear();
    s.call.args.shrink_to_fit();
    s.close_fds();  // the child has its own now
    s.pid = static_cast<int>(s.child.pid());
    s.started = true;
  }
  std::lock_guard lock(internal::g_children_mu);
  internal::g_children.push_back(this);
}

void Process::join() {
  join_for(std::chrono::steady_clock::duration::max());
}

bool Process::join_for(std::chrono::steady_clock::duration timeout) {
  auto& s = *state_;
  int fd;
  {
    std::lock_guard lock(s.mu);
    if (!s.started)
      throw std::logic_error("Process::join() before start() of " + s.options.name +
                             "; only a started process can be joined, as in multiprocessing");
    if (s.poll_exit()) return true;
    fd = s.child.has_pidfd() ? s.child.pidfd() : s.child.socket();
  }
  auto deadline = detail::deadline_after(timeout);
  for (;;) {
    // A pidfd turns readable when the process exits; without one, the end of
    // its socket (which it keeps open until it exits) says the same.
    pollfd p{fd, POLLIN, 0};
    int r = internal::poll_until(&p, 1, deadline);
    std::lock_guard lock(s.mu);
    if (s.poll_exit()) return true;
    if (r > 0 && !s.child.has_pidfd()) {
      // End of stream without a pidfd: it is exiting; wait for it to be gone.
      auto [sig, code] = s.child.reap();
      s.exitcode = sig ? -sig : code;
      return true;
    }
    if (r == 0 || std::chrono::steady_clock::now() >= deadline) return false;
  }
}

bool Process::is_alive() {
  std::lock_guard lock(state_->mu);
  return state_->started && !state_->poll_exit();
}

std::optional<int> Process::exitcode() {
  std::lock_guard lock(state_->mu);
  return state_->poll_exit();
}

int Process::pid() const {
  std::lock_guard lock(state_->mu);
  return state_->pid;
}

std::string Process::node() const {
  static const std::string host = internal::host_name();
  return host;
}

std::string Process::name() const {
  std::lock_guard lock(state_->mu);
  return state_->options.name;
}

bool Process::daemon() const {
  std::lock_guard lock(state_->mu);
  return state_->options.daemon;
}

void Process::terminate() {
  std::lock_guard lock(state_->mu);
  if (state_->started && !state_->poll_exit()) state_->child.signal(SIGTERM);
}

void Process::kill() {
  std::lock_guard lock(state_->mu);
  if (state_->started && !state_->poll_exit()) state_->child.signal(SIGKILL);
}

std::vector<Process*> active_children() {
  std::lock_guard lock(internal::g_children_mu);
  std::vector<Process*> alive;
  for (auto* p : internal::g_children)
    if (p->is_alive()) alive.push_back(p);
  return alive;
}

}  // namespace dpool
