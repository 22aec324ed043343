// The wire protocol: every message that crosses a ZeroMQ socket or an
// in-process link, in one table. A message on a socket is
//   frame 0  header: magic u32, protocol version u16, kind u16 (little-endian)
//   frame 1  body: the kind's struct, in dpool's codec (cereal's portable
//            binary layout)
//   frame 2+ payloads: one per task, result or request of a batch
// Each body struct names its kind (number on the wire, name in logs, who may
// send it) in `kKind` and lists its fields in `serialize`; `Body` lists every
// struct. Adding a kind is one struct here plus its place in `Body`, and one
// `on(...)` handler in each peer that receives it (see `dispatch`).
// Decoding treats every byte as hostile: bad input is a DecodeError value,
// never an exception or an unbounded allocation.
#pragma once

#include <cstdint>
#include <dpool/async_result.hpp>
#include <dpool/detail/codec.hpp>
#include <string>
#include <tl/expected.hpp>
#include <variant>
#include <vector>

#include "payload.hpp"

namespace dpool::internal::wire {

constexpr std::uint32_t kMagic = 0x4c4f5044;  // "DPOL"
constexpr std::uint16_t kVersion = 7;
constexpr std::size_t kHeaderBytes = 8;
constexpr std::size_t kMaxBodyBytes = 256u << 20;
constexpr std::uint32_t kMaxBatch = 1u << 20;  // tasks, results or requests in one message
constexpr std::uint32_t kMaxName = 1024;       // names of tasks, nodes, clients
constexpr std::uint32_t kMaxText = 16u << 20;  // error messages, reasons

// Wire-only failure codes, beside the public ErrorCode values (which they
// must never reuse): a peer never shows these to a user.
inline constexpr auto kBadMessage = static_cast<ErrorCode>(4);  // malformed frame: dropped
inline constexpr auto kReturned =
    static_cast<ErrorCode>(13);  // node -> coordinator: handed back unstarted; requeued
// Node -> coordinator -> client: a Process task began (Result::node and
// ::pid say where); its final result follows. Wire-only codes from 256 up.
inline constexpr auto kStarted = static_cast<ErrorCode>(256);

enum class Role : std::uint8_t { kClient = 1, kNode = 2 };

// Who may send a kind, as a mask.
enum Sender : std::uint8_t { kByClient = 1, kByNode = 2, kByCoordinator = 4 };
constexpr std::uint8_t sender_bit(Role r) {
  return r == Role::kClient ? kByClient : kByNode;
}

struct KindInfo {
  std::uint16_t number;  // on the wire: append, never renumber
  const char* name;
  std::uint8_t senders;  // Sender mask
};

// Field helpers: strings and lists carry a u32 count that is checked against
// a bound and against the bytes left before anything is allocated.
template <class Ar>
void check_count(Ar& ar, std::uint32_t n, std::uint32_t max, const char* what) {
  if constexpr (Ar::is_loading::value)
    // Every element takes at least one byte, so a count above what is left is a lie.
    if (n > max || n > ar.remaining())
      throw std::length_error(std::string(what) + " of " + std::to_string(n) + " is implausible");
}
template <class Ar>
void text(Ar& ar, std::string& s, std::uint32_t max) {
  auto n = static_cast<std::uint32_t>(s.size());
  ar(n);
  if constexpr (Ar::is_loading::value) {
    check_count(ar, n, max, "a string");
    s.resize(n);
  }
  if (n) ar(cereal::binary_data(s.data(), n));
}
template <class Ar, class T>
void list(Ar& ar, std::vector<T>& v, std::uint32_t max) {
  auto n = static_cast<std::uint32_t>(v.size());
  ar(n);
  if constexpr (Ar::is_loading::value) {
    check_count(ar, n, max, "a list");
    v.resize(n);
  }
  for (auto& x : v) ar(x);
}
template <class Ar, class E>
void enumeration(Ar& ar, E& e) {
  auto v = static_cast<std::underlying_type_t<E>>(e);
  ar(v);
  e = static_cast<E>(v);
}
template <class Ar>
void failure(Ar& ar, detail::Failure& f) {
  enumeration(ar, f.code);
  text(ar, f.type, kMaxName);
  text(ar, f.message, kMaxText);
  ar(f.signal, f.exit_code);
}

// ---- parts of messages -----------------------------------------------------

// What a pool asks of the executors that run its tasks. A client sends it in
// its HELLO (key 0); the coordinator numbers it and sends it to a node with
// the first tasks of that pool the node gets (Dispatch::pools).
struct PoolSettings {
  std::uint64_t key = 0;  // the coordinator's, random; tasks name it in Task::pool
  std::string init_name;  // initializer: a registered function, run once per executor
  std::uint64_t init_fingerprint = 0;
  std::string init_args;  // its serialized argument tuple
  std::uint32_t max_tasks_per_child = 0;
  bool empty() const noexcept { return init_name.empty() && max_tasks_per_child == 0; }
  template <class Ar>
  void serialize(Ar& ar) {
    ar(key);
    text(ar, init_name, kMaxName);
    ar(init_fingerprint);
    text(ar, init_args, kMaxText);
    ar(max_tasks_per_child);
  }
};

struct Task {
  std::uint64_t id = 0;  // the sender's id; the coordinator renumbers for nodes
  std::string name;
  std::uint64_t fingerprint = 0;
  bool chunk = false;
  std::uint32_t attempt = 0;
  std::uint32_t timeout_ms = 0;
  std::uint32_t retries = 0;
  std::int32_t priority = 0;
  std::uint64_t pool = 0;  // PoolSettings::key, 0 = the node's own settings
  // Non-empty: a Process of this name (pool.process). It runs in a process
  // of its own outside the pool's executors, reports kStarted, ends with its
  // exit status, and is never run a second time.
  std::string process;
  template <class Ar>
  void serialize(Ar& ar) {
    ar(id);
    text(ar, name, kMaxName);
    ar(fingerprint, chunk, attempt, timeout_ms, retries, priority, pool);
    text(ar, process, kMaxName);
  }
};

struct Result {
  std::uint64_t id = 0;
  detail::Failure failure;
  std::string node;
  std::uint32_t pid = 0;
  std::uint32_t attempts = 0;
  std::int64_t started_us = 0, finished_us = 0;  // system clock, microseconds since epoch
  template <class Ar>
  void serialize(Ar& ar) {
    ar(id);
    wire::failure(ar, failure);
    text(ar, node, kMaxName);
    ar(pid, attempts, started_us, finished_us);
  }
};

// A call to the coordinator made by a running task (forwarded by its node,
// which fills in `task` and `pid`) or by a client. Its payload holds the
// call's argument bytes.
struct Request {
  std::uint64_t id = 0;    // the sender's; the reply names it
  std::uint32_t op = 0;    // which call (calls.hpp)
  std::uint64_t task = 0;  // the coordinator's id of the calling task; 0 for a client
  std::uint32_t pid = 0;   // the calling executor's pid (0 for a client)
  template <class Ar>
  void serialize(Ar& ar) {
    ar(id, op, task, pid);
  }
};

// The answer to a Request; its payload holds the answer's bytes when the
// call succeeded (failure.code == kNone).
struct Reply {
  std::uint64_t id = 0;
  detail::Failure failure;
  template <class Ar>
  void serialize(Ar& ar) {
    ar(id);
    wire::failure(ar, failure);
  }
};

// Text that a task or Process wrote on its stdout or stderr: an entry of
// OUTPUT, and the meta of an executor's OUTPUT record (where it is the raw
// bytes, not yet cut into lines).
struct Lines {
  std::uint64_t task = 0;     // the coordinator's id from a node, the client's to a client; 0: none
  std::uint32_t pid = 0;      // the process that wrote it
  std::uint8_t stream = 1;    // 1: stdout, 2: stderr
  std::string text;           // whole lines, each ending in '\n'
  std::uint32_t dropped = 0;  // lines the rate limit left out before these
  template <class Ar>
  void serialize(Ar& ar) {
    ar(task, pid, stream);
    wire::text(ar, text, kMaxText);
    ar(dropped);
  }
};

// ---- the message kinds -----------------------------------------------------

struct Hello {  // who I am
  static constexpr KindInfo kKind{1, "HELLO", kByClient | kByNode};
  Role role = Role::kClient;
  std::string name;
  std::uint32_t pid = 0;
  std::uint32_t executors = 0;  // node: executor processes
  std::uint32_t slots = 0;      // node: tasks it accepts at once (credit)
  std::uint64_t instance = 0;   // random per peer process start
  PoolSettings pool;            // client: its pool's executor settings
  bool output = false;          // client: send me what my tasks print (OUTPUT)
  template <class Ar>
  void serialize(Ar& ar) {
    enumeration(ar, role);
    text(ar, name, kMaxName);
    ar(pid, executors, slots, instance, pool, output);
  }
};

struct Welcome {  // accepted
  static constexpr KindInfo kKind{2, "WELCOME", kByCoordinator};
  std::uint64_t instance = 0;  // coordinator's, random per start
  std::string name;
  std::uint32_t executors = 0;
  std::uint32_t heartbeat_ms = 0;  // peers send at least this often (0: in-process, none)
  template <class Ar>
  void serialize(Ar& ar) {
    ar(instance);
    text(ar, name, kMaxName);
    ar(executors, heartbeat_ms);
  }
};

struct Reject {  // refused, and why; its body is the same in every protocol version
  static constexpr KindInfo kKind{3, "REJECT", kByCoordinator};
  std::string reason;
  template <class Ar>
  void serialize(Ar& ar) {
    text(ar, reason, kMaxText);
  }
};

// Tasks: payload i holds the arguments of tasks[i]. A DISPATCH carries the
// settings of each pool whose tasks the node has not seen yet.
struct TaskBatch {
  std::vector<Task> tasks;
  std::vector<PoolSettings> pools;
  std::size_t payload_count() const noexcept { return tasks.size(); }
  template <class Ar>
  void serialize(Ar& ar) {
    list(ar, tasks, kMaxBatch);
    list(ar, pools, kMaxBatch);
  }
};
struct Submit : TaskBatch {  // client -> coordinator
  static constexpr KindInfo kKind{4, "SUBMIT", kByClient};
};
struct Dispatch : TaskBatch {  // coordinator -> node
  static constexpr KindInfo kKind{5, "DISPATCH", kByCoordinator};
  std::uint64_t seq = 0;  // numbers the DISPATCHes to one node from 1 (see Heartbeat)
  template <class Ar>
  void serialize(Ar& ar) {
    TaskBatch::serialize(ar);
    ar(seq);
  }
};

// Results: payload i holds the serialized result of results[i] (empty when
// it failed).
struct ResultBatch {
  std::vector<Result> results;
  std::size_t payload_count() const noexcept { return results.size(); }
  template <class Ar>
  void serialize(Ar& ar) {
    list(ar, results, kMaxBatch);
  }
};
struct Results : ResultBatch {  // node -> coordinator
  static constexpr KindInfo kKind{6, "RESULT", kByNode};
};
struct Deliver : ResultBatch {  // coordinator -> client
  static constexpr KindInfo kKind{7, "DELIVER", kByCoordinator};
};

// Client -> coordinator: cancel these tasks (the client's ids); a non-zero
// `request` asks for an answer. Coordinator -> client: the answer to
// `request`, listing the ids that could not be cancelled (running, or done).
// Coordinator -> node: stop these tasks (the coordinator's ids).
struct Cancel {
  static constexpr KindInfo kKind{8, "CANCEL", kByClient | kByCoordinator};
  std::uint64_t request = 0;
  std::vector<std::uint64_t> ids;
  bool all = false;           // every task of the sender (client) / of that client (node)
  bool kill_running = false;  // also stop tasks already running
  template <class Ar>
  void serialize(Ar& ar) {
    ar(request);
    list(ar, ids, kMaxBatch);
    ar(all, kill_running);
  }
};

struct Credit {  // node -> coordinator: my capacity
  static constexpr KindInfo kKind{9, "CREDIT", kByNode};
  std::uint32_t slots = 0;
  std::uint32_t executors = 0;
  template <class Ar>
  void serialize(Ar& ar) {
    ar(slots, executors);
  }
};

struct Heartbeat {
  static constexpr KindInfo kKind{10, "HEARTBEAT", kByClient | kByNode | kByCoordinator};
  // From a node: the coordinator's ids of every task and Process it holds
  // (queued or running), what keeps them assigned to it, and the last
  // DISPATCH it received (Dispatch::seq). Empty and 0 otherwise.
  std::vector<std::uint64_t> holding;
  std::uint64_t received = 0;
  template <class Ar>
  void serialize(Ar& ar) {
    list(ar, holding, kMaxBatch);
    ar(received);
  }
};

struct Bye {  // leaving; from the coordinator: "I do not know you, say HELLO"
  static constexpr KindInfo kKind{11, "BYE", kByClient | kByNode | kByCoordinator};
  std::string reason;
  template <class Ar>
  void serialize(Ar& ar) {
    text(ar, reason, kMaxText);
  }
};

struct Status {  // coordinator -> client: the cluster's capacity
  static constexpr KindInfo kKind{12, "STATUS", kByCoordinator};
  std::uint32_t executors = 0;
  std::uint32_t nodes = 0;
  template <class Ar>
  void serialize(Ar& ar) {
    ar(executors, nodes);
  }
};

// Calls to the coordinator: payload i holds the arguments of requests[i].
struct Requests {
  static constexpr KindInfo kKind{13, "REQUEST", kByClient | kByNode};
  std::vector<Request> requests;
  std::size_t payload_count() const noexcept { return requests.size(); }
  template <class Ar>
  void serialize(Ar& ar) {
    list(ar, requests, kMaxBatch);
  }
};

// Their answers: payload i holds the answer to replies[i].
struct Replies {
  static constexpr KindInfo kKind{14, "REPLY", kByCoordinator};
  std::vector<Reply> replies;
  std::size_t payload_count() const noexcept { return replies.size(); }
  template <class Ar>
  void serialize(Ar& ar) {
    list(ar, replies, kMaxBatch);
  }
};

// Coordinator -> node: hand back up to `count` tasks you hold that have not
// started (another node has idle executors). The node answers with RETURNED,
// also when it has none to give.
struct Reclaim {
  static constexpr KindInfo kKind{15, "RECLAIM", kByCoordinator};
  std::uint32_t count = 0;
  template <class Ar>
  void serialize(Ar& ar) {
    ar(count);
  }
};

// Node -> coordinator: the answer to RECLAIM: these tasks (the coordinator's
// ids) were dropped before they started; they run elsewhere.
struct Returned {
  static constexpr KindInfo kKind{16, "RETURNED", kByNode};
  std::vector<std::uint64_t> ids;
  template <class Ar>
  void serialize(Ar& ar) {
    list(ar, ids, kMaxBatch);
  }
};

// Client -> coordinator: send `signal` to these Processes (the client's
// task ids); coordinator -> node: the same, with the coordinator's ids. A
// Process not started yet ends as if the signal had killed it. The result
// of each follows as usual, when it exits.
struct Signal {
  static constexpr KindInfo kKind{17, "SIGNAL", kByClient | kByCoordinator};
  std::vector<std::uint64_t> ids;
  std::int32_t signal = 0;
  template <class Ar>
  void serialize(Ar& ar) {
    list(ar, ids, kMaxBatch);
    ar(signal);
  }
};

// Node -> coordinator: what tasks and Processes printed, in order, ahead
// of their results. Coordinator -> client: the entries of its own tasks,
// with `node` filled in and task ids the client's.
struct Output {
  static constexpr KindInfo kKind{18, "OUTPUT", kByNode | kByCoordinator};
  std::string node;
  std::vector<Lines> lines;
  template <class Ar>
  void serialize(Ar& ar) {
    text(ar, node, kMaxName);
    list(ar, lines, kMaxBatch);
  }
};

// Coordinator -> node: a task library pushed to the cluster (`dpool push`);
// its payload is the library's bytes. The node answers with LOADED.
struct Code {
  static constexpr KindInfo kKind{19, "CODE", kByCoordinator};
  std::uint64_t seq = 0;  // the coordinator's number of this push
  std::string name;       // the file's name, e.g. "libtasks.so"
  std::string digest;     // SHA-256 of the bytes, in hex
  std::size_t payload_count() const noexcept { return 1; }
  template <class Ar>
  void serialize(Ar& ar) {
    ar(seq);
    text(ar, name, kMaxName);
    text(ar, digest, kMaxName);
  }
};

// Node -> coordinator: what became of the library CODE `seq` sent.
struct Loaded {
  static constexpr KindInfo kKind{20, "LOADED", kByNode};
  std::uint64_t seq = 0;
  bool loaded = false;
  std::string error;  // why not: the node does not accept code, or the library did not load
  template <class Ar>
  void serialize(Ar& ar) {
    ar(seq, loaded);
    text(ar, error, kMaxText);
  }
};

// The table: every kind that travels.
using Body = std::variant<Hello, Welcome, Reject, Submit, Dispatch, Results, Deliver, Cancel,
                          Credit, Heartbeat, Bye, Status, Requests, Replies, Reclaim, Returned,
                          Signal, Output, Code, Loaded>;

struct Message {
  Body body;
  Payloads payloads;  // one per entry of a batch; none for other kinds
  const KindInfo& kind() const noexcept;
};

// The kind of a number read off the wire, or nullptr if there is none.
const KindInfo* find_kind(std::uint16_t number) noexcept;

// Hands the message's body to `handler.on(extra..., Body&&, Payloads&&)` or
// `handler.on(extra..., Body&&)`, whichever the handler has for its kind.
// Returns false when it has neither: the kind is not one this peer receives
// (the caller counts it as a rejection).
template <std::size_t I = 0, class Handler, class... Extra>
bool dispatch(Handler& handler, Message&& m, Extra&... extra) {
  if constexpr (I == std::variant_size_v<Body>) {
    return false;
  } else {
    if (m.body.index() != I) return dispatch<I + 1>(handler, std::move(m), extra...);
    using B = std::variant_alternative_t<I, Body>;
    if constexpr (requires(B b, Payloads p) { handler.on(extra..., std::move(b), std::move(p)); }) {
      handler.on(extra..., std::move(std::get<I>(m.body)), std::move(m.payloads));
      return true;
    } else if constexpr (requires(B b) { handler.on(extra..., std::move(b)); }) {
      handler.on(extra..., std::move(std::get<I>(m.body)));
      return true;
    } else {
      return false;
    }
  }
}

struct DecodeError {
  enum class Reason { kFrameCount, kBadHeader, kBadMagic, kBadVersion, kBadKind, kBadBody };
  Reason reason;
  std::string detail;
  std::uint16_t version = 0;  // the peer's, for kBadVersion
};

// Frames as they go on a socket: header, body, then the payloads (moved).
Payloads encode(Message&& message);
tl::expected<Message, DecodeError> decode(Payloads&& frames);

// Single structs, for the node <-> executor records.
template <class T>
std::string encode_meta(const T& value) {
  return detail::encode(value);
}
template <class T>
tl::expected<T, std::string> decode_meta(std::string_view bytes) {
  try {
    T value;
    detail::BufferInputArchive ar(bytes);
    ar(value);
    return value;
  } catch (const std::exception& e) {
    return tl::unexpected(std::string(e.what()));
  }
}

// The message a HELLO with the wrong version earns.
std::string version_mismatch(std::uint16_t theirs);

}  // namespace dpool::internal::wire
