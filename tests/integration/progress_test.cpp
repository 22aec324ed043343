// Progress of maps on stderr (TaskOptions::progress, DPOOL_PROGRESS): what a
// map prints when stderr is not a terminal, for map, imap_unordered, a
// failing map, and none when it is off.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <dpool/dpool.hpp>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "test_tasks.hpp"

namespace tt = test_tasks;

namespace {

// Everything this process writes to stderr while it lives (the pool's
// executors were started before, with the real stderr).
class CapturedStderr {
 public:
  CapturedStderr() {
    path_ = std::filesystem::temp_directory_path() /
            ("dpool-progress-" + std::to_string(::getpid()) + "-" + std::to_string(++count_));
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    saved_ = ::dup(STDERR_FILENO);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  ~CapturedStderr() { restore(); }
  // Stops capturing; what was written.
  std::string text() {
    auto path = path_;
    ::dup2(saved_, STDERR_FILENO);  // stop capturing, then read
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    restore();
    return s.str();
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    saved_ = -1;
    std::filesystem::remove(path_);
    path_.clear();
  }
  static inline int count_ = 0;
  std::filesystem::path path_;
  int saved_ = -1;
};

std::vector<int> numbers(int n) {
  std::vector<int> v(n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

}  // namespace

TEST_CASE("map with progress prints its last line: done/total, rate, time taken") {
  dpool::Pool pool(2);
  pool.map(tt::square, numbers(4));  // executors up, before stderr is captured
  std::string text;
  {
    CapturedStderr err;
    auto squares = pool.with({.progress = true}).map(tt::square, numbers(100), 7);
    CHECK(squares.size() == 100);
    text = err.text();
  }
  CHECK(text.find("square: 100/100") != std::string::npos);
  CHECK(text.find("/s in ") != std::string::npos);
  CHECK(text.find('\r') == std::string::npos);  // not a terminal: plain lines
}

TEST_CASE("imap_unordered with progress counts the results taken") {
  dpool::Pool pool(2);
  pool.map(tt::square, numbers(4));
  CapturedStderr err;
  int sum = 0;
  for (int x : pool.with({.progress = true}).imap_unordered(tt::square, numbers(50))) sum += x;
  auto text = err.text();
  CHECK(sum == 40425);
  CHECK(text.find("square: 50/50") != std::string::npos);
}

TEST_CASE("DPOOL_PROGRESS=1 turns it on for every map; without it nothing is printed") {
  dpool::Pool pool(2);
  pool.map(tt::square, numbers(4));
  {
    CapturedStderr err;
    pool.map(tt::square, numbers(30));
    CHECK(err.text().find("square:") == std::string::npos);
  }
  ::setenv("DPOOL_PROGRESS", "1", 1);
  CapturedStderr err;
  pool.map(tt::half, std::vector<double>(30, 1.0));
  auto text = err.text();
  ::unsetenv("DPOOL_PROGRESS");
  CHECK(text.find("half: 30/30") != std::string::npos);
}

TEST_CASE("a map that fails says where it stopped") {
  dpool::Pool pool(1);
  pool.map(tt::square, numbers(2));
  CapturedStderr err;
  CHECK_THROWS_AS(pool.with({.progress = true})
                      .map(tt::throw_runtime, std::vector<std::string>{"a", "b", "c"}, 1),
                  dpool::RemoteError);
  auto text = err.text();
  CHECK(text.find("(stopped)") != std::string::npos);
}
