// A program for the Process tests that need a parent of their own:
//   process_main throw           a Process whose function throws; prints its exit code
//   process_main daemon FIFO     starts a daemon Process (announcing on FIFO), prints
//                                "child <pid>", then waits to be killed
//   process_main leave-running   returns from main with a non-daemon Process running;
//                                ~Process joins it before the program ends
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <dpool/dpool.hpp>
#include <string>

#include "test_tasks.hpp"

int main(int argc, char** argv) {
  dpool::init(argc, argv);
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "throw") {
    dpool::Process p(test_tasks::throw_runtime, std::string("the child's own words"));
    p.start();
    p.join();
    std::printf("exitcode %d\n", p.exitcode().value_or(-1000));
    return 0;
  }
  if (mode == "daemon" && argc > 2) {
    dpool::Process p(dpool::ProcessOptions{.name = "watchdog", .daemon = true},
                     test_tasks::started_then_sleep, std::string(argv[2]), 60000);
    p.start();
    std::printf("child %d\n", p.pid());
    std::fflush(stdout);
    ::pause();  // until the test kills this program
    return 0;
  }
  if (mode == "leave-running") {
    dpool::Process p(test_tasks::sleep_ms, 300);
    p.start();
    std::printf("started %d\n", p.pid());
    std::fflush(stdout);
    return 0;  // ~Process joins it
  }
  std::fprintf(stderr, "usage: process_main throw | daemon FIFO | leave-running\n");
  return 2;
}
