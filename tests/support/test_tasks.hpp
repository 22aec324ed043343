// Tasks the tests run. Compiled into the test binaries (which call them by
// pointer), into libtest_tasks.so (--load) and into test_task_host (--exec).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace test_tasks {

int square(int x);
int add(int a, int b);
void touch(int x);                       // void result
int sleep_ms(int ms);                    // sleeps, returns ms
int pid_after_ms(int ms);                // sleeps, returns the executor's pid
int crash_abort(int x);                  // abort()
int crash_segv(int x);                   // SIGSEGV
int crash_exit(int code);                // _exit(code)
int throw_runtime(std::string message);  // throws std::runtime_error(message)
std::uint64_t length(std::string bytes);
std::string blob(std::uint64_t size);  // `size` bytes
double half(double x);

// A result type whose serialization always throws.
struct Unserializable {
  int value = 0;
  template <class Archive>
  void save(Archive&) const {
    throw std::runtime_error("Unserializable refuses to be serialized");
  }
  template <class Archive>
  void load(Archive& ar) {
    ar(value);
  }
};
Unserializable make_unserializable(int x);

}  // namespace test_tasks

namespace test_tasks {
void set_tag(int tag);  // stores a per-process value (an initializer)
int get_tag(int);       // returns it (-1 if never set)
}  // namespace test_tasks

namespace test_tasks {
int crash_once(std::string marker);       // exits with code 3 unless `marker` exists; creates it
std::string huge_error(std::uint64_t n);  // throws std::runtime_error with an n-byte message
}  // namespace test_tasks

namespace test_tasks {
int echo_after_ms(int x, int ms);  // sleeps ms, returns x
}  // namespace test_tasks

namespace test_tasks {
// Announces its start by writing this executor's pid (4 bytes, one write) to
// the FIFO at `fifo_path` (test_support::TaskStarts; skipped if nobody has it
// open), then sleeps ms and returns ms.
int started_then_sleep(std::string fifo_path, int ms);
// Announces its start as started_then_sleep does, then waits until the test
// opens `gate` (a test_support::TaskGate); returns 1.
int started_then_gate(std::string fifo_path, std::string gate);
// Returns x; item 0 first sleeps 1.5 s (the slow item of an imap_unordered).
int slow_if_zero(int x);
}  // namespace test_tasks

namespace test_tasks {
// Prints "<tag> line i" for i = 1..n on stdout (i = n without its newline,
// flushed at the end by the executor), then "<tag> on stderr" on stderr;
// returns this process's pid.
int print_lines(std::string tag, int n);
// Prints n numbered lines on stdout as fast as it can; returns n.
int print_many(int n);
}  // namespace test_tasks
