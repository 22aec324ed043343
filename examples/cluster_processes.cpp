// multiprocessing.Process on a cluster: pool.process runs a Process on a
// node, beside the pool's executors. The classic programs, unchanged but for
// where they run:
//   - a producer Process puts squares on a queue that a consumer Process
//     sums into a Manager value (Process + Queue);
//   - a runaway Process is stopped with terminate() and reports -15.
// Local mode with no argument; on a cluster with the coordinator's address
// (its workers run this same program: `dpool worker --exec cluster_processes`).
#include <chrono>
#include <cstdio>
#include <dpool/dpool.hpp>
#include <memory>
#include <string>
#include <thread>

void producer(dpool::Queue<int> q, int n) {
  for (int i = 0; i < n; ++i) q.put(i * i);
  q.put(-1);  // the end
}
DPOOL_REGISTER(producer);

void consumer(dpool::Queue<int> q) {
  auto total = dpool::this_task::manager().value<std::int64_t>("total");
  for (int x = q.get(); x >= 0; x = q.get()) total.fetch_add(x);
}
DPOOL_REGISTER(consumer);

int plus_one(int x) {
  return x + 1;
}
DPOOL_REGISTER(plus_one);

void runaway() {
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));  // the work never ends
}
DPOOL_REGISTER(runaway);

int main(int argc, char** argv) {
  dpool::init(argc, argv);  // executors and Processes start here too
  auto pool = argc > 1 ? std::make_unique<dpool::Pool>(dpool::Connect{.address = argv[1]})
                       : std::make_unique<dpool::Pool>(2);

  pool->manager().value<std::int64_t>("total").store(0);
  auto q = pool->queue<int>();
  auto prod = pool->process(dpool::ProcessOptions{.name = "producer"}, producer, q, 100);
  auto cons = pool->process(dpool::ProcessOptions{.name = "consumer"}, consumer, q);
  cons.start();
  prod.start();
  std::printf("producer: pid %d on %s\n", prod.pid(), prod.node().c_str());
  std::printf("consumer: pid %d on %s\n", cons.pid(), cons.node().c_str());
  prod.join();
  cons.join();
  std::printf("exit codes: producer %d, consumer %d\n", *prod.exitcode(), *cons.exitcode());
  std::printf("sum of the squares of 0..99 = %lld\n",
              static_cast<long long>(pool->manager().value<std::int64_t>("total").load()));

  // A Process that never ends by itself: terminate() reaches it through the
  // coordinator and its node; its exit code says SIGTERM (-15), as in Python.
  auto p = pool->process(dpool::ProcessOptions{.name = "runaway"}, runaway);
  p.start();
  bool ended = p.join(std::chrono::milliseconds(300));
  std::printf("after 300 ms: ended? %s, alive? %s\n", ended ? "Yes" : "No",
              p.is_alive() ? "Yes" : "No");
  p.terminate();
  p.join();
  std::printf("runaway terminated: exit code %d\n", *p.exitcode());
  // The pool's executors were free all along.
  std::printf("a task meanwhile: %d\n", pool->apply(plus_one, 41));
}
