#include "fake_node.hpp"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <dpool/registry.hpp>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "keys.hpp"
#include "protocol.hpp"
#include "zmq_socket.hpp"

namespace dpool_bench {

namespace wire = dpool::internal::wire;
using dpool::internal::Payload;
using dpool::internal::Payloads;
using Clock = std::chrono::steady_clock;

namespace {

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// With an unlimited send high-water mark a send never blocks or drops.
void send(zmq::socket_t& socket, wire::Message&& m) {
  auto frames = wire::encode(std::move(m));
  for (std::size_t i = 0; i < frames.size(); ++i)
    if (zmq_msg_send(static_cast<zmq_msg_t*>(frames[i].native()), socket.handle(),
                     i + 1 < frames.size() ? ZMQ_SNDMORE : 0) < 0)
      throw zmq::error_t();
}

// One whole message, if one is waiting.
bool receive(zmq::socket_t& socket, Payloads& frames) {
  for (;;) {
    auto& p = frames.emplace_back();
    auto* msg = static_cast<zmq_msg_t*>(p.native());
    if (zmq_msg_recv(msg, socket.handle(), ZMQ_DONTWAIT) < 0) {
      int err = zmq_errno();
      frames.pop_back();
      if (err == EAGAIN && frames.empty()) return false;
      if (err == EINTR) continue;
      throw zmq::error_t();
    }
    if (!zmq_msg_more(msg)) return true;
  }
}

// Runs the task in this thread through the registry, as an executor would
// (libshared/src/executor_loop.cpp), so that its result is encoded however the
// codec encodes it and the client can check the value. The bench's tasks are
// trivial, so this adds little to the fake nodes' cost.
void run_task(const wire::Task& task, const Payload& args, wire::Result& r, std::string& out) {
  const auto* entry = dpool::detail::Registry::instance().find(task.name);
  if (!entry) {
    r.failure.code = dpool::ErrorCode::kUnknownTask;
    r.failure.message = "fake node: no task '" + task.name + "' is registered in dpool-scale";
    return;
  }
  try {
    entry->invoke(args.view(), task.chunk, out);
  } catch (const std::exception& e) {
    out.clear();
    r.failure.code = dpool::ErrorCode::kSerialization;
    r.failure.message = std::string("fake node: ") + e.what();
  }
}

struct Fd {
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int fd;
};

struct Peer {
  std::string name;
  bool welcomed = false;
  bool hello_pending = false;
};

}  // namespace

FakeNodes::FakeNodes(std::string address, unsigned count, unsigned executors, unsigned slots)
    : address_(std::move(address)), count_(count), executors_(executors), slots_(slots) {
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) throw std::runtime_error("eventfd failed");
  thread_ = std::thread([this] { run(); });
}

FakeNodes::~FakeNodes() {
  std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
  thread_.join();
  ::close(wake_fd_);
}

void FakeNodes::wait_welcomed(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, timeout, [this] { return welcomed_ == count_ || !error_.empty(); }))
    throw std::runtime_error(std::to_string(welcomed_) + " of " + std::to_string(count_) +
                             " fake nodes were welcomed within the timeout");
  if (!error_.empty()) throw std::runtime_error("fake nodes: " + error_);
}

FakeNodes::Counters FakeNodes::counters() const {
  return {dispatches_.load(), tasks_.load(), heartbeats_.load(), reregistered_.load(), bad_.load()};
}

std::string FakeNodes::error() const {
  std::lock_guard lock(mu_);
  return error_;
}

void FakeNodes::fail(const std::string& why) {
  std::lock_guard lock(mu_);
  if (error_.empty()) error_ = why;
  cv_.notify_all();
}

