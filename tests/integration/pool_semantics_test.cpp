// multiprocessing.Pool and concurrent.futures behaviours, ported from
// CPython's Lib/test/_test_multiprocessing.py (_TestPool*) and
// Lib/test/test_concurrent_futures; each case names the test it comes from.
// Every case runs against a local pool and against a real cluster.
#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <dpool/dpool.hpp>
#include <filesystem>
#include <future>
#include <memory>
#include <set>
#include <stdexcept>

#include "processes.hpp"
#include "task_starts.hpp"
#include "test_tasks.hpp"
#include "timing.hpp"

using namespace std::chrono_literals;
using test_support::Clock;
using test_support::seconds_since;
namespace tt = test_tasks;
namespace ts = test_support;

namespace {

// One coordinator and one 2-executor node, shared by every cluster case.
const std::string& cluster_address() {
  static ts::Coordinator coordinator;
  static ts::Worker worker(coordinator.address, "--exec", 2, "semantics-node");
  return coordinator.address;
}

// Executor settings of a pool, the same in both modes.
struct Settings {
  dpool::Call initializer{};
  unsigned max_tasks_per_child = 0;
};

// Runs `body` on a fresh 2-executor pool, local and then cluster.
template <class Body>
void in_both_modes(Settings settings, Body body) {
  SUBCASE("local") {
    dpool::Pool pool(dpool::Local{.processes = 2,
                                  .initializer = settings.initializer,
                                  .max_tasks_per_child = settings.max_tasks_per_child});
    body(pool);
  }
  SUBCASE("cluster") {
    dpool::Pool pool(dpool::Connect{.address = cluster_address(),
                                    .initializer = settings.initializer,
                                    .max_tasks_per_child = settings.max_tasks_per_child});
    body(pool);
  }
}

template <class Body>
void in_both_modes(Body body) {
  in_both_modes(Settings{}, body);
}

// An input range that counts how many items were read and can throw at one.
struct CountingInput {
  std::atomic<int>* pulled;
  int throw_at = -1;  // -1: never; the range is endless
  struct iterator {
    using value_type = int;
    using difference_type = std::ptrdiff_t;
    CountingInput* in = nullptr;
    int i = 0;
    int operator*() const {
      if (i == in->throw_at) throw std::invalid_argument("input item " + std::to_string(i));
      ++*in->pulled;
      return i;
    }
    iterator& operator++() {
      ++i;
      return *this;
    }
    void operator++(int) { ++i; }
    bool operator==(std::unreachable_sentinel_t) const { return false; }
  };
  iterator begin() { return {this, 0}; }
  std::unreachable_sentinel_t end() const { return {}; }
};

// Reads a Results range to the end, returning the values and the input's error.
template <class R>
std::pair<std::vector<R>, std::string> drain(dpool::Results<R>& results) {
  std::vector<R> got;
  try {
    while (auto v = results.next(30s)) got.push_back(*v);
  } catch (const std::invalid_argument& e) {
    return {got, e.what()};
  }
  return {got, ""};
}

}  // namespace

TEST_CASE("imap yields in input order, for several chunk sizes (test_imap)") {
  in_both_modes([](dpool::Pool& pool) {
    for (std::size_t chunk : {1u, 3u, 100u}) {
      std::vector<int> got;
      for (int v : pool.imap(tt::square, std::views::iota(0, 200), chunk)) got.push_back(v);
      REQUIRE(got.size() == 200);
      for (int i = 0; i < 200; ++i) CHECK(got[i] == i * i);
    }
  });
}

TEST_CASE("imap_unordered yields every result once (test_imap_unordered)") {
  in_both_modes([](dpool::Pool& pool) {
    std::multiset<int> got;
    for (int v : pool.imap_unordered(tt::square, std::views::iota(0, 300), 7)) got.insert(v);
    std::multiset<int> want;
    for (int i = 0; i < 300; ++i) want.insert(i * i);
    CHECK(got == want);
  });
}

