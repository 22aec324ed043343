// The wire protocol: every message that crosses a ZeroMQ socket or an
// in-process link. A message is
//   frame 0  header: magic u32, protocol version u16, kind u16 (little-endian)
//   frame 1  body: cereal portable binary of the kind's struct
//   frame 2+ payloads: one per task or result of a batch, sent without copying
// Decoding treats every byte as hostile: bad input is a DecodeError value,
// never an exception or an unbounded allocation.
#pragma once

#include <cstdint>
#include <dpool/async_result.hpp>
#include <string>
#include <tl/expected.hpp>
#include <variant>
#include <vector>
#include <zmq.hpp>

namespace dpool::internal {

using Frames = std::vector<zmq::message_t>;

namespace wire {

constexpr std::uint32_t kMagic = 0x4c4f5044;  // "DPOL"
constexpr std::uint16_t kVersion = 2;
constexpr std::size_t kHeaderBytes = 8;
constexpr std::size_t kMaxBodyBytes = 256u << 20;
constexpr std::uint32_t kMaxBatch = 1u << 20;  // tasks or results in one message
constexpr std::uint32_t kMaxName = 1024;       // names of tasks, nodes, clients
constexpr std::uint32_t kMaxText = 16u << 20;  // error messages, reasons

enum class Kind : std::uint16_t {
  kHello = 1,     // peer -> coordinator: who I am
  kWelcome = 2,   // coordinator -> peer: accepted
  kReject = 3,    // coordinator -> peer: refused, with the reason
  kSubmit = 4,    // client -> coordinator: TaskBatch
  kDispatch = 5,  // coordinator -> node: TaskBatch
  kResult = 6,    // node -> coordinator: ResultBatch
  kDeliver = 7,   // coordinator -> client: ResultBatch
  kCancel = 8,    // client -> coordinator, coordinator -> node
  kCredit = 9,    // node -> coordinator: my capacity
  kHeartbeat = 10,
  kBye = 11,     // peer leaving
  kStatus = 12,  // coordinator -> client: cluster capacity
};
const char* kind_name(Kind k);

enum class Role : std::uint8_t { kClient = 1, kNode = 2 };

// What a pool asks of the executors that run its tasks. A client sends it in
// its HELLO (key 0); the coordinator numbers it and sends it to a node with
// the first tasks of that pool the node gets (TaskBatch::pools).
struct PoolSettings {
  std::uint64_t key = 0;  // the coordinator's, random; tasks name it in Task::pool
  std::string init_name;  // initializer: a registered function, run once per executor
  std::uint64_t init_fingerprint = 0;
  std::string init_args;  // its serialized argument tuple
  std::uint32_t max_tasks_per_child = 0;
  bool empty() const noexcept { return init_name.empty() && max_tasks_per_child == 0; }
};

struct Hello {
  Role role = Role::kClient;
  std::string name;
  std::uint32_t pid = 0;
  std::uint32_t executors = 0;  // node: executor processes
  std::uint32_t slots = 0;      // node: tasks it accepts at once (credit)
  std::uint64_t instance = 0;   // random per peer process start
  PoolSettings pool;            // client: its pool's executor settings
};

struct Welcome {
  std::uint64_t instance = 0;  // coordinator's, random per start
  std::string name;
  std::uint32_t executors = 0;
  std::uint32_t heartbeat_ms = 0;  // peers send at least this often (0: in-process, none)
};

struct Reject {
  std::string reason;
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
};

// SUBMIT and DISPATCH: payload i holds the arguments of tasks[i]. A DISPATCH
// carries the settings of each pool whose tasks the node has not seen yet.
struct TaskBatch {
  std::vector<Task> tasks;
  std::vector<PoolSettings> pools;
};

struct Result {
  std::uint64_t id = 0;
  detail::Failure failure;
  std::string node;
  std::uint32_t pid = 0;
  std::uint32_t attempts = 0;
  std::int64_t started_us = 0, finished_us = 0;  // system clock, microseconds since epoch
};

// RESULT and DELIVER: payload i holds the serialized result of results[i]
// (empty when it failed).
struct ResultBatch {
  std::vector<Result> results;
};

// Client -> coordinator: cancel these tasks (the client's ids); a non-zero
// `request` asks for an answer. Coordinator -> client: the answer to
// `request`, listing the ids that could not be cancelled (running, or done).
// Coordinator -> node: stop these tasks (the coordinator's ids).
struct Cancel {
  std::uint64_t request = 0;
  std::vector<std::uint64_t> ids;
  bool all = false;           // every task of the sender (client) / of that client (node)
  bool kill_running = false;  // also stop tasks already running
};

struct Credit {
  std::uint32_t slots = 0;
  std::uint32_t executors = 0;
};

struct Status {
  std::uint32_t executors = 0;
  std::uint32_t nodes = 0;
};

struct Heartbeat {};

struct Bye {
  std::string reason;
};

using Body = std::variant<Hello, Welcome, Reject, TaskBatch, ResultBatch, Cancel, Credit, Status,
                          Heartbeat, Bye>;

struct Message {
  Kind kind{};
  Body body;
  Frames payloads;
};

struct DecodeError {
  enum class Reason { kFrameCount, kBadHeader, kBadMagic, kBadVersion, kBadKind, kBadBody };
  Reason reason;
  std::string detail;
  std::uint16_t version = 0;  // the peer's, for kBadVersion
};

Frames encode(Kind kind, const Body& body, Frames&& payloads = {});
tl::expected<Message, DecodeError> decode(Frames&& frames);

// Single structs, for the node <-> executor records.
std::string encode_meta(const Task& task);
std::string encode_meta(const Result& result);
tl::expected<Task, std::string> decode_task(std::string_view bytes);
tl::expected<Result, std::string> decode_result(std::string_view bytes);

// The message a HELLO with the wrong version earns.
std::string version_mismatch(std::uint16_t theirs);

}  // namespace wire
}  // namespace dpool::internal
