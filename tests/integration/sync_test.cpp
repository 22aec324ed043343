// Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition, Barrier,
// Value, Array and SharedMemory between this program and its Processes,
// with cases ported from CPython's Lib/test/_test_multiprocessing.py
// (_TestLock, _TestSemaphore, _TestCondition, _TestEvent, _TestBarrier,
// _TestValue, _TestArray, _TestSharedMemory); each names the test it comes from.
#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <dpool/dpool.hpp>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "process_tasks.hpp"
#include "task_starts.hpp"
#include "timing.hpp"

using namespace std::chrono_literals;
namespace pt = process_tasks;
namespace ts = test_support;
using test_support::Clock;
using test_support::seconds_since;

namespace {

void run_all(std::vector<std::unique_ptr<dpool::Process>>& ps) {
  for (auto& p : ps) p->start();
  for (auto& p : ps) {
    p->join();
    CHECK(p->exitcode() == 0);
  }
}

}  // namespace

TEST_CASE("a Lock is held by one holder at a time (test_lock, test_lock_context)") {
  dpool::Lock l;
  CHECK(l.acquire(0ms));
  std::thread([&] { CHECK_FALSE(l.acquire(50ms)); }).join();
  CHECK_THROWS_AS(l.acquire(), dpool::Error);  // this thread holds it: a certain deadlock
  l.release();
  CHECK_THROWS_AS(l.release(), std::logic_error);  // not held
  {
    std::lock_guard guard(l);
    std::thread([&] { CHECK_FALSE(l.try_lock()); }).join();
  }
  CHECK(l.try_lock());
  l.unlock();
}

TEST_CASE(
    "an RLock is acquired again by its holder and freed after as many releases (test_rlock)") {
  dpool::RLock l;
  l.acquire();
  l.acquire();
  l.acquire();
  std::thread([&] { CHECK_FALSE(l.acquire(0ms)); }).join();
  l.release();
  l.release();
  l.release();
  std::thread([&] {
    CHECK(l.acquire(0ms));
    l.release();
  }).join();
  CHECK_THROWS_AS(l.release(), std::logic_error);
}

TEST_CASE(
    "a Value incremented by 4 processes 50,000 times each under its lock ends exact (test_value)") {
  dpool::Value<int> counter(0);
  std::vector<std::unique_ptr<dpool::Process>> ps;
  for (int i = 0; i < 4; ++i)
    ps.push_back(std::make_unique<dpool::Process>(pt::add_to, counter, 50000, true));
  run_all(ps);
  CHECK(counter.value() == 200000);
  CHECK(counter.load() == 200000);
  counter.store(7);
  CHECK(counter.fetch_add(3) == 7);
  CHECK(counter.value() == 10);
}

TEST_CASE("a lock held by a process killed with -9 is free for the next holder at once") {
  dpool::Lock l;
  dpool::Value<int> v(0);
  ts::TaskStarts starts;
  dpool::Process holder(pt::hold_and_hang, l, v, starts.path());
  holder.start();
  REQUIRE(starts.wait(1, 30s).size() == 1);  // it holds the lock now
  CHECK_FALSE(l.acquire(0ms));
  holder.kill();
  holder.join();
  auto t0 = Clock::now();
  CHECK(l.acquire(5s));  // Python's multiprocessing.Lock would stay locked for ever
  CHECK(seconds_since(t0) < 1.0);
  CHECK(v.value() == 1);  // what it did under the lock is there
  l.release();
}

TEST_CASE("an Array filled by a child is read by the parent (test_array, test_array_from_size)") {
  dpool::Array<double> a(10);
  CHECK(a.size() == 10);
  for (double x : a) CHECK(x == 0.0);
  dpool::Process p(pt::fill, a);
  p.start();
  p.join();
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i] == static_cast<double>(i) * 1.5);
  dpool::Array<int> b{1, 2, 3};
  CHECK(std::vector<int>(b.begin(), b.end()) == std::vector<int>{1, 2, 3});
  std::lock_guard guard(b.get_lock());  // getobj/getlock: the lock guards it
  b[0] = 9;
  CHECK(b[0] == 9);
}

