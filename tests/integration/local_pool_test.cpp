// Local mode end to end: a real embedded coordinator and node in this
// process, executors re-spawned from this test binary.
#include <doctest/doctest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <dpool/dpool.hpp>
#include <future>
#include <memory>
#include <ranges>
#include <set>
#include <thread>

#include "processes.hpp"
#include "task_starts.hpp"
#include "test_tasks.hpp"
#include "timing.hpp"

using namespace std::chrono_literals;
using test_support::Clock;
using test_support::seconds_since;
namespace tt = test_tasks;
namespace ts = test_support;

TEST_CASE("apply and apply_async return the task's result") {
  dpool::Pool pool(2);
  CHECK(pool.size() == 2);
  CHECK(pool.apply(tt::square, 7) == 49);
  CHECK(pool.apply(tt::add, 2, 3) == 5);
  auto r = pool.apply_async(tt::square, 20);
  CHECK(r.get(5s) == 400);
  CHECK(r.ready());
  CHECK(r.successful());
  CHECK(r.get() == 400);  // a second get returns the same value
  auto info = r.info();
  CHECK(info.node == "local");
  CHECK(info.pid > 0);
  CHECK(info.attempts == 1);
}

TEST_CASE("void tasks give AsyncResult<void>") {
  dpool::Pool pool(2);
  auto r = pool.apply_async(tt::touch, 1);
  r.get();
  CHECK(r.successful());
  pool.map(tt::touch, std::vector<int>{1, 2, 3});
}

TEST_CASE("map keeps input order for every chunksize") {
  dpool::Pool pool(2);
  std::vector<int> in(1000);
  for (int i = 0; i < 1000; ++i) in[i] = i;
  for (std::size_t chunk : {0u, 1u, 7u, 1000u, 5000u}) {
    auto out = pool.map(tt::square, in, chunk);
    REQUIRE(out.size() == 1000);
    for (int i = 0; i < 1000; ++i) CHECK(out[i] == i * i);
  }
  auto async = pool.map_async(tt::square, std::views::iota(0, 50), 3);
  auto v = async.get(10s);
  CHECK(v.size() == 50);
  CHECK(v[49] == 49 * 49);
}

TEST_CASE("starmap unpacks tuples of arguments") {
  dpool::Pool pool(2);
  std::vector<std::tuple<int, int>> pairs{{1, 2}, {3, 4}, {5, 6}};
  CHECK(pool.starmap(tt::add, pairs) == std::vector<int>{3, 7, 11});
  CHECK(pool.starmap_async(tt::add, pairs, 1).get() == std::vector<int>{3, 7, 11});
}

TEST_CASE("map and starmap take ranges of unknown size, in order") {
  dpool::Pool pool(2);
  auto odd = std::views::iota(0, 20) | std::views::filter([](int x) { return x % 2 == 1; });
  static_assert(!std::ranges::sized_range<decltype(odd)>);
  CHECK(pool.map(tt::square, odd, 3) ==
        std::vector<int>{1, 9, 25, 49, 81, 121, 169, 225, 289, 361});
  auto pairs = odd | std::views::transform([](int x) { return std::tuple<int, int>(x, 1); });
  CHECK(pool.starmap(tt::add, pairs, 4) == std::vector<int>{2, 4, 6, 8, 10, 12, 14, 16, 18, 20});
}

TEST_CASE("map over an empty input returns at once and join still works") {
  dpool::Pool pool(2);
  CHECK(pool.map(tt::square, std::vector<int>{}).empty());
  CHECK(pool.map_async(tt::square, std::vector<int>{}).ready());
  pool.close();
  pool.join();
}

TEST_CASE("a task that throws raises RemoteError with its type and message") {
  dpool::Pool pool(1);
  auto r = pool.apply_async(tt::throw_runtime, std::string("bad input 42"));
  try {
    r.get();
    FAIL("expected RemoteError");
  } catch (const dpool::RemoteError& e) {
    CHECK(e.type() == "std::runtime_error");
    CHECK(e.message() == "bad input 42");
    CHECK(e.node() == "local");
    CHECK(e.pid() > 0);
    CHECK(std::string(e.what()).find("bad input 42") != std::string::npos);
  }
  CHECK_FALSE(r.successful());
  CHECK(pool.apply(tt::square, 3) == 9);  // the pool keeps working
}

