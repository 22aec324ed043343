// The SharedMemory tracker with real processes: a program (shm_creator)
// creates a segment and is killed with -9; its tracker, a child of that
// program, unlinks what the program neither unlinked nor kept. The tests
// wait on events: the segment's deletion (inotify on /dev/shm) and the
// tracker's exit (a pidfd); timeouts only bound a failure.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "processes.hpp"
#include "timing.hpp"

using namespace std::chrono_literals;
namespace ts = test_support;

namespace {

constexpr auto kBound = 20s;  // only a failure waits this long

std::string unique_name(const char* what) {
  return "dpool-test-shmtrack-" + std::to_string(::getpid()) + "-" + what;
}

bool exists(const std::string& name) {
  return ::access(("/dev/shm/" + name).c_str(), F_OK) == 0;
}

// Watches /dev/shm for deletions; made before the kill that causes one.
class DeletionWatch {
 public:
  DeletionWatch() : fd_(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) {
    REQUIRE(fd_ >= 0);
    REQUIRE(::inotify_add_watch(fd_, "/dev/shm", IN_DELETE) >= 0);
  }
  ~DeletionWatch() { ::close(fd_); }

  // True once `name` is no longer in /dev/shm; false after `timeout`.
  bool wait_deleted(const std::string& name, std::chrono::milliseconds timeout) {
    auto deadline = ts::Clock::now() + timeout;
    while (exists(name)) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - ts::Clock::now());
      if (left <= 0ms) return false;
      pollfd p{fd_, POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(left.count()));
      alignas(inotify_event) char buf[sizeof(inotify_event) + NAME_MAX + 1];
      while (::read(fd_, buf, sizeof buf) > 0) {
      }  // drained; the loop's condition looks at the name itself
    }
    return true;
  }

 private:
  int fd_;
};

// The tracker: the creator's one child that is not `besides`.
std::vector<int> trackers_of(int creator, int besides = 0) {
  auto pids = ts::children_of(creator);
  pids.erase(std::remove(pids.begin(), pids.end(), besides), pids.end());
  return pids;
}

std::string make_fifo(const std::string& name) {
  auto path = (std::filesystem::temp_directory_path() / name).string();
  ::unlink(path.c_str());
  REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
  return path;
}

void open_gate(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);  // the reader is waiting in open()
  REQUIRE(fd >= 0);
  ::close(fd);
}

}  // namespace

TEST_CASE("a segment whose creator is killed with -9 is unlinked by its tracker") {
  auto name = unique_name("leave");
  ts::Child creator({SHM_CREATOR, name, "leave"});
  creator.wait_line("ready", kBound);
  REQUIRE(exists(name));
  auto trackers = trackers_of(creator.pid());
  DeletionWatch watch;
  auto t0 = ts::Clock::now();
  creator.signal(SIGKILL);
  bool gone = watch.wait_deleted(name, kBound);
  if (!gone) ::shm_unlink(("/" + name).c_str());
  CHECK(gone);
  CHECK_WITHIN(t0, 20.0);
  REQUIRE(trackers.size() == 1);              // started by the create, and only then
  CHECK(ts::wait_gone(trackers[0], kBound));  // and it did not outlive the clean-up
}

TEST_CASE("a Ctrl-C to the creator's process group ends the creator; its tracker cleans up") {
  auto name = unique_name("sigint");
  ts::Child creator({SHM_CREATOR, name, "leave"}, true, /*own_group=*/true);
  creator.wait_line("ready", kBound);
  auto trackers = trackers_of(creator.pid());
  REQUIRE(trackers.size() == 1);
  DeletionWatch watch;
  creator.signal_group(SIGINT);  // as a terminal does: the tracker gets it too
  int status = creator.wait_exit(kBound);
  CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGINT));
  bool gone = watch.wait_deleted(name, kBound);
  if (!gone) ::shm_unlink(("/" + name).c_str());
  CHECK(gone);
  CHECK(ts::wait_gone(trackers[0], kBound));
}

