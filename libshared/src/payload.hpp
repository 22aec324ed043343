// Payload: the bytes of one frame (a task's arguments, a result, a message
// body), owned, movable, and shareable without copying. The pure cores and
// the protocol hold payloads without knowing how sockets carry them; only
// the socket module (zmq_socket.cpp) turns them into ZeroMQ messages and
// back, by moving, never by copying.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace dpool::internal {

// Bytes at or under this size are copied into a payload; larger ones are
// adopted (owned without a copy). A copy is cheaper than an allocation for
// small buffers.
inline constexpr std::size_t kCopyBelowBytes = 4096;

class Payload {
 public:
  Payload() noexcept;  // empty
  // A copy of `bytes`.
  explicit Payload(std::string_view bytes);
  // Takes `bytes` over: small ones are copied, large ones adopted.
  static Payload adopt(std::string&& bytes);
  static Payload adopt(std::unique_ptr<char[]> data, std::size_t size);
  Payload(Payload&& other) noexcept;
  Payload& operator=(Payload&& other) noexcept;
  Payload(const Payload&) = delete;
  Payload& operator=(const Payload&) = delete;
  ~Payload();

  // Another payload over the same bytes: large ones are shared (reference
  // counted), small ones copied.
  Payload share() const;

  const char* data() const noexcept;
  std::size_t size() const noexcept;
  bool empty() const noexcept { return size() == 0; }
  std::string_view view() const noexcept { return {data(), size()}; }

  // The message it holds, for the socket module only (a zmq_msg_t).
  void* native() noexcept { return msg_; }

 private:
  alignas(8) unsigned char msg_[64];
};
static_assert(std::is_nothrow_move_constructible_v<Payload>);

using Payloads = std::vector<Payload>;

}  // namespace dpool::internal
