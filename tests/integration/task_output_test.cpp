// What tasks and Processes print on their nodes reaches the client that
// submitted them, line by line, prefixed with "[node:pid] ", ahead of their
// results; other clients see none of it; a task printing in a loop is held
// to the node's rate limit, and what it left out is counted. A real
// coordinator and `dpool worker` processes; the test is the client, its
// stdout and stderr redirected to files while it waits.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <dpool/dpool.hpp>
#include <functional>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "processes.hpp"
#include "test_tasks.hpp"
#include "text.hpp"

using namespace std::chrono_literals;
namespace tt = test_tasks;
namespace ts = test_support;
using ts::contains;

namespace {

struct Printed {
  std::string out, err;
};

// Runs `body` with this process's fds 1 and 2 on temporary files; returns
// what was written there. Restored before returning (or throwing), so that
// the checks that follow show as usual.
Printed printed_during(const std::function<void()>& body) {
  struct Redirect {
    int fd, saved;
    std::FILE* file = std::tmpfile();
    explicit Redirect(int which) : fd(which), saved(::dup(which)) {
      std::fflush(nullptr);
      ::dup2(::fileno(file), fd);
    }
    ~Redirect() {
      std::fflush(nullptr);
      ::dup2(saved, fd);
      ::close(saved);
      std::fclose(file);
    }
    std::string text() {
      std::fflush(nullptr);
      std::string s;
      char buf[4096];
      ::lseek(::fileno(file), 0, SEEK_SET);
      for (ssize_t n; (n = ::read(::fileno(file), buf, sizeof buf)) > 0;)
        s.append(buf, static_cast<std::size_t>(n));
      return s;
    }
  };
  Redirect out(STDOUT_FILENO), err(STDERR_FILENO);
  body();
  return {out.text(), err.text()};
}

std::string lines_of(const std::string& prefix, const std::string& tag, int n) {
  std::string s;
  for (int i = 1; i <= n; ++i) s += prefix + tag + " line " + std::to_string(i) + "\n";
  return s;
}

struct Cluster {
  ts::Coordinator coordinator;
  ts::Worker worker;
  explicit Cluster(int executors, std::vector<std::string> worker_extra = {})
      : worker(coordinator.address, "--exec", executors, "out-node", std::move(worker_extra)) {}
  dpool::Connect connect(bool forward = true) const {
    return dpool::Connect{.address = coordinator.address, .forward_output = forward};
  }
};

}  // namespace

TEST_CASE("a task's stdout and stderr reach its client, each line prefixed, before its result") {
  Cluster cluster(1);
  dpool::Pool pool(cluster.connect());
  int pid = 0;
  auto io = printed_during([&] { pid = pool.apply(tt::print_lines, std::string("alpha"), 3); });
  const std::string prefix = "[out-node:" + std::to_string(pid) + "] ";
  // The last line had no newline: it ends with the task.
  CHECK(io.out == lines_of(prefix, "alpha", 3));
  CHECK(io.err == prefix + "alpha on stderr\n");
}

TEST_CASE("every line names the executor that printed it, across tasks sharing executors") {
  Cluster cluster(2);
  dpool::Pool pool(cluster.connect());
  std::vector<std::tuple<std::string, int>> items;
  for (int i = 0; i < 30; ++i) items.emplace_back("t" + std::to_string(i), 2);
  std::vector<int> pids;
  auto io = printed_during([&] { pids = pool.starmap(tt::print_lines, items, 1); });
  REQUIRE(pids.size() == items.size());
  std::map<std::string, int> seen;
  std::istringstream in(io.out);
  const std::regex line(R"(\[out-node:(\d+)\] (t\d+) line (\d)\n?)");
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    REQUIRE_MESSAGE(std::regex_match(l, m, line), l);
    int item = std::stoi(m[2].str().substr(1));
    CHECK_MESSAGE(std::stoi(m[1]) == pids[static_cast<std::size_t>(item)], l);
    ++seen[m[2]];
  }
  CHECK(seen.size() == items.size());
  for (auto& [tag, n] : seen) CHECK_MESSAGE(n == 2, tag);
}

TEST_CASE(
    "a client that does not forward output sees none, and another client's tasks keep theirs") {
  Cluster cluster(1);  // one executor: the two clients' tasks alternate on it
  dpool::Pool shown(cluster.connect(true));
  dpool::Pool quiet(cluster.connect(false));
  auto io = printed_during([&] {
    std::vector<dpool::AsyncResult<int>> rs;
    for (int i = 0; i < 10; ++i) {
      rs.push_back(shown.apply_async(tt::print_lines, "shown-" + std::to_string(i), 2));
      rs.push_back(quiet.apply_async(tt::print_lines, "quiet-" + std::to_string(i), 2));
    }
    for (auto& r : rs) r.get();
  });
  CHECK_FALSE(contains(io.out + io.err, "quiet-"));
  for (int i = 0; i < 10; ++i) {
    CHECK(contains(io.out, "shown-" + std::to_string(i) + " line 2\n"));
    CHECK(contains(io.err, "shown-" + std::to_string(i) + " on stderr\n"));
  }
}

TEST_CASE("a Process on a node prints to the client that started it") {
  Cluster cluster(1);
  dpool::Pool pool(cluster.connect());
  int pid = 0;
  auto io = printed_during([&] {
    auto p = pool.process(tt::print_lines, std::string("proc"), 2);
    p.start();
    pid = p.pid();
    p.join();
    CHECK(p.exitcode() == 0);
  });
  const std::string prefix = "[out-node:" + std::to_string(pid) + "] ";
  CHECK(io.out == lines_of(prefix, "proc", 2));
  CHECK(io.err == prefix + "proc on stderr\n");
}

TEST_CASE(
    "a task printing in a loop is held to the rate limit, and every line is shown or counted") {
  Cluster cluster(1);
  dpool::Pool pool(cluster.connect());
  constexpr int kLines = 200000;
  auto io = printed_during([&] { CHECK(pool.apply(tt::print_many, kLines) == kLines); });
  long shown = 0, dropped = 0;
  std::istringstream in(io.out);
  const std::regex note(R"(\[out-node:\d+\] \((\d+) lines? dropped: output rate limit\))");
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (std::regex_match(l, m, note))
      dropped += std::stol(m[1]);
    else if (contains(l, "] many "))
      ++shown;
  }
  CHECK(dropped > 0);
  CHECK(shown < kLines);
  CHECK(shown + dropped == kLines);
}

TEST_CASE("a worker started with --no-forward-output prints its tasks' output itself") {
  Cluster cluster(1, {"--no-forward-output"});
  dpool::Pool pool(cluster.connect());
  auto io = printed_during([&] { pool.apply(tt::print_lines, std::string("kept"), 2); });
  CHECK(io.out.empty());
  cluster.worker.process.wait_line("kept line 1", 10s);
}

TEST_CASE("local mode: executors print straight to the program's stdout, unprefixed") {
  auto io = printed_during([&] {
    dpool::Pool pool(1);  // started here: its executors write to the redirected fds
    pool.apply(tt::print_lines, std::string("beta"), 2);
  });
  CHECK(io.out == "beta line 1\nbeta line 2");  // the last line's newline was never written
  CHECK(io.err == "beta on stderr\n");
}
