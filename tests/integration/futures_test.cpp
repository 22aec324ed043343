// concurrent.futures for dpool: Executor (processes) and ThreadPoolExecutor
// (threads), Future, as_completed and wait, and ThreadPool's Pool verbs, with
// cases ported from CPython's Lib/test/test_concurrent_futures (each names the
// test it comes from).
#include <doctest/doctest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <dpool/dpool.hpp>
#include <future>
#include <numeric>
#include <ranges>
#include <set>
#include <string>
#include <vector>

#include "task_starts.hpp"
#include "test_tasks.hpp"
#include "timing.hpp"

using namespace std::chrono_literals;
namespace tt = test_tasks;
namespace ts = test_support;

namespace {

// The same cases on processes and on threads.
template <class Body>
void on_both(Body body) {
  SUBCASE("Executor (processes)") {
    dpool::Executor ex(2);
    body(ex);
  }
  SUBCASE("ThreadPoolExecutor") {
    dpool::ThreadPoolExecutor ex(2);
    body(ex);
  }
}

}  // namespace

TEST_CASE("submit returns a future with the result (test_submit)") {
  on_both([](auto& ex) {
    auto f = ex.submit(tt::add, 2, 8);
    CHECK(f.result(30s) == 10);
    CHECK(f.done());
    CHECK_FALSE(f.running());
    CHECK_FALSE(f.cancelled());
    CHECK(f.exception() == nullptr);
  });
}

TEST_CASE(
    "map is lazy and ordered, and raises where a call failed (test_map, test_map_exception)") {
  on_both([](auto& ex) {
    std::vector<int> got;
    for (int v : ex.map(tt::square, std::views::iota(0, 10))) got.push_back(v);
    CHECK(got == std::vector<int>{0, 1, 4, 9, 16, 25, 36, 49, 64, 81});
    auto results = ex.map(tt::throw_runtime, std::vector<std::string>{"bad"});
    CHECK_THROWS_AS(results.begin(), dpool::RemoteError);
  });
}

TEST_CASE("map's timeout counts from the call (test_map_timeout)") {
  on_both([](auto& ex) {
    // Started first, so that the budget is the map's and not the executors' start
    // (slow under the sanitizers on a loaded machine).
    CHECK(ex.submit(tt::add, 1, 1).result(30s) == 2);
    auto results = ex.map(tt::sleep_ms, std::vector<int>{10, 3000}, {.timeout = 1500ms});
    auto it = results.begin();
    CHECK(*it == 10);
    CHECK_THROWS_AS(++it, dpool::TimeoutError);
  });
}

TEST_CASE(
    "a future's exception, result with a timeout, and its error (test_exception_with_timeout, "
    "test_result_with_timeout)") {
  on_both([](auto& ex) {
    auto slow = ex.submit(tt::sleep_ms, 1500);
    CHECK_THROWS_AS(slow.result(50ms), dpool::TimeoutError);
    CHECK_THROWS_AS(slow.exception(50ms), dpool::TimeoutError);
    auto bad = ex.submit(tt::throw_runtime, std::string("boom"));
    auto e = bad.exception(30s);
    REQUIRE(e != nullptr);
    CHECK_THROWS_AS(std::rethrow_exception(e), dpool::RemoteError);
    CHECK_THROWS_AS(bad.result(), dpool::RemoteError);
  });
}

TEST_CASE(
    "done callbacks run once, at once when already done (test_done_callback_with_result, "
    "test_done_callback_already_successful)") {
  on_both([](auto& ex) {
    auto f = ex.submit(tt::add, 1, 2);
    std::promise<int> first, second;
    std::atomic<int> calls{0};
    f.add_done_callback([&](const dpool::Future<int>& done) {
      ++calls;
      first.set_value(done.result());
    });
    CHECK(first.get_future().get() == 3);
    f.add_done_callback([&](const dpool::Future<int>& done) { second.set_value(done.result()); });
    CHECK(second.get_future().get() == 3);  // it was done already
    CHECK(calls == 1);
  });
}

TEST_CASE("cancel stops a call that has not started and says so (test_cancel, test_cancelled)") {
  on_both([](auto& ex) {
    ts::TaskStarts starts;
    ts::TaskGate gates[2];
    std::vector<dpool::Future<int>> busy;
    for (auto& gate : gates)
      busy.push_back(ex.submit(tt::started_then_gate, starts.path(), gate.path()));
    REQUIRE(starts.wait(2, 30s).size() == 2);  // both workers are busy until their gates open
    // As in ProcessPoolExecutor, a few calls may already be handed on to a
    // busy worker (prefetched) and run: the last of several is still queued.
    std::vector<dpool::Future<int>> queued;
    for (int i = 0; i < 8; ++i) queued.push_back(ex.submit(tt::add, i, 1));
    auto& last = queued.back();
    CHECK(last.cancel());
    CHECK(last.cancelled());
    CHECK(last.done());
    CHECK_THROWS_AS(last.result(30s), dpool::Cancelled);
    CHECK_FALSE(busy[0].cancel());  // running
    for (auto& gate : gates) gate.open();
    CHECK(busy[0].result(30s) == 1);
    CHECK(busy[1].result(30s) == 1);
    CHECK(queued.front().result(30s) == 1);
  });
}

