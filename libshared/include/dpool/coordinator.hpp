// dpool::Coordinator: the scheduler that clients submit to and worker nodes
// pull from, embeddable in any program.
#pragma once

#include <dpool/export.hpp>
#include <dpool/options.hpp>
#include <memory>
#include <string>

namespace dpool {
namespace internal {
class CoordinatorServer;
struct CoordinatorAccess;
}  // namespace internal

// Runs a coordinator on its own thread from construction to destruction.
// Pools and Nodes built on it (Pool(coordinator), Node(coordinator, ...))
// reach it in-process, with no network hop, and must be destroyed before it.
// Thread-safe.
class DPOOL_API Coordinator {
 public:
  // Throws dpool::Error if the address cannot be bound.
  explicit Coordinator(CoordinatorOptions options = {});
  ~Coordinator();
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  // The address peers connect to, with a wildcard port resolved; empty if
  // in-process only.
  std::string endpoint() const;
  // Where its HTTP endpoint serves the dashboard, /metrics and /api/status
  // (CoordinatorOptions::http), e.g. "http://127.0.0.1:8787/", with a port 0
  // resolved; empty without one.
  std::string http_url() const;
  // Blocks until stop() is called (from another thread or a signal handler thread).
  void wait();
  void stop();

 private:
  friend struct internal::CoordinatorAccess;
  std::unique_ptr<internal::CoordinatorServer> server_;
};

}  // namespace dpool
