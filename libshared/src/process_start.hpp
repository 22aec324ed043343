// How a local dpool::Process learns what to run: its parent starts a copy of
// the program (ChildProcess) with kEnvProcessFd set, and writes one RUN
// record on fd 3 whose meta is a ProcessStart and whose payload holds the
// arguments; the descriptors of Connection arguments (and of the channel to
// the parent's pool) ride on its first bytes (SCM_RIGHTS). The child keeps fd 3 open until it
// exits, so the parent sees the end of the stream when it does.
#pragma once

#include <cstdint>
#include <string>

#include "protocol.hpp"

namespace dpool::internal {

inline constexpr const char* kEnvProcessFd = "DPOOL_PROCESS_FD";

struct ProcessStart {
  std::string name;  // the Process's name
  std::string task;  // the registered function
  std::uint64_t fingerprint = 0;
  bool daemon = false;    // dies with its parent
  std::uint32_t fds = 0;  // descriptors attached (Connection arguments), in order
  // One more descriptor after those: the channel to the parent's pool
  // (process_calls.hpp), when the parent has a Pool.
  bool calls = false;
  template <class Ar>
  void serialize(Ar& ar) {
    wire::text(ar, name, wire::kMaxName);
    wire::text(ar, task, wire::kMaxName);
    ar(fingerprint, daemon, fds, calls);
  }
};

// In a copy of the program started as a Process (dpool::init calls this):
// runs its function and exits with its exit code. Returns at once otherwise.
void become_process_if_spawned();

// Names the current process for dpool::current_process() (executors, Process
// children).
void set_current_process_name(std::string name);

}  // namespace dpool::internal
