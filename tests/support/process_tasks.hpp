// Functions the Process tests run in child processes. Compiled into the
// test program, which the children are copies of.
#pragma once

#include <dpool/connection.hpp>
#include <dpool/queue.hpp>
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

}  // namespace process_tasks
