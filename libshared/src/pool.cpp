// Pool construction: which coordinator a pool talks to, and what it owns.
#include <limits.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <dpool/coordinator.hpp>
#include <dpool/init.hpp>
#include <dpool/node.hpp>
#include <dpool/pool.hpp>
#include <random>

#include "client_session.hpp"
#include "coordinator_access.hpp"
#include "event_loop.hpp"
#include "init_state.hpp"
#include "process_calls.hpp"

namespace dpool {
namespace internal {

// What a pool owns besides its session: nothing (an embedded coordinator it
// was given), a loop (cluster mode), or a whole local cluster.
class PoolBackend {
 public:
  virtual ~PoolBackend() = default;
};

namespace {

class LocalBackend final : public PoolBackend {
 public:
  explicit LocalBackend(const Local& o)
      : coordinator(CoordinatorOptions{}), node(coordinator, node_options(o)) {}
  Coordinator coordinator;
  Node node;

 private:
  static NodeOptions node_options(const Local& o) {
    require_init("a local dpool::Pool");
    char buf[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    NodeOptions no;
    no.exec = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "/proc/self/exe";
    auto& argv = program_argv();
    for (std::size_t i = 1; i < argv.size(); ++i) no.exec_args.push_back(argv[i]);
    no.processes = o.processes ? o.processes : cpu_count();
    no.initializer = o.initializer;
    no.max_tasks_per_child = o.max_tasks_per_child;
    no.name = "local";
    return no;
  }
};

class LoopBackend final : public PoolBackend {
 public:
  EventLoop loop{"client"};
};

wire::PoolSettings pool_settings(const Connect& o) {
  wire::PoolSettings p;
  p.init_name = o.initializer.name;
  p.init_fingerprint = o.initializer.fingerprint;
  p.init_args = o.initializer.args;
  p.max_tasks_per_child = o.max_tasks_per_child;
  return p;
}

std::shared_ptr<ClientSession> on_hub(Hub& hub, const char* where) {
  ClientSession::Options o;
  o.where = where;
  return ClientSession::connect(
      hub.io(), [&hub](Receiver r, Refused) { return hub.attach(std::move(r)); }, std::move(o));
}

}  // namespace
}  // namespace internal

Pool::Pool() : Pool(Local{}) {}

Pool::Pool(unsigned processes) : Pool(Local{.processes = processes}) {}

Pool::Pool(Local options) : PoolView(nullptr, {}) {
  auto backend = std::make_unique<internal::LocalBackend>(options);
  auto session = internal::on_hub(internal::CoordinatorAccess::hub(backend->coordinator),
                                  "the local coordinator");
  session->set_window(options.max_in_flight);
  core_ = session;
  backend_ = std::move(backend);
  internal::add_program_pool(session);
}

Pool::Pool(Connect options) : PoolView(nullptr, {}) {
  if (::getenv("DPOOL_EXECUTOR_FD")) internal::require_init("a dpool::Pool inside an executor");
  auto backend = std::make_unique<internal::LoopBackend>();
  auto& io = backend->loop.io();
  internal::ClientSession::Options o;
  o.where = options.address;
  o.connect_timeout = options.connect_timeout;
  o.pool = internal::pool_settings(options);
  o.heartbeat = options.heartbeat;
  o.coordinator_timeout = options.coordinator_timeout;
  o.reconnect_grace = options.reconnect_grace;
  o.max_message_bytes = options.max_message_bytes;
  o.forward_output = options.forward_output;
  auto dealer = internal::dealer_options(options.address, internal::kClientRole, options.key_file,
                                         options.insecure, options.max_message_bytes);
  auto session = internal::ClientSession::connect(
      io,
      [&io, &dealer](internal::Receiver r, internal::Refused refused) {
        return internal::connect_dealer(io, dealer, std::move(r), std::move(refused));
      },
      std::move(o));
  session->set_window(options.max_in_flight);
  core_ = session;
  backend_ = std::move(backend);
  internal::add_program_pool(session);
}

Pool::Pool(Coordinator& coordinator) : PoolView(nullptr, {}) {
  auto session =
      internal::on_hub(internal::CoordinatorAccess::hub(coordinator), "the embedded coordinator");
  session->set_window(0);
  core_ = session;
  internal::add_program_pool(session);
}

Pool::~Pool() {
  if (!core_) return;
  auto session = std::static_pointer_cast<internal::ClientSession>(core_);
  internal::remove_program_pool(session.get());
  session->terminate();
  session->detach();
  backend_.reset();
}

void Pool::close() {
  core_->close();
}
void Pool::join() {
  core_->join();
}
void Pool::terminate() {
  core_->terminate();
}
unsigned Pool::size() const {
  return core_->executors();
}

std::shared_ptr<detail::CallChannel> Pool::channel() const {
  return std::static_pointer_cast<internal::ClientSession>(core_);
}

std::pair<Connection, Connection> Pool::pipe(bool duplex) const {
  return detail::hosted_pipe(channel(), unique_name("pool.pipe"), duplex);
}

std::string Pool::unique_queue_name() {
  return unique_name("pool.queue");
}

// Unique across the clients of a coordinator: this process's random tag and a count.
std::string Pool::unique_name(const char* kind) {
  static const std::uint64_t tag = std::random_device{}() | std::uint64_t{std::random_device{}()}
                                                                << 32;
  static std::atomic<std::uint64_t> next{1};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s/%016llx/%llu", kind, static_cast<unsigned long long>(tag),
                static_cast<unsigned long long>(next++));
  return buf;
}

}  // namespace dpool
