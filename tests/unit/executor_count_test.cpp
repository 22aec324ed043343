// The executor count of `dpool worker` without --procs (tools/executor_count.hpp):
// SLURM's CPUs on the node inside a job, the cores elsewhere.
#include "executor_count.hpp"

#include <doctest/doctest.h>

#include <map>
#include <string>

namespace {

using dpool::internal::default_executor_count;
using dpool::internal::EnvLookup;

// An environment holding exactly `vars`.
EnvLookup env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

}  // namespace

TEST_CASE("outside SLURM a worker runs one executor per core") {
  auto c = default_executor_count(env({}), 8);
  CHECK(c.count == 8);
  CHECK(c.source == "cores");
}

TEST_CASE("in a SLURM job step a worker runs one executor per CPU the job has on its node") {
  auto c = default_executor_count(
      env({{"SLURM_CPUS_ON_NODE", "3"}, {"SLURM_JOB_CPUS_PER_NODE", "3(x2),8"}}), 8);
  CHECK(c.count == 3);
  CHECK(c.source == "SLURM_CPUS_ON_NODE");
}

TEST_CASE("SLURM's count may exceed the cores the worker sees") {
  CHECK(default_executor_count(env({{"SLURM_CPUS_ON_NODE", "64"}}), 2).count == 64);
}

TEST_CASE("a SLURM_CPUS_ON_NODE that is not a count from 1 to the maximum is ignored and named") {
  for (const char* bad : {"0", "-2", "4x", "2(x3)", " 4", "abc", "4097", "99999999999"}) {
    CAPTURE(bad);
    auto c = default_executor_count(env({{"SLURM_CPUS_ON_NODE", bad}}), 6);
    CHECK(c.count == 6);
    CHECK(c.source ==
          std::string("cores; SLURM_CPUS_ON_NODE=") + bad + " is not a count from 1 to 4096");
  }
  CHECK(default_executor_count(env({{"SLURM_CPUS_ON_NODE", ""}}), 6).source == "cores");
  CHECK(default_executor_count(env({{"SLURM_CPUS_ON_NODE", "4096"}}), 6).count == 4096);
}