TEST_CASE("imap_unordered yields in completion order, not input order") {
  in_both_modes([](dpool::Pool& pool) {
    std::vector<int> ms{600, 10};
    std::vector<int> got;
    for (int v : pool.imap_unordered(tt::sleep_ms, ms)) got.push_back(v);
    CHECK(got == std::vector<int>{10, 600});
  });
}

TEST_CASE(
    "an input exception surfaces after the chunks read before it "
    "(test_imap_handle_iterable_exception, bpo-28699)") {
  in_both_modes([](dpool::Pool& pool) {
    struct Case {
      int k;
      std::size_t chunk;
    };
    for (auto c : {Case{0, 1}, Case{0, 1}, Case{10, 1}, Case{10, 3}, Case{9, 3}, Case{1, 4}}) {
      CAPTURE(c.k);
      CAPTURE(c.chunk);
      std::atomic<int> pulled{0};
      CountingInput in{&pulled, c.k};
      auto results = pool.imap(tt::square, in, c.chunk);
      auto [got, error] = drain(results);
      CHECK(error == "input item " + std::to_string(c.k));
      std::size_t expected = c.chunk * (static_cast<std::size_t>(c.k) / c.chunk);
      REQUIRE(got.size() == expected);
      for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == static_cast<int>(i * i));
      CHECK_FALSE(results.next());  // the range has ended
      auto unordered = pool.imap_unordered(tt::square, CountingInput{&pulled, c.k}, c.chunk);
      CHECK(drain(unordered).first.size() == expected);
    }
    CHECK(pool.apply(tt::square, 3) == 9);  // the pool is still usable
  });
}

TEST_CASE("imap reads an endless input lazily, a bounded window ahead (gh-84291, gh-101586)") {
  in_both_modes([](dpool::Pool& pool) {
    std::atomic<int> pulled{0};
    CountingInput endless{&pulled};
    auto results = pool.imap(tt::square, endless, 2);
    for (int i = 0; i < 10; ++i) CHECK(*results.next(30s) == i * i);
    // The window is a few chunks per executor: far from "everything".
    CHECK(pulled.load() <= 10 + 3 * 2 * 2 + 2);
    int before = pulled.load();
    // Not reading means not pulling: nothing more is read while we do not consume.
    CHECK(pool.apply(tt::square, 2) == 4);
    CHECK(pulled.load() == before);
  });
}

TEST_CASE("destroying an unfinished imap cancels its queued tasks without blocking") {
  in_both_modes([](dpool::Pool& pool) {
    auto t0 = Clock::now();
    {
      std::vector<int> slow(40, 2000);
      auto results = pool.imap(tt::sleep_ms, slow);
    }
    CHECK_WITHIN(t0, 1.0);
    // The two running tasks may finish; the queued ones must not hold the pool.
    auto r = pool.apply_async(tt::square, 5);
    CHECK(r.get(10s) == 25);
  });
}

TEST_CASE("next with a timeout raises TimeoutError and the range stays usable") {
  in_both_modes([](dpool::Pool& pool) {
    auto results = pool.imap(tt::sleep_ms, std::vector<int>{800});
    CHECK_THROWS_AS(results.next(50ms), dpool::TimeoutError);
    auto v = results.next(30s);
    REQUIRE(v);
    CHECK(*v == 800);
    CHECK_FALSE(results.next(1s));
  });
}

TEST_CASE("a failing task raises at its place in imap and iteration goes on (test_imap)") {
  in_both_modes([](dpool::Pool& pool) {
    dpool::Remote<int(int)> crash{"crash_exit"};
    std::vector<std::string> messages{"", "", "boom", ""};
    auto results = pool.imap(tt::throw_runtime, std::vector<std::string>{"a"});
    CHECK_THROWS_AS(results.next(30s), dpool::RemoteError);
    CHECK_FALSE(results.next(30s));
    auto mixed = pool.imap(tt::sleep_ms, std::vector<int>{1, 2, 3});
    CHECK(*mixed.next(30s) == 1);
    CHECK(*mixed.next(30s) == 2);
    CHECK(*mixed.next(30s) == 3);
  });
}

