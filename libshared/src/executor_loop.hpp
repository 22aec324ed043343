// The executor process: reads RUN records from its node over an inherited
// socket, runs the registered functions one at a time, writes DONE records.
#pragma once

#include <string>

#include "calls.hpp"

namespace dpool::internal {

// Environment a node sets for the executors it spawns.
inline constexpr const char* kEnvExecutorFd = "DPOOL_EXECUTOR_FD";
inline constexpr const char* kEnvNodeName = "DPOOL_NODE_NAME";
inline constexpr const char* kEnvParentPid = "DPOOL_PARENT_PID";
// Set: send what tasks print to the node (OUTPUT records), not to the terminal.
inline constexpr const char* kEnvCaptureOutput = "DPOOL_CAPTURE_OUTPUT";
// Task libraries pushed to the node (`dpool push`), ':'-separated paths: an
// executor loads them before it says READY.
inline constexpr const char* kEnvCode = "DPOOL_CODE";

// Runs until the node closes the socket; returns the process exit code.
int run_executor(int fd);

// If this process was spawned as an executor, runs it and exits; else returns.
void become_executor_if_spawned();

// A call to the coordinator from the task running in this process: through
// the node and back; blocks until the answer. Throws dpool::Error when no
// task runs here, and what throw_call_failure makes of a failed call. Any
// thread of the task; one call at a time.
std::string call_from_task(calls::Op op, std::string args, const char* what);

}  // namespace dpool::internal
