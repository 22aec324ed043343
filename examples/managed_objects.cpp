// The Manager: objects the coordinator hosts, shared by the client and the
// tasks on every node. The same program runs on a cluster: give the pool a
// dpool::Connect instead of a process count.
//   - 200 tasks add to one dict key with update(): exactly 200;
//   - tasks push words into a list and count them in a value;
//   - a lock held by a task whose executor is killed goes to the next waiter;
//   - tasks consume a pool.queue the client fills, and meet at a barrier.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <dpool/dpool.hpp>
#include <future>
#include <string>
#include <vector>

int count_word(std::string word) {
  auto mgr = dpool::this_task::manager();  // the same objects as the client's
  mgr.dict<std::string, int>("counts").update(
      word, [](std::optional<int> n) { return n.value_or(0) + 1; });
  mgr.list<std::string>("log").append(word);
  mgr.value<std::int64_t>("letters").fetch_add(static_cast<std::int64_t>(word.size()));
  return 0;
}
DPOOL_REGISTER(count_word);

// Takes the lock, tells the client its pid through `told`, and keeps the lock
// until its executor is killed.
int hog(dpool::ManagerLock lock, dpool::Queue<int> told) {
  lock.acquire();
  told.put(static_cast<int>(::getpid()));
  for (;;) ::pause();
}
DPOOL_REGISTER(hog);

long sum_jobs(dpool::Queue<int> jobs, dpool::ManagerBarrier done) {
  long sum = 0;
  for (;;) {
    int job = jobs.get();
    if (job < 0) break;
    sum += job;
  }
  done.wait();  // every consumer finishes together
  return sum;
}
DPOOL_REGISTER(sum_jobs);

int main(int argc, char** argv) {
  dpool::init(argc, argv);
  dpool::Pool pool(2);
  auto mgr = pool.manager();

  std::vector<std::string> words;
  for (int i = 0; i < 200; ++i) words.push_back(i % 4 == 0 ? "uno" : "dos");
  pool.map(count_word, words);
  auto counts = mgr.dict<std::string, int>("counts");
  std::printf("counts: uno %d, dos %d\n", counts.get("uno").value_or(0),
              counts.get("dos").value_or(0));
  std::printf("log has %zu words, %lld letters\n", mgr.list<std::string>("log").size(),
              static_cast<long long>(mgr.value<std::int64_t>("letters").load()));

  // A lease: the lock goes free when its holder dies.
  auto lock = mgr.lock("printer");
  auto told = pool.queue<int>();
  auto held = pool.apply_async(hog, lock, told);
  int holder = told.get();
  std::printf("lock held by a task: try_lock %s\n", lock.try_lock() ? "took it" : "failed");
  auto waiting =
      std::async(std::launch::async, [&] { return lock.acquire(std::chrono::seconds(30)); });
  ::kill(holder, SIGKILL);
  std::printf("its executor killed: the waiter %s\n", waiting.get() ? "got the lock" : "timed out");
  lock.release();
  try {
    held.get();
  } catch (const dpool::WorkerCrashed&) {
    std::printf("the holder's task failed with WorkerCrashed\n");
  }

  auto jobs = pool.queue<int>(10);
  auto done = mgr.barrier("done", 2);
  auto a = pool.apply_async(sum_jobs, jobs, done);
  auto b = pool.apply_async(sum_jobs, jobs, done);
  for (int i = 1; i <= 1000; ++i) jobs.put(i);
  jobs.put(-1);
  jobs.put(-1);
  std::printf("consumers summed %ld\n", a.get() + b.get());
}
