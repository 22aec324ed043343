#include "executor_set.hpp"

#include <spdlog/spdlog.h>

#include <asio/local/stream_protocol.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <cstdlib>

namespace dpool::internal {
namespace {

// Without a pidfd: how often an executor whose socket reached end-of-file
// is checked for having exited, and how long it may take before it is killed.
constexpr auto kExitPollInterval = std::chrono::milliseconds(2);
constexpr auto kExitGrace = std::chrono::seconds(5);

}  // namespace

struct ExecutorSet::Exec {
  Slot slot = 0;
  Serial serial = 0;
  ChildProcess proc;
  asio::local::stream_protocol::socket socket;
  asio::posix::stream_descriptor pidfd;
  RecordReader reader;
  struct Out {
    std::string head;  // record header + meta
    std::shared_ptr<const Payload> payload;
  };
  std::vector<Out> pending;
  bool writing = false;
  std::unique_ptr<asio::steady_timer> exit_poll;  // without a pidfd: after EOF, until reaped
  explicit Exec(asio::io_context& io) : socket(io), pidfd(io) {}
};

ExecutorSet::ExecutorSet(asio::io_context& io, std::string node, SpawnSpec spec, std::size_t slots,
                         Events events, Kind kind)
    : io_(io),
      node_(std::move(node)),
      spec_(std::move(spec)),
      events_(std::move(events)),
      kind_(kind),
      execs_(slots) {}

ExecutorSet::~ExecutorSet() {
  clear();
}

void ExecutorSet::spawn(Slot slot) {
  auto e = std::make_shared<Exec>(io_);
  e->slot = slot;
  try {
    e->proc = ChildProcess::spawn(spec_);
  } catch (const std::exception& ex) {
    spdlog::error("node {}: {}", node_, ex.what());
    asio::post(io_, [this, slot, alive = alive_] {
      if (!*alive) return;
      events_.exited(slot, 0, 0, 127);
      events_.settled();
    });
    return;
  }
  e->serial = next_serial_++;
  e->socket.assign(asio::local::stream_protocol(), e->proc.release_socket());
  if (e->proc.has_pidfd()) {
    e->pidfd.assign(e->proc.release_pidfd());
  } else if (!warned_no_pidfd_) {
    warned_no_pidfd_ = true;
    spdlog::warn("node {}: no pidfd for executors ({}); watching them through their sockets", node_,
                 std::getenv("DPOOL_NO_PIDFD") ? "DPOOL_NO_PIDFD is set" : "pidfd_open failed");
  }
  execs_.at(slot) = e;
  read(e);
  watch(e);
}

void ExecutorSet::queue_encoded(Slot slot, std::string&& head,
                                std::shared_ptr<const Payload> payload) {
  auto& e = execs_.at(slot);
  if (!e) return;
  e->pending.push_back(Exec::Out{std::move(head), std::move(payload)});
}

void ExecutorSet::flush(Slot slot) {
  if (auto& e = execs_.at(slot)) write(e);
}

ExecutorSet::Serial ExecutorSet::serial(Slot slot) const {
  auto& e = execs_.at(slot);
  return e ? e->serial : 0;
}

int ExecutorSet::pid(Slot slot) const {
  auto& e = execs_.at(slot);
  return e ? e->proc.pid() : 0;
}

void ExecutorSet::kill(Slot slot) {
  if (auto& e = execs_.at(slot)) e->proc.kill();
}

void ExecutorSet::signal(Slot slot, int signal) {
  if (auto& e = execs_.at(slot)) e->proc.signal(signal);
}

ExecutorSet::Slot ExecutorSet::free_slot() {
  for (Slot s = 0; s < execs_.size(); ++s)
    if (!execs_[s]) return s;
  execs_.emplace_back();
  return execs_.size() - 1;
}

void ExecutorSet::retire(Slot slot) {
  if (auto& e = execs_.at(slot)) {
    asio::error_code ignored;
    e->socket.shutdown(asio::socket_base::shutdown_send, ignored);
  }
}

void ExecutorSet::clear() {
  *alive_ = false;
  alive_ = std::make_shared<bool>(true);  // handlers of the old executors see false
  for (auto& e : execs_) {
    if (!e) continue;
    asio::error_code ignored;
    e->socket.close(ignored);
    e->pidfd.close(ignored);
    if (e->exit_poll) e->exit_poll->cancel();
    e.reset();  // ChildProcess kills and reaps
  }
}

// A pidfd turning readable means some executor exited. The wake-up is only a
// hint (a descriptor number can be reused between epoll's report and its
// delivery), so every executor is checked without blocking.
void ExecutorSet::watch(const std::shared_ptr<Exec>& e) {
  if (!e->pidfd.is_open()) return;  // watched through its socket: see poll_exit
  e->pidfd.async_wait(asio::posix::descriptor_base::wait_read,
                      [this, e, alive = alive_](const asio::error_code& ec) {
                        if (!*alive || ec) return;
                        reap_exited();
                        if (*alive && execs_[e->slot] == e) watch(e);
                      });
}

// Without a pidfd, an executor's socket reaching end-of-file means it is
// exiting (or closed its end, in which case it is killed after a grace
// period); its exit is then polled for until it is reaped.
void ExecutorSet::poll_exit(const std::shared_ptr<Exec>& e,
                            std::chrono::steady_clock::time_point since) {
  if (!e->exit_poll) e->exit_poll = std::make_unique<asio::steady_timer>(io_);
  e->exit_poll->expires_after(kExitPollInterval);
  e->exit_poll->async_wait([this, e, since, alive = alive_](const asio::error_code& ec) {
    if (!*alive || ec) return;
    reap_exited();
    if (!*alive || execs_[e->slot] != e) return;  // reaped
    if (std::chrono::steady_clock::now() - since > kExitGrace) e->proc.kill();
    poll_exit(e, since);
  });
}

void ExecutorSet::reap_exited() {
  bool any = false;
  for (std::size_t slot = 0; slot < execs_.size(); ++slot) {
    auto e = execs_[slot];  // a copy: the slot may be refilled by the event below
    if (!e) continue;
    int pid = e->proc.pid();
    auto status = e->proc.try_reap();
    if (!status) continue;
    auto [sig, code] = *status;
    asio::error_code ignored;
    e->socket.close(ignored);
    e->pidfd.close(ignored);
    execs_[slot].reset();
    if (kind_ == Kind::kProcesses)
      spdlog::debug("node {}: process {} ended ({})", node_, pid,
                    sig ? "signal " + std::to_string(sig) : "exit code " + std::to_string(code));
    else if (sig || code)
      spdlog::warn("node {}: executor {} died ({}); replacing it", node_, pid,
                   sig ? "signal " + std::to_string(sig) : "exit code " + std::to_string(code));
    any = true;
    events_.exited(slot, pid, sig, code);
  }
  if (any) events_.settled();
}

void ExecutorSet::read(const std::shared_ptr<Exec>& e) {
  auto span = e->reader.buffer();
  e->socket.async_read_some(
      asio::buffer(span.data(), span.size()),
      [this, e, alive = alive_](const asio::error_code& ec, std::size_t n) {
        if (!*alive || !e->socket.is_open()) return;
        if (ec) {  // EOF: the process is exiting; its pidfd reports it
          asio::error_code ignored;
          e->socket.shutdown(asio::socket_base::shutdown_both, ignored);
          if (!e->pidfd.is_open()) poll_exit(e, std::chrono::steady_clock::now());
          return;
        }
        e->reader.commit(n);
        for (;;) {
          auto r = e->reader.next();
          if (!r) {
            spdlog::error("node {}: executor sent a bad record ({}); killing it", node_, r.error());
            e->proc.kill();
            if (!e->pidfd.is_open()) poll_exit(e, std::chrono::steady_clock::now());
            return;
          }
          if (!*r) break;
          events_.record(e->slot, std::move(**r));
          if (!*alive || execs_[e->slot] != e) return;
        }
        events_.settled();
        if (*alive && e->socket.is_open()) read(e);
      });
}

void ExecutorSet::write(const std::shared_ptr<Exec>& e) {
  if (e->writing || e->pending.empty() || !e->socket.is_open()) return;
  e->writing = true;
  auto batch = std::make_shared<std::vector<Exec::Out>>(std::move(e->pending));
  e->pending.clear();
  std::vector<asio::const_buffer> buffers;
  buffers.reserve(batch->size() * 2);
  for (auto& o : *batch) {
    buffers.push_back(asio::buffer(o.head));
    if (o.payload && !o.payload->empty())
      buffers.push_back(asio::buffer(o.payload->data(), o.payload->size()));
  }
  asio::async_write(e->socket, buffers,
                    [this, e, batch, alive = alive_](const asio::error_code& ec, std::size_t) {
                      if (!*alive) return;
                      e->writing = false;
                      if (ec) return;  // a dead executor is reported by its pidfd
                      write(e);
                    });
}

}  // namespace dpool::internal
