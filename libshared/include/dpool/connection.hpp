// dpool::pipe(), pool.pipe() and dpool::Connection: multiprocessing.Pipe.
// dpool::pipe() makes a pipe on this machine (a socketpair) between this
// program and its Processes; pool.pipe() makes one its coordinator hosts,
// whose ends work from the client, from tasks on any node and from node
// Processes. A Connection is a cheap copyable handle: every copy refers to
// the one end. Given as an argument to a Process (or, for a hosted end, a
// task), it travels as a reference to that end (the other process gets the
// same end, as after a fork), never as a copy of what is in it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <dpool/async_result.hpp>
#include <dpool/detail/codec.hpp>
#include <dpool/detail/hosted.hpp>
#include <dpool/detail/type_name.hpp>
#include <dpool/errors.hpp>
#include <dpool/export.hpp>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace dpool {

namespace internal {
class ConnectionState;
}

namespace detail {

// While one lives on a thread, Connections serialized on that thread are
// passed by file descriptor (for a Process being made): each one's
// descriptor is duplicated here and its index written instead. Without one,
// serializing a Connection throws SerializationError.
class DPOOL_API FdCollector {
 public:
  FdCollector();
  ~FdCollector();  // closes what was not taken
  FdCollector(const FdCollector&) = delete;
  FdCollector& operator=(const FdCollector&) = delete;
  std::vector<int> take();  // the descriptors, in index order; the caller owns them

 private:
  friend std::uint32_t pass_fd(int fd);
  std::vector<int> fds_;
  FdCollector* outer_;
};

// While one lives on a thread, Connections deserialized on that thread take
// their descriptors from it, by index (in a Process's child).
class DPOOL_API FdTable {
 public:
  explicit FdTable(std::vector<int> fds);  // takes ownership
  ~FdTable();                              // closes what was not taken
  FdTable(const FdTable&) = delete;
  FdTable& operator=(const FdTable&) = delete;

 private:
  friend int take_fd(std::uint32_t index);
  std::vector<int> fds_;
  FdTable* outer_;
};

DPOOL_API std::uint32_t pass_fd(int fd);
// True while an FdCollector lives on this thread (a Process is being made).
DPOOL_API bool collecting_fds() noexcept;
DPOOL_API int take_fd(std::uint32_t index);

// What travels in front of every message: its type, so that recv<T> of
// another type fails instead of misreading the bytes.
struct MessageType {
  std::uint64_t fingerprint = 0;  // 0: raw bytes (send_bytes)
  std::string name;
};
template <class T>
MessageType message_type() {
  std::string name(type_name<std::decay_t<T>>());
  return {fingerprint_of(name), name};
}

}  // namespace detail

class Connection;
namespace detail {
// The two ends of a new pipe that `channel`'s coordinator hosts (pool.pipe).
DPOOL_API std::pair<Connection, Connection> hosted_pipe(std::shared_ptr<CallChannel> channel,
                                                        std::string name, bool duplex);
}  // namespace detail
DPOOL_API std::vector<std::size_t> wait_connections(const std::vector<Connection>& connections,
                                                    std::chrono::steady_clock::duration timeout);

class DPOOL_API Connection {
 public:
  Connection() = default;  // refers to nothing; every call but close() throws dpool::Error

  // Sends a serializable value (cereal). Throws SerializationError if it
  // cannot be serialized (nothing is sent), dpool::Error on a receive-only
  // end, or when the other end is closed.
  template <class T>
  void send(const T& value) {
    std::string bytes;
    try {
      detail::encode_into(bytes, value);
    } catch (const std::exception& e) {
      throw SerializationError(
          std::string("Connection::send: the value could not be serialized: ") + e.what());
    }
    send_message(detail::message_type<T>(), bytes);
  }
  void send_bytes(std::span<const std::byte> bytes);

  // Receives the next message, waiting for it. Throws SignatureMismatch if
  // it was sent as another type (it is consumed), EOFError once the other
  // end is closed and nothing is left, SerializationError if it cannot be
  // decoded.
  template <class T>
  T recv() {
    auto expected = detail::message_type<T>();
    std::string bytes = recv_message(expected);
    T value{};
    try {
      detail::decode_into(bytes, value);
    } catch (const std::exception& e) {
      throw SerializationError(std::string("Connection::recv: could not decode a ") +
                               expected.name + ": " + e.what());
    }
    return value;
  }
  std::vector<std::byte> recv_bytes();

