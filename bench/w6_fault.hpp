// W6, a fault: an executor killed with SIGKILL while a map_async of sleeping
// tasks runs, as the peers do it (shared/peers), reported as the time from
// the kill to a named error or to the end, and what each task's outcome was.
#pragma once

#include "bench_common.hpp"

namespace dpool_bench {

struct FaultSizes {
  unsigned procs;  // executors of the local pool
  int tasks;       // sleeping tasks in the map_async
  double sleep;    // seconds each task sleeps
  double kill_at;  // seconds after submission at which one executor is killed
  double timeout;  // seconds to wait for the outcome before calling it hung
};

// Runs the experiment twice (map_async, then apply_async per task) on fresh
// local pools and emits the W6_fault figures.
void w6_fault(const FaultSizes& z, Reporter& out);

}  // namespace dpool_bench
