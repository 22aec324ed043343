// Blocking I/O on a descriptor, for the handles and processes of one machine
// (pipes, a Process's start record): whole sends, and poll(2) until a
// deadline.
#pragma once

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <string_view>

namespace dpool::internal {

// Sends all of `bytes` (no SIGPIPE); false when the other end is gone.
inline bool send_all(int fd, std::string_view bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// poll(2) until `deadline` (time_point::max(): no limit), past interruptions;
// returns what poll returns (0 at the deadline).
inline int poll_until(pollfd* fds, nfds_t n, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    int ms = -1;
    if (deadline != std::chrono::steady_clock::time_point::max())
      ms = static_cast<int>(std::max<long long>(0, std::chrono::ceil<std::chrono::milliseconds>(
                                                       deadline - std::chrono::steady_clock::now())
                                                       .count()));
    int r = ::poll(fds, n, ms);
    if (r < 0 && errno == EINTR) continue;
    return r;
  }
}

}  // namespace dpool::internal
