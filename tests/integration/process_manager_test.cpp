// A local dpool::Process of a program that has a Pool reaches that pool's
// coordinator through its parent: this_task::manager(), pool.queue and
// pool.pipe handles, and leases that end with the Process; in local mode and
// with a pool connected to a real coordinator. Without a pool, the error
// says what to do.
#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <dpool/dpool.hpp>
#include <functional>
#include <string>

#include "manager_tasks.hpp"
#include "pipe_tasks.hpp"
#include "processes.hpp"
#include "task_starts.hpp"

using namespace std::chrono_literals;
namespace mt = manager_tasks;
namespace pt = pipe_tasks;
namespace ts = test_support;

namespace {

// Puts what this_task::manager() throws (or "none") on a queue of this machine.
void manager_error(dpool::Queue<std::string> q) {
  try {
    dpool::this_task::manager();
    q.put("none");
  } catch (const dpool::Error& e) {
    q.put(e.what());
  }
}

void in_both_modes(const std::function<void(dpool::Pool&)>& body) {
  SUBCASE("local mode") {
    dpool::Pool pool(1);
    body(pool);
  }
  SUBCASE("a pool connected to a coordinator") {
    ts::Coordinator coordinator;
    dpool::Pool pool(dpool::Connect{.address = coordinator.address});
    body(pool);
  }
}

}  // namespace

DPOOL_REGISTER(manager_error);

TEST_CASE("this_task::manager() inside a local Process reaches its program's pool") {
  in_both_modes([](dpool::Pool& pool) {
    auto d = pool.manager().dict<std::string, int>("local-processes");
    dpool::Process a(mt::count_by_name, std::string("local-processes"), 1);
    dpool::Process b(mt::count_by_name, std::string("local-processes"), 2);
    a.start();
    b.start();
    CHECK(a.join(30s));
    CHECK(b.join(30s));
    CHECK(a.exitcode() == 0);
    CHECK(b.exitcode() == 0);
    CHECK(d.get("n") == 2);
  });
}

TEST_CASE("a local Process takes pool.queue and pool.pipe handles as arguments") {
  in_both_modes([](dpool::Pool& pool) {
    auto q = pool.queue<int>();
    dpool::Process producer(mt::put_squares, q, 5);
    producer.start();
    int sum = 0;
    for (int i = 0; i < 5; ++i) sum += q.get(30s);
    CHECK(sum == 0 + 1 + 4 + 9 + 16);
    CHECK(producer.join(30s));

    auto [here, there] = pool.pipe();
    dpool::Process echo(pt::echo_until_end, there);
    echo.start();
    there.close();
    here.send(std::string("through the parent"));
    CHECK(here.recv<std::string>() == "through the parent");
    here.send(std::string("end"));
    CHECK(echo.join(30s));
    CHECK(echo.exitcode() == 0);
    CHECK(here.poll(30s));
    CHECK_THROWS_AS(here.recv<std::string>(), dpool::EOFError);
  });
}

TEST_CASE("a Manager lock held by a local Process that is killed is released") {
  in_both_modes([](dpool::Pool& pool) {
    auto lock = pool.manager().lock("held-by-a-process");
    ts::TaskStarts started;
    dpool::Process holder(mt::hold_lock, std::string("held-by-a-process"), started.path());
    holder.start();
    REQUIRE(started.wait(1, 30s).size() == 1);
    CHECK_FALSE(lock.try_lock());
    holder.kill();
    CHECK(holder.join(30s));
    CHECK(holder.exitcode() == -SIGKILL);
    CHECK(lock.acquire(30s));  // its parent told the coordinator that it is gone
    lock.release();
  });
}

TEST_CASE("without a pool, this_task::manager() in a local Process says to create one first") {
  dpool::Queue<std::string> said;
  dpool::Process p(manager_error, said);
  p.start();
  auto message = said.get(30s);
  CHECK(message.find("Create the Pool before starting the Process") != std::string::npos);
  CHECK(p.join(30s));
}

TEST_CASE("the release of a killed local Process's lock is logged with the Process and client") {
  ts::Coordinator coordinator;
  dpool::Pool pool(dpool::Connect{.address = coordinator.address});
  auto lock = pool.manager().lock("logged");
  ts::TaskStarts started;
  dpool::Process holder(mt::hold_lock, std::string("logged"), started.path());
  holder.start();
  REQUIRE(started.wait(1, 30s).size() == 1);
  holder.kill();
  CHECK(holder.join(30s));
  CHECK(lock.acquire(30s));
  auto line = coordinator.process.wait_line("released: its holder is gone", 10s);
  CHECK(line.find("lock 'logged'") != std::string::npos);
  CHECK(line.find("Process " + std::to_string(holder.pid()) + " of client") != std::string::npos);
  lock.release();
}
