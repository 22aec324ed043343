// Tasks that call out to the coordinator while they run (dpool::this_task).
// Compiled into the test binaries, libtest_tasks.so and test_task_host, like
// test_tasks.hpp.
#pragma once

#include <cstdint>
#include <string>

namespace call_tasks {

// What this_task::info() answered inside a task, and the executor's own pid.
struct Identity {
  std::string name;
  std::uint64_t id = 0;
  unsigned attempt = 0;
  std::string node;
  int pid = 0;
  std::string client;
  int getpid = 0;  // ::getpid() in the task
  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, id, attempt, node, pid, client, getpid);
  }
};

Identity whoami(int tag);
// Announces its start on `started` (a test_support::TaskStarts FIFO), waits
// at `gate` (a test_support::TaskGate), then asks who it is `calls` times
// (forever if calls < 0).
int announce_then_ask(std::string started, std::string gate, int calls);
// Calls this_task::info() from a thread the task starts (and joins): returns
// the error's text, or "" if the call worked.
std::string ask_from_a_thread(int unused);

}  // namespace call_tasks