  // True if recv() would not block: a message is waiting, or the other end
  // is closed (recv then throws EOFError).
  template <class Rep = long, class Period = std::ratio<1>>
  bool poll(std::chrono::duration<Rep, Period> timeout = std::chrono::seconds(0)) {
    return poll_for(detail::timeout_of(timeout));
  }
  // Closes this end, for every copy of the handle in this process (a copy
  // handed to a Process or task is its own). Not while another thread is in
  // send or recv on it. The other end reads the end of the stream once
  // every process that held this end closed it or ended: for a hosted end,
  // the coordinator counts its holders, and a holder that dies (a node
  // Process killed, a node or client lost) counts as closed. Destroying the
  // last copy of a handle in a process closes it there.
  void close();
  bool closed() const;
  bool readable() const;
  bool writable() const;
  // The descriptor, for dpool::wait and for poll(2); -1 once closed, and
  // always for an end of pool.pipe.
  int fileno() const;
  // True for an end of pool.pipe (hosted by a coordinator).
  bool hosted() const;

  // As an argument to a Process or task: a reference to this end. An end
  // of dpool::pipe() travels only to a Process on this machine (see
  // FdCollector); an end of pool.pipe to any task or Process of its pool.
  template <class Ar>
  void save(Ar& ar) const {
    if (const detail::HostedObject* pipe = hosted_object()) {
      share();
      ar(true, *pipe, hosted_end(), readable(), writable());
    } else {
      ar(false, detail::pass_fd(fileno()), readable(), writable());
    }
  }
  template <class Ar>
  void load(Ar& ar) {
    bool hosted = false, r = false, w = false;
    ar(hosted);
    if (hosted) {
      detail::HostedObject pipe;
      std::uint8_t end = 0;
      ar(pipe, end, r, w);
      *this = adopt(std::move(pipe), end, r, w);
    } else {
      std::uint32_t index = 0;
      ar(index, r, w);
      *this = Connection(detail::take_fd(index), r, w);
    }
  }

  // Adopts `fd` (a connected stream socket).
  Connection(int fd, bool readable, bool writable);

 private:
  friend std::pair<Connection, Connection> detail::hosted_pipe(
      std::shared_ptr<detail::CallChannel> channel, std::string name, bool duplex);
  friend std::vector<std::size_t> wait_connections(const std::vector<Connection>& connections,
                                                   std::chrono::steady_clock::duration timeout);
  explicit Connection(std::shared_ptr<internal::ConnectionState> state)
      : state_(std::move(state)) {}
  const detail::HostedObject* hosted_object() const noexcept;
  std::uint8_t hosted_end() const noexcept;
  void share() const;
  static Connection adopt(detail::HostedObject pipe, std::uint8_t end, bool readable,
                          bool writable);

  void send_message(const detail::MessageType& type, std::string_view bytes);
  std::string recv_message(const detail::MessageType& expected);
  bool poll_for(std::chrono::steady_clock::duration timeout);

  std::shared_ptr<internal::ConnectionState> state_;
};

// Two connected ends. Duplex: both send and receive. One-way (duplex =
// false): the first only receives, the second only sends.
DPOOL_API std::pair<Connection, Connection> pipe(bool duplex = true);

// Waits until some of `connections` are ready (a message waiting, or the
// other end closed) or `timeout` passes; returns their indices (none at the
// timeout). The ends are either all of dpool::pipe() (and Listener
// connections) or all of one pool's pool.pipe, whose wait parks at the
// coordinator; a set that mixes the two throws dpool::Error.
template <class Rep = long, class Period = std::ratio<1>>
std::vector<std::size_t> wait(
    const std::vector<Connection>& connections,
    std::chrono::duration<Rep, Period> timeout = std::chrono::duration<Rep, Period>::max());
template <class Rep, class Period>
std::vector<std::size_t> wait(const std::vector<Connection>& connections,
                              std::chrono::duration<Rep, Period> timeout) {
  return wait_connections(connections, detail::timeout_of(timeout));
}

}  // namespace dpool
