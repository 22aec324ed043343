#include "w6_fault.hpp"

#include <signal.h>

#include <chrono>
#include <cmath>
#include <dpool/dpool.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace dpool_bench {
namespace {

using namespace std::chrono_literals;

// Registered by the program (dpool_bench.cpp); executors run the same program.
const dpool::Remote<int(double)> sleep_task{"sleep_task"};

// The dpool::Error subclass a caught error is, by name, for the W6 report.
std::string error_name(const dpool::Error& e) {
  if (dynamic_cast<const dpool::WorkerCrashed*>(&e)) return "dpool::WorkerCrashed";
  if (dynamic_cast<const dpool::WorkerLost*>(&e)) return "dpool::WorkerLost";
  if (dynamic_cast<const dpool::TimeoutError*>(&e)) return "dpool::TimeoutError";
  if (dynamic_cast<const dpool::RemoteError*>(&e)) return "dpool::RemoteError";
  if (dynamic_cast<const dpool::Cancelled*>(&e)) return "dpool::Cancelled";
  if (dynamic_cast<const dpool::TaskTimeout*>(&e)) return "dpool::TaskTimeout";
  if (dynamic_cast<const dpool::PoolClosed*>(&e)) return "dpool::PoolClosed";
  if (dynamic_cast<const dpool::ConnectionError*>(&e)) return "dpool::ConnectionError";
  return "dpool::Error(code " + std::to_string(static_cast<int>(e.code())) + ")";
}

// Executor pids of a fresh local pool: run overlapping getpid-like tasks; if
// they all landed on one executor, read this process's children from /proc.
std::vector<int> executor_pids(dpool::Pool& pool, unsigned want) {
  std::set<int> pids;
  for (int attempt = 0; attempt < 3 && pids.size() < want; ++attempt) {
    std::vector<dpool::AsyncResult<int>> rs;
    for (unsigned i = 0; i < 2 * want; ++i) rs.push_back(pool.apply_async(sleep_task, 0.2));
    for (auto& r : rs) pids.insert(r.get());
  }
  if (pids.size() < want) {
    std::error_code ec;
    for (auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
      std::ifstream f(task.path() / "children");
      int pid;
      while (f >> pid) pids.insert(pid);
    }
  }
  return {pids.begin(), pids.end()};
}

// What one kill experiment saw.
struct KillOutcome {
  std::string outcome;  // "completed", "raised" or "hung"
  std::string error;    // the dpool::Error subclass, when raised
  std::string what;
  double t_kill = 0, t_out = 0;  // seconds since submission
  double kill_to_outcome_ms = 0;
};

}  // namespace