TEST_CASE(
    "as_completed yields each future once as it is done; TimeoutError for the rest "
    "(test_no_timeout, test_zero_timeout)") {
  on_both([](auto& ex) {
    std::vector<dpool::Future<int>> fs;
    fs.push_back(ex.submit(tt::sleep_ms, 600));
    fs.push_back(ex.submit(tt::sleep_ms, 5));
    std::vector<int> order;
    for (auto& f : dpool::as_completed(fs, 30s)) order.push_back(f.result());
    CHECK(order == std::vector<int>{5, 600});
    std::vector<dpool::Future<int>> slow;
    slow.push_back(ex.submit(tt::sleep_ms, 1500));
    auto range = dpool::as_completed(slow, 0s);
    CHECK_THROWS_AS(range.begin(), dpool::TimeoutError);
  });
}

TEST_CASE(
    "wait returns done and not-done indices as asked (test_first_completed, test_first_exception, "
    "test_all_completed, test_timeout)") {
  on_both([](auto& ex) {
    std::vector<dpool::Future<int>> fs;
    fs.push_back(ex.submit(tt::sleep_ms, 1500));
    fs.push_back(ex.submit(tt::sleep_ms, 5));
    auto [done, not_done] = dpool::wait(fs, 30s, dpool::Return::first_completed);
    CHECK(done == std::vector<std::size_t>{1});
    CHECK(not_done == std::vector<std::size_t>{0});
    auto [d2, n2] = dpool::wait(fs, 50ms);  // all_completed, but the timeout comes first
    CHECK(n2 == std::vector<std::size_t>{0});
    std::vector<dpool::Future<int>> mixed;
    mixed.push_back(ex.submit(tt::throw_runtime, std::string("x")));
    mixed.push_back(ex.submit(tt::sleep_ms, 1500));
    auto [d3, n3] = dpool::wait(mixed, 30s, dpool::Return::first_exception);
    CHECK(d3 == std::vector<std::size_t>{0});
    auto [d4, n4] = dpool::wait(fs, 30s);
    CHECK(d4.size() == 2);
    CHECK(n4.empty());
  });
}

TEST_CASE(
    "after shutdown, submit raises PoolClosed; cancel_futures cancels what has not started "
    "(test_run_after_shutdown, test_cancel_futures)") {
  on_both([](auto& ex) {
    ts::TaskStarts starts;
    std::vector<dpool::Future<int>> running, pending;
    for (int i = 0; i < 2; ++i)
      running.push_back(ex.submit(tt::started_then_sleep, starts.path(), 300));
    REQUIRE(starts.wait(2, 30s).size() == 2);
    for (int i = 0; i < 20; ++i) pending.push_back(ex.submit(tt::add, i, 0));
    ex.shutdown(true, true);
    for (auto& f : running) CHECK(f.result() == 300);
    // As in Python, what is cancelled is what had not started; a node may
    // already hold a few of them, which then run.
    int cancelled = 0;
    for (int i = 0; i < 20; ++i) {
      if (pending[i].cancelled())
        ++cancelled;
      else
        CHECK(pending[i].result() == i);
    }
    CHECK(cancelled >= 15);
    CHECK_THROWS_AS(ex.submit(tt::add, 1, 1), dpool::PoolClosed);
  });
}

TEST_CASE(
    "a killed worker process fails only its own future; the executor goes on (test_killed_child)") {
  dpool::Executor ex(2);
  auto crash = ex.submit(tt::crash_segv, 1);
  CHECK_THROWS_AS(crash.result(30s), dpool::WorkerCrashed);
  CHECK(ex.submit(tt::add, 20, 22).result(30s) == 42);  // no "broken pool"
}

TEST_CASE("ThreadPool runs the Pool verbs on threads of this process") {
  dpool::ThreadPool tp(4);
  CHECK(tp.size() == 4);
  CHECK(tp.apply(tt::square, 7) == 49);
  auto squares = tp.map(tt::square, std::views::iota(0, 100));
  CHECK(std::accumulate(squares.begin(), squares.end(), 0) == 328350);
  std::set<int> unordered;
  for (int v : tp.imap_unordered(tt::square, std::vector<int>{1, 2, 3})) unordered.insert(v);
  CHECK(unordered == std::set<int>{1, 4, 9});
  auto here = tp.apply_async(tt::square, 3);
  here.wait();
  CHECK(here.info().pid == ::getpid());  // in this process
  CHECK_THROWS_AS(tp.apply(tt::throw_runtime, std::string("t")), dpool::RemoteError);
  tp.close();
  CHECK_THROWS_AS(tp.apply_async(tt::square, 1), dpool::PoolClosed);
  tp.join();
}
