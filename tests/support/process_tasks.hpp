// Functions the Process tests run in child processes. Compiled into the
// test program, which the children are copies of.
#pragma once

#include <dpool/connection.hpp>
#include <dpool/queue.hpp>
#include <dpool/shared_memory.hpp>
#include <dpool/shared_value.hpp>
#include <dpool/sync.hpp>
#include <string>

namespace process_tasks {

// Appends "<text> <current_process().name()> <getpid()>\n" to the file at `path`.
void note(std::string path, std::string text);
// Appends `id` to the file at `path`; below `depth` 0, starts two Processes
// doing the same with ids id+"0" and id+"1" and one depth less, and joins them.
void tree(std::string path, std::string id, int depth);
// Sends back every string it receives on `c` until "end", then closes it.
void echo(dpool::Connection c);
// Sends the ints id*1000 .. id*1000+count-1 on `c`, then closes it.
void count_to(dpool::Connection c, int id, int count);
// Puts from, from+1, ..., from+n-1 on `q`.
void produce(dpool::Queue<int> q, int from, int n);
// Takes items from `in` until a negative one, puts their squares on `out`,
// and marks each item done.
void square_worker(dpool::Queue<int> in, dpool::Queue<int> out);
// Announces its start on the TaskStarts FIFO `started`, then waits for an
// item of `q` and writes it to the FIFO too (as its pid would be).
void announce_then_get(dpool::Queue<int> q, std::string started);
// Adds 1 to `v` n times, holding its lock for each addition when `locked`
// (the read and the write then cannot interleave with another process's).
void add_to(dpool::Value<int> v, int n, bool locked);
// Sets a[i] = i * 1.5 for every i.
void fill(dpool::Array<double> a);
// Waits at the barrier `rounds` times, putting its index on `out` each time.
void barrier_party(dpool::Barrier b, int rounds, dpool::Queue<int> out);
// Waits at the barrier once with `timeout_ms`; puts 1 on `out` if it broke.
void barrier_waits(dpool::Barrier b, int timeout_ms, dpool::Queue<int> out);
// Takes the lock, increments `v`, announces its pid on `started`, and waits
// for ever holding it (the test kills it).
void hold_and_hang(dpool::Lock l, dpool::Value<int> v, std::string started);
// Waits on `c` until `v` reaches `target` (a Condition consumer), then puts v on `out`.
void wait_for_value(dpool::Condition c, dpool::Value<int> v, int target, dpool::Queue<int> out);
// Sets `e` after putting 1 on `out`.
void set_event(dpool::Event e, dpool::Queue<int> out);
// Announces its start on the TaskStarts FIFO `started`, then waits at the
// TaskGate `gate`.
void wait_at_gate(std::string started, std::string gate);
// Writes bytes i % 251 over the whole segment `name`.
void write_segment(std::string name);

}  // namespace process_tasks
