// Blocking I/O on a descriptor, for the handles and processes of one machine
// (pipes, a Process's start record, the shared-memory tracker): whole sends,
// receives that take descriptors along, and poll(2) until a deadline.
#pragma once

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

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

// One recvmsg(2) into `into`, past interruptions: the descriptors that came
// with the bytes (SCM_RIGHTS, close-on-exec) are appended to `fds`. Returns
// what recvmsg returns: the byte count, 0 at end-of-file, -1 on an error.
inline ssize_t recv_with_fds(int fd, std::span<char> into, std::vector<int>& fds) {
  constexpr std::size_t kMaxFds = 253;  // the kernel's limit per message (SCM_MAX_FD)
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  for (;;) {
    iovec iov{into.data(), into.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return n;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < count; ++i) {
        int received;
        std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof received);
        fds.push_back(received);
      }
    }
    return n;
  }
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