TEST_CASE(
    "a Semaphore counts permits; a BoundedSemaphore refuses a release past its bound "
    "(test_semaphore, test_bounded_semaphore, test_timeout)") {
  dpool::Semaphore s(2);
  CHECK(s.value() == 2);
  s.acquire();
  CHECK(s.acquire(0ms));
  CHECK(s.value() == 0);
  auto t0 = Clock::now();
  CHECK_FALSE(s.acquire(100ms));
  CHECK(seconds_since(t0) >= 0.099);
  s.release();
  s.release();
  s.release();  // an ordinary Semaphore may go above its start
  CHECK(s.value() == 3);
  dpool::BoundedSemaphore b(1);
  b.acquire();
  b.release();
  CHECK_THROWS_AS(b.release(), std::logic_error);
}

TEST_CASE("an Event set by a process wakes its waiter (test_event)") {
  dpool::Event e;
  CHECK_FALSE(e.is_set());
  CHECK_FALSE(e.wait(0ms));
  CHECK_FALSE(e.wait(50ms));
  dpool::Queue<int> started;
  dpool::Process p(pt::set_event, e, started);
  p.start();
  CHECK(e.wait(30s));
  CHECK(e.is_set());
  e.clear();
  CHECK_FALSE(e.is_set());
  p.join();
}

TEST_CASE("a Condition wakes a process waiting for a value (test_notify, test_waitfor)") {
  dpool::Condition c;
  dpool::Value<int> v(0);
  dpool::Queue<int> out;
  dpool::Process consumer(pt::wait_for_value, c, v, 3, out);
  consumer.start();
  for (int i = 1; i <= 3; ++i) {
    std::lock_guard guard(c);
    v.value() = i;
    c.notify_all();
  }
  CHECK(out.get(30s) == 3);
  consumer.join();
  CHECK(consumer.exitcode() == 0);
}

TEST_CASE(
    "Condition wait and wait_for time out when nobody notifies (test_timeout, "
    "test_waitfor_timeout)") {
  dpool::Lock l;
  dpool::Condition c(l);
  std::lock_guard guard(c);
  auto t0 = Clock::now();
  CHECK_FALSE(c.wait(100ms));
  CHECK(seconds_since(t0) >= 0.099);
  int calls = 0;
  CHECK_FALSE(c.wait_for([&] { return ++calls > 1000; }, 100ms));
  CHECK_WITHIN(t0, 10.0);
}

TEST_CASE(
    "a Barrier of 4 processes releases each round together, indices 0..3 (test_barrier, "
    "test_wait_return)") {
  dpool::Barrier b(4);
  CHECK(b.parties() == 4);
  dpool::Queue<int> out;
  std::vector<std::unique_ptr<dpool::Process>> ps;
  for (int i = 0; i < 4; ++i)
    ps.push_back(std::make_unique<dpool::Process>(pt::barrier_party, b, 3, out));
  run_all(ps);
  std::multiset<int> indices;
  for (int i = 0; i < 12; ++i) indices.insert(out.get(10s));
  for (int i = 0; i < 4; ++i) CHECK(indices.count(i) == 3);  // each round hands out 0..3
  CHECK_FALSE(b.broken());
}

TEST_CASE(
    "a Barrier party that never arrives breaks it at the timeout for the others (test_timeout)") {
  dpool::Barrier b(3);
  dpool::Queue<int> out;
  dpool::Process a(pt::barrier_waits, b, 300, out);
  dpool::Process c(pt::barrier_waits, b, 30000, out);
  a.start();
  c.start();
  CHECK(out.get(30s) == 1);  // broken, not passed
  CHECK(out.get(30s) == 1);
  a.join();
  c.join();
  CHECK(b.broken());
  CHECK_THROWS_AS(b.wait(), dpool::BrokenBarrierError);
  b.reset();
  CHECK_FALSE(b.broken());
}

