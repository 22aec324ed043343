// How a peer (client or node) exchanges whole messages with a coordinator:
// over a ZeroMQ DEALER, or in-process when it shares the coordinator's loop.
// Links carry decoded messages: a DEALER encodes and decodes at the socket,
// an in-process link hands the structs over as they are (local mode does no
// encoding between its client, coordinator and node).
#pragma once

#include <asio/io_context.hpp>
#include <functional>
#include <memory>

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

// Connects a DEALER to `address`; messages arrive at `receive` on `io`'s
// thread. Create and use on that thread only.
std::unique_ptr<Link> connect_dealer(asio::io_context& io, const std::string& address,
                                     Receiver receive);

}  // namespace dpool::internal
