// dpool::Queue<T> between this program and its Processes, with cases ported
// from CPython's Lib/test/_test_multiprocessing.py (_TestQueue) and
// test_queue's shutdown cases; each names the test it comes from.
#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <dpool/dpool.hpp>
#include <memory>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "process_tasks.hpp"
#include "task_starts.hpp"
#include "test_tasks.hpp"
#include "timing.hpp"

using namespace std::chrono_literals;
namespace pt = process_tasks;
namespace ts = test_support;
using test_support::Clock;

TEST_CASE("put and get, full and empty, with and without timeouts (test_put, test_get)") {
  dpool::Queue<int> q(6);
  CHECK(q.empty());
  CHECK_FALSE(q.full());
  for (int i = 1; i <= 6; ++i) q.put(i);
  CHECK(q.qsize() == 6);
  CHECK(q.full());
  CHECK_FALSE(q.try_put(7));
  auto t0 = Clock::now();
  CHECK_THROWS_AS(q.put(7, 100ms), dpool::Full);
  CHECK(test_support::seconds_since(t0) >= 0.099);
  CHECK_WITHIN(t0, 10.0);
  for (int i = 1; i <= 6; ++i) CHECK(q.get() == i);
  CHECK(q.empty());
  CHECK_FALSE(q.try_get());
  t0 = Clock::now();
  CHECK_THROWS_AS(q.get(100ms), dpool::Empty);
  CHECK(test_support::seconds_since(t0) >= 0.099);
  q.put(8);
  CHECK(q.try_get() == 8);
}

TEST_CASE("items put by a process reach the parent in order (test_fork)") {
  dpool::Queue<int> q;
  dpool::Process p(pt::produce, q, 0, 1000);
  p.start();
  for (int i = 0; i < 1000; ++i) CHECK(q.get(30s) == i);
  p.join();
  CHECK(p.exitcode() == 0);
  CHECK(q.empty());
}

TEST_CASE("a blocked get wakes when another process puts") {
  dpool::Queue<int> q;
  ts::TaskStarts starts;
  dpool::Process p(pt::announce_then_get, q, starts.path());
  p.start();
  REQUIRE(starts.wait(1, 30s).size() == 1);  // started: it will block in get
  q.put(4242);
  CHECK(starts.wait(1, 30s) == std::vector<int>{4242});
  p.join();
}

TEST_CASE("workers mark items done and join waits for all of them (test_task_done)") {
  dpool::Queue<int> in, out;
  std::vector<std::unique_ptr<dpool::Process>> workers;
  for (int i = 0; i < 3; ++i) {
    workers.push_back(std::make_unique<dpool::Process>(pt::square_worker, in, out));
    workers.back()->start();
  }
  for (int i = 0; i < 50; ++i) in.put(i);
  in.join();  // every item was taken and marked done
  CHECK(out.qsize() == 50);
  long total = 0;
  for (int i = 0; i < 50; ++i) total += out.get();
  CHECK(total == 40425);  // 0² + 1² + ... + 49²
  for (int i = 0; i < 3; ++i) in.put(-1);
  for (auto& w : workers) {
    w->join();
    CHECK(w->exitcode() == 0);
  }
  CHECK_THROWS_AS(in.task_done(), std::logic_error);  // more often than put
}

TEST_CASE("a consumer killed while blocked in get loses no item") {
  dpool::Queue<int> q;
  ts::TaskStarts starts;
  dpool::Process victim(pt::announce_then_get, q, starts.path());
  victim.start();
  auto pids = starts.wait(1, 30s);
  REQUIRE(pids.size() == 1);
  victim.kill();
  victim.join();
  CHECK(victim.exitcode() == -SIGKILL);
  q.put(7);
  CHECK(q.get(10s) == 7);
}

TEST_CASE(
    "shutdown: puts raise ShutDown, gets drain then raise; blocked callers wake (test_shutdown)") {
  SUBCASE("graceful") {
    dpool::Queue<int> q;
    q.put(1);
    q.put(2);
    q.shutdown();
    CHECK_THROWS_AS(q.put(3), dpool::ShutDown);
    CHECK_THROWS_AS(q.put(3, 1s), dpool::ShutDown);  // never Full
    CHECK(q.get() == 1);
    CHECK(q.get() == 2);
    CHECK_THROWS_AS(q.get(), dpool::ShutDown);
    CHECK_THROWS_AS(q.get(1s), dpool::ShutDown);  // never Empty
  }
  SUBCASE("immediate: what is left is dropped and join returns") {
    dpool::Queue<int> q;
    q.put(1);
    q.put(2);
    q.shutdown(true);
    CHECK_THROWS_AS(q.get(), dpool::ShutDown);
    q.join();
  }
  SUBCASE("a blocked get and a blocked put wake up") {
    dpool::Queue<int> empty, full(1);
    full.put(0);
    std::thread getter([&] { CHECK_THROWS_AS(empty.get(), dpool::ShutDown); });
    std::thread putter([&] { CHECK_THROWS_AS(full.put(1), dpool::ShutDown); });
    empty.shutdown();
    full.shutdown();
    getter.join();
    putter.join();
  }
}

TEST_CASE("an item that cannot be serialized is refused at put and takes no room") {
  dpool::Queue<test_tasks::Unserializable> q(1);
  CHECK_THROWS_AS(q.put(test_tasks::Unserializable{}), dpool::SerializationError);
  CHECK(q.empty());
}

TEST_CASE("an item larger than the queue is refused with the sizes") {
  dpool::Queue<std::string> q;
  CHECK_THROWS_AS(q.put(std::string(dpool::detail::kQueueRingBytes, 'x')), dpool::Error);
  CHECK(q.empty());
}

TEST_CASE("a local queue reaches the tasks of a local pool, as a reference") {
  dpool::Pool pool(2);
  dpool::Queue<int> q;
  dpool::Remote<void(dpool::Queue<int>, int, int)> produce{"process_produce"};
  std::vector<dpool::AsyncResult<void>> rs;
  for (int i = 0; i < 4; ++i) rs.push_back(pool.apply_async(produce, q, i * 100, 100));
  for (auto& r : rs) r.get(30s);
  std::set<int> got;
  while (auto v = q.try_get()) got.insert(*v);
  CHECK(got.size() == 400);
  CHECK(*got.begin() == 0);
  CHECK(*got.rbegin() == 399);
}