TEST_CASE("abort breaks a Barrier for its waiters (test_abort)") {
  dpool::Barrier b(2);
  std::thread waiter([&] { CHECK_THROWS_AS(b.wait(), dpool::BrokenBarrierError); });
  while (b.n_waiting() == 0) std::this_thread::yield();  // it is waiting now
  b.abort();
  waiter.join();
  CHECK(b.broken());
}

TEST_CASE(
    "SharedMemory written by one process is read by another, and cleaned up "
    "(test_shared_memory_basics, test_shared_memory_across_processes)") {
  std::string name = "dpool-test-" + std::to_string(::getpid());
  {
    dpool::SharedMemory shm(name, 1 << 20, dpool::create);
    CHECK(shm.name() == name);
    CHECK(shm.size() == 1 << 20);
    CHECK_THROWS_AS((dpool::SharedMemory{name, 10, dpool::create}), dpool::Error);
    dpool::Process p(pt::write_segment, name);
    p.start();
    p.join();
    REQUIRE(p.exitcode() == 0);
    dpool::SharedMemory again(name);
    bool same = true;
    for (std::size_t i = 0; i < again.size(); ++i)
      same = same && again.data()[i] == static_cast<std::byte>(i % 251);
    CHECK(same);
    shm.unlink();
  }
  CHECK_THROWS_AS(dpool::SharedMemory{name}, dpool::Error);  // gone
}

TEST_CASE("200 tasks of a local pool increment a locked Value to exactly 200") {
  dpool::Pool pool(2);
  dpool::Value<int> counter(0);
  dpool::Remote<void(dpool::Value<int>, int, bool)> add_to{"process_add_to"};
  std::vector<dpool::AsyncResult<void>> rs;
  for (int i = 0; i < 200; ++i) rs.push_back(pool.apply_async(add_to, counter, 1, true));
  for (auto& r : rs) r.get(30s);
  CHECK(counter.value() == 200);
}

TEST_CASE("a task whose shared object's maker dropped it before it ran fails with a clear error") {
  dpool::Pool pool(1);
  ts::TaskStarts starts;
  ts::TaskGate gate;
  // The only executor waits at the gate, so the next task cannot start yet.
  dpool::Remote<void(std::string, std::string)> wait_at_gate{"process_wait_at_gate"};
  auto blocker = pool.apply_async(wait_at_gate, starts.path(), gate.path());
  REQUIRE(starts.wait(1, 30s).size() == 1);
  dpool::AsyncResult<void> late;
  {
    dpool::Value<int> v(0);
    dpool::Remote<void(dpool::Value<int>, int, bool)> add_to{"process_add_to"};
    late = pool.apply_async(add_to, v, 1, true);
  }  // the last handle is gone: nothing in this program holds the block
  gate.open();
  blocker.get(30s);
  try {
    late.get(30s);
    FAIL("the task ran on an object that no longer exists");
  } catch (const dpool::SerializationError& e) {
    CHECK(std::string(e.what()).find("is gone") != std::string::npos);
  }
}

TEST_CASE("a shared object from another machine is refused, naming the Manager's equivalent") {
  dpool::detail::SharedBlock::Ref foreign;
  foreign.kind = 1;
  foreign.boot = "00000000-0000-0000-0000-000000000000";
  foreign.host = "elsewhere";
  foreign.pid = 1;
  foreign.fd = 3;
  try {
    dpool::detail::SharedBlock::from(foreign, "a dpool::Lock or RLock", "mgr.lock");
    FAIL("a block of another machine was opened");
  } catch (const dpool::SerializationError& e) {
    std::string what = e.what();
    CHECK(what.find("elsewhere") != std::string::npos);
    CHECK(what.find("mgr.lock") != std::string::npos);
  }
}
