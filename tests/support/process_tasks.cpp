#include "process_tasks.hpp"

#include <fcntl.h>
#include <unistd.h>

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

}  // namespace process_tasks

DPOOL_REGISTER_AS(process_tasks::note, "process_note");
DPOOL_REGISTER_AS(process_tasks::tree, "process_tree");
