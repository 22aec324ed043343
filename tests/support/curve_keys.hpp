// Raw ZeroMQ sockets in tests speak CurveZMQ with a key from the test's key
// directory (by default the one the first coordinator of the test made in
// default_key_dir()), as a client or a node of that coordinator would. Uses
// internal headers: for INTERNAL tests.
#pragma once

#include <string>
#include <zmq.hpp>

#include "keys.hpp"
#include "zmq_socket.hpp"

namespace test_support {

// Call before connect: `role` is "client" or "node"; `where` as for
// Connect::key_file (empty: the default directory).
inline void use_keys(zmq::socket_t& socket, const std::string& role = "client",
                     const std::string& where = "") {
  auto keys = dpool::internal::find_peer_keys(where, role);
  dpool::internal::make_curve_client(socket, keys.own, keys.server_public);
}

}  // namespace test_support
