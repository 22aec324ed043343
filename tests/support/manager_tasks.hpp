// Tasks that use the Manager and pool.queue from inside (any node).
// Compiled into the test binaries, libtest_tasks.so and test_task_host, like
// test_tasks.hpp.
#pragma once

#include <cstdint>
#include <dpool/manager.hpp>
#include <dpool/queue.hpp>
#include <string>

namespace manager_tasks {

// One increment of each: the dict's key "n" through update, the value
// through fetch_add, and `i` appended to the list. Returns i.
int count_up(dpool::ManagerDict<std::string, int> d, dpool::ManagerValue<std::int64_t> v,
             dpool::ManagerList<int> l, int i);
// The same dict key, reached by name through this_task::manager().
int count_by_name(std::string dict_name, int i);
// Takes the Manager's lock `name`, announces its start on the TaskStarts
// FIFO `started`, and waits to be killed, holding it.
int hold_lock(std::string name, std::string started);
// Announces its start, then returns the next item of q.
int get_one(dpool::Queue<int> q, std::string started);
// Announces its start, then waits at the barrier; returns its index.
int wait_at(dpool::ManagerBarrier b, std::string started);
// Meets the others at `ready`, then waits (up to 60 s) for `go`; returns
// whether it was set.
bool wait_for_event(dpool::ManagerEvent go, dpool::ManagerBarrier ready);
// The sum of the next n items of q.
std::int64_t sum_of(dpool::Queue<int> q, int n);
// Puts i * i on q for i in 0 .. n-1 (a Process producing squares).
void put_squares(dpool::Queue<int> q, int n);
// Puts "<current_process().name()> <getpid()>" on q.
void put_identity(dpool::Queue<std::string> q);

}  // namespace manager_tasks
