// A client's calls on its coordinator's hosted objects (the Manager,
// pool.queue, pool.pipe): its own, made from user threads and waited for,
// and those it relays for its local Processes (process_calls.cpp).
#include <asio/post.hpp>
#include <future>

#include "calls.hpp"
#include "client_session.hpp"

namespace dpool::internal {

std::string ClientSession::call_object(std::string request) {
  if (direct_)
    if (auto answer = direct_->call(request)) return std::move(*answer);
  return call_link(calls::Op::kObject, std::move(request));
}

std::string ClientSession::call_link(calls::Op op, std::string request) {
  using Outcome = std::pair<wire::Reply, Payload>;
  auto outcome = std::make_shared<std::promise<Outcome>>();
  auto answered = outcome->get_future();
  if (io_.get_executor().running_in_this_thread())
    throw Error(
        "a Manager, pool.queue or pool.pipe call was made on the pool's own I/O thread, where it "
        "would wait for itself; make it from another thread");
  {
    // Posted under the lock that detach() takes first: a call either runs
    // before the link closes (and is failed by the close) or is refused here.
    std::lock_guard lock(mu_);
    if (detached_)
      throw ConnectionError("the pool that this Manager object or queue was reached through (" +
                            options_.where + ") was closed");
    asio::post(io_, [this, self = shared_from_this(), op, request = std::move(request),
                     outcome]() mutable {
      wire::Request r;
      r.op = static_cast<std::uint32_t>(op);
      if (!link_) {
        wire::Reply closed{0, {ErrorCode::kConnection, {}, "the pool was closed", 0, -1}};
        return outcome->set_value({std::move(closed), Payload()});
      }
      link_->call(r, Payload::adopt(std::move(request)),
                  [outcome](wire::Reply&& reply, Payload&& answer) {
                    outcome->set_value({std::move(reply), std::move(answer)});
                  });
    });
  }
  auto [reply, answer] = answered.get();
  if (reply.failure.code != ErrorCode::kNone) calls::throw_call_failure(reply.failure);
  return std::string(answer.view());
}

void ClientSession::call_object_for(std::uint32_t pid, std::string request, ObjectDone done) {
  auto refuse = [&done] {
    detail::Failure f;
    f.code = ErrorCode::kConnection;
    f.message = "the pool that this Process reached the coordinator through was closed";
    done(f, {});
  };
  std::lock_guard lock(mu_);
  if (detached_) return refuse();
  asio::post(io_, [this, self = shared_from_this(), pid, request = std::move(request),
                   done = std::move(done)]() mutable {
    if (!link_) {
      detail::Failure f;
      f.code = ErrorCode::kConnection;
      f.message = "the pool was closed";
      return done(f, {});
    }
    wire::Request r;
    r.op = static_cast<std::uint32_t>(calls::Op::kObject);
    r.pid = pid;
    link_->call(r, Payload::adopt(std::move(request)),
                [done = std::move(done)](wire::Reply&& reply, Payload&& answer) {
                  done(reply.failure, answer.view());
                });
  });
}

void ClientSession::process_exited(std::uint32_t pid) {
  std::lock_guard lock(mu_);
  if (detached_) return;
  asio::post(io_, [this, self = shared_from_this(), pid] {
    if (!link_) return;
    wire::Request r;
    r.op = static_cast<std::uint32_t>(calls::Op::kExecutorExited);
    r.pid = pid;
    link_->call(r, Payload(), [](wire::Reply&&, Payload&&) {});
  });
}

}  // namespace dpool::internal
