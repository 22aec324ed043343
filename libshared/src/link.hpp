// How a peer (client or node) exchanges whole messages with a coordinator:
// over a ZeroMQ DEALER, or in-process when it shares the coordinator's loop.
// Links carry decoded messages: a DEALER encodes and decodes at the socket,
// an in-process link hands the structs over as they are (local mode does no
// encoding between its client, coordinator and node).
#pragma once

#include <asio/io_context.hpp>
#include <dpool/options.hpp>
#include <functional>
#include <memory>
#include <optional>

#include "keys.hpp"
#include "protocol.hpp"

namespace dpool::internal {

// Sends whole messages to the other side. Loop thread only.
class Link {
 public:
  virtual ~Link() = default;
  virtual void send(wire::Message&& message) = 0;
};

// A message as received: decoded, or why it could not be.
using Received = tl::expected<wire::Message, wire::DecodeError>;

// Receives whole messages; called on the loop thread.
using Receiver = std::function<void(Received&&)>;

// In-process entry to a coordinator, for peers that run on its loop thread.
class Hub {
 public:
  virtual ~Hub() = default;
  virtual asio::io_context& io() = 0;
  // Attaches a peer. What the coordinator sends it goes to `receive`; the
  // returned link sends to the coordinator; destroying the link detaches the
  // peer (as a lost connection would). Loop thread only.
  virtual std::unique_ptr<Link> attach(Receiver receive) = 0;
};

// Told, on the loop thread, that the coordinator refused the connection for
// good before any message: our key, or the other side's security, is wrong.
// The text says why and what to do.
using Refused = std::function<void(const std::string& why)>;

// How a peer reaches a coordinator over a DEALER.
struct DealerOptions {
  std::string address;
  std::string role;              // "client" or "node", for messages
  std::optional<PeerKeys> keys;  // CurveZMQ; none: in the clear (--insecure)
  std::size_t max_message_bytes = kDefaultMaxMessageBytes;
};

// The options of a peer of `role` ("client" or "node"): with its keys
// (find_peer_keys, which throws ConnectionError when there are none), or in
// the clear with `insecure`, which logs a warning. Any thread.
DealerOptions dealer_options(const std::string& address, std::string_view role,
                             const std::string& key_file, bool insecure,
                             std::size_t max_message_bytes);

// Connects a DEALER; messages arrive at `receive`, and a failed handshake at
// `refused`, on `io`'s thread. Create and use on that thread only.
std::unique_ptr<Link> connect_dealer(asio::io_context& io, const DealerOptions& options,
                                     Receiver receive, Refused refused);

}  // namespace dpool::internal