TEST_CASE("a callback that throws does not kill the callback thread or hang get (gh-83371)") {
  in_both_modes([](dpool::Pool& pool) {
    auto r = pool.apply_async(tt::square, 3);
    r.then([](const int&) { throw std::runtime_error("callback failure"); });
    CHECK(r.get(30s) == 9);
    std::promise<int> later;
    pool.apply_async(tt::square, 4).then([&](const int& v) { later.set_value(v); });
    auto f = later.get_future();
    REQUIRE(f.wait_for(30s) == std::future_status::ready);
    CHECK(f.get() == 16);
    pool.close();
    pool.join();
  });
}

TEST_CASE("the error callback gets the task's error, once (test_async_error_callback)") {
  in_both_modes([](dpool::Pool& pool) {
    // Shared with the callbacks, so a stray late call could not touch a dead frame.
    struct Seen {
      std::atomic<int> successes{0}, errors{0};
      std::promise<std::string> message;
      std::promise<void> flushed;
    };
    auto seen = std::make_shared<Seen>();
    auto message = seen->message.get_future();
    auto flushed = seen->flushed.get_future();
    auto r = pool.apply_async(tt::throw_runtime, std::string("cb"));
    r.then([seen](const int&) { ++seen->successes; }).on_error([seen](std::exception_ptr e) {
      if (seen->errors++ > 0) return;
      try {
        std::rethrow_exception(e);
      } catch (const dpool::RemoteError& re) {
        seen->message.set_value(re.message());
      } catch (...) {
        seen->message.set_value("not a RemoteError");
      }
    });
    REQUIRE(message.wait_for(30s) == std::future_status::ready);
    CHECK(message.get() == "cb");
    // The result is ready, so every callback it will ever run is already on
    // the callback thread's queue; that thread runs them in order, so once
    // this later one has run, the others have had their turn.
    r.on_error([seen](std::exception_ptr) { seen->flushed.set_value(); });
    REQUIRE(flushed.wait_for(30s) == std::future_status::ready);
    CHECK(seen->errors == 1);
    CHECK(seen->successes == 0);
  });
}

TEST_CASE("wait_any returns the first ready index (test_first_completed)") {
  in_both_modes([](dpool::Pool& pool) {
    std::vector<dpool::AsyncResult<int>> rs{pool.apply_async(tt::sleep_ms, 3000),
                                            pool.apply_async(tt::sleep_ms, 10)};
    CHECK(dpool::wait_any(std::span(rs), 30s) == 1);
    std::vector<dpool::AsyncResult<int>> slow{pool.apply_async(tt::sleep_ms, 3000)};
    CHECK_THROWS_AS(dpool::wait_any(std::span(slow), 20ms), dpool::TimeoutError);
  });
}

TEST_CASE("as_completed yields results as they finish (test_as_completed)") {
  in_both_modes([](dpool::Pool& pool) {
    std::vector<dpool::AsyncResult<int>> rs{pool.apply_async(tt::sleep_ms, 700),
                                            pool.apply_async(tt::sleep_ms, 5)};
    std::vector<int> order;
    for (auto& r : dpool::as_completed(rs, 30s)) order.push_back(r.get());
    CHECK(order == std::vector<int>{5, 700});
    std::vector<dpool::AsyncResult<int>> slow{pool.apply_async(tt::sleep_ms, 3000)};
    auto range = dpool::as_completed(slow, 20ms);
    CHECK_THROWS_AS(range.begin(), dpool::TimeoutError);
  });
}

