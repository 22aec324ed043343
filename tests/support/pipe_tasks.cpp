#include "pipe_tasks.hpp"

#include <dpool/dpool.hpp>

namespace pipe_tasks {

int echo_until_end(dpool::Connection c) {
  int n = 0;
  for (auto s = c.recv<std::string>(); s != "end"; s = c.recv<std::string>(), ++n) c.send(s);
  c.close();
  return n;
}

std::string echo_once(dpool::Connection c) {
  auto s = c.recv<std::string>();
  c.send("echo: " + s);
  return s;
}

void count_to(dpool::Connection c, int id, int count) {
  for (int i = 0; i < count; ++i) c.send(id * 1000 + i);
  c.close();
}

void ping(dpool::Connection c, int rounds, dpool::Queue<int> result) {
  int n = 0;
  for (int i = 0; i < rounds; ++i) {
    c.send(n);
    n = c.recv<int>() + 1;
  }
  result.put(n);
  c.close();
}

void pong(dpool::Connection c) {
  for (;;) {
    int n = 0;
    try {
      n = c.recv<int>();
    } catch (const dpool::EOFError&) {
      return;
    }
    c.send(n + 1);
  }
}

void ready_then_recv(dpool::Connection c) {
  c.send(std::string("ready"));
  c.recv<std::string>();
}

}  // namespace pipe_tasks

DPOOL_REGISTER_AS(pipe_tasks::echo_until_end, "pipe_echo_until_end");
DPOOL_REGISTER_AS(pipe_tasks::echo_once, "pipe_echo_once");
DPOOL_REGISTER_AS(pipe_tasks::count_to, "pipe_count_to");
DPOOL_REGISTER_AS(pipe_tasks::ping, "pipe_ping");
DPOOL_REGISTER_AS(pipe_tasks::pong, "pipe_pong");
DPOOL_REGISTER_AS(pipe_tasks::ready_then_recv, "pipe_ready_then_recv");
