// dpool::cluster_status: a short-lived client of a coordinator that says
// HELLO, asks for the cluster's state (calls::Op::kStatus) and says BYE.
// The conversation (hello, refusals, heartbeats, the call) is the
// CoordinatorLink's, as for a Pool, so its failures read the same.
#include <unistd.h>

#include <dpool/coordinator.hpp>
#include <dpool/errors.hpp>
#include <dpool/status.hpp>
#include <future>

#include "calls.hpp"
#include "cluster_status.hpp"
#include "coordinator_access.hpp"
#include "coordinator_link.hpp"
#include "event_loop.hpp"

namespace dpool {
namespace internal {
namespace {

using Answer = std::pair<wire::Reply, Payload>;

CoordinatorLink::Events status_events() {
  CoordinatorLink::Events e;
  e.hello = [] {
    wire::Hello hello;
    hello.role = wire::Role::kClient;
    hello.pid = static_cast<std::uint32_t>(::getpid());
    hello.name = std::string(kStatusClientPrefix) + std::to_string(hello.pid);
    return hello;
  };
  e.message = [](wire::Message&&) {};  // the cluster's size (STATUS): not needed here
  return e;
}

// Connects on `io` through `make`, waits for the welcome, makes the call and
// waits up to `timeout` for each.
ClusterStatus ask(asio::io_context& io, const CoordinatorLink::MakeLink& make,
                  CoordinatorLink::Options options, std::chrono::milliseconds timeout) {
  std::unique_ptr<CoordinatorLink> link;
  call_on(io, [&] {
    link = std::make_unique<CoordinatorLink>(io, options, status_events());
    link->open(make);
  });
  auto close = [&] {
    call_on(io, [&] {
      link->close("asked for the status");
      link.reset();
    });
  };
  auto answered = std::make_shared<std::promise<Answer>>();
  auto answer = answered->get_future();
  try {
    link->wait_welcome(timeout, "start one with `dpool coordinator --bind " + options.where +
                                    "`, check the address, or raise the connect timeout");
    call_on(io, [&] {
      wire::Request r;
      r.op = static_cast<std::uint32_t>(calls::Op::kStatus);
      link->call(r, Payload(), [answered](wire::Reply&& reply, Payload&& bytes) {
        answered->set_value({std::move(reply), std::move(bytes)});
      });
    });
    if (answer.wait_for(timeout) != std::future_status::ready)
      throw ConnectionError("the coordinator at " + options.where +
                            " welcomed this client but did not answer its status call within " +
                            detail::describe(timeout));
  } catch (...) {
    close();
    throw;
  }
  close();
  auto [reply, bytes] = answer.get();
  if (reply.failure.code != ErrorCode::kNone) calls::throw_call_failure(reply.failure);
  auto status = wire::decode_meta<ClusterStatus>(bytes.view());
  if (!status)
    throw ConnectionError("the coordinator at " + options.where +
                          " sent a status that cannot be decoded (" + status.error() +
                          "); run the same dpool release on both sides");
  return std::move(*status);
}

}  // namespace
}  // namespace internal

ClusterStatus cluster_status(const Connect& where) {
  auto dealer = internal::dealer_options(where.address, internal::kClientRole, where.key_file,
                                         where.insecure, where.max_message_bytes);
  internal::EventLoop loop("status");
  return internal::ask(
      loop.io(),
      [&loop, &dealer](internal::Receiver r, internal::Refused refused) {
        return internal::connect_dealer(loop.io(), dealer, std::move(r), std::move(refused));
      },
      {where.address, "this client", where.heartbeat, where.coordinator_timeout,
       where.connect_timeout},
      where.connect_timeout);
}

ClusterStatus cluster_status(Coordinator& coordinator) {
  auto& hub = internal::CoordinatorAccess::hub(coordinator);
  return internal::ask(
      hub.io(),
      [&hub](internal::Receiver r, internal::Refused) { return hub.attach(std::move(r)); },
      {"the embedded coordinator", "this client", {}, {}, {}}, std::chrono::seconds(10));
}

}  // namespace dpool
