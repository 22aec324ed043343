// A task that asks who it is: dpool::this_task::info() travels from the
// executor through its node to the coordinator and back while the task runs.
//   ./task_info                          # local: executors on this machine
//   ./task_info tcp://127.0.0.1:5555     # cluster: see README.md
#include <dpool/dpool.hpp>
#include <iostream>
#include <memory>
#include <ranges>
#include <string>

std::string describe_me(int item) {
  dpool::CurrentTask t = dpool::this_task::info();
  return "item " + std::to_string(item) + ": task '" + t.name + "' #" + std::to_string(t.id) +
         ", attempt " + std::to_string(t.attempt) + ", on node " + t.node + " in executor " +
         std::to_string(t.pid) + ", submitted by " + t.client;
}
DPOOL_REGISTER(describe_me);

int main(int argc, char** argv) {
  dpool::init(argc, argv);
  auto pool = argc > 1 ? std::make_unique<dpool::Pool>(dpool::Connect{.address = argv[1]})
                       : std::make_unique<dpool::Pool>(2);
  for (const auto& line : pool->map(describe_me, std::views::iota(0, 4), 1))
    std::cout << line << "\n";
  try {
    dpool::this_task::info();  // not inside a task here
  } catch (const dpool::Error& e) {
    std::cout << "outside a task: " << e.what() << "\n";
  }
}
