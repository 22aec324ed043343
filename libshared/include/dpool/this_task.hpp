// dpool::this_task: what a running task can ask about itself. These calls
// travel from the executor through its node to the coordinator and back, the
// path that every blocking call a task makes (a queue get, a lock, a Manager
// object) takes.
#pragma once

#include <cstdint>
#include <dpool/export.hpp>
#include <string>

namespace dpool {

// The task running in this process, as the coordinator sees it.
struct CurrentTask {
  std::string name;      // the registered name it was called by
  std::uint64_t id = 0;  // the coordinator's id for it: unique while it runs
  unsigned attempt = 1;  // 1 on its first run; more after a node was lost or a retry
  std::string node;      // the node running it
  int pid = 0;           // the executor process running it (getpid() in the task)
  std::string client;    // the client (program) that submitted it
};

namespace this_task {

// True while this process is an executor running a task (or a pool's initializer).
DPOOL_API bool inside() noexcept;

// Asks the coordinator who this task is. Blocks until it answers. Throws
// dpool::Error outside a task (inside() is false), ConnectionError when the
// node lost its coordinator meanwhile, and Error when the coordinator no
// longer runs this task (it was cancelled or re-run elsewhere).
DPOOL_API CurrentTask info();

}  // namespace this_task
}  // namespace dpool
