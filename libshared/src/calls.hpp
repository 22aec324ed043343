// The calls a running task (or a client) makes to its coordinator over
// REQUEST / REPLY: each call's number and the bytes of its argument and
// answer. Executors make them (executor_loop.cpp), nodes forward them with
// the caller's identity (worker/node_daemon.cpp), the coordinator answers
// (coordinator/call_handler.cpp).
#pragma once

#include <cstdint>
#include <dpool/detail/hosted.hpp>
#include <dpool/push.hpp>
#include <dpool/this_task.hpp>
#include <optional>
#include <string_view>

#include "protocol.hpp"

namespace dpool::internal::calls {

enum class Op : std::uint32_t {  // on the wire: append, never renumber
  kTaskInfo = 1,                 // who is this task? argument: none; answer: CurrentTask
  kObject = 2,                   // a coordinator-hosted object: ObjectCall; answer: ObjectAnswer
  kExecutorExited = 3,           // node: one of my executors is gone; client: one of its local
                                 // Processes; the request's pid says which
  kStatus = 4,  // a client: the cluster's state; argument: none; answer: ClusterStatus
  kPush = 5,    // a client: a task library for every node; argument: PushCall; answer: PushAnswer
  kDirect = 6,  // a client: a direct line for its object calls; argument: none;
                // answer: DirectTicket
};

// The largest task library `dpool push` sends.
constexpr std::uint32_t kMaxLibraryBytes = 256u << 20;

struct PushCall {
  std::string name;   // the file's name, without directories
  std::string bytes;  // the library
  template <class Ar>
  void serialize(Ar& ar) {
    wire::text(ar, name, wire::kMaxName);
    wire::text(ar, bytes, kMaxLibraryBytes);
  }
};

// What each node did with a pushed library, as a client sees it.
struct PushAnswer {
  std::vector<PushResult> nodes;
  template <class Ar>
  void serialize(Ar& ar) {
    auto count = static_cast<std::uint32_t>(nodes.size());
    ar(count);
    if constexpr (Ar::is_loading::value) {
      wire::check_count(ar, count, wire::kMaxBatch, "a list of nodes");
      nodes.resize(count);
    }
    for (auto& n : nodes) {
      wire::text(ar, n.node, wire::kMaxName);
      ar(n.loaded);
      wire::text(ar, n.error, wire::kMaxText);
    }
  }
};

// The largest bytes of one item, key or value a hosted object takes.
constexpr std::uint32_t kMaxItemBytes = 64u << 20;
constexpr std::uint32_t kMaxItems = 1u << 24;

// One operation on a hosted object. Every call names its object in full
// (kind, name, type, parameter), so an object the coordinator does not have
// (it restarted without its state) is made again rather than refused.
struct ObjectCall {
  detail::ObjectKind kind{};
  std::string name;
  std::string type;         // the handle's type, e.g. "dict<std::string, int>"
  std::uint64_t param = 0;  // maxsize, permits, parties or the value's number kind
  bool owned = false;       // lives as long as the client that made it (pool.queue)
  detail::Verb verb{};
  std::uint64_t n = 0;           // index, count, expected version, ...
  std::int64_t timeout_ms = -1;  // blocking verbs: -1 waits for ever, 0 not at all
  std::string a, b;              // serialized key, value or item
  template <class Ar>
  void serialize(Ar& ar) {
    wire::enumeration(ar, kind);
    wire::text(ar, name, wire::kMaxName);
    wire::text(ar, type, wire::kMaxName);
    ar(param, owned);
    wire::enumeration(ar, verb);
    ar(n, timeout_ms);
    wire::text(ar, a, kMaxItemBytes);
    wire::text(ar, b, kMaxItemBytes);
  }
};

// A ticket for one direct line (sealed_line.hpp): the coordinator's port for
// such lines (on the host the client reached it at), the ticket's id and key.
// Good for one line, for a short while.
struct DirectTicket {
  std::uint64_t id = 0;
  std::uint16_t port = 0;
  std::string key;
  template <class Ar>
  void serialize(Ar& ar) {
    ar(id, port);
    wire::text(ar, key, 64);
  }
};

// The answer to one call on a direct line: the failure, or (none) the
// ObjectAnswer's bytes.
struct DirectAnswer {
  detail::Failure failure;
  std::string bytes;
  template <class Ar>
  void serialize(Ar& ar) {
    wire::failure(ar, failure);
    wire::text(ar, bytes, 1u << 30);
  }
};

// The pipe ends one kWait on a pipe waits for (its `b`): the call's own end
// and others of the same coordinator, for dpool::wait. Each is
//   u32 name length (little-endian) | name | u8 end
struct PipeEnd {
  std::string name;
  std::uint8_t end = 0;
};
inline std::string encode_pipe_ends(const std::vector<PipeEnd>& ends) {
  std::string out;
  for (auto& e : ends) {
    auto n = static_cast<std::uint32_t>(e.name.size());
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
    out += e.name;
    out.push_back(static_cast<char>(e.end));
  }
  return out;
}
// Empty when the bytes are not such a list (they come from a peer).
inline std::optional<std::vector<PipeEnd>> decode_pipe_ends(std::string_view bytes) {
  std::vector<PipeEnd> ends;
  while (!bytes.empty()) {
    if (bytes.size() < 4 || ends.size() >= kMaxItems) return std::nullopt;
    std::uint32_t n = 0;
    for (int i = 3; i >= 0; --i) n = n << 8 | static_cast<unsigned char>(bytes[i]);
    bytes.remove_prefix(4);
    if (n > wire::kMaxName || bytes.size() < std::size_t{n} + 1) return std::nullopt;
    ends.push_back({std::string(bytes.substr(0, n)), static_cast<std::uint8_t>(bytes[n])});
    bytes.remove_prefix(std::size_t{n} + 1);
  }
  return ends;
}

// The exception a failed call throws in the code that made it.
[[noreturn]] void throw_call_failure(const detail::Failure& f);

struct ObjectAnswer {
  bool timed_out = false;  // a blocking verb's timeout passed first
  bool yes = false;        // the verb's true/false result (found, swapped, set, notified)
  std::uint64_t n = 0;     // a count, index or version
  std::string bytes;       // a value or item
  std::vector<std::string> items;
  template <class Ar>
  void serialize(Ar& ar) {
    ar(timed_out, yes, n);
    wire::text(ar, bytes, kMaxItemBytes);
    auto count = static_cast<std::uint32_t>(items.size());
    ar(count);
    if constexpr (Ar::is_loading::value) {
      wire::check_count(ar, count, kMaxItems, "a list of items");
      items.resize(count);
    }
    for (auto& item : items) wire::text(ar, item, kMaxItemBytes);
  }
};

}  // namespace dpool::internal::calls

namespace dpool {

template <class Ar>
void serialize(Ar& ar, CurrentTask& t) {
  using internal::wire::kMaxName;
  internal::wire::text(ar, t.name, kMaxName);
  ar(t.id, t.attempt);
  internal::wire::text(ar, t.node, kMaxName);
  ar(t.pid);
  internal::wire::text(ar, t.client, kMaxName);
}

}  // namespace dpool
