#include "call_tasks.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <dpool/dpool.hpp>
#include <stdexcept>
#include <thread>

#include "task_starts.hpp"

namespace call_tasks {

Identity whoami(int) {
  auto t = dpool::this_task::info();
  return Identity{t.name, t.id, t.attempt, t.node, t.pid, t.client, static_cast<int>(::getpid())};
}

int announce_then_ask(std::string started, std::string gate, int calls) {
  test_support::announce_start(started);
  int fd = ::open(gate.c_str(), O_RDONLY | O_CLOEXEC);  // blocks until the test opens the gate
  if (fd < 0) throw std::runtime_error("cannot open " + gate);
  char c;
  while (::read(fd, &c, 1) > 0) {
  }
  ::close(fd);
  for (int i = 0; calls < 0 || i < calls; ++i) dpool::this_task::info();
  return calls;
}

std::string ask_from_a_thread(int) {
  std::string error;
  std::thread([&] {
    try {
      dpool::this_task::info();
    } catch (const std::exception& e) {
      error = e.what();
    }
  }).join();
  return error;
}

}  // namespace call_tasks

DPOOL_REGISTER_AS(call_tasks::whoami, "whoami");
DPOOL_REGISTER_AS(call_tasks::announce_then_ask, "announce_then_ask");
DPOOL_REGISTER_AS(call_tasks::ask_from_a_thread, "ask_from_a_thread");