TEST_CASE("cancel removes a queued task and leaves the others (test_cancel)") {
  in_both_modes([](dpool::Pool& pool) {
    // More long tasks than a node takes at once (its credit is at most 65 per
    // executor), so that the victim and the keeper are certainly still
    // queued at the coordinator.
    auto stoppable = pool.with({.cancel_running = true});
    std::vector<dpool::AsyncResult<int>> blockers;
    for (int i = 0; i < 140; ++i) blockers.push_back(stoppable.apply_async(tt::sleep_ms, 30000));
    auto victim = pool.apply_async(tt::square, 7);
    auto keeper = pool.apply_async(tt::square, 8);
    CHECK(victim.cancel());
    CHECK_THROWS_AS(victim.get(10s), dpool::Cancelled);
    CHECK_FALSE(keeper.ready());
    for (auto& b : blockers) CHECK(b.cancel());  // running or queued: all stop
    CHECK(keeper.get(30s) == 64);                // the keeper was left in the queue
    for (auto& b : blockers) CHECK_THROWS_AS(b.get(10s), dpool::Cancelled);
    CHECK_FALSE(victim.cancel());  // already done
  });
}

TEST_CASE(
    "cancel returns false for a running or finished task and true for a queued one, or for a "
    "running one that allows cancel_running") {
  in_both_modes([](dpool::Pool& pool) {
    ts::TaskStarts starts;

    // Running, without cancel_running: cancel refuses and the task completes.
    auto running = pool.apply_async(tt::started_then_sleep, starts.path(), 400);
    REQUIRE(starts.wait(1, 30s).size() == 1);
    CHECK_FALSE(running.cancel());
    CHECK(running.get(30s) == 400);
    CHECK(running.info().attempts == 1);

    // Running, with cancel_running: cancel stops it and kills its executor.
    auto killable = pool.with({.cancel_running = true})
                        .apply_async(tt::started_then_sleep, starts.path(), 30000);
    auto executor = starts.wait(1, 30s);
    REQUIRE(executor.size() == 1);
    auto t0 = Clock::now();
    CHECK(killable.cancel());
    CHECK_THROWS_AS(killable.get(10s), dpool::Cancelled);
    CHECK_WITHIN(t0, 5.0);
    CHECK(ts::wait_gone(executor[0], 10s));
    CHECK(pool.apply(tt::square, 6) == 36);  // its executor was replaced

    // Finished: nothing to cancel, and the value stays.
    auto finished = pool.apply_async(tt::square, 3);
    CHECK(finished.get(30s) == 9);
    CHECK_FALSE(finished.cancel());
    CHECK(finished.get() == 9);

    // Queued: behind more 30 s tasks than any node takes at once (its credit
    // is at most 2 executors x 65), so it is still in the coordinator's queue
    // whatever the node's prefetch. The pool's end stops the blockers.
    std::vector<dpool::AsyncResult<int>> blockers;
    for (int i = 0; i < 200; ++i) blockers.push_back(pool.apply_async(tt::sleep_ms, 30000));
    auto queued = pool.apply_async(tt::square, 7);
    CHECK(queued.cancel());
    CHECK_THROWS_AS(queued.get(10s), dpool::Cancelled);
    CHECK_FALSE(queued.cancel());  // done now
  });
}

TEST_CASE("a task past its timeout is killed and raises TaskTimeout; the pool goes on") {
  in_both_modes([](dpool::Pool& pool) {
    auto t0 = Clock::now();
    auto r = pool.with({.timeout = 200ms}).apply_async(tt::sleep_ms, 30000);
    CHECK_THROWS_AS(r.get(20s), dpool::TaskTimeout);
    CHECK_WITHIN(t0, 10.0);
    auto fast = pool.with({.timeout = 5s}).apply_async(tt::square, 5);
    CHECK(fast.get(30s) == 25);
    CHECK(pool.apply(tt::square, 2) == 4);
  });
}

