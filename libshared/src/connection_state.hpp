// What a dpool::Connection handle holds: one end of a pipe, either on this
// machine (a socketpair, connection.cpp) or hosted by a pool's coordinator
// (pool.pipe, hosted_pipe.cpp), and the framing every message has on both:
//   u32 name length | u64 type fingerprint (0: raw bytes) | u64 body length |
//   type name | body
// little-endian, so that recv<T> can refuse a message sent as another type.
#pragma once

#include <chrono>
#include <cstdint>
#include <dpool/connection.hpp>
#include <dpool/detail/hosted.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dpool::internal {

// One end. Shared by every copy of a Connection handle in this process;
// thread-safe, except that close() must not race a send or recv on the same
// end (as in Python).
class ConnectionState {
 public:
  virtual ~ConnectionState() = default;
  virtual bool readable() const = 0;
  virtual bool writable() const = 0;
  virtual bool closed() const = 0;
  virtual void close() = 0;
  // The descriptor of an end on this machine; -1 for a hosted one or once closed.
  virtual int fd() const { return -1; }
  // `head` is frame_head(...) for `body`. Throws dpool::Error on a
  // receive-only end or when the other end is closed.
  virtual void send(std::string_view head, std::string_view body) = 0;
  // The next message's type and body, waiting for it; EOFError at the end.
  virtual std::pair<detail::MessageType, std::string> recv() = 0;
  // True if recv() would not block (a message, or the end of the stream).
  virtual bool poll(std::chrono::steady_clock::duration timeout) = 0;
  // For a hosted end: its pipe and which end it is; nullptr otherwise.
  virtual const detail::HostedObject* hosted() const noexcept { return nullptr; }
  virtual std::uint8_t end() const noexcept { return 0; }
  // A hosted end about to be serialized for another process: it stays open
  // until that process adopts it.
  virtual void share() {}
};

inline constexpr std::size_t kFrameHeadBytes = 20;
inline constexpr std::uint32_t kMaxTypeName = 4096;

// The frame's head (fixed part and type name) for a body of `body_size` bytes.
std::string frame_head(const detail::MessageType& type, std::size_t body_size);
// The fixed part's fields: type name length, fingerprint, body length.
struct FrameSizes {
  std::uint32_t name_len = 0;
  std::uint64_t fingerprint = 0;
  std::uint64_t body_len = 0;
};
FrameSizes read_frame_sizes(const char* head);

// A hosted end: end `end` of the pipe `object`. With `adopt`, this process
// takes a hold of an end handed to it (Connection::load); without, it holds
// it already (it made the pipe).
std::shared_ptr<ConnectionState> hosted_end(detail::HostedObject object, std::uint8_t end,
                                            bool readable, bool writable, bool adopt);
// dpool::wait over hosted ends only, all of one pool (nullptr: skipped, as
// a closed end); the indices of the ready ones. Throws dpool::Error when
// they are of several pools, or none is open.
std::vector<std::size_t> wait_hosted(const std::vector<ConnectionState*>& states,
                                     std::chrono::steady_clock::duration timeout);

}  // namespace dpool::internal
