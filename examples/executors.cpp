// concurrent.futures in C++: the same code on threads (ThreadPoolExecutor)
// and on processes (Executor, Python's ProcessPoolExecutor), then
// as_completed, wait and a done callback.
//   ./executors
#include <chrono>
#include <cstdio>
#include <dpool/dpool.hpp>
#include <future>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

// Sleeps `steps` × 20 ms and says how many steps it took.
std::string timer(std::string name, int steps) {
  for (int step = 0; step < steps; ++step) std::this_thread::sleep_for(20ms);
  return name + " took " + std::to_string(steps) + " steps";
}
DPOOL_REGISTER(timer);

long long sum_to(long long n) {
  long long s = 0;
  for (long long i = 1; i <= n; ++i) s += i;
  return s;
}
DPOOL_REGISTER(sum_to);

// Swap the executor type to move the work between threads and processes.
template <class AnyExecutor>
void run_timers(const char* kind) {
  AnyExecutor ex(2);
  std::vector<dpool::Future<std::string>> futures;
  futures.push_back(ex.submit(timer, std::string("a"), 25));
  futures.push_back(ex.submit(timer, std::string("b"), 1));
  // as_completed yields "b" first: it finishes first, not because it came first.
  // (With processes, "b" starts once the second executor has started: "a" is
  // long enough to cover that on a slow machine.)
  for (auto& f : dpool::as_completed(futures, 30s))
    std::printf("%s: %s\n", kind, f.result().c_str());
}  // leaving the scope shuts the executor down and waits, like Python's `with`

int main(int argc, char** argv) {
  dpool::init(argc, argv);
  run_timers<dpool::ThreadPoolExecutor>("threads");
  run_timers<dpool::Executor>("processes");

  dpool::Executor ex(2);
  long long total = 0;
  for (long long s : ex.map(sum_to, std::vector<long long>{10, 100, 1000}, {.timeout = 30s}))
    total += s;
  std::printf("map: the sums add up to %lld\n", total);

  std::vector<dpool::Future<std::string>> race;
  race.push_back(ex.submit(timer, std::string("slow"), 50));
  race.push_back(ex.submit(timer, std::string("quick"), 1));
  auto [done, not_done] = dpool::wait(race, 30s, dpool::Return::first_completed);
  std::printf("wait: %zu done first, %zu still running\n", done.size(), not_done.size());

  std::promise<void> called;
  auto last = ex.submit(sum_to, 1000000LL);
  last.add_done_callback([&](const dpool::Future<long long>& f) {
    std::printf("callback: %lld\n", f.result());
    called.set_value();
  });
  called.get_future().wait();
}
