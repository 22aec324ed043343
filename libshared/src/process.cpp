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
#include "process_calls.hpp"
#include "process_start.hpp"
#include "process_state.hpp"

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

// The base's checks, shared by both kinds.
ProcessState::ProcessState(ProcessOptions o) : options_(std::move(o)) {
  if (options_.name.empty()) options_.name = "Process-" + std::to_string(++g_process_counter);
}

void ProcessState::check_not_started() const {
  if (started_)
    throw std::logic_error("Process::start() was called twice for " + options_.name +
                           "; a process can be started once, as in multiprocessing");
}

void ProcessState::check_started(const char* what) const {
  if (!started_)
    throw std::logic_error(std::string("Process::") + what + " before start() of " + options_.name +
                           "; only a started process can be joined, as in "
                           "multiprocessing");
}

void ProcessState::check_registered(const Call& call) const {
  if (call.name.empty())
    throw UnknownTask("the function of " + options_.name +
                      " is not registered as a task; add DPOOL_REGISTER(function_name) at "
                      "namespace scope next to its definition");
}

namespace {

// A child of this program on this machine.
class LocalProcess final : public ProcessState {
 public:
  using ProcessState::ProcessState;
  ~LocalProcess() override { close_fds(); }

  void set_call(Call c, std::vector<int> f) {
    call_ = std::move(c);
    fds_ = std::move(f);
  }

  void start() override;
  bool join_for(std::chrono::steady_clock::duration timeout) override;
  std::optional<int> exitcode() override {
    std::lock_guard lock(mu_);
    return poll_exit();
  }
  int pid() override {
    std::lock_guard lock(mu_);
    return pid_;
  }
  std::string node() override {
    static const std::string host = host_name();
    return host;
  }
  void send_signal(int signal) override {
    std::lock_guard lock(mu_);
    if (started_ && !poll_exit()) child_.signal(signal);
  }

 private:
  void close_fds() {
    for (int fd : fds_) ::close(fd);
    fds_.clear();
  }
  // The exit code if the process has ended (reaping it); lock held.
  std::optional<int> poll_exit() {
    if (!started_ || exitcode_) return exitcode_;
    if (auto status = child_.try_reap()) {
      auto [sig, code] = *status;
      exitcode_ = sig ? -sig : code;
    }
    return exitcode_;
  }

  Call call_;
  std::vector<int> fds_;              // descriptors of Connection arguments, sent at start
  std::unique_ptr<CallRelay> relay_;  // the child's calls to this program's pool
  int pid_ = 0;                       // kept after the process is reaped, as in multiprocessing
  ChildProcess child_;
  std::optional<int> exitcode_;
};

void LocalProcess::start() {
  std::lock_guard lock(mu_);
  check_not_started();
  check_registered(call_);
  // The child is a copy of this program: what this one has registered is
  // what it can run.
  auto* entry = detail::Registry::instance().find(call_.name);
  if (!entry)
    throw UnknownTask("no task named '" + call_.name + "' is registered in this program, so " +
                      options_.name + " cannot run it; register it with DPOOL_REGISTER");
  if (entry->fingerprint != call_.fingerprint)
    throw SignatureMismatch(options_.name + " calls '" + call_.name +
                            "' with other types than it is registered with (" + entry->signature +
                            ")");
  if (this_task::inside())
    throw Error(
        "a task cannot start a dpool::Process on its executor (pool executors are "
        "daemonic, as in multiprocessing); start it from the program, or use "
        "pool.process");
  require_init("a dpool::Process");
  SpawnSpec spec;
  spec.program = self_exe();
  spec.argv.push_back(spec.program);
  auto& argv = program_argv();
  for (std::size_t i = 1; i < argv.size(); ++i) spec.argv.push_back(argv[i]);
  spec.env = {{kEnvProcessFd, std::to_string(kChildFd)},
              {kEnvParentPid, std::to_string(::getpid())}};
  spec.unset = {kEnvExecutorFd, kEnvNodeName};
  try {
    child_ = ChildProcess::spawn(spec);
  } catch (const std::exception& e) {
    throw Error("could not start " + options_.name + ": " + e.what());
  }
  ProcessStart start{options_.name, call_.name, call_.fingerprint, options_.daemon,
                     static_cast<std::uint32_t>(fds_.size())};
  // With a pool in this program, the child reaches it (this_task::manager(),
  // hosted handles) through us.
  if (auto pool = program_pool()) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
      relay_ = std::make_unique<CallRelay>(std::move(pool), sv[0]);
      fds_.push_back(sv[1]);  // closed below with the others, once sent
      start.calls = true;
    }
  }
  auto meta = wire::encode_meta(start);
  std::string record(kRecordHeaderBytes, '\0');
  put_record_header(record.data(), RecordKind::kRun, meta.size(), call_.args.size());
  record += meta;
  record += call_.args;
  // A child that dies before reading this is reported by its exit code.
  send_with_fds(child_.socket(), record, fds_);
  call_ = {};
  close_fds();  // the child has its own now
  pid_ = static_cast<int>(child_.pid());
  if (relay_) relay_->start(static_cast<std::uint32_t>(pid_));
  started_ = true;
}

