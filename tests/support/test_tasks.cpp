#include "test_tasks.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <dpool/registry.hpp>
#include <thread>

#include "task_starts.hpp"

namespace test_tasks {

int square(int x) {
  return x * x;
}
int add(int a, int b) {
  return a + b;
}
void touch(int) {}
int sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));  // task work: what the task does
  return ms;
}
int pid_after_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));  // task work: what the task does
  return static_cast<int>(::getpid());
}
int crash_abort(int) {
  std::abort();
}
int crash_segv(int) {
  ::raise(SIGSEGV);
  return 0;
}
int crash_exit(int code) {
  ::_exit(code);
}
int throw_runtime(std::string message) {
  throw std::runtime_error(message);
}
std::uint64_t length(std::string bytes) {
  return bytes.size();
}
std::string blob(std::uint64_t size) {
  return std::string(size, 'x');
}
double half(double x) {
  return x / 2;
}
Unserializable make_unserializable(int x) {
  return {x};
}

namespace {
int g_tag = -1;
}
void set_tag(int tag) {
  g_tag = tag;
}

int crash_once(std::string marker) {
  if (::access(marker.c_str(), F_OK) == 0) return 1;
  if (FILE* f = std::fopen(marker.c_str(), "w")) std::fclose(f);
  ::_exit(3);
}

int echo_after_ms(int x, int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));  // task work: what the task does
  return x;
}

std::string huge_error(std::uint64_t n) {
  throw std::runtime_error(std::string(n, 'e'));
}
int get_tag(int) {
  return g_tag;
}

int started_then_sleep(std::string fifo_path, int ms) {
  test_support::announce_start(fifo_path);
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));  // task work: what the task does
  return ms;
}

int started_then_gate(std::string fifo_path, std::string gate) {
  test_support::announce_start(fifo_path);
  int fd = ::open(gate.c_str(), O_RDONLY | O_CLOEXEC);  // blocks until the test opens the gate
  if (fd < 0) return 0;
  char c;
  while (::read(fd, &c, 1) > 0) {
  }
  ::close(fd);
  return 1;
}

int print_lines(std::string tag, int n) {
  for (int i = 1; i <= n; ++i) std::printf(i < n ? "%s line %d\n" : "%s line %d", tag.c_str(), i);
  std::fprintf(stderr, "%s on stderr\n", tag.c_str());
  return static_cast<int>(::getpid());
}

int print_many(int n) {
  for (int i = 1; i <= n; ++i) std::printf("many %d\n", i);
  return n;
}

int slow_if_zero(int x) {
  if (x == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // task work
  return x;
}

}  // namespace test_tasks

DPOOL_REGISTER_AS(test_tasks::square, "square");
DPOOL_REGISTER_AS(test_tasks::add, "add");
DPOOL_REGISTER_AS(test_tasks::touch, "touch");
DPOOL_REGISTER_AS(test_tasks::sleep_ms, "sleep_ms");
DPOOL_REGISTER_AS(test_tasks::pid_after_ms, "pid_after_ms");
DPOOL_REGISTER_AS(test_tasks::crash_abort, "crash_abort");
DPOOL_REGISTER_AS(test_tasks::crash_segv, "crash_segv");
DPOOL_REGISTER_AS(test_tasks::crash_exit, "crash_exit");
DPOOL_REGISTER_AS(test_tasks::throw_runtime, "throw_runtime");
DPOOL_REGISTER_AS(test_tasks::length, "length");
DPOOL_REGISTER_AS(test_tasks::blob, "blob");
DPOOL_REGISTER_AS(test_tasks::half, "half");
DPOOL_REGISTER_AS(test_tasks::make_unserializable, "make_unserializable");
DPOOL_REGISTER_AS(test_tasks::set_tag, "set_tag");
DPOOL_REGISTER_AS(test_tasks::get_tag, "get_tag");
DPOOL_REGISTER_AS(test_tasks::crash_once, "crash_once");
DPOOL_REGISTER_AS(test_tasks::huge_error, "huge_error");
DPOOL_REGISTER_AS(test_tasks::echo_after_ms, "echo_after_ms");
DPOOL_REGISTER_AS(test_tasks::started_then_sleep, "started_then_sleep");
DPOOL_REGISTER_AS(test_tasks::started_then_gate, "started_then_gate");
DPOOL_REGISTER_AS(test_tasks::slow_if_zero, "slow_if_zero");
DPOOL_REGISTER_AS(test_tasks::print_lines, "print_lines");
DPOOL_REGISTER_AS(test_tasks::print_many, "print_many");
