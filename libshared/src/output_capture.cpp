#include "output_capture.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <iostream>
#include <system_error>

namespace dpool::internal {
namespace {

// Read at most this much of one stream at a time, so that a task printing
// without pause on stdout does not hold back its stderr.
constexpr std::size_t kChunkBytes = 64 << 10;

void close_both(int fds[2]) {
  for (int i = 0; i < 2; ++i)
    if (fds[i] >= 0) ::close(fds[i]);
}

}  // namespace

OutputCapture::OutputCapture(Send send) : send_(std::move(send)), pid_(::getpid()) {
  int out[2] = {-1, -1}, err[2] = {-1, -1};
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0 ||
      ::pipe2(wake_, O_CLOEXEC) != 0) {
    int e = errno;
    close_both(out);
    close_both(err);
    close_both(wake_);
    throw std::system_error(e, std::generic_category(), "pipe2 for the task output");
  }
  std::fflush(nullptr);
  // dup2 clears close-on-exec on 1 and 2: a program the task starts writes
  // into the same pipes, and what it prints is the task's too.
  ::dup2(out[1], STDOUT_FILENO);
  ::dup2(err[1], STDERR_FILENO);
  ::close(out[1]);
  ::close(err[1]);
  pipes_[0] = out[0];
  pipes_[1] = err[0];
  for (int fd : pipes_) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_BLOCK, &all, &old);  // the thread inherits the mask
  thread_ = std::thread([this] { run(); });
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

OutputCapture::~OutputCapture() {
  ::close(wake_[1]);
  thread_.join();
  ::close(wake_[0]);
  close_both(pipes_);
}

void OutputCapture::begin_task(std::uint64_t task) {
  std::lock_guard lock(mu_);
  task_ = task;
}

void OutputCapture::end_task() {
  std::cout.flush();
  std::clog.flush();
  std::fflush(stdout);
  std::fflush(stderr);
  std::lock_guard lock(mu_);
  pollfd fds[2] = {{eof_[0] ? -1 : pipes_[0], POLLIN, 0}, {eof_[1] ? -1 : pipes_[1], POLLIN, 0}};
  if (::poll(fds, 2, 0) > 0) {
    // A task may have written more than one chunk: take until empty. Its
    // writes have returned, so nothing more of it can arrive meanwhile.
    for (int i = 0; i < 2; ++i)
      if (fds[i].revents)
        while (take(i)) {
        }
  }
  task_ = 0;
}

bool OutputCapture::take(int i) {
  if (eof_[i]) return false;
  buffer_.resize(kChunkBytes);
  ssize_t n;
  while ((n = ::read(pipes_[i], buffer_.data(), buffer_.size())) < 0 && errno == EINTR) {
  }
  if (n == 0) eof_[i] = true;  // the task closed its fd 1 or 2, and every copy of it
  if (n <= 0) return false;    // or nothing there (EAGAIN)
  wire::Lines chunk;
  chunk.task = task_;
  chunk.pid = pid_;
  chunk.stream = static_cast<std::uint8_t>(i + 1);
  chunk.text.assign(buffer_.data(), static_cast<std::size_t>(n));
  send_(std::move(chunk));
  return true;
}

void OutputCapture::run() {
  for (;;) {
    pollfd fds[3] = {{pipes_[0], POLLIN, 0}, {pipes_[1], POLLIN, 0}, {wake_[0], POLLIN, 0}};
    {
      std::lock_guard lock(mu_);
      for (int i = 0; i < 2; ++i)
        if (eof_[i]) fds[i].fd = -1;  // poll skips it
    }
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    std::lock_guard lock(mu_);
    for (int i = 0; i < 2; ++i)
      if (fds[i].revents & (POLLIN | POLLHUP)) take(i);
    if (fds[2].revents) {  // stopping: send what is left
      for (int i = 0; i < 2; ++i)
        while (take(i)) {
        }
      return;
    }
  }
}

}  // namespace dpool::internal
