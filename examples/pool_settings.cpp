// A pool's executor settings: an initializer that prepares each executor
// once (here, a per-process "connection" string), and max_tasks_per_child,
// which replaces an executor after that many tasks. The same code works in
// local mode and on a cluster, where the settings travel to every node:
//   ./pool_settings                        # local
//   ./pool_settings tcp://127.0.0.1:5555   # cluster; the node runs --exec ./pool_settings
#include <unistd.h>

#include <dpool/dpool.hpp>
#include <iostream>
#include <memory>
#include <set>
#include <string>

namespace {
std::string connection;  // set once per executor by the initializer
}  // namespace

void connect_db(std::string url) {
  connection = url + " (opened by executor " + std::to_string(::getpid()) + ")";
}
DPOOL_REGISTER(connect_db);

std::string query(int id) {
  return "row " + std::to_string(id) + " via " + connection;
}
DPOOL_REGISTER(query);

int process_id() {
  return static_cast<int>(::getpid());
}
DPOOL_REGISTER(process_id);

int main(int argc, char** argv) {
  dpool::init(argc, argv);
  auto setup = dpool::bind(connect_db, std::string("db://inventory"));
  auto pool = argc > 1 ? std::make_unique<dpool::Pool>(dpool::Connect{
                             .address = argv[1], .initializer = setup, .max_tasks_per_child = 2})
                       : std::make_unique<dpool::Pool>(dpool::Local{
                             .processes = 2, .initializer = setup, .max_tasks_per_child = 2});

  for (auto& row : pool->map(query, std::vector<int>{1, 2, 3})) std::cout << row << "\n";

  // Each executor retires after two tasks, so six tasks in a row use at least three.
  std::set<int> pids;
  for (int i = 0; i < 6; ++i) pids.insert(pool->apply(process_id));
  std::cout << "6 tasks with max_tasks_per_child = 2 ran in " << pids.size()
            << " executor processes\n";
}
