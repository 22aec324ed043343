#include "bench_common.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <dpool/registry.hpp>
#include <filesystem>
#include <stdexcept>

#include "json_text.hpp"

extern char** environ;

namespace dpool_bench {

// ---------------------------------------------------------------- tasks

int noop(int x) {
  return x;
}

std::uint64_t length(std::string bytes) {
  return bytes.size();
}

// At namespace scope in the one file both programs link, so that each binary
// registers them exactly once; the names are the functions' own.
DPOOL_REGISTER(noop);
DPOOL_REGISTER(length);

// ---------------------------------------------------------------- time

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// ---------------------------------------------------------------- output

std::string fmt(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

double loadavg1() {
  double l[3];
  return ::getloadavg(l, 3) > 0 ? l[0] : std::nan("");
}

void log(const std::string& msg) {
  auto t = std::time(nullptr);
  char ts[16];
  std::strftime(ts, sizeof ts, "%H:%M:%S", std::localtime(&t));
  std::fprintf(stderr, "[%s] %s: %s\n", ts, kProgramName, msg.c_str());
}

void Reporter::emit(const std::string& workload, const std::string& metric, double value,
                    const std::string& unit, long n, const std::string& notes) {
  std::string v = std::isfinite(value) ? fmt(value, 6) : "null";
  std::printf(
      "{\"system\":\"%s\",\"workload\":\"%s\",\"metric\":\"%s\",\"value\":%s,\"unit\":\"%s\","
      "\"n\":%ld,\"notes\":%s}\n",
      system_.c_str(), workload.c_str(), metric.c_str(), v.c_str(), unit.c_str(), n,
      dpool::internal::json_quoted(notes).c_str());
  // A figure is on disk as soon as it is measured, should a later one hang
  // until bench/compare's timeout kills the program.
  std::fflush(stdout);
}

void Reporter::failed(const std::string& workload, const std::string& why) {
  failures_++;
  log(workload + " FAILED: " + why);
  emit(workload, "error", std::nan(""), "-", 0, "failed: " + why);
}

int Reporter::finish() const {
  log("finished, loadavg " + fmt(loadavg1()) + ", " + std::to_string(failures_) + " failure(s)");
  return failures_ ? 1 : 0;
}

void check(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("wrong result: " + what);
}

// ---------------------------------------------------------------- command line

std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::ParseError& e) {
    int status = app.exit(e);
    return status == 0 ? 0 : 2;
  }
}

// ---------------------------------------------------------------- dpool command

std::string self_path() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("/proc/self/exe") : p.string();
}

std::string find_dpool(const std::string& given) {
  if (!given.empty()) return given;
  auto beside = std::filesystem::path(self_path()).parent_path() / "dpool";
  if (::access(beside.c_str(), X_OK) == 0) return beside.string();
#ifdef DPOOL_CLI_PATH
  if (::access(DPOOL_CLI_PATH, X_OK) == 0) return DPOOL_CLI_PATH;
#endif
  throw std::runtime_error(
      "cannot find the `dpool` command next to this program; pass --dpool PATH");
}

DpoolProcess::DpoolProcess(std::vector<std::string> argv, std::chrono::seconds grace)
    : name_(argv.at(1)), grace_(grace) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  int rc = ::posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  out_ = fds[0];
}

DpoolProcess::~DpoolProcess() {
  stop();
  stop_forwarding_ = true;
  if (forwarder_.joinable()) forwarder_.join();
  if (out_ >= 0) ::close(out_);
}

std::string DpoolProcess::wait_line(const std::string& needle, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  std::string buf;
  for (;;) {
    for (auto nl = buf.find('\n'); nl != std::string::npos; nl = buf.find('\n')) {
      std::string line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      if (line.find(needle) != std::string::npos) return line;
    }
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd p{out_, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0)
      throw std::runtime_error("`dpool " + name_ + "` printed no '" + needle + "' in time");
    char chunk[4096];
    ssize_t r = ::read(out_, chunk, sizeof chunk);
    if (r <= 0) throw std::runtime_error("`dpool " + name_ + "` exited before '" + needle + "'");
    buf.append(chunk, static_cast<std::size_t>(r));
  }
}

// The process's executors may hold the pipe open after it exits, so the
// thread polls a stop flag rather than waiting for end-of-file.
void DpoolProcess::forward_output() {
  if (forwarder_.joinable()) return;
  forwarder_ = std::thread([this] {
    char chunk[4096];
    while (!stop_forwarding_) {
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      ssize_t r = ::read(out_, chunk, sizeof chunk);
      if (r <= 0) break;
      (void)!::write(STDERR_FILENO, chunk, static_cast<std::size_t>(r));
    }
  });
}

void DpoolProcess::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  // waitpid() cannot time out; a pidfd turns readable when the process exits,
  // so poll() can wait for that with the grace period as its timeout.
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  pollfd p{fd, POLLIN, 0};
  const auto grace_ms = std::chrono::duration_cast<std::chrono::milliseconds>(grace_).count();
  if (fd < 0 || ::poll(&p, 1, static_cast<int>(grace_ms)) <= 0) {
    log("`dpool " + name_ + "` ignored SIGTERM for " + std::to_string(grace_.count()) +
        " s; killing it");
    ::kill(pid_, SIGKILL);
  }
  if (fd >= 0) ::close(fd);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

namespace {
std::vector<std::string> coordinator_argv(const std::string& dpool, std::vector<std::string> flags,
                                          bool insecure) {
  std::vector<std::string> argv{dpool,   "coordinator", "--bind", "tcp://127.0.0.1:*",
                                "--log", "warn"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  if (insecure) argv.push_back("--insecure");
  return argv;
}
}  // namespace

LocalCluster::LocalCluster(const std::string& dpool, int nodes, int procs,
                           std::vector<std::string> coordinator_flags, bool insecure)
    : coordinator(coordinator_argv(dpool, std::move(coordinator_flags), insecure),
                  std::chrono::seconds(5)) {
  auto line = coordinator.wait_line("listening on", std::chrono::seconds(10));
  coordinator.forward_output();
  address = line.substr(line.find("tcp://"));
  for (int i = 0; i < nodes; ++i) {
    std::vector<std::string> argv{dpool,       "worker",
                                  "--connect", address,
                                  "--procs",   std::to_string(procs),
                                  "--exec",    self_path(),
                                  "--name",    "bench-worker-" + std::to_string(i),
                                  "--log",     "warn"};
    if (insecure) argv.push_back("--insecure");
    auto& w = workers.emplace_back(
        std::make_unique<DpoolProcess>(std::move(argv), std::chrono::seconds(5)));
    w->wait_line("connected", std::chrono::seconds(20));
    w->forward_output();
  }
}

LocalCluster::~LocalCluster() {
  workers.clear();  // first, so the nodes say goodbye to a live coordinator
}

}  // namespace dpool_bench
