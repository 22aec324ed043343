// multiprocessing.Process in C++: one process per item, joined; a parent
// and two children; a runaway process stopped with terminate() and its exit
// code. Each child is a copy of this program, so main() begins with
// dpool::init, as for a local pool.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <dpool/dpool.hpp>
#include <memory>
#include <thread>
#include <vector>

void square_of(int n) {
  std::printf("%d --> %d (process %d)\n", n, n * n, static_cast<int>(::getpid()));
}
DPOOL_REGISTER(square_of);

void child1() {
  std::printf("Child 1 %d\n", static_cast<int>(::getpid()));
}
DPOOL_REGISTER(child1);

void runaway() {
  std::printf("%s: working forever...\n", dpool::current_process().name().c_str());
  std::fflush(stdout);
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));  // the work never ends
}
DPOOL_REGISTER(runaway);

int main(int argc, char** argv) {
  dpool::init(argc, argv);  // first line: the children start here too

  // One process per core, each with its own argument, then wait for all.
  std::vector<std::unique_ptr<dpool::Process>> processes;
  for (unsigned n = 0; n < dpool::cpu_count(); ++n)
    processes.push_back(std::make_unique<dpool::Process>(square_of, static_cast<int>(n)));
  for (auto& p : processes) p->start();
  for (auto& p : processes) p->join();
  for (auto& p : processes)
    std::printf("%s ended with exit code %d\n", p->name().c_str(), *p->exitcode());

  // A parent and a child: the child's pid, join, is_alive.
  std::printf("Parent ID %d\n", static_cast<int>(::getpid()));
  dpool::Process p1(child1);
  p1.start();
  std::printf("PID p1: %d\n", p1.pid());
  p1.join();
  std::printf("Is p1 alive? %s\n", p1.is_alive() ? "Yes" : "No");

  // A process that never ends by itself: terminate() sends SIGTERM, and the
  // exit code says so (-15), as in Python.
  dpool::Process p2(dpool::ProcessOptions{.name = "runaway"}, runaway);
  p2.start();
  bool ended = p2.join(std::chrono::milliseconds(300));
  std::printf("after 300 ms: ended? %s, alive? %s\n", ended ? "Yes" : "No",
              p2.is_alive() ? "Yes" : "No");
  p2.terminate();
  p2.join();
  std::printf("runaway terminated: exit code %d\n", *p2.exitcode());
  std::printf("We're done\n");
}
