// dpool::Node: a worker node daemon (executor supervisor), embeddable.
#pragma once

#include <dpool/export.hpp>
#include <dpool/options.hpp>
#include <memory>

namespace dpool {
class Coordinator;
namespace internal {
class NodeDaemon;
}

// Supervises a set of executor processes and serves tasks from a
// coordinator, on its own thread (or on the coordinator's thread when
// embedded next to it; that Coordinator must then outlive the Node).
// Destroying it stops its executors. Thread-safe.
class DPOOL_API Node {
 public:
  // Connects to options.connect; throws ConnectionError if the coordinator
  // does not answer within options.connect_timeout.
  explicit Node(NodeOptions options);
  // Serves `coordinator` in-process, on its event loop.
  Node(Coordinator& coordinator, NodeOptions options);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  unsigned processes() const;
  // Blocks until stop() or until the node gives up (e.g. refused by the coordinator).
  void wait();
  void stop();
  // Takes no new tasks, hands queued ones back to the coordinator, lets the
  // running ones finish (up to NodeOptions::drain_grace), then stops: wait()
  // returns. What SIGTERM does to `dpool worker`.
  void drain();
  bool stopped() const;

 private:
  std::unique_ptr<internal::NodeDaemon> daemon_;
};

}  // namespace dpool