TEST_CASE("a kept segment survives its creator's kill -9") {
  auto name = unique_name("keep");
  ts::Child creator({SHM_CREATOR, name, "keep"});
  creator.wait_line("ready", kBound);
  auto trackers = trackers_of(creator.pid());
  REQUIRE(trackers.size() == 1);
  creator.signal(SIGKILL);
  REQUIRE(ts::wait_gone(trackers[0], kBound));  // the tracker is done
  CHECK(exists(name));
  ::shm_unlink(("/" + name).c_str());
}

TEST_CASE("a segment unlinked before the kill is not the tracker's: a new one of that name stays") {
  auto name = unique_name("unlink");
  ts::Child creator({SHM_CREATOR, name, "unlink"});
  creator.wait_line("ready", kBound);
  CHECK_FALSE(exists(name));
  int fd = ::shm_open(("/" + name).c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);  // another program's segment now has that name
  ::close(fd);
  auto trackers = trackers_of(creator.pid());
  REQUIRE(trackers.size() == 1);
  creator.signal(SIGKILL);
  REQUIRE(ts::wait_gone(trackers[0], kBound));
  CHECK(exists(name));
  ::shm_unlink(("/" + name).c_str());
}

TEST_CASE("a Process of the creator, still running, does not keep the segment or tracker alive") {
  auto name = unique_name("child");
  auto gate = make_fifo(name + ".gate");
  ts::Child creator({SHM_CREATOR, name, "child", gate});
  auto line = creator.wait_line("child ", kBound);
  int child = std::stoi(line.substr(line.find("child ") + 6));
  CHECK(creator.wait_line("ready", kBound).find("ready children 1") != std::string::npos);
  auto trackers = trackers_of(creator.pid(), child);
  REQUIRE(trackers.size() == 1);  // the tracker is no dpool::Process
  DeletionWatch watch;
  creator.signal(SIGKILL);
  bool gone = watch.wait_deleted(name, kBound);
  if (!gone) ::shm_unlink(("/" + name).c_str());
  CHECK(gone);
  CHECK(ts::wait_gone(trackers[0], kBound));
  CHECK(::kill(child, 0) == 0);  // the Process still runs: it held nothing open
  open_gate(gate);
  CHECK(ts::wait_gone(child, kBound));
  ::unlink(gate.c_str());
}

TEST_CASE("the child of a bare fork() of the creator does not keep the segment or tracker alive") {
  auto name = unique_name("fork");
  ts::Child creator({SHM_CREATOR, name, "fork"});
  auto line = creator.wait_line("child ", kBound);
  int child = std::stoi(line.substr(line.find("child ") + 6));
  creator.wait_line("ready", kBound);
  auto trackers = trackers_of(creator.pid(), child);
  REQUIRE(trackers.size() == 1);
  DeletionWatch watch;
  creator.signal(SIGKILL);
  bool gone = watch.wait_deleted(name, kBound);
  if (!gone) ::shm_unlink(("/" + name).c_str());
  CHECK(gone);
  CHECK(ts::wait_gone(trackers[0], kBound));
  CHECK(::kill(child, 0) == 0);  // the forked child lives on, without the tracker's socket
  ::kill(child, SIGKILL);
  CHECK(ts::wait_gone(child, kBound));
}

TEST_CASE("a creator that exits normally unlinks its segment and leaves no tracker behind") {
  auto name = unique_name("exit");
  auto gate = make_fifo(name + ".gate");
  ts::Child creator({SHM_CREATOR, name, "exit", gate});
  creator.wait_line("ready", kBound);
  auto trackers = trackers_of(creator.pid());
  REQUIRE(trackers.size() == 1);
  open_gate(gate);
  CHECK(creator.wait_exit(kBound) == 0);
  CHECK_FALSE(exists(name));
  CHECK(ts::wait_gone(trackers[0], kBound));
  ::unlink(gate.c_str());
}

TEST_CASE("a program that creates no segment starts no tracker") {
  ts::Child creator({SHM_CREATOR, unique_name("none"), "none"});
  CHECK(creator.wait_line("ready", kBound).find("ready children 0") != std::string::npos);
  CHECK(ts::children_of(creator.pid()).empty());
}