void FakeNodes::run() try {
  ::pthread_setname_np(::pthread_self(), kThreadName);
  // A context of its own: the client's dpool::Pool in this process has another,
  // and the default limit of 1023 sockets per context is too low for 1000 nodes.
  zmq::context_t context(1);
  context.set(zmq::ctxopt::max_sockets, static_cast<int>(count_) + 64);
  context.set(zmq::ctxopt::thread_name_prefix, kZmqThreadPrefix);
  std::vector<zmq::socket_t> sockets;
  std::vector<Peer> peers(count_);
  sockets.reserve(count_);
  const auto pid = static_cast<std::uint32_t>(::getpid());
  std::uint64_t instance = (static_cast<std::uint64_t>(pid) << 32) | 1;
  // Every fake node holds the node key a `dpool worker` of this account would
  // find (the coordinator made it on first start).
  const auto keys = dpool::internal::find_peer_keys("", dpool::internal::kNodeRole);

  auto hello = [&](unsigned i) {
    send(sockets[i], {wire::Hello{.role = wire::Role::kNode,
                                  .name = peers[i].name,
                                  .pid = pid,
                                  .executors = executors_,
                                  .slots = slots_,
                                  .instance = instance + i}});
    peers[i].hello_pending = true;
  };
  for (unsigned i = 0; i < count_; ++i) {
    sockets.emplace_back(context, zmq::socket_type::dealer);
    auto& s = sockets.back();
    // The real node's settings (libshared/src/zmq_socket.cpp): dpool's credit,
    // not ZeroMQ's high-water marks, bounds what is in flight.
    s.set(zmq::sockopt::linger, 500);
    s.set(zmq::sockopt::sndhwm, 0);
    s.set(zmq::sockopt::rcvhwm, 0);
    dpool::internal::make_curve_client(s, keys.own, keys.server_public);
    s.connect(address_);
    peers[i].name = "fake-" + std::to_string(i);
    hello(i);
  }

  // epoll over each socket's ZMQ_FD rather than zmq_poll, which looks at
  // every socket on every call: with 1000 nodes that cost would dwarf the
  // coordinator's. ZMQ_FD only says "look at ZMQ_EVENTS", and any call on the
  // socket may consume that signal, so a socket is drained until ZMQ_EVENTS
  // shows no input, after every wake-up and after every send to it (as
  // libshared/src/zmq_socket.cpp does).
  Fd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (epoll.fd < 0) throw std::runtime_error("epoll_create1 failed");
  auto watch = [&](int fd, std::uint64_t key) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = key;
    if (::epoll_ctl(epoll.fd, EPOLL_CTL_ADD, fd, &ev) != 0)
      throw std::runtime_error("epoll_ctl failed");
  };
  for (unsigned i = 0; i < count_; ++i) watch(sockets[i].get(zmq::sockopt::fd), i);
  watch(wake_fd_, count_);

  // Like a real node: a HEARTBEAT to the coordinator every interval, whatever
  // else is sent, at the interval its WELCOME asks for.
  auto beat = std::chrono::milliseconds(1000);
  auto next_beat = Clock::now() + beat;
  std::string result;  // reused: one task's serialized result

  auto handle = [&](unsigned i, Payloads&& frames) {
    auto m = wire::decode(std::move(frames));
    if (!m) {
      ++bad_;
      return;
    }
    auto& peer = peers[i];
    if (auto* welcome = std::get_if<wire::Welcome>(&m->body)) {
      auto ms = welcome->heartbeat_ms;
      if (ms && std::chrono::milliseconds(ms) < beat) beat = std::chrono::milliseconds(ms);
      peer.hello_pending = false;
      // A real node sends CREDIT once its executors are up and whenever it changes.
      send(sockets[i], {wire::Credit{.slots = slots_, .executors = executors_}});
      if (!peer.welcomed) {
        peer.welcomed = true;
        std::lock_guard lock(mu_);
        ++welcomed_;
        cv_.notify_all();
      }
    } else if (auto* batch = std::get_if<wire::Dispatch>(&m->body)) {
      {
        wire::Results out;
        out.results.reserve(batch->tasks.size());
        Payloads payloads;
        payloads.reserve(batch->tasks.size());
        auto now = now_us();
        for (std::size_t k = 0; k < batch->tasks.size(); ++k) {
          auto& t = batch->tasks[k];
          wire::Result r;
          r.id = t.id;
          r.node = peer.name;
          r.pid = pid;
          r.attempts = t.attempt + 1;
          r.started_us = now;
          r.finished_us = now;
          result.clear();
          run_task(t, m->payloads[k], r, result);
          payloads.emplace_back(std::string_view(result));
          out.results.push_back(std::move(r));
        }
        ++dispatches_;
        tasks_ += batch->tasks.size();
        send(sockets[i], {std::move(out), std::move(payloads)});
      }
    } else if (std::holds_alternative<wire::Bye>(m->body)) {
      // the coordinator forgot this node: register again
      ++reregistered_;
      if (!peer.hello_pending) hello(i);
    } else if (auto* reject = std::get_if<wire::Reject>(&m->body)) {
      fail("the coordinator refused " + peer.name + ": " + reject->reason);
    } else if (std::holds_alternative<wire::Heartbeat>(m->body)) {
      ++heartbeats_;
    }  // CANCEL: every task is answered at once, so there is nothing to stop
  };

  auto drain = [&](unsigned i) {
    Payloads frames;
    while (sockets[i].get(zmq::sockopt::events) & ZMQ_POLLIN) {
      if (!receive(sockets[i], frames)) break;
      handle(i, std::move(frames));  // may send, hence the loop's check of ZMQ_EVENTS
      frames.clear();
    }
  };

  // WELCOMEs may have arrived before the sockets were watched.
  for (unsigned i = 0; i < count_; ++i) drain(i);
  std::vector<epoll_event> ready(256);
  for (bool stop = false; !stop;) {
    auto wait = std::chrono::ceil<std::chrono::milliseconds>(next_beat - Clock::now()).count();
    int n = ::epoll_wait(epoll.fd, ready.data(), static_cast<int>(ready.size()),
                         static_cast<int>(std::max<long>(wait, 0)));
    if (n < 0 && errno != EINTR) throw std::runtime_error("epoll_wait failed");
    for (int k = 0; k < n; ++k) {
      auto key = ready[static_cast<std::size_t>(k)].data.u64;
      if (key == count_)
        stop = true;
      else
        drain(static_cast<unsigned>(key));
    }
    if (Clock::now() >= next_beat) {
      for (unsigned i = 0; i < count_; ++i)
        if (peers[i].welcomed) send(sockets[i], {wire::Heartbeat{}});
      for (unsigned i = 0; i < count_; ++i) drain(i);
      next_beat = Clock::now() + beat;
    }
  }
  for (unsigned i = 0; i < count_; ++i)
    if (peers[i].welcomed) send(sockets[i], {wire::Bye{.reason = "fake node stopping"}});
} catch (const std::exception& e) {
  fail(e.what());
}

}  // namespace dpool_bench
