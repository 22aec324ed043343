#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <dpool/errors.hpp>
#include <dpool/init.hpp>
#include <thread>

#include "executor_loop.hpp"
#include "init_state.hpp"
#include "process_start.hpp"

namespace dpool {
namespace {
std::vector<std::string> g_argv;
std::atomic<bool> g_initialized{false};
}  // namespace

void init(int argc, char** argv) {
  internal::become_executor_if_spawned();  // never returns in an executor
  g_argv.assign(argv, argv + argc);
  // Logs go to stderr, apart from the program's own output.
  spdlog::set_default_logger(spdlog::stderr_logger_mt("dpool"));
  if (const char* level = std::getenv("DPOOL_LOG"))
    spdlog::set_level(spdlog::level::from_str(level));
  else
    spdlog::set_level(spdlog::level::warn);
  g_initialized = true;
  internal::become_process_if_spawned();  // never returns in a Process's child
}

void set_log_level(const std::string& level) {
  spdlog::set_level(spdlog::level::from_str(level));
}

bool initialized() noexcept {
  return g_initialized;
}

unsigned cpu_count() {
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<unsigned>(n) : std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace dpool

namespace dpool::internal {

const std::vector<std::string>& program_argv() {
  return g_argv;
}

void require_init(const char* what) {
  if (g_initialized) return;
  throw Error(std::string(what) +
              " needs dpool::init(argc, argv) as the first line of main(): local-mode executors "
              "re-run this program, and init() is where they take over. Add it and rebuild");
}

}  // namespace dpool::internal
