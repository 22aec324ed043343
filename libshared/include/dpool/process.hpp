// dpool::Process: multiprocessing.Process for registered functions. A
// Process made without a pool runs on this machine, as a new copy of this
// program (so main() must begin with dpool::init, as for a local pool); one
// made by pool.process runs on a node of the pool's cluster.
#pragma once

#include <chrono>
#include <dpool/async_result.hpp>
#include <dpool/connection.hpp>
#include <dpool/detail/arguments.hpp>
#include <dpool/export.hpp>
#include <dpool/options.hpp>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace dpool {

struct ProcessOptions {
  std::string name;     // empty: "Process-N", N counting this program's processes from 1
  bool daemon = false;  // killed when its Process is destroyed, or when this program dies
};

class Pool;
namespace detail {
class PoolCore;
}
namespace internal {
class ProcessState;
}

// Who a process is, as dpool::current_process() says.
class DPOOL_API ProcessIdentity {
 public:
  ProcessIdentity(std::string name, int pid) : name_(std::move(name)), pid_(pid) {}
  const std::string& name() const noexcept { return name_; }
  int pid() const noexcept { return pid_; }

 private:
  std::string name_;
  int pid_;
};

// One process that runs f(args...) once started. f is a registered function
// (DPOOL_REGISTER, or a Remote handle); its result is discarded, as in
// Python. The arguments are copied (serialized) when the Process is made;
// Connections among them travel as references to the same pipe end.
// Neither copied nor moved; its methods may be called from any thread.
//
// Exit codes, as Python reports them: 0 when f returned, 1 when f threw (its
// message goes to the process's stderr), n when it called exit(n), -N when a
// signal N killed it. A Process on a node that dpool lost track of (its node
// was lost, the coordinator forgot it, or its pool was destroyed first)
// reports -9 (SIGKILL): the node kills what it can no longer report, and
// the Process is never started a second time.
class DPOOL_API Process {
 public:
  template <class F, class... A>
  requires(!std::is_same_v<std::decay_t<F>, ProcessOptions>) explicit Process(F f, A&&... args)
      : Process(ProcessOptions{}, f, std::forward<A>(args)...) {}

  template <class F, class... A>
  Process(ProcessOptions options, F f, A&&... args) : Process(std::move(options), Prepared{}) {
    detail::FdCollector fds;  // Connections among the arguments travel as descriptors
    auto call = make_call(f, std::forward<A>(args)...);  // first: it fills `fds`
    set_call(std::move(call), fds.take());
  }

  // A running daemon process is killed; a running non-daemon process is
  // joined (this blocks until it ends).
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Starts it. Throws std::logic_error the second time, UnknownTask when f
  // is not registered, dpool::Error when it cannot start (no dpool::init in
  // main, or inside a pool's task: use pool.process there). On a node, it
  // returns once the node runs it (pid() and node() are then known) or it
  // ended; at once if the cluster has no node yet, and after 30 s at most
  // (it then runs when a node takes it; pid() is 0 and node() empty until
  // then). PoolClosed if its pool was closed.
  void start();
  // Waits until it ends. Throws std::logic_error before start().
  void join();
  // True if it ended within `timeout`.
  template <class Rep, class Period>
  bool join(std::chrono::duration<Rep, Period> timeout) {
    return join_for(detail::timeout_of(timeout));
  }
  bool is_alive();
  // Empty until it ends; see the exit codes above.
  std::optional<int> exitcode();
  int pid() const;  // 0 before start()
  std::string node() const;
  std::string name() const;
  bool daemon() const;
  void terminate();  // SIGTERM, while it runs
  void kill();       // SIGKILL, while it runs

 private:
  template <class F, class... A>
  static Call make_call(F f, A&&... args) {
    using C = detail::Callable<F>;
    using T = detail::FnTraits<C>;
    Call call;
    call.fingerprint = T::fingerprint();
    call.args = detail::encode_call<typename T::Args>(std::forward<A>(args)...);
    try {
      call.name = detail::task_name(C(f));
    } catch (const UnknownTask&) {
      // Reported by start(), where multiprocessing reports a bad target.
    }
    return call;
  }

  friend class Pool;
  // On a node of `core`'s cluster (Pool::process).
  Process(std::shared_ptr<detail::PoolCore> core, ProcessOptions options, Call call);

  struct Prepared {};
  Process(ProcessOptions options, Prepared);
  void set_call(Call call, std::vector<int> fds);
  bool join_for(std::chrono::steady_clock::duration timeout);

  std::unique_ptr<internal::ProcessState> state_;
};

// The process this code runs in: "MainProcess" in a program, the Process's
// name inside a Process, "Executor-<pid>" inside a pool's executor.
DPOOL_API ProcessIdentity current_process();

// This program's Processes that are running (finished ones are reaped). The
// pointers are valid while those Process objects live.
DPOOL_API std::vector<Process*> active_children();

}  // namespace dpool
