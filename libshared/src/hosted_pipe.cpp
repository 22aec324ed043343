// pool.pipe: Connection ends whose pipe the pool's coordinator hosts (see
// coordinator/object_pipe.cpp). Each send, receive, poll and close is one
// call; a receive or poll that must wait parks at the coordinator.
#include <atomic>
#include <cstring>
#include <dpool/connection.hpp>

#include "calls.hpp"
#include "connection_state.hpp"

namespace dpool {
namespace internal {
namespace {

using detail::Verb;

// One end of a hosted pipe, held by this process: the coordinator counts
// this process among the end's holders until close() (or the destructor).
class HostedConnection final : public ConnectionState {
 public:
  HostedConnection(detail::HostedObject pipe, std::uint8_t end, bool readable, bool writable)
      : pipe_(std::move(pipe)), end_(end), readable_(readable), writable_(writable) {}
  ~HostedConnection() override {
    // The last copy of the handle in this process is gone: so is its hold.
    // Nothing to tell the caller if the pool is gone already.
    try {
      close();
    } catch (const std::exception&) {
    }
  }

  bool readable() const override { return readable_; }
  bool writable() const override { return writable_; }
  bool closed() const override { return closed_; }
  void close() override {
    if (closed_.exchange(true)) return;
    pipe_.call(Verb::kRelease, {}, {}, end_);
  }

  void send(std::string_view head, std::string_view body) override {
    if (!writable_)
      throw Error("Connection::send on the receiving end of a one-way pipe; send on the other end");
    check_open("send");
    if (head.size() + body.size() > calls::kMaxItemBytes)
      throw Error("Connection::send: a message of " + std::to_string(body.size()) +
                  " bytes; an end of pool.pipe takes up to " +
                  std::to_string(calls::kMaxItemBytes) + " bytes a message");
    std::string item;
    item.reserve(head.size() + body.size());
    item.append(head).append(body);
    pipe_.call(Verb::kPut, std::move(item), {}, end_);
  }

  std::pair<detail::MessageType, std::string> recv() override {
    if (!readable_)
      throw Error(
          "Connection::recv on the sending end of a one-way pipe; receive on the other end");
    check_open("recv");
    auto a = pipe_.call(Verb::kTake, {}, {}, end_);
    if (!a.yes)
      throw EOFError("Connection::recv: the other end of the pipe is closed and nothing is left");
    const std::string& item = a.bytes;
    if (item.size() < kFrameHeadBytes)
      throw Error("Connection::recv: a malformed message (not written by dpool's send?)");
    auto sizes = read_frame_sizes(item.data());
    if (sizes.name_len > kMaxTypeName ||
        item.size() != kFrameHeadBytes + sizes.name_len + sizes.body_len)
      throw Error("Connection::recv: a malformed message (not written by dpool's send?)");
    detail::MessageType type;
    type.fingerprint = sizes.fingerprint;
    type.name = item.substr(kFrameHeadBytes, sizes.name_len);
    return {std::move(type), item.substr(kFrameHeadBytes + sizes.name_len)};
  }

  bool poll(std::chrono::steady_clock::duration timeout) override {
    check_open("poll");
    auto a = pipe_.call(Verb::kWait, {}, {}, end_,
                        detail::call_timeout(detail::deadline_after(timeout)));
    return !a.timed_out && a.yes;
  }

  const detail::HostedObject* hosted() const noexcept override { return &pipe_; }
  std::uint8_t end() const noexcept override { return end_; }
  void share() override {
    check_open("send to another process");
    pipe_.call(Verb::kShare, {}, {}, end_);
  }

 private:
  void check_open(const char* what) const {
    if (closed_)
      throw Error(std::string("Connection::") + what +
                  " on a closed connection (or one that was never opened)");
  }

  detail::HostedObject pipe_;
  std::uint8_t end_;
  bool readable_, writable_;
  std::atomic<bool> closed_{false};
};

}  // namespace

std::shared_ptr<ConnectionState> hosted_end(detail::HostedObject object, std::uint8_t end,
                                            bool readable, bool writable, bool adopt) {
  if (end > 1) throw SerializationError("a pool.pipe end arrived with a bad end number");
  if (adopt) object.call(Verb::kAdopt, {}, {}, end);
  return std::make_shared<HostedConnection>(std::move(object), end, readable, writable);
}

std::vector<std::size_t> wait_hosted(const std::vector<ConnectionState*>& states,
                                     std::chrono::steady_clock::duration timeout) {
  std::vector<calls::PipeEnd> ends;
  std::vector<std::size_t> index;  // of ends[i] in states
  const detail::HostedObject* first = nullptr;
  for (std::size_t i = 0; i < states.size(); ++i) {
    if (!states[i]) continue;
    const auto* pipe = states[i]->hosted();
    if (!states[i]->readable())
      throw Error("dpool::wait on the sending end of a one-way pipe; wait on the other end");
    if (!first) first = pipe;
    if (pipe->channel() != first->channel())
      throw Error(
          "dpool::wait: the connections are ends of pipes of several pools; wait on the ends of "
          "one pool's pool.pipe at a time");
    ends.push_back({pipe->name(), states[i]->end()});
    index.push_back(i);
  }
  if (!first) throw Error("dpool::wait: every connection given is closed");
  auto a = first->call(Verb::kWait, {}, calls::encode_pipe_ends(ends), ends.front().end,
                       detail::call_timeout(detail::deadline_after(timeout)));
  std::vector<std::size_t> ready;
  if (a.timed_out) return ready;
  for (std::size_t i = 0; i < index.size() && i < a.bytes.size(); ++i)
    if (a.bytes[i] == '1') ready.push_back(index[i]);
  return ready;
}

}  // namespace internal

namespace detail {

std::pair<Connection, Connection> hosted_pipe(std::shared_ptr<CallChannel> channel,
                                              std::string name, bool duplex) {
  // The maker holds both ends (the coordinator counts it for each).
  HostedObject pipe(std::move(channel), ObjectKind::kPipe, std::move(name), "pipe", duplex ? 1 : 0,
                    /*owned=*/true);
  return {Connection(internal::hosted_end(pipe, 0, true, duplex, false)),
          Connection(internal::hosted_end(std::move(pipe), 1, duplex, true, false))};
}

}  // namespace detail
}  // namespace dpool
