#include "process_tasks.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <dpool/dpool.hpp>
#include <mutex>
#include <stdexcept>

#include "task_starts.hpp"

namespace process_tasks {
namespace {

void append_line(const std::string& path, const std::string& line) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot open " + path);
  auto text = line + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok) throw std::runtime_error("cannot write " + path);
}

}  // namespace

void note(std::string path, std::string text) {
  append_line(path,
              text + " " + dpool::current_process().name() + " " + std::to_string(::getpid()));
}

void tree(std::string path, std::string id, int depth) {
  append_line(path, id);
  if (depth <= 0) return;
  dpool::Process a(tree, path, id + "0", depth - 1);
  dpool::Process b(tree, path, id + "1", depth - 1);
  a.start();
  b.start();
  a.join();
  b.join();
}

void echo(dpool::Connection c) {
  for (auto s = c.recv<std::string>(); s != "end"; s = c.recv<std::string>()) c.send(s);
  c.close();
}

void count_to(dpool::Connection c, int id, int count) {
  for (int i = 0; i < count; ++i) c.send(id * 1000 + i);
  c.close();
}

void produce(dpool::Queue<int> q, int from, int n) {
  for (int i = from; i < from + n; ++i) q.put(i);
}

void square_worker(dpool::Queue<int> in, dpool::Queue<int> out) {
  for (;;) {
    int x = in.get();
    if (x >= 0) out.put(x * x);
    in.task_done();
    if (x < 0) return;
  }
}

void announce_then_get(dpool::Queue<int> q, std::string started) {
  test_support::announce_start(started);
  test_support::announce_start(started, q.get());
}

void add_to(dpool::Value<int> v, int n, bool locked) {
  for (int i = 0; i < n; ++i) {
    if (locked) {
      std::lock_guard guard(v.get_lock());
      v.value() = v.value() + 1;
    } else {
      // A read, some work, a write: another process's increment in between is lost.
      int seen = std::atomic_ref<int>(v.value()).load(std::memory_order_relaxed);
      for (int spin = 0; spin < 50; ++spin) std::atomic_signal_fence(std::memory_order_seq_cst);
      std::atomic_ref<int>(v.value()).store(seen + 1, std::memory_order_relaxed);
    }
  }
}

void fill(dpool::Array<double> a) {
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<double>(i) * 1.5;
}

void barrier_party(dpool::Barrier b, int rounds, dpool::Queue<int> out) {
  for (int r = 0; r < rounds; ++r) out.put(static_cast<int>(b.wait()));
}

void barrier_waits(dpool::Barrier b, int timeout_ms, dpool::Queue<int> out) {
  try {
    b.wait(std::chrono::milliseconds(timeout_ms));
    out.put(0);
  } catch (const dpool::BrokenBarrierError&) {
    out.put(1);
  }
}

void hold_and_hang(dpool::Lock l, dpool::Value<int> v, std::string started) {
  l.lock();
  v.value() = v.value() + 1;
  test_support::announce_start(started);
  for (;;) ::pause();  // holding the lock until killed
}

void wait_for_value(dpool::Condition c, dpool::Value<int> v, int target, dpool::Queue<int> out) {
  std::unique_lock guard(c);
  c.wait_for([&] { return v.value() >= target; });
  out.put(v.value());
}

void set_event(dpool::Event e, dpool::Queue<int> out) {
  out.put(1);
  e.set();
}

void wait_at_gate(std::string started, std::string gate) {
  test_support::announce_start(started);
  int fd = ::open(gate.c_str(), O_RDONLY | O_CLOEXEC);  // until the test opens the gate
  if (fd < 0) throw std::runtime_error("cannot open " + gate);
  char c;
  while (::read(fd, &c, 1) > 0) {
  }
  ::close(fd);
}

void write_segment(std::string name) {
  dpool::SharedMemory shm(name);
  for (std::size_t i = 0; i < shm.size(); ++i) shm.data()[i] = static_cast<std::byte>(i % 251);
}

}  // namespace process_tasks

DPOOL_REGISTER_AS(process_tasks::note, "process_note");
DPOOL_REGISTER_AS(process_tasks::tree, "process_tree");
DPOOL_REGISTER_AS(process_tasks::echo, "process_echo");
DPOOL_REGISTER_AS(process_tasks::count_to, "process_count_to");
DPOOL_REGISTER_AS(process_tasks::produce, "process_produce");
DPOOL_REGISTER_AS(process_tasks::square_worker, "process_square_worker");
DPOOL_REGISTER_AS(process_tasks::announce_then_get, "process_announce_then_get");
DPOOL_REGISTER_AS(process_tasks::add_to, "process_add_to");
DPOOL_REGISTER_AS(process_tasks::fill, "process_fill");
DPOOL_REGISTER_AS(process_tasks::barrier_party, "process_barrier_party");
DPOOL_REGISTER_AS(process_tasks::barrier_waits, "process_barrier_waits");
DPOOL_REGISTER_AS(process_tasks::hold_and_hang, "process_hold_and_hang");
DPOOL_REGISTER_AS(process_tasks::wait_for_value, "process_wait_for_value");
DPOOL_REGISTER_AS(process_tasks::set_event, "process_set_event");
DPOOL_REGISTER_AS(process_tasks::write_segment, "process_write_segment");
DPOOL_REGISTER_AS(process_tasks::wait_at_gate, "process_wait_at_gate");
