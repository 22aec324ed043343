#include "coordinator_link.hpp"

#include <spdlog/spdlog.h>

#include <asio/post.hpp>
#include <dpool/errors.hpp>
#include <random>

namespace dpool::internal {

CoordinatorLink::CoordinatorLink(asio::io_context& io, Options options, Events events)
    : io_(io),
      options_(std::move(options)),
      events_(std::move(events)),
      beat_timer_(io),
      beat_(options_.heartbeat),
      liveness_(options_.timeout),
      instance_(std::random_device{}()) {}

CoordinatorLink::~CoordinatorLink() {
  close("leaving");
}

void CoordinatorLink::open(const MakeLink& make) {
  link_ = make(
      [this, alive = alive_](Received&& m) {
        if (*alive) on_receive(std::move(m));
      },
      [this, alive = alive_](const std::string& why) {
        if (*alive) on_refused(why);
      });
  say_hello();
  if (beat_.count()) {
    liveness_.seen(Peer::kCoordinator, std::chrono::steady_clock::now());
    on_beat();
  }
}

void CoordinatorLink::wait_welcome(std::chrono::milliseconds timeout, const std::string& hint) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, timeout, [this] { return welcomed_ || refused_; }))
    throw ConnectionError("no coordinator answered " + options_.who + " at " + options_.where +
                          " within " + detail::describe(timeout) + "; " + hint);
  if (refused_)
    throw ConnectionError("the coordinator at " + options_.where + " refused " + options_.who +
                          ": " + refusal_);
}

bool CoordinatorLink::welcomed() const {
  std::lock_guard lock(mu_);
  return welcomed_;
}

void CoordinatorLink::send(wire::Message&& message) {
  if (link_) link_->send(std::move(message));
}

void CoordinatorLink::say_hello() {
  hello_pending_ = true;
  auto hello = events_.hello();
  hello.instance = instance_;
  send({std::move(hello)});
}

void CoordinatorLink::on_receive(Received&& m) {
  if (beat_.count()) liveness_.seen(Peer::kCoordinator, std::chrono::steady_clock::now());
  if (!m) {
    spdlog::warn("{}: rejected a message from the coordinator: {}", options_.who, m.error().detail);
    return;
  }
  if (auto* w = std::get_if<wire::Welcome>(&m->body)) return on_welcome(*w);
  if (auto* r = std::get_if<wire::Reject>(&m->body)) return on_refused(r->reason);
  if (std::holds_alternative<wire::Bye>(m->body)) {
    // The coordinator does not know us (it restarted, or gave up on us). It
    // answers every message we sent meanwhile this way: one HELLO is enough.
    if (!hello_pending_) say_hello();
    return;
  }
  if (std::holds_alternative<wire::Heartbeat>(m->body)) return;
  if (auto* r = std::get_if<wire::Replies>(&m->body))
    return on_replies(std::move(*r), std::move(m->payloads));
  if (events_.message) events_.message(std::move(*m));
}

void CoordinatorLink::on_welcome(const wire::Welcome& welcome) {
  auto beat = std::chrono::milliseconds(welcome.heartbeat_ms);
  if (beat_.count() && beat.count() && beat < beat_) beat_ = beat;
  Rejoin how = coordinator_instance_ == 0                  ? Rejoin::kFirst
               : welcome.instance != coordinator_instance_ ? Rejoin::kRestarted
                                                           : Rejoin::kForgotten;
  coordinator_instance_ = welcome.instance;
  hello_pending_ = false;
  lost_ = false;
  if (how != Rejoin::kFirst) {
    // The coordinator no longer holds what we asked of it before.
    fail_calls(how == Rejoin::kRestarted
                   ? "the coordinator restarted while the call was in flight"
                   : "the coordinator had declared this peer dead while the call was in flight");
  }
  if (events_.welcomed) events_.welcomed(welcome, how);
  std::lock_guard lock(mu_);
  welcomed_ = true;
  cv_.notify_all();
}

void CoordinatorLink::on_refused(const std::string& reason) {
  spdlog::error("{}: the coordinator at {} refused us: {}", options_.who, options_.where, reason);
  {
    std::lock_guard lock(mu_);
    refused_ = true;
    refusal_ = reason;
    cv_.notify_all();
  }
  if (events_.refused) events_.refused(reason);
}

// Every interval: a heartbeat; after `timeout` of silence, a new HELLO (once
// per timeout period), so that a restarted coordinator, or one that declared
// us dead, learns of us again; after `grace`, give up.
void CoordinatorLink::on_beat() {
  if (!link_) return;
  auto now = std::chrono::steady_clock::now();
  send({events_.beat ? events_.beat() : wire::Heartbeat{}});
  if (!liveness_.expire(now).empty()) {
    if (!lost_) {
      lost_ = true;
      lost_since_ = now;
      spdlog::warn(
          "{}: the coordinator at {} has been silent for more than {} ms; registering again",
          options_.who, options_.where, options_.timeout.count());
    }
    say_hello();
    liveness_.seen(Peer::kCoordinator, now);  // the next HELLO after another timeout
    if (options_.grace.count() && now - lost_since_ > options_.grace) {
      fail_calls("the coordinator at " + options_.where + " stayed unreachable for more than " +
                 detail::describe(options_.grace));
      if (events_.lost) events_.lost();
    }
  }
  beat_timer_.expires_after(beat_);
  beat_timer_.async_wait([this, alive = alive_](const asio::error_code& ec) {
    if (*alive && !ec) on_beat();
  });
}

void CoordinatorLink::call(wire::Request request, Payload args, Done done) {
  if (!link_) {
    wire::Reply r;
    r.id = request.id;
    r.failure.code = ErrorCode::kConnection;
    r.failure.message = options_.who + " is no longer connected to the coordinator";
    return done(std::move(r), Payload());
  }
  auto id = next_call_++;
  calls_.emplace(id, Call{request.id, std::move(done)});
  request.id = id;
  outgoing_.requests.push_back(request);
  outgoing_args_.push_back(std::move(args));
  if (calls_flush_posted_) return;
  calls_flush_posted_ = true;
  asio::post(io_, [this, alive = alive_] {
    if (*alive) flush_calls();
  });
}

void CoordinatorLink::flush_calls() {
  calls_flush_posted_ = false;
  if (outgoing_.requests.empty()) return;
  send({std::exchange(outgoing_, {}), std::exchange(outgoing_args_, {})});
}

void CoordinatorLink::on_replies(wire::Replies&& replies, Payloads&& payloads) {
  for (std::size_t i = 0; i < replies.replies.size(); ++i) {
    auto& r = replies.replies[i];
    auto it = calls_.find(r.id);
    if (it == calls_.end()) continue;  // failed here already (restart, loss)
    auto call = std::move(it->second);
    calls_.erase(it);
    r.id = call.caller_id;
    call.done(std::move(r), std::move(payloads[i]));
  }
}

void CoordinatorLink::fail_calls(const std::string& why) {
  // Requests not yet sent are failed too: their ids are in calls_.
  outgoing_ = {};
  outgoing_args_.clear();
  for (auto& [id, call] : std::exchange(calls_, {})) {
    wire::Reply r;
    r.id = call.caller_id;
    r.failure.code = ErrorCode::kConnection;
    r.failure.message = why;
    call.done(std::move(r), Payload());
  }
}

void CoordinatorLink::close(const std::string& reason) {
  if (!*alive_) return;
  beat_timer_.cancel();
  if (link_) link_->send({wire::Bye{reason}});
  link_.reset();
  fail_calls(options_.who + " closed its connection to the coordinator");
  *alive_ = false;
}

}  // namespace dpool::internal
