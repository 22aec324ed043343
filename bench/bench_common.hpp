// What dpool-bench and dpool-scale share: the tasks both register, the
// figure output (one JSON line per figure, in the format bench/aggregate.py and
// bench/compare read), the diagnostics on stderr, and starting `dpool`
// subcommands as child processes. Compiled into each program (see
// bench/CMakeLists.txt); each program is its own binary, so the tasks below are
// registered once in each.
#pragma once

#include <sys/types.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace dpool_bench {

// ---------------------------------------------------------------- tasks
// Registered (DPOOL_REGISTER) in bench_common.cpp as "noop" and "length": both
// programs submit them, and their executors or fake nodes look them up by
// those names.

int noop(int x);
std::uint64_t length(std::string bytes);

// ---------------------------------------------------------------- time

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0);

// ---------------------------------------------------------------- output

// Defined by each program ("dpool-bench", "dpool-scale"): the prefix of its
// lines on stderr, which tell the two apart in bench/compare's logs.
extern const char kProgramName[];

// `v` with `digits` significant digits (printf's %g).
std::string fmt(double v, int digits = 3);

// The one-minute load average, NaN if unknown: logged around each figure,
// since the box may be shared and a busy box skews the times.
double loadavg1();

// A diagnostic line on stderr: "[HH:MM:SS] <kProgramName>: msg".
void log(const std::string& msg);

// Prints the figures of one system, one JSON line each on stdout:
//   {"system","workload","metric","value","unit","n","notes"}
// and remembers whether anything failed, for the exit status. Only the notes
// are escaped: the other strings are the programs' own names and units.
class Reporter {
 public:
  // `system`: "dpool_local" / "dpool_cluster" (dpool-bench, named as
  // bench/aggregate.py's SYSTEMS), "dpool" (dpool-scale).
  explicit Reporter(std::string system) : system_(std::move(system)) {}

  // A non-finite `value` prints as null.
  void emit(const std::string& workload, const std::string& metric, double value,
            const std::string& unit, long n, const std::string& notes);

  // Logs the failure and prints it as an "error" figure with a null value.
  void failed(const std::string& workload, const std::string& why);

  // Runs one workload or figure, logging its start and how long it took. An
  // exception becomes an error line and a failed exit, and the next one still
  // runs.
  template <class Body>
  void run(const std::string& name, Body&& body) {
    log(name + " start, loadavg " + fmt(loadavg1()));
    auto t0 = Clock::now();
    try {
      body();
    } catch (const std::exception& e) {
      failed(name, e.what());
    }
    log(name + " done in " + fmt(seconds_since(t0)) + " s");
  }

  // Logs the closing line; returns the exit status: 1 if anything failed,
  // never because of a time (CTest runs both programs as smoke tests).
  int finish() const;

 private:
  std::string system_;
  int failures_ = 0;
};

// Throws "wrong result: <what>" unless `ok`.
void check(bool ok, const std::string& what);

// ---------------------------------------------------------------- command line

// Parses the command line into `app`'s options. Returns the status the
// program should exit with now (0 after --help, 2 after printing what is
// wrong), or nullopt to go on.
std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv);

// ---------------------------------------------------------------- dpool command

// This program's path, for `dpool worker --exec` and to find `dpool` beside it.
std::string self_path();

// The `dpool` command: `given` (--dpool) if not empty, else the one next to
// this program (both land in bin/), else the one CMake built
// (DPOOL_CLI_PATH). Throws if there is none.
std::string find_dpool(const std::string& given);

// `dpool SUBCOMMAND ...` as a child process: its stdout is a pipe to this
// program, so that wait_line() can find its start-up line, and its stderr is
// ours. Destroying it stops it.
class DpoolProcess {
 public:
  // Starts argv[0] (the `dpool` command) with argv[1] the subcommand, which
  // names it in messages. stop() waits `grace` after SIGTERM before SIGKILL.
  DpoolProcess(std::vector<std::string> argv, std::chrono::seconds grace);
  ~DpoolProcess();
  DpoolProcess(const DpoolProcess&) = delete;
  DpoolProcess& operator=(const DpoolProcess&) = delete;

  // Reads stdout until a line containing `needle`; returns that line. Throws
  // if none comes within `timeout` or the process closes its stdout first.
  std::string wait_line(const std::string& needle, std::chrono::milliseconds timeout);

  // From now on copies its stdout to our stderr, from a thread, so that a
  // chatty process never blocks on a full pipe. Without it the rest of its
  // output stays in the pipe: fine for one that prints little after start-up.
  void forward_output();

  // SIGTERM, then SIGKILL if it has not exited after the grace period; reaps
  // it. Does nothing the second time.
  void stop();

  pid_t pid() const { return pid_; }

 private:
  std::string name_;
  std::chrono::seconds grace_;
  pid_t pid_ = -1;
  int out_ = -1;  // read end of its stdout
  std::atomic<bool> stop_forwarding_{false};
  std::thread forwarder_;
};

// One `dpool coordinator` (with `coordinator_flags`) and `nodes` worker nodes
// of `procs` executors each running this program (`--exec`), on loopback.
// With `insecure`, both serve and connect in the clear (--insecure); else
// with the keys the coordinator makes in the default key directory. After
// start-up their output is forwarded to our stderr; each gets 5 s to stop.
struct LocalCluster {
  LocalCluster(const std::string& dpool, int nodes, int procs,
               std::vector<std::string> coordinator_flags = {}, bool insecure = false);
  ~LocalCluster();
  DpoolProcess coordinator;
  std::string address;
  std::vector<std::unique_ptr<DpoolProcess>> workers;
};

}  // namespace dpool_bench
