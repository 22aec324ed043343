// The Manager and pool.queue on real pools: objects the coordinator hosts,
// used from the client and from tasks on every node, with leases that end
// when an executor or a node dies (kill -9), and waiting calls of the dead
// dropped.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <dpool/dpool.hpp>
#include <filesystem>
#include <future>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "manager_tasks.hpp"
#include "processes.hpp"
#include "task_starts.hpp"

using namespace std::chrono_literals;
namespace mt = manager_tasks;
namespace ts = test_support;

namespace {

const std::vector<std::string> kFastCoordinator{"--heartbeat", "50ms", "--node-timeout", "500ms"};

// A worker whose debug log shows each call it forwards to the coordinator.
ts::Child chatty_worker(const std::string& address, int procs, const std::string& name,
                        std::vector<std::string> extra = {}) {
  std::vector<std::string> argv{
      DPOOL_BIN, "worker", "--connect", address, "--procs", std::to_string(procs),
      "--name",  name,     "--log",     "debug", "--exec",  TEST_TASK_HOST};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return ts::Child(argv);
}

void counts_exactly(dpool::Pool& pool) {
  auto mgr = pool.manager();
  auto d = mgr.dict<std::string, int>("counts");
  auto v = mgr.value<std::int64_t>("hits");
  auto l = mgr.list<int>("seen");
  std::vector<dpool::AsyncResult<int>> rs;
  for (int i = 0; i < 200; ++i) rs.push_back(pool.apply_async(mt::count_up, d, v, l, i));
  for (auto& r : rs) r.get(60s);
  CHECK(d.get("n") == 200);
  CHECK(v.load() == 200);
  auto seen = l.items();
  std::sort(seen.begin(), seen.end());
  std::vector<int> all(200);
  std::iota(all.begin(), all.end(), 0);
  CHECK(seen == all);
  // The same object by name, from inside tasks.
  rs.clear();
  for (int i = 0; i < 100; ++i)
    rs.push_back(pool.apply_async(mt::count_by_name, std::string("counts"), i));
  for (auto& r : rs) r.get(60s);
  CHECK(d.get("n") == 300);
  CHECK(d.size() == 1);
}

}  // namespace

TEST_CASE("200 tasks updating one key, one value and one list give exactly 200 (local)") {
  dpool::Pool pool(2);
  counts_exactly(pool);
}

TEST_CASE("200 tasks updating one key, one value and one list give exactly 200 (cluster)") {
  ts::Coordinator coordinator;
  ts::Worker a(coordinator.address, "--exec", 2, "mgr-a");
  ts::Worker b(coordinator.address, "--exec", 1, "mgr-b");
  dpool::Pool pool(dpool::Connect{.address = coordinator.address});
  counts_exactly(pool);
}

TEST_CASE("every kind, from the client: dict, list, value, event, semaphore, condition") {
  dpool::Pool pool(1);
  auto mgr = pool.manager();
  auto d = mgr.dict<std::string, double>("d");
  d.set("pi", 3.14);
  CHECK(d.contains("pi"));
  CHECK(d.get("e") == std::nullopt);
  CHECK(d.update("pi", [](std::optional<double> x) { return x.value_or(0) * 2; }) == 6.28);
  CHECK(d.erase("pi"));
  CHECK(d.items().empty());

  auto l = mgr.list<std::string>("l");
  l.append("a");
  l.append("b");
  CHECK(l.at(1) == "b");
  CHECK_THROWS_AS(l.at(2), std::out_of_range);
  CHECK(l.size() == 2);

  auto v = mgr.value<double>("v");
  CHECK(v.load() == 0.0);
  v.store(1.5);
  CHECK(v.fetch_add(1.0) == 1.5);
  double expected = 0;
  CHECK_FALSE(v.compare_exchange(expected, 9));
  CHECK(expected == 2.5);
  CHECK(v.compare_exchange(expected, 9));
  CHECK(v.load() == 9);

  auto e = mgr.event("e");
  CHECK_FALSE(e.wait(20ms));
  e.set();
  CHECK(e.is_set());
  CHECK(e.wait(20ms));

  auto s = mgr.semaphore("s", 2);
  CHECK(s.acquire(0ms));
  CHECK(s.acquire(0ms));
  CHECK_FALSE(s.acquire(0ms));
  s.release();
  CHECK(s.try_lock());
  s.release();
  s.release();

  auto c = mgr.condition("c");
  {
    std::lock_guard g(c);
    CHECK_FALSE(c.wait(20ms));  // nobody notifies: false, and the lock is held again
    c.notify_all();
  }
  CHECK_THROWS_AS(c.release(), dpool::Error);  // not held

  auto lk = mgr.lock("lk");
  CHECK(lk.try_lock());
  CHECK_FALSE(lk.acquire(20ms));
  lk.release();
}

