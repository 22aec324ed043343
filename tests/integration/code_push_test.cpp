// Shipping task code to a running cluster: `dpool push` / push_library
// sends a task library to every node; nodes started with --accept-code try
// it in a process of their own, answer, and start their executors with it
// (also nodes that join later); others answer that they do not accept code;
// a library that does not load is reported and changes nothing; only the
// client keys named by --accept-push-from may push. Real coordinators,
// workers and `dpool` commands.
#include <doctest/doctest.h>

#include <chrono>
#include <dpool/dpool.hpp>
#include <string>
#include <vector>

#include "config_dirs.hpp"
#include "processes.hpp"
#include "text.hpp"

using namespace std::chrono_literals;
namespace ts = test_support;
using ts::contains;

namespace {

const dpool::Remote<int(int)> pushed_cube{"pushed_cube"};
const dpool::Remote<int(int)> square{"square"};

dpool::Connect at(const ts::Coordinator& c) {
  return dpool::Connect{.address = c.address};
}

}  // namespace

TEST_CASE("a pushed library's tasks run on a node that accepts code, and on one that joins later") {
  ts::FreshConfig config;
  ts::Coordinator coordinator({"--accept-push-from", "client"});
  auto first = std::make_unique<ts::Worker>(coordinator.address, "--load", 2, "first",
                                            std::vector<std::string>{"--accept-code"});
  dpool::Pool pool(at(coordinator));
  CHECK_THROWS_AS(pool.apply(pushed_cube, 2), dpool::UnknownTask);  // not there yet

  auto answers = dpool::push_library(at(coordinator), PUSHED_TASK_LIB);
  REQUIRE(answers.size() == 1);
  CHECK(answers[0].node == "first");
  CHECK_MESSAGE(answers[0].loaded, answers[0].error);
  CHECK(pool.apply(pushed_cube, 3) == 27);
  CHECK(pool.apply(square, 5) == 25);  // what it served before is still there

  ts::Worker late(coordinator.address, "--load", 1, "late", {"--accept-code"});
  coordinator.process.wait_line("node late loaded the pushed library", 20s);
  first.reset();  // now only the late node can run it
  CHECK(pool.apply(pushed_cube, 4) == 64);
}

TEST_CASE("nodes say why they did not load a library, and go on serving what they had") {
  ts::FreshConfig config;
  ts::Coordinator coordinator({"--accept-push-from", "client"});
  ts::Worker accepting(coordinator.address, "--load", 1, "accepting", {"--accept-code"});
  ts::Worker refusing(coordinator.address, "--load", 1, "refusing");
  dpool::Pool pool(at(coordinator));  // both workers said "connected": both are registered

  auto answers = dpool::push_library(at(coordinator), UNLOADABLE_LIB);
  REQUIRE(answers.size() == 2);  // sorted by node name
  CHECK(answers[0].node == "accepting");
  CHECK_FALSE(answers[0].loaded);
  CHECK_MESSAGE(contains(answers[0].error, "undefined symbol"), answers[0].error);
  CHECK(answers[1].node == "refusing");
  CHECK_FALSE(answers[1].loaded);
  CHECK_MESSAGE(contains(answers[1].error, "--accept-code"), answers[1].error);
  for (int i = 0; i < 8; ++i) CHECK(pool.apply(square, i) == i * i);

  // The command says the same, one line a node, and exits 1.
  auto run = ts::run_to_end({DPOOL_BIN, "push", PUSHED_TASK_LIB, coordinator.address}, 60s);
  CHECK(run.code == 1);
  CHECK_MESSAGE(contains(run.output, "accepting: loaded\n"), run.output);
  CHECK_MESSAGE(contains(run.output, "refusing: not loaded: node refusing does not accept"),
                run.output);
}

TEST_CASE("only the client keys named by --accept-push-from may push") {
  ts::FreshConfig config;
  SUBCASE("a coordinator without --accept-push-from takes no pushes") {
    ts::Coordinator coordinator;
    try {
      dpool::push_library(at(coordinator), PUSHED_TASK_LIB);
      FAIL("the push was taken");
    } catch (const dpool::Error& e) {
      CHECK_MESSAGE(contains(e.what(), "takes no pushed code"), e.what());
    }
  }
  SUBCASE("a key it does not name is refused") {
    ts::Coordinator coordinator({"--accept-push-from", "alice"});
    try {
      dpool::push_library(at(coordinator), PUSHED_TASK_LIB);
      FAIL("the push was taken");
    } catch (const dpool::Error& e) {
      CHECK_MESSAGE(contains(e.what(), "(client:client) may not push"), e.what());
    }
  }
  SUBCASE("a file that cannot be read is an error before anything is sent") {
    ts::Coordinator coordinator({"--accept-push-from", "client"});
    CHECK_THROWS_WITH_AS(dpool::push_library(at(coordinator), "/no/such/lib.so"),
                         doctest::Contains("cannot push /no/such/lib.so"), dpool::Error);
  }
}
