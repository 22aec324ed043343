// How many executors `dpool worker` runs when --procs is not given, and
// where that number came from, so the worker can say so. Pure: the
// environment is passed in.
#pragma once

#include <functional>
#include <string>

namespace dpool::internal {

struct ExecutorCount {
  unsigned count = 0;
  std::string source;  // "SLURM_CPUS_ON_NODE", or "cores" (with why SLURM's was not used)
};

// Looks an environment variable up: std::getenv in the program, a map in tests.
using EnvLookup = std::function<const char*(const char*)>;

// Inside a SLURM job step, SLURM_CPUS_ON_NODE is the number of CPUs the job
// has on this node (a step started without --exact sees the job's whole
// allocation there), which is what a node of the job may use. Outside SLURM,
// or when it is not a count from 1 to `max`, the machine's `cores`.
ExecutorCount default_executor_count(const EnvLookup& env, unsigned cores, unsigned max = 4096);

}  // namespace dpool::internal
