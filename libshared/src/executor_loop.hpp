// The executor process: reads RUN records from its node over an inherited
// socket, runs the registered functions one at a time, writes DONE records.
#pragma once

namespace dpool::internal {

// Environment a node sets for the executors it spawns.
inline constexpr const char* kEnvExecutorFd = "DPOOL_EXECUTOR_FD";
inline constexpr const char* kEnvNodeName = "DPOOL_NODE_NAME";
inline constexpr const char* kEnvParentPid = "DPOOL_PARENT_PID";

// Runs until the node closes the socket; returns the process exit code.
int run_executor(int fd);

// If this process was spawned as an executor, runs it and exits; else returns.
void become_executor_if_spawned();

}  // namespace dpool::internal