bool LocalProcess::join_for(std::chrono::steady_clock::duration timeout) {
  int fd;
  {
    std::lock_guard lock(mu_);
    check_started("join()");
    if (poll_exit()) return true;
    fd = child_.has_pidfd() ? child_.pidfd() : child_.socket();
  }
  auto deadline = detail::deadline_after(timeout);
  for (;;) {
    // A pidfd turns readable when the process exits; without one, the end of
    // its socket (which it keeps open until it exits) says the same.
    pollfd p{fd, POLLIN, 0};
    int r = poll_until(&p, 1, deadline);
    std::lock_guard lock(mu_);
    if (poll_exit()) return true;
    if (r > 0 && !child_.has_pidfd()) {
      // End of stream without a pidfd: it is exiting; wait for it to be gone.
      auto [sig, code] = child_.reap();
      exitcode_ = sig ? -sig : code;
      return true;
    }
    if (r == 0 || std::chrono::steady_clock::now() >= deadline) return false;
  }
}

}  // namespace
}  // namespace internal

Process::Process(ProcessOptions options, Prepared)
    : state_(std::make_unique<internal::LocalProcess>(std::move(options))) {}

Process::Process(std::shared_ptr<detail::PoolCore> core, ProcessOptions options, Call call)
    : state_(internal::node_process(std::move(core), std::move(options), std::move(call))) {}

void Process::set_call(Call call, std::vector<int> fds) {
  static_cast<internal::LocalProcess&>(*state_).set_call(std::move(call), std::move(fds));
}

Process::~Process() {
  {
    std::lock_guard lock(internal::g_children_mu);
    std::erase(internal::g_children, this);
  }
  if (!state_->started()) return;
  if (state_->options().daemon) kill();
  join();
}

void Process::start() {
  state_->start();
  std::lock_guard lock(internal::g_children_mu);
  internal::g_children.push_back(this);
}

void Process::join() {
  join_for(std::chrono::steady_clock::duration::max());
}

bool Process::join_for(std::chrono::steady_clock::duration timeout) {
  return state_->join_for(timeout);
}

bool Process::is_alive() {
  return state_->started() && !state_->exitcode();
}

std::optional<int> Process::exitcode() {
  return state_->exitcode();
}

int Process::pid() const {
  return state_->pid();
}

std::string Process::node() const {
  return state_->node();
}

std::string Process::name() const {
  return state_->options().name;
}

bool Process::daemon() const {
  return state_->options().daemon;
}

void Process::terminate() {
  state_->send_signal(SIGTERM);
}

void Process::kill() {
  state_->send_signal(SIGKILL);
}

std::vector<Process*> active_children() {
  std::lock_guard lock(internal::g_children_mu);
  std::vector<Process*> alive;
  for (auto* p : internal::g_children)
    if (p->is_alive()) alive.push_back(p);
  return alive;
}

}  // namespace dpool
