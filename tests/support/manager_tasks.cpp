#include "manager_tasks.hpp"

#include <unistd.h>

#include <dpool/dpool.hpp>

#include "task_starts.hpp"

namespace manager_tasks {

namespace {
int plus_one(std::optional<int> n) {
  return n.value_or(0) + 1;
}
}  // namespace

int count_up(dpool::ManagerDict<std::string, int> d, dpool::ManagerValue<std::int64_t> v,
             dpool::ManagerList<int> l, int i) {
  d.update("n", plus_one);
  v.fetch_add(1);
  l.append(i);
  return i;
}

int count_by_name(std::string dict_name, int i) {
  dpool::this_task::manager().dict<std::string, int>(dict_name).update("n", plus_one);
  return i;
}

int hold_lock(std::string name, std::string started) {
  dpool::this_task::manager().lock(name).acquire();
  test_support::announce_start(started);
  for (;;) ::pause();  // until the test kills this executor
}

int get_one(dpool::Queue<int> q, std::string started) {
  test_support::announce_start(started);
  return q.get();
}

int wait_at(dpool::ManagerBarrier b, std::string started) {
  test_support::announce_start(started);
  return static_cast<int>(b.wait());
}

bool wait_for_event(dpool::ManagerEvent go, dpool::ManagerBarrier ready) {
  ready.wait();
  return go.wait(std::chrono::seconds(60));
}

std::int64_t sum_of(dpool::Queue<int> q, int n) {
  std::int64_t sum = 0;
  for (int i = 0; i < n; ++i) sum += q.get();
  return sum;
}

void put_squares(dpool::Queue<int> q, int n) {
  for (int i = 0; i < n; ++i) q.put(i * i);
}

void put_identity(dpool::Queue<std::string> q) {
  q.put(dpool::current_process().name() + " " + std::to_string(::getpid()));
}

}  // namespace manager_tasks

DPOOL_REGISTER_AS(manager_tasks::count_up, "count_up");
DPOOL_REGISTER_AS(manager_tasks::count_by_name, "count_by_name");
DPOOL_REGISTER_AS(manager_tasks::hold_lock, "hold_lock");
DPOOL_REGISTER_AS(manager_tasks::get_one, "get_one");
DPOOL_REGISTER_AS(manager_tasks::wait_at, "wait_at");
DPOOL_REGISTER_AS(manager_tasks::sum_of, "sum_of");
DPOOL_REGISTER_AS(manager_tasks::wait_for_event, "wait_for_event");
DPOOL_REGISTER_AS(manager_tasks::put_squares, "put_squares");
DPOOL_REGISTER_AS(manager_tasks::put_identity, "put_identity");
