// dpool::Process on this machine, with cases ported from CPython's
// Lib/test/_test_multiprocessing.py (_TestProcess, _TestSubclassingProcess);
// each names the test it comes from.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <dpool/dpool.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "process_tasks.hpp"
#include "processes.hpp"
#include "task_starts.hpp"
#include "test_tasks.hpp"
#include "timing.hpp"

using namespace std::chrono_literals;
namespace tt = test_tasks;
namespace pt = process_tasks;
namespace ts = test_support;
using test_support::Clock;

namespace {

// A file in the temporary directory, removed at the end of the test.
struct TempFile {
  std::string path;
  TempFile() {
    static int n = 0;
    path = (std::filesystem::temp_directory_path() /
            ("dpool-process-" + std::to_string(::getpid()) + "-" + std::to_string(++n)))
               .string();
    std::filesystem::remove(path);
  }
  ~TempFile() { std::filesystem::remove(path); }
  std::vector<std::string> lines() const {
    std::ifstream in(path);
    std::vector<std::string> r;
    for (std::string l; std::getline(in, l);) r.push_back(l);
    return r;
  }
};

bool listed(dpool::Process& p) {
  auto kids = dpool::active_children();
  return std::find(kids.begin(), kids.end(), &p) != kids.end();
}

}  // namespace

TEST_CASE(
    "a process runs its function with its arguments and ends with exit code 0 (test_process)") {
  TempFile out;
  dpool::Process p(dpool::ProcessOptions{.name = "worker-7", .daemon = true}, pt::note, out.path,
                   std::string("hello"));
  CHECK(p.name() == "worker-7");
  CHECK(p.daemon());
  CHECK_FALSE(p.exitcode());
  CHECK_FALSE(p.is_alive());
  CHECK(p.pid() == 0);
  CHECK_FALSE(listed(p));
  CHECK_FALSE(p.node().empty());
  p.start();
  CHECK(p.pid() > 0);
  p.join();
  CHECK(p.exitcode() == 0);
  CHECK_FALSE(p.is_alive());
  CHECK_FALSE(listed(p));
  auto lines = out.lines();
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == "hello worker-7 " + std::to_string(p.pid()));  // its pid is p.pid()
}

TEST_CASE("a running process is alive and among the active children (test_active_children)") {
  ts::TaskStarts starts;
  dpool::Process p(tt::started_then_sleep, starts.path(), 60000);
  p.start();
  REQUIRE(starts.wait(1, 30s).size() == 1);
  CHECK(p.is_alive());
  CHECK(listed(p));
  CHECK_FALSE(p.exitcode());
  CHECK_FALSE(p.join(0ms));
  CHECK_FALSE(p.join(50ms));
  p.kill();
  CHECK(p.join(30s));
  CHECK_FALSE(listed(p));
}

TEST_CASE(
    "terminate ends a process with -SIGTERM and kill with -SIGKILL (test_terminate, test_kill)") {
  for (int sig : {SIGTERM, SIGKILL}) {
    CAPTURE(sig);
    ts::TaskStarts starts;
    dpool::Process p(tt::started_then_sleep, starts.path(), 60000);
    p.start();
    REQUIRE(starts.wait(1, 30s).size() == 1);
    auto t0 = Clock::now();
    sig == SIGTERM ? p.terminate() : p.kill();
    CHECK(p.join(30s));
    CHECK_WITHIN(t0, 10.0);
    CHECK(p.exitcode() == -sig);
    p.terminate();  // a finished process: nothing happens
    CHECK(p.exitcode() == -sig);
  }
}

TEST_CASE("exit(n) in the function is the exit code; names count up (test_sys_exit)") {
  dpool::Process a(tt::crash_exit, 5);
  dpool::Process b(tt::crash_exit, 0);
  CHECK(a.name().rfind("Process-", 0) == 0);
  CHECK(a.name() != b.name());
  a.start();
  b.start();
  a.join();
  b.join();
  CHECK(a.exitcode() == 5);
  CHECK(b.exitcode() == 0);
}

