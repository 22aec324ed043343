// A program for the SharedMemory tracker tests: it creates a segment, prints
// "ready children <n>" (n: dpool::active_children().size()) and then waits,
// for the test to kill it or to open GATE.
//   shm_creator NAME leave        creates NAME and waits to be killed
//   shm_creator NAME keep         ... and keep()s it first
//   shm_creator NAME unlink       ... and unlink()s it first
//   shm_creator NAME child GATE   ... and starts a Process that waits for
//                                 GATE to be opened (prints "child <pid>")
//   shm_creator NAME fork         ... and forks a child (no exec) that waits to
//                                 be killed (prints "child <pid>")
//   shm_creator NAME exit GATE    ... and returns from main once GATE is opened
//   shm_creator NAME none         creates nothing and waits to be killed
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <dpool/dpool.hpp>
#include <optional>
#include <string>

namespace {

// Returns once someone opened `gate` (a FIFO) for writing and closed it.
int wait_for_gate(std::string gate) {
  int fd = ::open(gate.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 1;
  char c;
  while (::read(fd, &c, 1) > 0) {
  }
  ::close(fd);
  return 0;
}

}  // namespace

DPOOL_REGISTER(wait_for_gate);

int main(int argc, char** argv) {
  dpool::init(argc, argv);
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: shm_creator NAME leave|keep|unlink|none|fork|child GATE|exit GATE\n");
    return 2;
  }
  std::string name = argv[1], mode = argv[2];
  std::string gate = argc > 3 ? argv[3] : "";
  std::optional<dpool::SharedMemory> shm;
  if (mode != "none") {
    shm.emplace(name, 4096, dpool::create);
    shm->data()[0] = std::byte{42};
  }
  if (mode == "keep") shm->keep();
  if (mode == "unlink") shm->unlink();
  std::optional<dpool::Process> child;
  if (mode == "child") {
    child.emplace(wait_for_gate, gate);
    child->start();
    std::printf("child %d\n", child->pid());
  }
  if (mode == "fork") {
    pid_t pid = ::fork();
    if (pid == 0) {
      ::pause();  // until the test kills it
      ::_exit(0);
    }
    std::printf("child %d\n", static_cast<int>(pid));
  }
  std::printf("ready children %zu\n", dpool::active_children().size());
  std::fflush(stdout);
  if (mode == "exit") return wait_for_gate(gate);
  ::pause();  // until the test kills this program
  return 0;
}
