// Tasks and Process functions that use pool.pipe ends from inside (any
// node). Compiled into the test binaries, libtest_tasks.so and
// test_task_host, like test_tasks.hpp.
#pragma once

#include <dpool/connection.hpp>
#include <dpool/queue.hpp>
#include <string>

namespace pipe_tasks {

// Sends back every string it receives until "end"; returns how many it
// echoed (a task, or a Process's function).
int echo_until_end(dpool::Connection c);
// Receives one string s and sends back "echo: " + s; returns s.
std::string echo_once(dpool::Connection c);
// Sends id * 1000 + i for i in 0 .. count-1, then closes its end.
void count_to(dpool::Connection c, int id, int count);
// One side of a ping-pong: sends n, receives n + 1, sends n + 2, ...
// `rounds` times, then puts the last number received plus one on `result`
// and closes its end.
void ping(dpool::Connection c, int rounds, dpool::Queue<int> result);
// The other side: answers every n with n + 1 until the end of the stream.
void pong(dpool::Connection c);
// Sends "ready", then waits in recv (for the test to kill it).
void ready_then_recv(dpool::Connection c);

}  // namespace pipe_tasks
