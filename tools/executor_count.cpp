#include "executor_count.hpp"

#include <charconv>
#include <cstring>

namespace dpool::internal {

ExecutorCount default_executor_count(const EnvLookup& env, unsigned cores, unsigned max) {
  const char* slurm = env("SLURM_CPUS_ON_NODE");
  if (slurm == nullptr || *slurm == '\0') return {cores, "cores"};
  unsigned n = 0;
  const char* end = slurm + std::strlen(slurm);
  auto [rest, ec] = std::from_chars(slurm, end, n);
  if (ec == std::errc() && rest == end && n >= 1 && n <= max) return {n, "SLURM_CPUS_ON_NODE"};
  return {cores, "cores; SLURM_CPUS_ON_NODE=" + std::string(slurm) + " is not a count from 1 to " +
                     std::to_string(max)};
}

}  // namespace dpool::internal