TEST_CASE("retries re-run a task whose executor crashed; a throwing task is never retried") {
  in_both_modes([](dpool::Pool& pool) {
    auto marker = std::filesystem::temp_directory_path() /
                  ("dpool-crash-once-" + std::to_string(::getpid()) + "-" +
                   std::to_string(Clock::now().time_since_epoch().count()));
    auto r = pool.with({.retries = 1}).apply_async(tt::crash_once, marker.string());
    CHECK(r.get(30s) == 1);
    CHECK(r.info().attempts == 2);
    std::filesystem::remove(marker);
    auto no_retry = pool.apply_async(tt::crash_once, marker.string());
    CHECK_THROWS_AS(no_retry.get(30s), dpool::WorkerCrashed);
    std::filesystem::remove(marker);
    auto thrower = pool.with({.retries = 3}).apply_async(tt::throw_runtime, std::string("once"));
    CHECK_THROWS_AS(thrower.get(30s), dpool::RemoteError);
    CHECK(thrower.info().attempts == 1);
  });
}

TEST_CASE("higher priority tasks start first within a client") {
  in_both_modes([](dpool::Pool& pool) {
    std::vector<dpool::AsyncResult<int>> blockers;
    for (int i = 0; i < 6; ++i) blockers.push_back(pool.apply_async(tt::sleep_ms, 200));
    std::vector<dpool::AsyncResult<int>> low, high;
    for (int i = 0; i < 6; ++i) low.push_back(pool.apply_async(tt::pid_after_ms, 0));
    for (int i = 0; i < 6; ++i)
      high.push_back(pool.with({.priority = 5}).apply_async(tt::pid_after_ms, 0));
    for (auto& r : high) r.get(30s);
    for (auto& r : low) r.get(30s);
    auto latest_high = high.front().info().started;
    for (auto& r : high) latest_high = std::max(latest_high, r.info().started);
    int lows_after = 0;
    for (auto& r : low) lows_after += r.info().started > latest_high;
    CHECK(lows_after >= 3);  // most low tasks waited for every high one
  });
}

TEST_CASE(
    "terminate returns within 1 s with 10,000 long tasks queued; get raises Cancelled "
    "(gh-79659)") {
  in_both_modes([](dpool::Pool& pool) {
    std::vector<dpool::AsyncResult<int>> rs;
    rs.reserve(10000);
    for (int i = 0; i < 10000; ++i) rs.push_back(pool.apply_async(tt::sleep_ms, 60000));
    auto t0 = Clock::now();
    pool.terminate();
    CHECK_WITHIN(t0, 1.0);
    for (auto& r : rs) REQUIRE_THROWS_AS(r.get(1s), dpool::Cancelled);
    pool.join();
  });
}

TEST_CASE("an initializer runs in every executor before its first task (test_initializer)") {
  in_both_modes({.initializer = dpool::bind(tt::set_tag, 42)}, [](dpool::Pool& pool) {
    auto tags = pool.map(tt::get_tag, std::vector<int>(8, 0), 1);
    CHECK(tags == std::vector<int>(8, 42));
  });
}

namespace {
// Several tasks, so an executor respawned for each failure would show as a hang or crash.
void expect_initializer_failure(dpool::Pool& pool) {
  auto rs = pool.map_async(tt::square, std::vector<int>{1, 2, 3, 4}, 1);
  try {
    rs.get(30s);
    FAIL("expected an error");
  } catch (const dpool::Error& e) {
    std::string w = e.what();
    CHECK(w.find("initializer 'throw_runtime'") != std::string::npos);
    CHECK(w.find("no db") != std::string::npos);
  }
}
}  // namespace

TEST_CASE("a failing initializer fails the pool's tasks with an error naming it (gh-87472)") {
  in_both_modes({.initializer = dpool::bind(tt::throw_runtime, std::string("no db"))},
                [](dpool::Pool& pool) {
                  expect_initializer_failure(pool);
                  pool.close();
                  pool.join();
                });
}

TEST_CASE("a pool's failing initializer leaves the other pools of the cluster working") {
  dpool::Pool failing(
      dpool::Connect{.address = cluster_address(),
                     .initializer = dpool::bind(tt::throw_runtime, std::string("no db"))});
  dpool::Pool other(dpool::Connect{.address = cluster_address()});
  expect_initializer_failure(failing);
  CHECK(other.map(tt::square, std::vector<int>{1, 2, 3, 4}, 1) == std::vector<int>{1, 4, 9, 16});
  expect_initializer_failure(failing);
}

