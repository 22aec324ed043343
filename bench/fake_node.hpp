// Fake worker nodes for dpool-scale: one thread holding N DEALER sockets,
// each registered with a real coordinator as a node. They speak the wire
// protocol (libshared/src/protocol.hpp) exactly as worker/node_daemon.cpp does
// on the wire, but have no executors: every task of a DISPATCH is run at once
// in the nodes' thread, through the registry of this program, and answered in
// one RESULT. With trivial tasks, nothing else on the box does per-task work
// besides the coordinator and the client, so the coordinator's share of the
// cost is what the bench sees.
//
// The thread is named kThreadName and its ZeroMQ threads start with
// kZmqThreadPrefix, so that their CPU time can be told apart from the client's
// in /proc/self/task.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace dpool_bench {

class FakeNodes {
 public:
  static constexpr const char* kThreadName = "fake-nodes";
  static constexpr int kZmqThreadPrefix = 7;  // ZeroMQ names its threads "7/ZMQbg/..."

  // Connects `count` nodes to `address`; each says HELLO with `executors`
  // executors and `slots` credit (0: the coordinator never dispatches to it).
  FakeNodes(std::string address, unsigned count, unsigned executors, unsigned slots);
  // Every node says BYE; the thread ends and its sockets close.
  ~FakeNodes();
  FakeNodes(const FakeNodes&) = delete;
  FakeNodes& operator=(const FakeNodes&) = delete;

  // Blocks until every node has been welcomed; throws on timeout, on a REJECT,
  // or if the thread failed.
  void wait_welcomed(std::chrono::milliseconds timeout);

  struct Counters {
    std::uint64_t dispatches = 0;    // DISPATCH messages received (one RESULT answers each)
    std::uint64_t tasks = 0;         // tasks in them
    std::uint64_t heartbeats = 0;    // HEARTBEATs received from the coordinator
    std::uint64_t reregistered = 0;  // BYEs from a coordinator that had forgotten a node
    std::uint64_t bad = 0;           // messages that did not decode
  };
  Counters counters() const;
  // The thread's failure, if it failed after start-up; empty if none.
  std::string error() const;

 private:
  void run();
  void fail(const std::string& why);

  std::string address_;
  unsigned count_, executors_, slots_;
  int wake_fd_ = -1;  // eventfd: the destructor tells the thread to stop

  mutable std::mutex mu_;
  std::condition_variable cv_;
  unsigned welcomed_ = 0;
  std::string error_;

  std::atomic<std::uint64_t> dispatches_{0}, tasks_{0}, heartbeats_{0}, reregistered_{0}, bad_{0};
  std::thread thread_;
};

}  // namespace dpool_bench
