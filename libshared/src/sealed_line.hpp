// The frames of a direct line: a client's own TCP connection to its
// coordinator for calls on hosted objects (coordinator/direct_endpoint.*,
// direct_calls.*). A line is opened with a ticket that the client got over
// its authenticated connection (calls::Op::kDirect): the ticket's id goes
// first, in the clear, and then every frame is sealed with the ticket's key.
//
// On the stream, a frame is a little-endian u32 (the sealed length) and the
// sealed bytes: ChaCha20-Poly1305 (IETF, libsodium), whose nonce is the
// frame's direction and its number in that direction. A frame replayed,
// reordered, dropped, sent back the other way or made without the key does
// not open, and the line is then closed.
// Pure; one thread per Sealer or Opener.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dpool::internal {

namespace direct {
constexpr std::size_t kKeyBytes = 32;
constexpr std::size_t kTicketBytes = 8;  // the ticket's id, little-endian
constexpr std::size_t kLengthBytes = 4;
constexpr std::size_t kSealBytes = 16;  // what sealing adds
// The largest sealed frames: a call (two items and names), an answer (a
// list's items may take all of a Manager's bytes).
constexpr std::uint32_t kMaxCallFrame = (130u << 20) + 4096;
constexpr std::uint32_t kMaxAnswerFrame = (1u << 30) + 4096;
enum class Direction : std::uint8_t { kToCoordinator = 1, kToClient = 2 };

// Random bytes for a key or a ticket's id.
std::string random_bytes(std::size_t n);
std::uint32_t read_u32(const unsigned char* p);
std::uint64_t read_u64(const unsigned char* p);
void append_u64(std::string& out, std::uint64_t v);
// "tcp://HOST:PORT" -> HOST, without IPv6 brackets; empty for other
// transports, which have no direct lines.
std::string tcp_host(const std::string& address);
}  // namespace direct

class Sealer {
 public:
  // `key`: kKeyBytes. Throws Error when libsodium cannot start.
  Sealer(std::string key, direct::Direction direction);
  // Appends the frame (length and sealed bytes) for `plain` to `out`.
  void seal(std::string_view plain, std::string& out);

 private:
  std::string key_;
  direct::Direction direction_;
  std::uint64_t count_ = 0;
};

class Opener {
 public:
  Opener(std::string key, direct::Direction direction);
  // The plain bytes of the next frame's sealed bytes (without the length);
  // nullopt if they do not open, after which the line must be closed.
  std::optional<std::string> open(std::string_view sealed);

 private:
  std::string key_;
  direct::Direction direction_;
  std::uint64_t count_ = 0;
};

}  // namespace dpool::internal
