// Shared state between processes on one machine, as the multiprocessing
// tutorials show it: four processes adding 50 each to a shared counter,
// without and with its lock; a child filling an Array the parent reads; a
// Barrier of four processes; a producer and a consumer with a Condition; a
// large array in SharedMemory written by one process and summed by another.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <dpool/dpool.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

void add_50(dpool::Value<int> counter, bool use_lock) {
  for (int i = 0; i < 50; ++i) {
    if (use_lock) {
      std::lock_guard guard(counter.get_lock());
      int seen = counter.value();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // the same work, locked
      counter.value() = seen + 1;
    } else {
      int seen = counter.value();                                 // read ...
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // ... work on it ...
      counter.value() = seen + 1;  // ... write: another process's addition in between is lost
    }
  }
}
DPOOL_REGISTER(add_50);

void squares_into(dpool::Array<double> a) {
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<double>(i * i);
}
DPOOL_REGISTER(squares_into);

void meet(dpool::Barrier b, dpool::Queue<int> order) {
  order.put(static_cast<int>(b.wait()));
}
DPOOL_REGISTER(meet);

void consume(dpool::Condition ready, dpool::Value<int> items, dpool::Queue<int> done) {
  int taken = 0;
  while (taken < 5) {
    std::unique_lock guard(ready);
    ready.wait_for([&] { return items.value() > 0; });
    items.value() = items.value() - 1;
    ++taken;
  }
  done.put(taken);
}
DPOOL_REGISTER(consume);

void write_numbers(std::string name) {
  dpool::SharedMemory shm(name);
  auto* v = reinterpret_cast<double*>(shm.data());
  for (std::size_t i = 0; i < shm.size() / sizeof(double); ++i) v[i] = 1.0;
}
DPOOL_REGISTER(write_numbers);

template <class F, class... A>
void run_four(F f, A... args) {
  std::vector<std::unique_ptr<dpool::Process>> ps;
  for (int i = 0; i < 4; ++i) ps.push_back(std::make_unique<dpool::Process>(f, args...));
  for (auto& p : ps) p->start();
  for (auto& p : ps) p->join();
}

int main(int argc, char** argv) {
  dpool::init(argc, argv);

  for (bool use_lock : {false, true}) {
    dpool::Value<int> counter(0);
    run_four(add_50, counter, use_lock);
    std::printf("4 x 50 additions %s the lock: %d\n", use_lock ? "with" : "without",
                counter.value());
  }

  dpool::Array<double> a(5);
  dpool::Process child(squares_into, a);
  child.start();
  child.join();
  std::printf("the child filled the array:");
  for (double x : a) std::printf(" %g", x);
  std::printf("\n");

  dpool::Barrier barrier(4);
  dpool::Queue<int> order;
  run_four(meet, barrier, order);
  int sum = 0;
  for (int i = 0; i < 4; ++i) sum += order.get();
  std::printf("4 processes passed the barrier together (indices sum to %d)\n", sum);

  dpool::Condition ready;
  dpool::Value<int> items(0);
  dpool::Queue<int> done;
  dpool::Process consumer(consume, ready, items, done);
  consumer.start();
  for (int i = 0; i < 5; ++i) {
    std::lock_guard guard(ready);
    items.value() = items.value() + 1;
    ready.notify();
  }
  std::printf("the consumer took %d items\n", done.get());
  consumer.join();

  std::string name = "dpool-example-" + std::to_string(::getpid());
  dpool::SharedMemory shm(name, 8 << 20, dpool::create);  // a million doubles
  dpool::Process writer(write_numbers, name);
  writer.start();
  writer.join();
  double total = 0;
  auto* v = reinterpret_cast<const double*>(shm.data());
  for (std::size_t i = 0; i < shm.size() / sizeof(double); ++i) total += v[i];
  std::printf("sum of the shared array written by another process: %.0f\n", total);
  shm.unlink();
}