TEST_CASE("an executor crash fails exactly its task with WorkerCrashed while a map completes") {
  dpool::Pool pool(2);
  std::vector<int> in(300, 1);
  auto map = pool.map_async(tt::sleep_ms, in, 1);
  auto aborted = pool.apply_async(tt::crash_abort, 0);
  auto segv = pool.apply_async(tt::crash_segv, 0);
  auto exited = pool.apply_async(tt::crash_exit, 7);
  auto expect_crash = [](auto& r, int sig, int code) {
    try {
      r.get(30s);
      FAIL("expected WorkerCrashed");
    } catch (const dpool::WorkerCrashed& e) {
      CHECK(e.signal() == sig);
      CHECK(e.exit_code() == code);
    }
  };
  expect_crash(aborted, SIGABRT, -1);
  expect_crash(segv, SIGSEGV, -1);
  expect_crash(exited, 0, 7);
  auto results = map.get(60s);
  CHECK(results.size() == 300);
  CHECK(pool.apply(tt::square, 4) == 16);
}

TEST_CASE("an unknown task name raises UnknownTask naming the node and known tasks") {
  dpool::Pool pool(1);
  dpool::Remote<int(int)> missing{"no_such_task"};
  try {
    pool.apply(missing, 1);
    FAIL("expected UnknownTask");
  } catch (const dpool::UnknownTask& e) {
    std::string w = e.what();
    CHECK(w.find("no_such_task") != std::string::npos);
    CHECK(w.find("local") != std::string::npos);
    CHECK(w.find("add") != std::string::npos);
  }
}

TEST_CASE("a function that was never registered is refused before it is sent") {
  dpool::Pool pool(1);
  CHECK_THROWS_AS(pool.apply(
                      +[](int x) { return x; }, 1),
                  dpool::UnknownTask);
}

TEST_CASE("calling a task with the wrong types raises SignatureMismatch with both signatures") {
  dpool::Pool pool(1);
  dpool::Remote<int(int)> wrong{"half"};  // registered as double(double)
  try {
    pool.apply(wrong, 1);
    FAIL("expected SignatureMismatch");
  } catch (const dpool::SignatureMismatch& e) {
    std::string w = e.what();
    CHECK(w.find("int(int)") != std::string::npos);
    CHECK(w.find("double(double)") != std::string::npos);
  }
  dpool::Remote<double(double)> right{"half"};
  CHECK(pool.apply(right, 3.0) == doctest::Approx(1.5));
}

TEST_CASE("a result that cannot be serialized raises SerializationError and the executor lives") {
  dpool::Pool pool(1);
  int before = pool.apply(tt::pid_after_ms, 0);
  CHECK_THROWS_AS(pool.apply(tt::make_unserializable, 1), dpool::SerializationError);
  CHECK(pool.apply(tt::pid_after_ms, 0) == before);
}

TEST_CASE("a 64 MiB argument and a 32 MiB result travel intact") {
  dpool::Pool pool(1);
  std::string big(64u << 20, 'a');
  big[12345] = 'b';
  CHECK(pool.apply(tt::length, big) == big.size());
  auto back = pool.apply(tt::blob, std::uint64_t{32u << 20});
  CHECK(back.size() == (32u << 20));
  CHECK(back.find_first_not_of('x') == std::string::npos);
}

TEST_CASE("get with a timeout raises TimeoutError in about that time and a later get succeeds") {
  dpool::Pool pool(1);
  auto r = pool.apply_async(tt::sleep_ms, 1500);
  auto t0 = Clock::now();
  CHECK_THROWS_AS(r.get(100ms), dpool::TimeoutError);
  CHECK(seconds_since(t0) >= 0.099);
  CHECK_WITHIN(t0, 1.0);
  CHECK_FALSE(r.wait(1ms));
  CHECK(r.get(30s) == 1500);
}

TEST_CASE(
    "terminate with 200 long tasks in flight, two of them running, returns within 2 s; results "
    "raise Cancelled and the running executors are killed") {
  dpool::Pool pool(2);
  ts::TaskStarts starts;
  std::vector<dpool::AsyncResult<int>> rs;
  for (int i = 0; i < 200; ++i)
    rs.push_back(pool.apply_async(tt::started_then_sleep, starts.path(), 20000));
  auto running = starts.wait(2, 30s);  // both executors are inside a task
  REQUIRE(running.size() == 2);
  CHECK(running[0] != running[1]);
  auto t0 = Clock::now();
  pool.terminate();
  CHECK_WITHIN(t0, 2.0);
  for (auto& r : rs) CHECK_THROWS_AS(r.get(1s), dpool::Cancelled);
  for (int pid : running) CHECK(ts::wait_gone(pid, 10s));
  pool.join();
  CHECK_THROWS_AS(pool.apply_async(tt::square, 1), dpool::PoolClosed);
}

TEST_CASE("destroying a pool with work in flight does not hang") {
  auto t0 = Clock::now();
  dpool::AsyncResult<int> survivor;
  {
    dpool::Pool pool(2);
    for (int i = 0; i < 50; ++i) survivor = pool.apply_async(tt::sleep_ms, 20000);
  }
  CHECK_WITHIN(t0, 5.0);
  CHECK_THROWS_AS(survivor.get(1s), dpool::Cancelled);
}

