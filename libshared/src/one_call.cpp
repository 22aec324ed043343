#include "one_call.hpp"

#include <dpool/errors.hpp>
#include <future>

#include "coordinator_access.hpp"
#include "coordinator_link.hpp"
#include "event_loop.hpp"

namespace dpool::internal {
namespace {

using Answer = std::pair<wire::Reply, Payload>;

CoordinatorLink::Events events(const std::string& client) {
  CoordinatorLink::Events e;
  e.hello = [client] {
    wire::Hello hello;
    hello.role = wire::Role::kClient;
    hello.pid = static_cast<std::uint32_t>(::getpid());
    hello.name = client;
    return hello;
  };
  e.message = [](wire::Message&&) {};  // the cluster's size (STATUS): not needed here
  return e;
}

// Connects on `io` through `make`, waits up to `connect_timeout` for the
// welcome, makes the call and waits up to call.answer_timeout for it.
Payload ask(asio::io_context& io, const CoordinatorLink::MakeLink& make,
            CoordinatorLink::Options options, std::chrono::milliseconds connect_timeout,
            OneCall call) {
  std::unique_ptr<CoordinatorLink> link;
  call_on(io, [&] {
    link = std::make_unique<CoordinatorLink>(io, options, events(call.client));
    link->open(make);
  });
  auto close = [&] {
    call_on(io, [&] {
      link->close("made its " + call.what);
      link.reset();
    });
  };
  auto answered = std::make_shared<std::promise<Answer>>();
  auto answer = answered->get_future();
  try {
    link->wait_welcome(connect_timeout, "start one with `dpool coordinator --bind " +
                                            options.where +
                                            "`, check the address, or raise the connect timeout");
    call_on(io, [&] {
      wire::Request r;
      r.op = static_cast<std::uint32_t>(call.op);
      link->call(r, std::move(call.args), [answered](wire::Reply&& reply, Payload&& bytes) {
        answered->set_value({std::move(reply), std::move(bytes)});
      });
    });
    if (answer.wait_for(call.answer_timeout) != std::future_status::ready)
      throw ConnectionError("the coordinator at " + options.where +
                            " welcomed this client but did not answer its " + call.what +
                            " within " + detail::describe(call.answer_timeout));
  } catch (...) {
    close();
    throw;
  }
  close();
  auto [reply, bytes] = answer.get();
  if (reply.failure.code != ErrorCode::kNone) calls::throw_call_failure(reply.failure);
  return std::move(bytes);
}

}  // namespace

Payload call_coordinator_once(const Connect& where, OneCall call) {
  auto dealer = dealer_options(where.address, kClientRole, where.key_file, where.insecure,
                               where.max_message_bytes);
  EventLoop loop(call.client);
  return ask(
      loop.io(),
      [&loop, &dealer](Receiver r, Refused refused) {
        return connect_dealer(loop.io(), dealer, std::move(r), std::move(refused));
      },
      {where.address, "this client", where.heartbeat, where.coordinator_timeout,
       where.connect_timeout},
      where.connect_timeout, std::move(call));
}

Payload call_coordinator_once(Coordinator& coordinator, OneCall call) {
  auto& hub = CoordinatorAccess::hub(coordinator);
  return ask(
      hub.io(), [&hub](Receiver r, Refused) { return hub.attach(std::move(r)); },
      {"the embedded coordinator", "this client", {}, {}, {}}, std::chrono::seconds(10),
      std::move(call));
}

}  // namespace dpool::internal
