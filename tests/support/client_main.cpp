// A client that submits long tasks to a coordinator and then waits to be
// killed: lets tests kill a client for real.
//   test_client ADDRESS N   N long tasks to the coordinator at ADDRESS
//   test_client --local-map        a local pool.map of long tasks, as a user's program
//   test_client --map ADDRESS      the same pool.map on the cluster at ADDRESS
//   test_client --get ADDRESS NAME a get on the Manager's queue<int> NAME, which
//                                  prints what it took (heartbeat 50 ms)
#include <dpool/dpool.hpp>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "test_tasks.hpp"

namespace {
// Cancelling a task submitted last waits for the coordinator's answer, which
// proves it holds the tasks submitted before. With cancel_running the cancel
// succeeds even when the node already holds the probe (prefetched behind a
// long task, where it would stay unfinished), so the coordinator forgets it
// either way and counts only the real tasks. It is never the running one: the
// long tasks before it reach the executors first.
void probe(dpool::Pool& pool) {
  pool.with({.cancel_running = true}).apply_async(test_tasks::sleep_ms, 1).cancel();
}
}  // namespace

int main(int argc, char** argv) {
  dpool::init(argc, argv);
  bool local = argc == 2 && std::string(argv[1]) == "--local-map";
  if (local || (argc == 3 && std::string(argv[1]) == "--map")) {
    auto pool = local ? std::make_unique<dpool::Pool>(2)
                      : std::make_unique<dpool::Pool>(dpool::Connect{.address = argv[2]});
    pool->map(test_tasks::square, std::vector<int>{1, 2});  // executors are up
    // pool.map is map_async(...).get(); split so that the test learns when the
    // coordinator holds the tasks (the cancel of a later task answers after them).
    auto mapping = pool->map_async(test_tasks::sleep_ms, std::vector<int>(8, 60000), 1);
    probe(*pool);
    std::cout << "mapping" << std::endl;
    mapping.get();
    return 0;
  }
  if (argc == 4 && std::string(argv[1]) == "--get") {
    dpool::Pool pool(
        dpool::Connect{.address = argv[2], .heartbeat = std::chrono::milliseconds(50)});
    auto q = pool.manager().queue<int>(argv[3]);
    std::cout << "getting" << std::endl;
    std::cout << "took " << q.get() << std::endl;
    return 0;
  }
  if (argc < 3) return 2;
  dpool::Pool pool(dpool::Connect{.address = argv[1]});
  std::vector<dpool::AsyncResult<int>> rs;
  for (int i = 0; i < std::stoi(argv[2]); ++i)
    rs.push_back(pool.apply_async(test_tasks::sleep_ms, 60000));
  probe(pool);
  std::cout << "submitted " << rs.size() << std::endl;
  rs.front().wait();  // until killed
}
