#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <dpool/detail/progress.hpp>

namespace dpool::detail {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kTerminalEvery = std::chrono::milliseconds(200);
constexpr auto kLogEvery = std::chrono::seconds(5);
constexpr int kBarWidth = 30;

std::string duration_text(double seconds) {
  auto s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, s / 60 % 60);
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%lds", s);
  return buf;
}

}  // namespace

bool progress_wanted(bool option) {
  if (option) return true;
  const char* env = std::getenv("DPOOL_PROGRESS");
  return env && *env && std::string(env) != "0";
}

Progress::Progress(std::string what, std::size_t total)
    : what_(std::move(what)),
      total_(total),
      terminal_(::isatty(STDERR_FILENO) == 1),
      start_(Clock::now()),
      last_print_(start_) {}

Progress::~Progress() {
  finish();
}

void Progress::advance(std::size_t n) {
  std::lock_guard lock(mu_);
  if (finished_) return;
  done_ += n;
  auto now = Clock::now();
  if (now - last_print_ >= (terminal_ ? kTerminalEvery : kLogEvery)) {
    last_print_ = now;
    print(false);
  }
}

void Progress::finish() {
  std::lock_guard lock(mu_);
  if (finished_) return;
  finished_ = true;
  print(true);
}

void Progress::print(bool last) {
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0;
  std::string line = what_ + ": " + std::to_string(done_);
  if (total_ > 0) line += "/" + std::to_string(total_);
  char figures[96];
  std::snprintf(figures, sizeof figures, " %.1f/s", rate);
  line += figures;
  if (last) {
    line += " in " + duration_text(elapsed) + (total_ > 0 && done_ < total_ ? " (stopped)" : "");
  } else if (total_ > 0 && rate > 0) {
    line +=
        " " + duration_text(static_cast<double>(total_ - std::min(done_, total_)) / rate) + " left";
  }
  if (terminal_) {
    std::string bar;
    if (total_ > 0) {
      int filled = static_cast<int>(kBarWidth * std::min(done_, total_) / total_);
      bar = "[" + std::string(filled, '#') + std::string(kBarWidth - filled, '.') + "] ";
    }
    std::fprintf(stderr, "\r\033[K%s%s%s", bar.c_str(), line.c_str(), last ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

}  // namespace dpool::detail