TEST_CASE("close then join waits for queued work; submitting after close raises PoolClosed") {
  dpool::Pool pool(2);
  std::vector<dpool::AsyncResult<int>> rs;
  for (int i = 0; i < 20; ++i) rs.push_back(pool.apply_async(tt::sleep_ms, 10));
  CHECK_THROWS_AS(pool.join(), std::logic_error);
  pool.close();
  CHECK_THROWS_AS(pool.apply_async(tt::square, 1), dpool::PoolClosed);
  pool.join();
  for (auto& r : rs) CHECK(r.ready());
}

TEST_CASE("then and on_error run once on a dpool thread, also when attached late") {
  // Shared with the callbacks, so a stray late call could not touch a dead frame.
  struct Seen {
    std::atomic<int> value_calls{0}, error_calls{0}, late_calls{0}, misrouted{0};
    std::promise<int> value;
    std::promise<std::string> error;
    std::promise<std::thread::id> late;
    std::promise<void> flushed;
  };
  auto seen = std::make_shared<Seen>();
  auto value = seen->value.get_future();
  auto error = seen->error.get_future();
  auto late = seen->late.get_future();
  auto flushed = seen->flushed.get_future();
  dpool::AsyncResult<int> done;
  {
    dpool::Pool pool(2);
    pool.apply_async(tt::square, 9)
        .then([seen](const int& v) {
          if (seen->value_calls++ == 0) seen->value.set_value(v);
        })
        .on_error([seen](std::exception_ptr) { ++seen->misrouted; });
    pool.apply_async(tt::throw_runtime, std::string("oops"))
        .on_error([seen](std::exception_ptr e) {
          if (seen->error_calls++ > 0) return;
          try {
            std::rethrow_exception(e);
          } catch (const dpool::RemoteError& re) {
            seen->error.set_value(re.message());
          } catch (...) {
            seen->error.set_value("not a RemoteError");
          }
        })
        .then([seen](const int&) { ++seen->misrouted; });
    REQUIRE(value.wait_for(30s) == std::future_status::ready);
    CHECK(value.get() == 81);
    REQUIRE(error.wait_for(30s) == std::future_status::ready);
    CHECK(error.get() == "oops");
    done = pool.apply_async(tt::square, 5);
    REQUIRE(done.wait(30s));
    done.then([seen](const int&) {
      if (seen->late_calls++ == 0) seen->late.set_value(std::this_thread::get_id());
    });
    REQUIRE(late.wait_for(30s) == std::future_status::ready);
    CHECK(late.get() != std::this_thread::get_id());
  }
  // The pool is gone, so no result can arrive any more. Callbacks run one at
  // a time in the order they were posted, on one thread: once this one has
  // run, a second call of any callback above would have run before it.
  done.then([seen](const int&) { seen->flushed.set_value(); });
  REQUIRE(flushed.wait_for(30s) == std::future_status::ready);
  CHECK(seen->value_calls == 1);
  CHECK(seen->error_calls == 1);
  CHECK(seen->late_calls == 1);
  CHECK(seen->misrouted == 0);
}

TEST_CASE("several executors share the work") {
  dpool::Pool pool(2);
  std::vector<dpool::AsyncResult<int>> rs;
  for (int i = 0; i < 6; ++i) rs.push_back(pool.apply_async(tt::pid_after_ms, 100));
  std::set<int> pids;
  for (auto& r : rs) pids.insert(r.get(10s));
  CHECK(pids.size() == 2);
}

TEST_CASE("a pool view carries task options and shares the pool") {
  dpool::Pool pool(1);
  auto view = pool.with({.priority = 5});
  CHECK(view.options().priority == 5);
  CHECK(view.apply(tt::square, 6) == 36);
  CHECK(view.map(tt::square, std::vector<int>{1, 2}) == std::vector<int>{1, 4});
}

TEST_CASE("wait_all waits for every result or raises TimeoutError") {
  dpool::Pool pool(2);
  std::vector<dpool::AsyncResult<int>> rs;
  for (int i = 0; i < 4; ++i) rs.push_back(pool.apply_async(tt::square, i));
  dpool::wait_all(std::span(rs), 10s);
  for (auto& r : rs) CHECK(r.ready());
  std::vector<dpool::AsyncResult<int>> slow{pool.apply_async(tt::sleep_ms, 3000)};
  CHECK_THROWS_AS(dpool::wait_all(std::span(slow), 50ms), dpool::TimeoutError);
}

TEST_CASE("waits take vectors and fractional-second timeouts") {
  dpool::Pool pool(1);
  std::vector<dpool::AsyncResult<int>> rs{pool.apply_async(tt::square, 3)};
  dpool::wait_all(rs, 10s);
  CHECK(dpool::wait_any(rs, 10s) == 0);
  CHECK(rs[0].get(std::chrono::duration<double>(2.5)) == 9);
}
