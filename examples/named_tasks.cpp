// Eight named tasks with random 1-4 s sleeps on a pool of cpu_count()
// executors: the start and finish lines show that only that many run at once.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <dpool/dpool.hpp>
#include <iostream>
#include <random>
#include <string>
#include <thread>

struct Report {
  std::string name;
  int pid = 0;
  double seconds = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, pid, seconds);
  }
};

Report work(std::string name, int millis) {
  std::printf("         start  %s in executor %d\n", name.c_str(), static_cast<int>(::getpid()));
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::milliseconds(millis));  // the task's work
  return {name, static_cast<int>(::getpid()), millis / 1000.0};
}
DPOOL_REGISTER(work);

int main(int argc, char** argv) {
  dpool::init(argc, argv);
  unsigned n = dpool::cpu_count();
  dpool::Pool pool(n);
  std::cout << "8 tasks on " << n << " executors\n";
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> ms(1000, 4000);
  auto t0 = std::chrono::steady_clock::now();
  auto since = [t0] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  std::vector<dpool::AsyncResult<Report>> results;
  for (int i = 0; i < 8; ++i) {
    std::string name = "task-" + std::to_string(i);
    int d = ms(rng);
    std::printf("%6.2fs  submit %s (%.1f s)\n", since(), name.c_str(), d / 1000.0);
    results.push_back(pool.apply_async(work, name, d));
    results.back().then([since](const Report& r) {
      std::printf("%6.2fs  finish %s in executor %d after %.1f s\n", since(), r.name.c_str(), r.pid,
                  r.seconds);
    });
  }
  for (auto& r : results) r.wait();
  pool.close();
  pool.join();
  std::printf("%6.2fs  all done\n", since());
}
