// W8, load balance: unequal tasks through imap_unordered(chunksize=1), in the
// same shuffled order for every system (bench/peers_w8.py runs the Python
// peers on the same mixes), reported as makespan / ideal, where ideal is the
// total work divided by the executors.
#pragma once

#include <dpool/dpool.hpp>
#include <string>
#include <vector>

#include "bench_common.hpp"

namespace dpool_bench {

struct Mix {
  std::string name;  // the workload is "W8_" + name
  int long_count;
  double long_ms;
  int short_count;
  double short_ms;
};

// The mixes, shared with bench/peers_w8.py (keep the two in step).
const std::vector<Mix>& w8_mixes();

// Task durations in seconds, longs then shorts, shuffled by the same
// generator as bench/peers_w8.py (Fisher-Yates over a 32-bit LCG, seed 12345).
std::vector<double> w8_order(const Mix& mix, double scale);

// Runs every mix `reps` times on `pool` (which has `executors` executors, all
// of them started) and emits W8_<mix> makespan_ratio figures. `scale`
// shrinks the durations (--quick).
void w8_balance(dpool::Pool& pool, unsigned executors, int reps, double scale, Reporter& out);

}  // namespace dpool_bench
