// The packaging test's consumer: the snippets of API.md's "Start-up and
// registration", "Making a pool", "Running tasks" and "Errors" sections (plus
// the AsyncResult methods they return), built against an installed dpool.
//
//   consumer                      # local mode: executors re-run this program
//   consumer tcp://127.0.0.1:PORT # cluster mode: a coordinator whose workers
//                                 # run `dpool worker --load libconsumer_tasks.so`
//
// Prints one line per check and exits 0 when every check passed.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <dpool/dpool.hpp>
#include <future>
#include <memory>
#include <optional>
#include <ranges>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "consumer_tasks.hpp"

using namespace std::chrono_literals;

namespace {

int g_failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("%s  %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++g_failures;
}

// Runs fn, which must throw E.
template <class E, class F>
void expect_error(const std::string& what, F fn) {
  try {
    fn();
    check(false, what + ": nothing was thrown");
  } catch (const E& e) {
    check(true, what + ": " + e.what());
  } catch (const std::exception& e) {
    check(false, what + ": the wrong exception: " + e.what());
  }
}

// A function that is deliberately not registered.
int unregistered(int x) {
  return x;
}

// The pool a section runs on: local (argv has no address) or cluster.
std::unique_ptr<dpool::Pool> make_pool(const std::string& address, unsigned processes) {
  if (address.empty()) return std::make_unique<dpool::Pool>(processes);
  return std::make_unique<dpool::Pool>(dpool::Connect{.address = address, .key_file = ""});
}

void startup_and_registration(dpool::Pool& pool) {
  std::printf("-- start-up and registration\n");
  check(dpool::cpu_count() >= 1, "cpu_count() = " + std::to_string(dpool::cpu_count()));
  dpool::Remote<int(int)> sq{"square"};  // typed handle to a task known only by name
  check(pool.apply(sq, 7) == 49, "apply(Remote<int(int)>{\"square\"}, 7) == 49");
  check(pool.apply(triple, 5) == 15, "DPOOL_REGISTER(triple): apply(triple, 5) == 15");
  check(pool.apply(consumer::shout, std::string("hi")) == "HI!",
        "DPOOL_REGISTER_AS(consumer::shout, \"shout\"): apply by pointer");
}

// Local mode only: every way to make a pool that needs no outside daemon.
void making_a_pool(const char* self) {
  std::printf("-- making a pool\n");
  {
    dpool::Pool pool;  // local mode, cpu_count() executors
    check(pool.size() == dpool::cpu_count(), "Pool pool; size() == cpu_count()");
    check(pool.apply(consumer::square, 3) == 9, "Pool pool; apply(square, 3) == 9");
  }
  {
    dpool::Pool pool(4);  // local mode, 4 executors
    check(pool.size() == 4, "Pool pool(4); size() == 4");
  }
  {
    dpool::Pool pool(dpool::Local{
        .processes = 2, .initializer = dpool::bind(consumer::setup, 42), .max_tasks_per_child = 0});
    auto values = pool.map(consumer::setup_value, std::vector<int>(8, 0), 1);
    bool all = values.size() == 8;
    for (int v : values) all = all && v == 42;
    check(all, "Local{.initializer = bind(setup, 42)} ran setup(42) in every executor");
  }
  {
    dpool::Pool pool(dpool::Local{.processes = 1, .max_tasks_per_child = 2});
    std::set<int> pids;
    for (int i = 0; i < 6; ++i) pids.insert(pool.apply(consumer::pid, i));
    check(pids.size() == 3, "Local{.max_tasks_per_child = 2}: 6 tasks ran in " +
                                std::to_string(pids.size()) + " executors (3 expected)");
  }
  {
    dpool::Coordinator coord({.bind = "tcp://127.0.0.1:*"});  // embedded coordinator
    dpool::Node node(coord, {.processes = 2, .exec = self});  // and a node beside it
    dpool::Pool pool(coord);                                  // submit to it in-process
    check(coord.endpoint().starts_with("tcp://127.0.0.1:"),
          "Coordinator({.bind = \"tcp://127.0.0.1:*\"}).endpoint() = " + coord.endpoint());
    check(pool.size() == 2, "Pool pool(coord); size() == 2");
    check(pool.apply(consumer::add, 2, 3) == 5, "Pool pool(coord); apply(add, 2, 3) == 5");
  }
}

void running_tasks(dpool::Pool& pool) {
  std::printf("-- running tasks\n");
  check(pool.apply(consumer::square, 4) == 16, "apply(square, 4) == 16");
  dpool::AsyncResult<int> r = pool.apply_async(consumer::add, 2, 3);
  check(r.get() == 5, "apply_async(add, 2, 3).get() == 5");

  std::vector<int> squares = pool.map(consumer::square, std::views::iota(0, 100));
  bool right = squares.size() == 100;
  for (int i = 0; right && i < 100; ++i) right = squares[i] == i * i;
  check(right, "map(square, iota(0, 100)) is in order");
  check(pool.map(consumer::square, std::vector<int>{1, 2, 3, 4, 5}, 2) ==
            std::vector<int>{1, 4, 9, 16, 25},
        "map(square, {1..5}, chunksize 2)");
  check(pool.map(consumer::square, std::vector<int>{}).empty(), "map over nothing is empty");
  dpool::AsyncResult<std::vector<std::string>> shouted =
      pool.map_async(consumer::shout, std::vector<std::string>{"a", "b"});
  check(shouted.get() == std::vector<std::string>{"A!", "B!"}, "map_async(shout, {a, b})");

  std::vector<std::tuple<int, int>> pairs{{1, 2}, {3, 4}, {5, 6}};
  check(pool.starmap(consumer::add, pairs) == std::vector<int>{3, 7, 11}, "starmap(add, pairs)");
  check(pool.starmap_async(consumer::add, pairs, 1).get() == std::vector<int>{3, 7, 11},
        "starmap_async(add, pairs, 1).get()");

  std::vector<int> ordered;
  for (int v : pool.imap(consumer::square, std::views::iota(0, 20))) ordered.push_back(v);
  right = ordered.size() == 20;
  for (int i = 0; right && i < 20; ++i) right = ordered[i] == i * i;
  check(right, "imap(square, iota(0, 20)) yields in input order");
  std::multiset<int> unordered;
  for (int v : pool.imap_unordered(consumer::square, std::views::iota(0, 20), 3))
    unordered.insert(v);
  check(unordered.size() == 20 && unordered.count(361) == 1,
        "imap_unordered(square, iota(0, 20), 3) yields every result");
  auto endless = pool.imap(consumer::square, std::views::iota(0));  // an endless input
  check(*endless.next() == 0 && *endless.next() == 1 && endless.pulled() < 1000,
        "imap over an endless range reads it lazily (" + std::to_string(endless.pulled()) +
            " items read)");

  std::optional<dpool::AsyncResult<int>> maybe = pool.try_apply_async(consumer::square, 8);
  check(maybe && maybe->get() == 64, "try_apply_async(square, 8) with room in the window");

  pool.map(consumer::touch, std::views::iota(0, 10));  // a void task: map returns void
  dpool::AsyncResult<void> v = pool.apply_async(consumer::touch, 1);
  v.get();
  check(v.successful(), "R = void gives AsyncResult<void>");

  auto view = pool.with({.timeout = 5s, .retries = 2, .priority = 1});  // per-call TaskOptions
  check(view.apply_async(consumer::square, 6).get() == 36, "pool.with({...}).apply_async");
  check(view.options().priority == 1, "the view carries its TaskOptions");

  std::printf("-- AsyncResult<T>\n");
  auto slow = pool.apply_async(consumer::sleep_ms, 300);
  check(!slow.ready(), "ready() is false while the task runs");
  expect_error<std::logic_error>("successful() before ready()", [&] { (void)slow.successful(); });
  check(slow.wait(10s), "wait(10s) returns true once ready");
  check(slow.ready() && slow.successful(), "ready() && successful()");
  dpool::TaskInfo info = slow.info();
  check(!info.node.empty() && info.pid > 0 && info.attempts == 1,
        "info(): node " + info.node + ", pid " + std::to_string(info.pid));

  std::promise<int> value;
  std::promise<std::thread::id> callback_thread;
  auto squared = pool.apply_async(consumer::square, 9);
  squared.then([&](const int& x) {
    callback_thread.set_value(std::this_thread::get_id());
    value.set_value(x);
  });
  auto value_future = value.get_future();
  check(value_future.wait_for(30s) == std::future_status::ready && value_future.get() == 81,
        "then(fn) runs fn(81) after success");
  check(callback_thread.get_future().get() != std::this_thread::get_id(),
        "then(fn) runs on a dpool thread");

  std::promise<std::string> error_type;
  auto failing = pool.apply_async(consumer::fail_if_negative, -2);
  failing.on_error([&](std::exception_ptr e) {
    try {
      std::rethrow_exception(e);
    } catch (const dpool::RemoteError& x) {
      error_type.set_value(x.type());
    } catch (...) {
      error_type.set_value("something else");
    }
  });
  auto error_future = error_type.get_future();
  check(error_future.wait_for(30s) == std::future_status::ready &&
            error_future.get() == "std::invalid_argument",
        "on_error(fn) gets the RemoteError");

  std::vector<dpool::AsyncResult<int>> many;
  for (int i = 0; i < 20; ++i) many.push_back(pool.apply_async(consumer::square, i));
  dpool::wait_all(std::span(many), 30s);
  bool ready = true;
  for (auto& m : many) ready = ready && m.ready();
  check(ready, "wait_all(std::span(results), 30s)");

  std::vector<dpool::AsyncResult<int>> race;
  race.push_back(pool.apply_async(consumer::sleep_ms, 2000));
  race.push_back(pool.apply_async(consumer::sleep_ms, 10));
  check(dpool::wait_any(std::span(race), 30s) == 1, "wait_any returns the first ready index");
  race[0].wait();
  std::vector<dpool::AsyncResult<int>> batch;
  for (int ms : {300, 10, 100}) batch.push_back(pool.apply_async(consumer::sleep_ms, ms));
  int seen = 0;
  for (const auto& done : dpool::as_completed(batch, 30s)) {
    check(done.ready(), "as_completed yields a ready result (" + std::to_string(done.get()) + ")");
    ++seen;
  }
  check(seen == 3, "as_completed yielded all 3 results");
}

void errors(dpool::Pool& pool, const std::string& address) {
  std::printf("-- errors\n");
  expect_error<dpool::RemoteError>("a task that throws", [&] {
    try {
      pool.apply(consumer::fail_if_negative, -1);
    } catch (const dpool::RemoteError& e) {
      check(e.type() == "std::invalid_argument" && e.message() == "negative input -1" &&
                !e.node().empty() && e.pid() > 0,
            "RemoteError: type() " + e.type() + ", message() " + e.message() + ", pid() " +
                std::to_string(e.pid()) + ", node() '" + e.node() + "'");
      throw;
    }
  });

  expect_error<dpool::TaskTimeout>("a task past its TaskOptions::timeout", [&] {
    pool.with({.timeout = 200ms}).apply(consumer::sleep_ms, 30000);
  });

  auto slow = pool.apply_async(consumer::sleep_ms, 1000);
  expect_error<dpool::TimeoutError>("get(50ms) on a 1 s task", [&] { slow.get(50ms); });
  check(slow.get() == 1000, "the task kept running; a later get() succeeded");

  expect_error<dpool::WorkerCrashed>("a task that aborts its executor", [&] {
    try {
      pool.apply(consumer::crash, 0);
    } catch (const dpool::WorkerCrashed& e) {
      check(e.signal() == SIGABRT, "WorkerCrashed: signal() == SIGABRT");
      throw;
    }
  });
  check(pool.apply(consumer::square, 11) == 121, "the pool keeps working after a crash");
  auto retried = pool.with({.retries = 1}).apply_async(consumer::crash, 0);
  expect_error<dpool::WorkerCrashed>("a crashing task with retries = 1", [&] { retried.get(); });
  check(retried.info().attempts == 2,
        "it ran twice (attempts = " + std::to_string(retried.info().attempts) + ")");

  {
    dpool::Coordinator small({.max_queued = 2});  // in-process, no nodes: tasks stay queued
    dpool::Pool queued(small);
    auto a = queued.apply_async(consumer::square, 1);
    auto b = queued.apply_async(consumer::square, 2);
    auto c = queued.apply_async(consumer::square, 3);
    expect_error<dpool::QueueFull>("a third task on a coordinator with max_queued = 2",
                                   [&] { c.get(5s); });
  }

  expect_error<dpool::UnknownTask>("a name no executor knows",
                                   [&] { pool.apply(dpool::Remote<int(int)>{"no_such_task"}, 1); });
  expect_error<dpool::UnknownTask>("an unregistered function pointer",
                                   [&] { pool.apply(unregistered, 1); });
  expect_error<dpool::SignatureMismatch>("a Remote with the wrong signature", [&] {
    pool.apply(dpool::Remote<double(double)>{"square"}, 1.5);
  });
  expect_error<dpool::SerializationError>("a result that cannot be serialized",
                                          [&] { pool.apply(consumer::make_unserializable, 1); });
  expect_error<dpool::ConnectionError>("an address where no coordinator listens", [&] {
    dpool::Pool nowhere(dpool::Connect{.address = "tcp://127.0.0.1:1", .connect_timeout = 300ms});
  });
  expect_error<dpool::Error>("every error derives from dpool::Error",
                             [&] { pool.apply(dpool::Remote<int(int)>{"no_such_task"}, 1); });

  auto stoppable = pool.with({.cancel_running = true}).apply_async(consumer::sleep_ms, 30000);
  check(stoppable.cancel(), "cancel() of a task submitted with cancel_running returns true");
  expect_error<dpool::Cancelled>("get() after cancel()", [&] { stoppable.get(); });
  auto finished = pool.apply_async(consumer::square, 2);
  finished.wait();
  check(!finished.cancel(), "cancel() of a finished task returns false");
  check(pool.apply(consumer::square, 12) == 144, "the pool keeps working after cancel()");

  {
    auto doomed = make_pool(address, 2);
    auto running = doomed->apply_async(consumer::sleep_ms, 30000);
    doomed->terminate();
    expect_error<dpool::Cancelled>("get() after terminate()", [&] { running.get(); });
    expect_error<dpool::PoolClosed>("apply_async after terminate()",
                                    [&] { doomed->apply_async(consumer::square, 1); });
    doomed->join();
  }

  auto last = pool.apply_async(consumer::sleep_ms, 200);
  pool.close();  // no new work; queued work still runs
  expect_error<dpool::PoolClosed>("apply after close()", [&] { pool.apply(consumer::square, 1); });
  pool.join();  // waits for the queued work
  check(last.ready() && last.get() == 200, "join() after close() waited for queued work");
}

}  // namespace

int main(int argc, char** argv) {
  dpool::init(argc, argv);                   // first line: executors start here too
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress shows even if a check hangs
  std::string address = argc > 1 ? argv[1] : "";
  std::printf("dpool consumer, %s\n",
              address.empty() ? "local mode" : ("cluster mode at " + address).c_str());
  try {
    auto pool = make_pool(address, 2);
    startup_and_registration(*pool);
    if (address.empty()) making_a_pool("/proc/self/exe");
    running_tasks(*pool);
    errors(*pool, address);
  } catch (const std::exception& e) {
    check(false, std::string("unexpected exception: ") + e.what());
  }
  std::printf("%s: %d failed check(s)\n", g_failures ? "FAILED" : "PASSED", g_failures);
  return g_failures ? 1 : 0;
}