TEST_CASE(
    "max_tasks_per_child replaces executors and close/join still return (bpo-10332, "
    "gh-115634)") {
  in_both_modes({.max_tasks_per_child = 1}, [](dpool::Pool& pool) {
    std::set<int> pids;
    for (int i = 0; i < 3; ++i) pids.insert(pool.apply(tt::pid_after_ms, 0));
    CHECK(pids.size() == 3);
    auto rs = pool.map_async(tt::square, std::vector<int>(10, 3), 1);
    pool.close();
    auto t0 = Clock::now();
    pool.join();
    CHECK_WITHIN(t0, 30.0);
    CHECK(rs.get(1s) == std::vector<int>(10, 9));
  });
}

TEST_CASE("map raises on the first failure yet close and join still wait (bpo-23992)") {
  in_both_modes([](dpool::Pool& pool) {
    std::vector<std::string> in(20, "ok");
    in[3] = "fail";
    dpool::Remote<int(std::string)> thrower{"throw_runtime"};
    CHECK_THROWS_AS(pool.map(thrower, in, 1), dpool::RemoteError);
    auto tail = pool.apply_async(tt::sleep_ms, 100);
    pool.close();
    pool.join();
    CHECK(tail.ready());
  });
}

TEST_CASE("an empty map returns at once and join still works (bpo-12157)") {
  in_both_modes([](dpool::Pool& pool) {
    CHECK(pool.map(tt::square, std::vector<int>{}).empty());
    CHECK(pool.starmap(tt::add, std::vector<std::tuple<int, int>>{}).empty());
    auto it = pool.imap(tt::square, std::vector<int>{});
    CHECK_FALSE(it.next());
    pool.close();
    pool.join();
  });
}

TEST_CASE("a 1 MiB error message travels intact") {
  in_both_modes([](dpool::Pool& pool) {
    try {
      pool.apply(tt::huge_error, std::uint64_t{1u << 20});
      FAIL("expected RemoteError");
    } catch (const dpool::RemoteError& e) {
      CHECK(e.message().size() == (1u << 20));
    }
  });
}

TEST_CASE("a full window makes try_apply_async report it and apply_async wait for room") {
  dpool::Pool pool(dpool::Local{.processes = 1, .max_in_flight = 3});
  std::vector<dpool::AsyncResult<int>> rs;
  for (int i = 0; i < 3; ++i) rs.push_back(pool.apply_async(tt::sleep_ms, 100));
  CHECK_FALSE(pool.try_apply_async(tt::square, 1).has_value());
  auto t0 = Clock::now();
  auto late = pool.apply_async(tt::square, 2);  // waits until one of the three finishes
  CHECK(rs.front().ready());
  CHECK(seconds_since(t0) > 0.05);
  CHECK(late.get(30s) == 4);
  // Many more submissions than can run: the window bounds what is in flight.
  std::vector<dpool::AsyncResult<int>> many;
  for (int i = 0; i < 2000; ++i) many.push_back(pool.apply_async(tt::square, i));
  for (int i = 0; i < 2000; ++i) CHECK(many[i].get(30s) == i * i);
}

TEST_CASE("a coordinator at its queue bound refuses more with QueueFull") {
  ts::Child coordinator({DPOOL_BIN, "coordinator", "--bind", "tcp://127.0.0.1:*", "--max-queued",
                         "5", "--log", "warn"});
  auto line = coordinator.wait_line("listening on", 10s);
  dpool::Pool pool(dpool::Connect{.address = line.substr(line.find("tcp://"))});
  std::vector<dpool::AsyncResult<int>> rs;
  for (int i = 0; i < 8; ++i) rs.push_back(pool.apply_async(tt::square, i));
  int refused = 0;
  for (auto& r : rs) {
    if (r.wait(2s)) {
      CHECK_THROWS_AS(r.get(), dpool::QueueFull);
      ++refused;
    }
  }
  CHECK(refused == 3);  // no node: five wait, three are refused at once
}
