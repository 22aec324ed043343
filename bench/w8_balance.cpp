#include "w8_balance.hpp"

#include <algorithm>
#include <cstdint>
#include <set>

namespace dpool_bench {

const std::vector<Mix>& w8_mixes() {
  static const std::vector<Mix> mixes = {
      {"400_mostly_1ms", 20, 40, 380, 1},
      {"4x300_20x10", 4, 300, 20, 10},
      {"3x500_12x20", 3, 500, 12, 20},
      {"2x1000_6x50", 2, 1000, 6, 50},
  };
  return mixes;
}

std::vector<double> w8_order(const Mix& mix, double scale) {
  std::vector<double> d;
  for (int i = 0; i < mix.long_count; ++i) d.push_back(mix.long_ms * scale / 1000);
  for (int i = 0; i < mix.short_count; ++i) d.push_back(mix.short_ms * scale / 1000);
  std::uint32_t x = 12345;
  for (std::size_t i = d.size() - 1; i > 0; --i) {
    x = x * 1664525u + 1013904223u;
    std::swap(d[i], d[x % (i + 1)]);
  }
  return d;
}

namespace {

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

void w8_balance(dpool::Pool& pool, unsigned executors, int reps, double scale, Reporter& out) {
  dpool::Remote<int(double)> sleep_task{"sleep_task"};
  for (const auto& mix : w8_mixes()) {
    auto order = w8_order(mix, scale);
    double work = 0;
    for (double s : order) work += s;
    double ideal = work / executors;
    std::vector<double> ratios;
    std::set<int> pids;
    for (int r = 0; r < reps; ++r) {
      auto t0 = Clock::now();
      auto results = pool.imap_unordered(sleep_task, order, 1);
      std::size_t got = 0;
      while (auto pid = results.next()) {
        pids.insert(*pid);
        ++got;
      }
      double makespan = seconds_since(t0);
      check(got == order.size(), "W8 " + mix.name + " results");
      ratios.push_back(makespan / ideal);
    }
    out.emit(
        "W8_" + mix.name, "makespan_ratio", median_of(ratios), "ratio",
        static_cast<long>(order.size()),
        "imap_unordered(sleep, " + std::to_string(mix.long_count) + " x " +
            fmt(mix.long_ms * scale) + " ms + " + std::to_string(mix.short_count) + " x " +
            fmt(mix.short_ms * scale) + " ms, shuffled, chunksize=1) on " +
            std::to_string(executors) + " executors; ideal = total work / executors = " +
            fmt(ideal) + " s; makespan / ideal per repetition " +
            [&] {
              std::string s = "[";
              for (std::size_t i = 0; i < ratios.size(); ++i)
                s += (i ? ", " : "") + fmt(ratios[i], 4);
              return s + "]";
            }() +
            "; ran in " + std::to_string(pids.size()) + " executor processes");
  }
}

}  // namespace dpool_bench