TEST_CASE(
    "a function that throws ends its process with code 1, its message on stderr "
    "(test_stderr_flush)") {
  ts::Child parent({PROCESS_MAIN, "throw"});
  auto message = parent.wait_line("the child's own words", 30s);
  CHECK(message.find("std::runtime_error") != std::string::npos);
  CHECK(message.find("Process-1") != std::string::npos);
  parent.wait_line("exitcode 1", 30s);
  CHECK(WEXITSTATUS(parent.wait_exit(30s)) == 0);
}

TEST_CASE("processes start processes (test_recursion)") {
  TempFile out;
  dpool::Process root(pt::tree, out.path, std::string("r"), 2);
  root.start();
  root.join();
  CHECK(root.exitcode() == 0);
  auto lines = out.lines();
  CHECK(std::set<std::string>(lines.begin(), lines.end()) ==
        std::set<std::string>{"r", "r0", "r1", "r00", "r01", "r10", "r11"});
}

TEST_CASE("many processes start, run and are joined, or terminated (test_many_processes)") {
  const int n = 40;
  std::vector<std::unique_ptr<dpool::Process>> quick, stopped;
  ts::TaskStarts starts;
  for (int i = 0; i < n; ++i) {
    quick.push_back(std::make_unique<dpool::Process>(tt::crash_exit, i % 3));
    stopped.push_back(
        std::make_unique<dpool::Process>(tt::started_then_sleep, starts.path(), 60000));
  }
  for (int i = 0; i < n; ++i) {
    quick[i]->start();
    stopped[i]->start();
  }
  CHECK(starts.wait(n, 60s).size() == n);
  for (auto& p : stopped) p->terminate();
  for (int i = 0; i < n; ++i) {
    CHECK(quick[i]->join(60s));
    CHECK(quick[i]->exitcode() == i % 3);
    CHECK(stopped[i]->join(60s));
    CHECK(stopped[i]->exitcode() == -SIGTERM);
  }
  CHECK(dpool::active_children().empty());
}

TEST_CASE(
    "start twice, or join before start, is a logic error; an unregistered function UnknownTask") {
  dpool::Process p(tt::crash_exit, 0);
  CHECK_THROWS_AS(p.join(), std::logic_error);
  p.start();
  CHECK_THROWS_AS(p.start(), std::logic_error);
  p.join();
  dpool::Process unknown(dpool::Remote<void(int)>{"no_such_function"}, 1);
  CHECK_THROWS_AS(unknown.start(), dpool::UnknownTask);
}

TEST_CASE("current_process names the main program, and each process inside itself (test_current)") {
  CHECK(dpool::current_process().name() == "MainProcess");
  CHECK(dpool::current_process().pid() == ::getpid());
  TempFile out;
  dpool::Process p(dpool::ProcessOptions{.name = "named"}, pt::note, out.path, std::string("in"));
  p.start();
  p.join();
  REQUIRE(out.lines().size() == 1);
  CHECK(out.lines()[0] == "in named " + std::to_string(p.pid()));
}

TEST_CASE("leaving a running non-daemon Process's scope joins it") {
  ts::Child parent({PROCESS_MAIN, "leave-running"});
  auto line = parent.wait_line("started", 30s);
  int child = std::stoi(line.substr(line.find(' ') + 1));
  int status = parent.wait_exit(30s);
  REQUIRE(status != -1);
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(ts::wait_gone(child, 1s));  // it had ended before its parent did
}

TEST_CASE("a daemon process dies with its program, even one killed with -9") {
  ts::TaskStarts starts;
  ts::Child parent({PROCESS_MAIN, "daemon", starts.path()});
  auto line = parent.wait_line("child", 30s);
  int child = std::stoi(line.substr(line.find(' ') + 1));
  REQUIRE(starts.wait(1, 30s) == std::vector<int>{child});
  parent.signal(SIGKILL);
  parent.wait_exit(30s);
  CHECK(ts::wait_gone(child, 30s));
}

TEST_CASE("destroying a running daemon Process kills it") {
  ts::TaskStarts starts;
  int pid = 0;
  auto t0 = Clock::now();
  {
    dpool::Process p(dpool::ProcessOptions{.daemon = true}, tt::started_then_sleep, starts.path(),
                     60000);
    p.start();
    REQUIRE(starts.wait(1, 30s).size() == 1);
    pid = p.pid();
  }
  CHECK_WITHIN(t0, 10.0);
  CHECK(ts::wait_gone(pid, 1s));
}
