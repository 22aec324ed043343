// Stopping a client's work: cancelling and signalling tasks (always through
// the coordinator, after what is still to be sent), and the session's end:
// close, join, terminate, detach.
#include <asio/post.hpp>
#include <future>
#include <stdexcept>

#include "client_session.hpp"
#include "event_loop.hpp"

namespace dpool::internal {

void ClientSession::on(wire::Cancel&& answer) {
  auto it = cancel_answers_.find(answer.request);
  if (it == cancel_answers_.end()) return;
  it->second->set_value(answer.ids.empty());  // the ids it could not cancel
  cancel_answers_.erase(it);
}

std::future<bool> ClientSession::start_cancel(std::uint64_t first, std::size_t count,
                                              bool kill_running) {
  auto answer = std::make_shared<std::promise<bool>>();
  auto future = answer->get_future();
  // Always through the coordinator, after whatever is still waiting to be
  // sent: a cancel then also proves the coordinator holds every task
  // submitted before it.
  asio::post(io_, [weak = weak_from_this(), answer, first, count, kill_running] {
    auto self = weak.lock();
    if (!self || !self->link_) return answer->set_value(false);
    self->flush();
    wire::Cancel c;
    c.request = self->next_request_++;
    c.kill_running = kill_running;
    for (auto id = first; id < first + count; ++id)
      if (self->inflight_.contains(id)) c.ids.push_back(id);
    if (c.ids.empty()) return answer->set_value(false);  // all finished already
    self->cancel_answers_.emplace(c.request, answer);
    self->link_->send({std::move(c)});
  });
  return future;
}

void ClientSession::signal(std::uint64_t id, int signal) {
  // After whatever is still waiting to be sent, so the coordinator knows the task.
  asio::post(io_, [weak = weak_from_this(), id, signal] {
    auto self = weak.lock();
    if (!self || !self->link_) return;
    self->flush();
    if (!self->inflight_.contains(id)) return;  // it ended already
    self->link_->send({wire::Signal{{id}, signal}});
  });
}

bool ClientSession::cancel(std::uint64_t first, std::size_t count, bool kill_running) {
  auto answer = start_cancel(first, count, kill_running);
  if (answer.wait_for(std::chrono::seconds(30)) != std::future_status::ready) return false;
  return answer.get();
}

void ClientSession::drop(std::uint64_t first, std::size_t count) {
  start_cancel(first, count, false);
}

void ClientSession::answer_cancels() {
  for (auto& [request, answer] : std::exchange(cancel_answers_, {})) answer->set_value(false);
}

void ClientSession::close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  cv_.notify_all();  // submitters waiting for room learn the pool is closed
}

void ClientSession::join() {
  std::unique_lock lock(mu_);
  if (!closed_)
    throw std::logic_error(
        "Pool::join() needs close() or terminate() first (as in multiprocessing)");
  cv_.wait(lock, [this] { return outstanding_ == 0; });
}

void ClientSession::fail_all(const detail::Failure& failure) {
  std::vector<Pending> queued;
  {
    std::lock_guard lock(mu_);
    queued.swap(inbox_);
  }
  std::size_t n = queued.size() + inflight_.size();
  for (auto& p : queued) p.sink->deliver(p.part, detail::Outcome{failure, {}, {}});
  for (auto& [id, f] : std::exchange(inflight_, {}))
    f.sink->deliver(f.part, detail::Outcome{failure, {}, {}});
  completed(n);
}

void ClientSession::terminate() {
  close();
  call_on(io_, [this] {
    if (link_) {
      wire::Cancel c;
      c.all = true;
      c.kill_running = true;
      link_->send({std::move(c)});
    }
    detail::Failure f;
    f.code = ErrorCode::kCancelled;
    f.message = "the pool was terminated before it finished";
    fail_all(f);
    answer_cancels();
  });
}

void ClientSession::detach() {
  {
    std::lock_guard lock(mu_);
    detached_ = true;
  }
  if (direct_)
    direct_->break_all("the pool that this Manager object or queue was reached through (" +
                       options_.where + ") was closed");
  call_on(io_, [this] {
    if (link_) link_->close("pool closed");
    link_.reset();
    answer_cancels();
  });
}

}  // namespace dpool::internal
