#include "process_tasks.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <dpool/dpool.hpp>
#include <stdexcept>

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
  auto announce = [&](std::int32_t value) {
    int fd = ::open(started.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("cannot open " + started);
    bool ok = ::write(fd, &value, sizeof value) == static_cast<ssize_t>(sizeof value);
    ::close(fd);
    if (!ok) throw std::runtime_error("cannot write " + started);
  };
  announce(static_cast<std::int32_t>(::getpid()));
  announce(q.get());
}

}  // namespace process_tasks

DPOOL_REGISTER_AS(process_tasks::note, "process_note");
DPOOL_REGISTER_AS(process_tasks::tree, "process_tree");
DPOOL_REGISTER_AS(process_tasks::echo, "process_echo");
DPOOL_REGISTER_AS(process_tasks::count_to, "process_count_to");
DPOOL_REGISTER_AS(process_tasks::produce, "process_produce");
DPOOL_REGISTER_AS(process_tasks::square_worker, "process_square_worker");
DPOOL_REGISTER_AS(process_tasks::announce_then_get, "process_announce_then_get");
