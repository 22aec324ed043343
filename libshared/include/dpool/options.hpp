// Settings for pools, tasks, coordinators and nodes. All are aggregates meant
// for designated initializers: dpool::Local{.processes = 4}.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <dpool/registry.hpp>
#include <string>
#include <vector>

namespace dpool {

// The largest frame (a task's arguments, a result, a message body) a socket
// accepts unless told otherwise; a peer that sends a larger one is
// disconnected. Give every machine of a cluster the same value.
inline constexpr std::size_t kDefaultMaxMessageBytes = std::size_t{1} << 30;  // 1 GiB

// A registered function with its arguments bound, run later somewhere else
// (for example as a pool's initializer). Made by dpool::bind.
struct Call {
  std::string name;
  std::uint64_t fingerprint = 0;
  std::string args;  // serialized argument tuple
  bool empty() const noexcept { return name.empty(); }
};

template <class F, class... A>
Call bind(F f, A&&... args);

// Local mode: an embedded coordinator and node in this process, executors
// spawned from this program (which must call dpool::init first in main).
struct Local {
  unsigned processes = 0;            // 0 = cpu_count()
  Call initializer{};                // runs once in each executor before its first task
  unsigned max_tasks_per_child = 0;  // 0 = executors live as long as the pool
  std::size_t max_in_flight = 0;     // tasks submitted but not finished; 0 = sized from memory
};

// Cluster mode: submit to a coordinator over the network.
struct Connect {
  std::string address;   // "tcp://head:5555"
  std::string key_file;  // CurveZMQ: a key directory or a client.key; empty: default_key_dir()
  std::chrono::milliseconds connect_timeout{10000};  // then ConnectionError
  std::size_t max_in_flight = 0;  // tasks submitted but not finished; 0 = sized from memory
  std::chrono::milliseconds heartbeat{1000};            // to the coordinator, this often
  std::chrono::milliseconds coordinator_timeout{5000};  // silence before we re-register
  std::chrono::milliseconds reconnect_grace{60000};     // then waits fail with ConnectionError
  // As in Local: they travel to every node that runs this pool's tasks.
  Call initializer{};  // runs once in each executor before its first task of this pool
  unsigned max_tasks_per_child = 0;  // replace an executor after this many tasks; 0 = never
  bool insecure = false;             // no CurveZMQ: only for a coordinator that runs --insecure
  std::size_t max_message_bytes = kDefaultMaxMessageBytes;  // larger arguments: SerializationError
  // Show what this pool's tasks and Processes print on their nodes, line by
  // line, on this program's stdout and stderr, each line prefixed with
  // "[node:pid] " (nodes started with forward_output, the default).
  bool forward_output = true;
};

// Per-call options, through pool.with(TaskOptions{...}).
struct TaskOptions {
  std::chrono::milliseconds timeout{0};  // 0 = none
  unsigned retries = 0;
  int priority = 0;             // higher runs first within this client's queue
  bool cancel_running = false;  // AsyncResult::cancel() may stop it while it runs
  // map, starmap, imap, imap_unordered (and their _async forms) show their
  // progress on stderr; DPOOL_PROGRESS=1 turns it on for every map.
  bool progress = false;
};

struct CoordinatorOptions {
  std::string bind;  // e.g. "tcp://127.0.0.1:5555"; "tcp://127.0.0.1:*" picks a free port;
                     // empty = in-process only
  std::string name = "coordinator";
  std::size_t max_queued = 10'000'000;  // tasks waiting for a node; more are refused (QueueFull)
  std::chrono::milliseconds heartbeat{1000};     // to each remote peer, this often
  std::chrono::milliseconds peer_timeout{5000};  // a node or client silent this long is dead
  unsigned node_loss_retries =
      3;  // re-runs of a task whose node was lost (unless TaskOptions::retries)
  // The Manager's objects and pool.queue items: at most this many bytes of
  // keys, values and items, and this many objects; more is refused (QueueFull).
  std::size_t manager_max_bytes = std::size_t{1} << 30;
  std::size_t manager_max_objects = 100'000;
  // Where the Manager's named objects are kept (SQLite, DIR/manager.db), so
  // that they survive a restart; empty: in memory only.
  std::string state_dir;
  // Security (docs/security.md). A bound coordinator uses CurveZMQ: its keys
  // and allow-lists are in `key_dir` (empty: default_key_dir(), where a key
  // set is made on first start). `insecure` serves in the clear instead.
  std::string key_dir;
  bool insecure = false;
  std::size_t max_message_bytes = kDefaultMaxMessageBytes;  // a larger frame drops its sender
  unsigned drop_after_refusals = 100;  // malformed or forbidden messages before a peer is dropped
  // An HTTP endpoint (docs/operations.md): a dashboard at /, Prometheus
  // metrics at /metrics, `dpool status --json` at /api/status. "HOST:PORT",
  // or "PORT" for 127.0.0.1:PORT; port 0 picks a free one
  // (Coordinator::http_url). Empty: none.
  std::string http;
  // What every HTTP request must carry (Authorization: Bearer TOKEN, or
  // ?token=TOKEN). Empty: none on a loopback address; on any other, the one
  // in `key_dir`/http.token, made on first start.
  std::string http_token;
  // Client keys (their names, as `dpool keygen --add client NAME` made them;
  // "client" is the default key set's) that may push task libraries to the
  // nodes (`dpool push`, dpool::push_library). Empty: nobody may. A
  // coordinator serving in the clear takes no pushes.
  std::vector<std::string> accept_push_from;
};

struct NodeOptions {
  std::string connect;                 // coordinator address (ignored when embedded)
  unsigned processes = 0;              // executors; 0 = cpu_count()
  std::string exec;                    // self-hosted: program to run as executor
  std::vector<std::string> exec_args;  // its arguments (argv[1..])
  std::vector<std::string> load;       // library mode: task libraries for dpool-executor
  std::string executor_host;           // path of dpool-executor; empty = next to this program
  std::string name;                    // node name in errors and logs; empty = host:pid
  Call initializer{};                  // runs once in each executor before its first task
  unsigned max_tasks_per_child = 0;    // replace an executor after this many tasks; 0 = never
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds heartbeat{1000};            // to the coordinator, this often
  std::chrono::milliseconds coordinator_timeout{5000};  // silence before we re-register
  std::chrono::milliseconds drain_grace{30000};         // SIGTERM: running tasks get this long
  std::string key_file;   // CurveZMQ: a key directory or a node.key; empty: default_key_dir()
  bool insecure = false;  // no CurveZMQ: only for a coordinator that runs --insecure
  std::size_t max_message_bytes = kDefaultMaxMessageBytes;  // larger results fail their task
  // What tasks and Processes print on stdout and stderr goes, line by line,
  // to the client that submitted them (shown there as "[node:pid] line"),
  // at most 1000 lines and 1 MiB a second per node; false: to this node's
  // own stdout and stderr. An embedded node (Node(coordinator, ...)) leaves
  // its executors on its process's terminal either way.
  bool forward_output = true;
  // Load the task libraries pushed to the cluster (`dpool push`) into the
  // executors and Processes it starts from then on; false: answer each push
  // that this node does not accept code.
  bool accept_code = false;
};

template <class F, class... A>
Call bind(F f, A&&... args) {
  using T = detail::FnTraits<F>;
  typename T::Args tuple(std::forward<A>(args)...);
  std::string name;
  if constexpr (std::is_pointer_v<F>) {
    auto* e = detail::Registry::instance().find_fn(reinterpret_cast<const void*>(f));
    if (!e)
      throw UnknownTask("dpool::bind: the function is not registered; add DPOOL_REGISTER(fn)");
    name = e->name;
  } else {
    name = f.name();
  }
  return Call{std::move(name), T::fingerprint(), detail::encode(tuple)};
}

}  // namespace dpool