TEST_CASE("a name asked for with other types is SignatureMismatch, in the client and in tasks") {
  dpool::Pool pool(1);
  auto mgr = pool.manager();
  auto scores = mgr.dict<std::string, double>("scores");
  scores.set("x", 1.0);
  CHECK_THROWS_AS((mgr.dict<std::string, int>("scores")), dpool::SignatureMismatch);
  CHECK_THROWS_AS(mgr.list<double>("scores"), dpool::SignatureMismatch);
  CHECK_THROWS_AS(mgr.barrier("scores", 2), dpool::SignatureMismatch);
  mgr.barrier("b2", 2);
  CHECK_THROWS_AS(mgr.barrier("b2", 3), dpool::SignatureMismatch);
  // A task that opens it as dict<string, int> fails, and nothing changes.
  CHECK_THROWS_AS(pool.apply(mt::count_by_name, std::string("scores"), 0), dpool::Error);
  CHECK(scores.items().size() == 1);
}

TEST_CASE("pool.queue carries items between the client and tasks, exactly once (local, cluster)") {
  auto run = [](dpool::Pool& pool) {
    auto q = pool.queue<int>(4);  // bounded: the client's puts wait for the consumers
    auto first = pool.apply_async(mt::sum_of, q, 50);
    auto second = pool.apply_async(mt::sum_of, q, 50);
    for (int i = 1; i <= 100; ++i) q.put(i);
    CHECK(first.get(60s) + second.get(60s) == 5050);
    CHECK(q.empty());
    CHECK_THROWS_AS(q.get(10ms), dpool::Empty);
    q.shutdown();
    CHECK_THROWS_AS(q.put(1), dpool::ShutDown);
  };
  SUBCASE("local") {
    dpool::Pool pool(2);
    run(pool);
  }
  SUBCASE("cluster") {
    ts::Coordinator coordinator;
    ts::Worker w(coordinator.address, "--exec", 2, "queue-node");
    dpool::Pool pool(dpool::Connect{.address = coordinator.address});
    run(pool);
  }
}

TEST_CASE("a lock held by an executor that is killed goes to the next waiter (local)") {
  dpool::Pool pool(1);
  auto lock = pool.manager().lock("L");
  ts::TaskStarts started;
  auto holder = pool.apply_async(mt::hold_lock, std::string("L"), started.path());
  auto pids = started.wait(1, 30s);
  REQUIRE(pids.size() == 1);
  CHECK_FALSE(lock.try_lock());
  auto waiter = std::async(std::launch::async, [&] { return lock.acquire(60s); });
  REQUIRE(::kill(pids[0], SIGKILL) == 0);
  CHECK(waiter.get());
  CHECK_THROWS_AS(holder.get(30s), dpool::WorkerCrashed);
  lock.release();
}

TEST_CASE("a lock held by an executor that is killed: released and logged with its holder") {
  ts::Coordinator coordinator;
  ts::Worker w(coordinator.address, "--exec", 1, "lease-node");
  dpool::Pool pool(dpool::Connect{.address = coordinator.address});
  auto lock = pool.manager().lock("L");
  ts::TaskStarts started;
  auto holder = pool.apply_async(mt::hold_lock, std::string("L"), started.path());
  auto pids = started.wait(1, 30s);
  REQUIRE(pids.size() == 1);
  auto waiter = std::async(std::launch::async, [&] { return lock.acquire(60s); });
  REQUIRE(::kill(pids[0], SIGKILL) == 0);
  CHECK(waiter.get());
  auto line = coordinator.process.wait_line("released: its holder is gone", 10s);
  CHECK(line.find("lock 'L'") != std::string::npos);
  CHECK(line.find("executor " + std::to_string(pids[0]) + " of node lease-node") !=
        std::string::npos);
  CHECK_THROWS_AS(holder.get(30s), dpool::WorkerCrashed);
}

TEST_CASE("a node lost while its task holds a lock: the lease ends at the node timeout") {
  ts::Coordinator coordinator(kFastCoordinator);
  auto node = std::make_unique<ts::Worker>(coordinator.address, "--exec", 1, "doomed",
                                           std::vector<std::string>{"--heartbeat", "50ms"});
  dpool::Pool pool(dpool::Connect{
      .address = coordinator.address, .heartbeat = 50ms, .coordinator_timeout = 500ms});
  auto lock = pool.manager().lock("L");
  ts::TaskStarts started;
  auto holder = pool.apply_async(mt::hold_lock, std::string("L"), started.path());
  auto pids = started.wait(1, 30s);
  REQUIRE(pids.size() == 1);
  node->process.signal(SIGKILL);
  REQUIRE(node->process.wait_exit(10s) != -1);
  CHECK(ts::wait_gone(pids[0], 10s));  // its executor dies with it (parent-death signal)
  CHECK(lock.acquire(30s));            // the coordinator declares the node lost
  coordinator.process.wait_line("released: its holder is gone", 10s);
  // No node left: the task waits for one, as any task does; cancel it.
  holder.cancel();
}