// W6 (the peers' workload): map_async of sleeping tasks on two executors,
// SIGKILL one of them part-way, and see what get() does and when.
void w6_fault(const FaultSizes& z, Reporter& out) {
  const auto tasks = static_cast<std::size_t>(z.tasks);
  // get() takes integral durations only (describe() wants nanoseconds).
  const auto timeout = std::chrono::milliseconds(static_cast<long>(z.timeout * 1000));
  std::vector<double> sleeps(tasks, z.sleep);

  // Part 1: map_async, exactly as the peers do.
  KillOutcome k;
  std::vector<int> pids;
  std::string after;
  {
    dpool::Pool pool(z.procs);
    pids = executor_pids(pool, z.procs);
    check(pids.size() >= 2, "W6 found fewer than two executor pids");
    auto t0 = Clock::now();
    auto ar = pool.map_async(sleep_task, sleeps);
    std::this_thread::sleep_until(t0 + std::chrono::duration<double>(z.kill_at));
    ::kill(pids.front(), SIGKILL);
    auto killed = Clock::now();
    k.t_kill = seconds_since(t0);
    try {
      auto r = ar.get(timeout);
      k.outcome = "completed";
      k.what = "all " + std::to_string(r.size()) + " results";
    } catch (const dpool::TimeoutError&) {
      k.outcome = "hung";
      k.what = "no outcome within the get() timeout";
    } catch (const dpool::Error& e) {
      k.outcome = "raised";
      k.error = error_name(e);
      k.what = e.what();
    }
    k.kill_to_outcome_ms = std::chrono::duration<double, std::milli>(Clock::now() - killed).count();
    k.t_out = seconds_since(t0);
    try {  // still usable, with a replacement executor?
      int r = pool.apply_async(noop, 7).get(10s);
      after = "afterwards apply_async(noop, 7).get() = " + std::to_string(r) +
              " and pool.size() = " + std::to_string(pool.size());
    } catch (const std::exception& e) {
      after = std::string("afterwards apply_async(noop) failed: ") + e.what();
    }
  }
  std::string head = "map_async(sleep_task(" + fmt(z.sleep) + ") x" + std::to_string(tasks) +
                     ") on Pool(" + std::to_string(z.procs) + "), SIGKILL executor " +
                     std::to_string(pids.front()) + " at t=" + fmt(k.t_kill) + " s; get(timeout " +
                     fmt(z.timeout) + " s) -> " + k.outcome +
                     (k.error.empty() ? "" : " " + k.error) + " at t=" + fmt(k.t_out, 4) +
                     " s: " + k.what + "; " + after;
  out.emit("W6_fault", "time_to_outcome", k.t_out, "s", z.tasks, k.outcome + ": " + head);
  out.emit("W6_fault", "kill_to_error", k.outcome == "raised" ? k.kill_to_outcome_ms : std::nan(""),
           "ms", z.tasks,
           k.outcome == "raised"
               ? k.error + " reached get() " + fmt(k.kill_to_outcome_ms) + " ms after the SIGKILL"
               : "no error was raised (" + k.outcome + ")");

  // Part 2: the same tasks as separate apply_async calls, so each one's fate
  // is visible: does the rest complete once one executor is gone?
  dpool::Pool pool(z.procs);
  pids = executor_pids(pool, z.procs);
  check(pids.size() >= 2, "W6 found fewer than two executor pids");
  auto t0 = Clock::now();
  std::vector<dpool::AsyncResult<int>> rs;
  for (double s : sleeps) rs.push_back(pool.apply_async(sleep_task, s));
  std::this_thread::sleep_until(t0 + std::chrono::duration<double>(z.kill_at));
  ::kill(pids.front(), SIGKILL);
  double t_kill = seconds_since(t0);
  int completed = 0;
  std::set<int> ran_on;
  std::vector<std::string> failures;
  double t_first_error = std::nan(""), t_last = 0;
  // Take the results as they finish: errors may arrive in any order.
  std::vector<std::size_t> task_of(tasks);
  std::iota(task_of.begin(), task_of.end(), std::size_t{0});
  auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(
                           std::chrono::duration<double>(z.kill_at + z.timeout));
  while (!rs.empty() && Clock::now() < deadline) {
    std::size_t k = 0;
    try {
      k = dpool::wait_any(rs, deadline - Clock::now());
    } catch (const dpool::TimeoutError&) {
      break;
    }
    double t = seconds_since(t0);
    t_last = std::max(t_last, t);
    try {
      ran_on.insert(rs[k].get());
      completed++;
    } catch (const dpool::Error& e) {
      if (std::isnan(t_first_error)) t_first_error = t;
      failures.push_back("task " + std::to_string(task_of[k]) + ": " + error_name(e) +
                         " at t=" + fmt(t) + " s");
    }
    rs.erase(rs.begin() + static_cast<std::ptrdiff_t>(k));
    task_of.erase(task_of.begin() + static_cast<std::ptrdiff_t>(k));
  }
  int missing = static_cast<int>(rs.size());
  std::string pids_seen;
  for (int p : ran_on) pids_seen += (pids_seen.empty() ? "" : ", ") + std::to_string(p);
  std::string fails;
  for (auto& f : failures) fails += (fails.empty() ? "" : "; ") + f;
  out.emit(
      "W6_fault", "rest_completed", completed, "tasks", z.tasks,
      std::to_string(tasks) + " x apply_async(sleep_task(" + fmt(z.sleep) + ")) on Pool(" +
          std::to_string(z.procs) + "), SIGKILL executor " + std::to_string(pids.front()) +
          " at t=" + fmt(t_kill) + " s: " + std::to_string(completed) + " completed, " +
          std::to_string(failures.size()) + " failed" + (fails.empty() ? "" : " (" + fails + ")") +
          ", " + std::to_string(missing) + " without an outcome after " + fmt(z.timeout) +
          " s; last outcome at t=" + fmt(t_last, 4) + " s; first error " +
          (std::isnan(t_first_error) ? std::string("none")
                                     : fmt((t_first_error - t_kill) * 1e3) + " ms after the kill") +
          "; completed tasks ran on pids [" + pids_seen + "]");
}

}  // namespace dpool_bench
