// The first dpool program: the classic multiprocessing.Pool example in C++.
// Runs in local mode by default; pass a coordinator address to use a cluster:
//   ./quickstart                          # local: executors on this machine
//   ./quickstart tcp://127.0.0.1:5555     # cluster: see README.md
#include <unistd.h>

#include <chrono>
#include <dpool/dpool.hpp>
#include <iostream>
#include <memory>
#include <ranges>
#include <set>
#include <thread>

using namespace std::chrono_literals;

int square(int x) {
  return x * x;
}
DPOOL_REGISTER(square);

int sleep_then_square(int x) {
  std::this_thread::sleep_for(10s);  // a slow task
  return x * x;
}
DPOOL_REGISTER(sleep_then_square);

int process_id() {
  std::this_thread::sleep_for(100ms);  // long enough that several executors take part
  return static_cast<int>(::getpid());
}
DPOOL_REGISTER(process_id);

int main(int argc, char** argv) {
  dpool::init(argc, argv);  // first line: executors start here too
  auto pool = argc > 1 ? std::make_unique<dpool::Pool>(dpool::Connect{.address = argv[1]})
                       : std::make_unique<dpool::Pool>(4);

  std::cout << "apply_async(square, 20).get(1s) = " << pool->apply_async(square, 20).get(1s)
            << "\n";

  std::cout << "map(square, 0..9) =";
  for (int v : pool->map(square, std::views::iota(0, 10))) std::cout << ' ' << v;
  std::cout << "\n";

  std::vector<dpool::AsyncResult<int>> pids;
  for (int i = 0; i < 8; ++i) pids.push_back(pool->apply_async(process_id));
  std::set<int> distinct;
  for (auto& r : pids) distinct.insert(r.get());
  std::cout << "8 x apply_async(getpid) ran in " << distinct.size() << " executor processes\n";

  auto slow = pool->apply_async(sleep_then_square, 10);
  try {
    slow.get(1s);
  } catch (const dpool::TimeoutError& e) {
    std::cout << "apply_async(sleep 10 s).get(1s) raised TimeoutError: " << e.what() << "\n";
  }
  // Leaving main destroys the pool, which terminates the sleeping task.
}