TEST_CASE("a get waiting in a task whose executor dies takes nothing: the item stays for others") {
  ts::Coordinator coordinator;
  auto worker = chatty_worker(coordinator.address, 1, "getter-node");
  worker.wait_line("connected", 10s);
  dpool::Pool pool(dpool::Connect{.address = coordinator.address});
  auto q = pool.queue<int>();
  ts::TaskStarts started;
  auto victim = pool.apply_async(mt::get_one, q, started.path());
  auto pids = started.wait(1, 30s);
  REQUIRE(pids.size() == 1);
  worker.wait_line("sent to the coordinator", 10s);  // its get went to the coordinator
  REQUIRE(::kill(pids[0], SIGKILL) == 0);
  // The node's word that the executor died follows its get on the same
  // connection; the coordinator drops the waiting get.
  coordinator.process.wait_line("its waiting call was dropped", 10s);
  q.put(42);
  CHECK(q.get(10s) == 42);  // the dead task's get did not take it
  CHECK_THROWS_AS(victim.get(30s), dpool::WorkerCrashed);
}

TEST_CASE("a barrier lets its parties go; a party that dies breaks it for the others (cluster)") {
  ts::Coordinator coordinator;
  auto worker = chatty_worker(coordinator.address, 2, "barrier-node");
  worker.wait_line("connected", 10s);
  dpool::Pool pool(dpool::Connect{.address = coordinator.address});
  auto mgr = pool.manager();
  ts::TaskStarts started;

  auto whole = mgr.barrier("whole", 3);
  auto p1 = pool.apply_async(mt::wait_at, whole, started.path());
  auto p2 = pool.apply_async(mt::wait_at, whole, started.path());
  std::set<unsigned> indexes{whole.wait(60s)};
  indexes.insert(static_cast<unsigned>(p1.get(60s)));
  indexes.insert(static_cast<unsigned>(p2.get(60s)));
  CHECK(indexes == std::set<unsigned>{0, 1, 2});
  CHECK(started.wait(2, 10s).size() == 2);
  worker.wait_line("sent to the coordinator", 10s);  // the two waits' lines, read past
  worker.wait_line("sent to the coordinator", 10s);

  auto broken = mgr.barrier("broken", 2);
  auto victim = pool.apply_async(mt::wait_at, broken, started.path());
  auto pids = started.wait(1, 30s);
  REQUIRE(pids.size() == 1);
  worker.wait_line("sent to the coordinator", 10s);  // its wait went to the coordinator
  REQUIRE(::kill(pids[0], SIGKILL) == 0);
  coordinator.process.wait_line("broken: a party waiting in it is gone", 10s);
  CHECK_THROWS_AS(broken.wait(10s), dpool::BrokenBarrierError);
  CHECK(broken.broken());
  CHECK_THROWS_AS(victim.get(30s), dpool::WorkerCrashed);
}

TEST_CASE("this_task::manager outside a task says what to use instead") {
  try {
    dpool::this_task::manager();
    FAIL("manager() returned outside a task");
  } catch (const dpool::Error& e) {
    CHECK(std::string(e.what()).find("pool.manager()") != std::string::npos);
  }
}

TEST_CASE(
    "--manager-max-bytes: a call past the limit is refused with QueueFull, and nothing lost") {
  ts::Coordinator coordinator({"--manager-max-bytes", "1KiB"});
  dpool::Pool pool(dpool::Connect{.address = coordinator.address});
  auto d = pool.manager().dict<int, std::string>("big");
  d.set(1, std::string(600, 'a'));
  try {
    d.set(2, std::string(600, 'b'));
    FAIL("a set past the limit was taken");
  } catch (const dpool::QueueFull& e) {
    CHECK(std::string(e.what()).find("--manager-max-bytes") != std::string::npos);
  }
  CHECK(d.size() == 1);
  CHECK(d.get(1) == std::string(600, 'a'));
  d.erase(1);
  d.set(2, std::string(600, 'b'));  // room again
}

TEST_CASE(
    "--state: after kill -9 and a restart, the objects are as the last answered call left them") {
  auto dir = std::filesystem::temp_directory_path() /
             ("dpool-manager-state-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::vector<std::string> flags = kFastCoordinator;
  flags.insert(flags.end(), {"--state", dir.string()});
  auto first = std::make_unique<ts::Coordinator>(flags);
  const std::string address = first->address;
  ts::Worker node(address, "--exec", 2, "state-node",
                  {"--heartbeat", "50ms", "--coordinator-timeout", "500ms"});
  dpool::Pool pool(dpool::Connect{
      .address = address, .heartbeat = 50ms, .coordinator_timeout = 500ms, .reconnect_grace = 30s});
  auto mgr = pool.manager();
  auto d = mgr.dict<std::string, int>("counts");
  auto v = mgr.value<std::int64_t>("hits");
  auto l = mgr.list<int>("seen");
  std::vector<dpool::AsyncResult<int>> rs;
  for (int i = 0; i < 50; ++i) rs.push_back(pool.apply_async(mt::count_up, d, v, l, i));
  for (auto& r : rs) r.get(60s);
  auto q = mgr.queue<std::string>("jobs");
  for (auto job : {"one", "two", "three"}) q.put(job);
  CHECK(q.get() == "one");

  first->process.signal(SIGKILL);
  first->process.wait_exit(10s);
  auto second = std::make_unique<ts::Coordinator>(flags, address);
  // It loaded the state before it listened.
  CHECK(second->process.output().find("4 object(s)") != std::string::npos);
  // A task submitted now waits for the client to register again (a Manager
  // call in flight across the restart would fail with ConnectionError).
  CHECK(pool.apply(mt::count_by_name, std::string("other"), 7) == 7);

  // The same handles go on working.
  CHECK(d.get("n") == 50);
  CHECK(v.load() == 50);
  CHECK(l.size() == 50);
  CHECK(q.qsize() == 2);
  CHECK(q.get() == "two");
  CHECK(pool.apply(mt::count_by_name, std::string("counts"), 0) == 0);  // and from tasks
  CHECK(d.get("n") == 51);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a client killed while its get waits on a Manager queue leaves the item for the next") {
  ts::Child coordinator({DPOOL_BIN, "coordinator", "--bind", "tcp://127.0.0.1:*", "--log", "debug",
                         "--heartbeat", "50ms", "--node-timeout", "500ms"});
  auto line = coordinator.wait_line("listening on", 10s);
  const std::string address = line.substr(line.find("tcp://"));
  {
    ts::Child client({TEST_CLIENT, "--get", address, "jobs"});
    client.wait_line("getting", 10s);
    coordinator.wait_line("wait on hosted objects", 10s);  // its get is parked
    client.signal(SIGKILL);
    REQUIRE(client.wait_exit(10s) != -1);
  }
  // The coordinator declares the client lost and drops its waiting get.
  coordinator.wait_line("its waiting call was dropped", 10s);
  dpool::Pool pool(dpool::Connect{.address = address});
  auto q = pool.manager().queue<int>("jobs");
  q.put(7);
  CHECK(q.get(10s) == 7);
}

TEST_CASE("mgr.queue: the Queue interface from the client (CPython's Queue proxy cases)") {
  dpool::Pool pool(1);
  auto q = pool.manager().queue<int>("bounded", 2);
  CHECK(q.empty());
  q.put(1);
  CHECK(q.try_put(2));
  CHECK(q.full());
  CHECK_FALSE(q.try_put(3));
  auto t0 = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(q.put(3, 50ms), dpool::Full);
  CHECK(std::chrono::steady_clock::now() - t0 >= 50ms);
  CHECK(q.qsize() == 2);
  CHECK(q.get() == 1);
  CHECK(q.try_get() == 2);
  CHECK_FALSE(q.try_get().has_value());
  CHECK_THROWS_AS(q.get(20ms), dpool::Empty);
  // The same name is the same queue, also through another handle.
  auto again = pool.manager().queue<int>("bounded", 99);  // the first maxsize holds
  again.put(5);
  again.put(6);
  CHECK(q.full());
  CHECK(q.get() + q.get() == 11);
  q.task_done();
  q.task_done();
  q.task_done();
  q.task_done();
  q.join();  // every put is done: returns at once
  again.put(7);
  q.shutdown(true);  // drops 7, wakes nobody (no one waits)
  CHECK_THROWS_AS(q.get(), dpool::ShutDown);
  CHECK_THROWS_AS(again.put(8), dpool::ShutDown);
}

TEST_CASE("an event and a value shared by tasks on two nodes (cluster)") {
  ts::Coordinator coordinator;
  ts::Worker a(coordinator.address, "--exec", 1, "ev-a");
  ts::Worker b(coordinator.address, "--exec", 1, "ev-b");
  dpool::Pool pool(dpool::Connect{.address = coordinator.address});
  auto mgr = pool.manager();
  auto go = mgr.event("go");
  auto whole = mgr.barrier("both-waiting", 3);
  auto first = pool.apply_async(mt::wait_for_event, go, whole);
  auto second = pool.apply_async(mt::wait_for_event, go, whole);
  whole.wait(60s);  // both tasks are about to wait on the event
  go.set();
  CHECK(first.get(60s));
  CHECK(second.get(60s));
}
