#include "node_daemon.hpp"

#include <limits.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <asio/post.hpp>
#include <asio/write.hpp>
#include <dpool/coordinator.hpp>
#include <dpool/init.hpp>
#include <dpool/node.hpp>
#include <filesystem>
#include <random>
#include <unordered_set>

namespace dpool::internal {

struct NodeDaemon::Exec {
  Slot slot = 0;
  ExecutorProcess proc;
  asio::local::stream_protocol::socket socket;
  asio::posix::stream_descriptor pidfd;
  RecordReader reader;
  struct Out {
    std::string head;  // record header + meta
    Supervisor::Args args;
  };
  std::vector<Out> pending;
  bool writing = false;
  std::unordered_set<std::uint64_t> inited;       // pools whose initializer it has been given
  std::unique_ptr<asio::steady_timer> exit_poll;  // without a pidfd: after EOF, until reaped
  Exec(asio::io_context& io) : socket(io), pidfd(io) {}
};

namespace {

std::string self_dir() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  return std::filesystem::path(std::string(buf, static_cast<std::size_t>(n))).parent_path();
}

std::string default_name() {
  char host[256] = "node";
  ::gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(::getpid());
}

Supervisor::Options supervisor_options(const NodeOptions& o) {
  return {o.processes ? o.processes : cpu_count(), o.max_tasks_per_child,
          o.name.empty() ? default_name() : o.name};
}

}  // namespace

NodeDaemon::NodeDaemon(NodeOptions options)
    : options_(std::move(options)),
      own_loop_(std::make_unique<EventLoop>("node")),
      io_(own_loop_->io()),
      supervisor_(supervisor_options(options_)),
      deadline_(io_),
      beat_(io_),
      drain_timer_(io_) {
  init_spawn_spec();
  auto address = options_.connect;
  if (address.empty())
    throw Error("a node needs the coordinator's address (--connect tcp://HOST:PORT)");
  own_loop_->call(
      [&] { start([&](Receiver r) { return connect_dealer(io_, address, std::move(r)); }); });
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, options_.connect_timeout, [this] { return welcomed_ || stopped_; })) {
    lock.unlock();
    own_loop_->call([this] { shutdown_on_loop(); });
    throw ConnectionError("no coordinator answered at " + address + " within " +
                          detail::describe(options_.connect_timeout) +
                          "; start one with `dpool coordinator --bind " + address +
                          "` or check the address");
  }
  if (stopped_) {
    auto why = stop_reason_;
    lock.unlock();
    own_loop_->call([this] { shutdown_on_loop(); });
    throw ConnectionError("the coordinator at " + address + " refused this node: " + why);
  }
}

NodeDaemon::NodeDaemon(Hub& hub, NodeOptions options)
    : options_(std::move(options)),
      io_(hub.io()),
      supervisor_(supervisor_options(options_)),
      deadline_(io_),
      beat_(io_),
      drain_timer_(io_) {
  init_spawn_spec();
  call_on(io_, [&] { start([&](Receiver r) { return hub.attach(std::move(r)); }); });
}

NodeDaemon::~NodeDaemon() {
  call_on(io_, [this] { shutdown_on_loop(); });
  if (own_loop_) own_loop_->stop();
}

void NodeDaemon::init_spawn_spec() {
  spawn_spec_.node_name = options_.name.empty() ? default_name() : options_.name;
  if (!options_.exec.empty()) {
    spawn_spec_.program = options_.exec;
    spawn_spec_.argv.push_back(options_.exec);
    for (auto& a : options_.exec_args) spawn_spec_.argv.push_back(a);
  } else if (!options_.load.empty()) {
    spawn_spec_.program =
        options_.executor_host.empty() ? self_dir() + "/dpool-executor" : options_.executor_host;
    spawn_spec_.argv.push_back(spawn_spec_.program);
    for (auto& l : options_.load) {
      if (!std::filesystem::exists(l))
        throw Error("task library " + l + " does not exist; give --load the path of a .so");
      spawn_spec_.argv.push_back("--load");
      spawn_spec_.argv.push_back(std::filesystem::absolute(l).string());
    }
  } else {
    throw Error(
        "a node needs executors: give a program (--exec PROGRAM) or task libraries (--load "
        "LIB.so)");
  }
  // The node's own initializer is pool 0's, which every executor gets at spawn.
  if (!options_.initializer.empty())
    pools_[0] = wire::PoolSettings{0, options_.initializer.name, options_.initializer.fingerprint,
                                   options_.initializer.args, 0};
}

void NodeDaemon::queue_record(Exec& e, RecordKind kind, const wire::Task& task,
                              Supervisor::Args args) {
  auto meta = wire::encode_meta(task);
  Exec::Out out;
  out.head.resize(kRecordHeaderBytes);
  put_record_header(out.head.data(), kind, meta.size(), args->size());
  out.head += meta;
  out.args = std::move(args);
  e.pending.push_back(std::move(out));
}

void NodeDaemon::init_pool(Exec& e, std::uint64_t pool) {
  if (!e.inited.insert(pool).second) return;
  auto p = pools_.find(pool);
  if (p == pools_.end() || p->second.init_name.empty()) return;
  wire::Task init;
  init.name = p->second.init_name;
  init.fingerprint = p->second.init_fingerprint;
  init.pool = pool;
  queue_record(
      e, RecordKind::kInit, init,
      std::make_shared<zmq::message_t>(p->second.init_args.data(), p->second.init_args.size()));
}

void NodeDaemon::start(std::function<std::unique_ptr<Link>(Receiver)> make_link) {
  // Handlers may run after this object is gone (a shared loop); they check alive_.
  link_ = make_link([this, alive = alive_](Received&& m) {
    if (*alive) on_message(std::move(m));
  });
  instance_ = std::random_device{}();
  send_hello();
  if (own_loop_) {  // a remote coordinator can go silent; an in-process one cannot
    last_seen_ = Supervisor::Clock::now();
    on_beat();
  }
  supervisor_.start();
  apply();
}

void NodeDaemon::send_hello() {
  wire::Hello hello;
  hello.role = wire::Role::kNode;
  hello.name = spawn_spec_.node_name;
  hello.pid = static_cast<std::uint32_t>(::getpid());
  hello.executors = supervisor_.processes();
  hello.slots = supervisor_.processes() * 2;
  hello.instance = instance_;
  hello_pending_ = true;
  if (link_) link_->send({wire::Kind::kHello, std::move(hello)});
}

// Every interval: a heartbeat; after the timeout of silence, a new HELLO so
// that a restarted coordinator (or one that declared us dead) learns of us.
void NodeDaemon::on_beat() {
  if (!link_) return;
  auto now = Supervisor::Clock::now();
  link_->send({wire::Kind::kHeartbeat, wire::Heartbeat{}});
  if (now - last_seen_ > options_.coordinator_timeout) {
    spdlog::warn("node {}: the coordinator has been silent for more than {} ms; registering again",
                 spawn_spec_.node_name, options_.coordinator_timeout.count());
    send_hello();
    last_seen_ = now;
  }
  beat_.expires_after(options_.heartbeat);
  beat_.async_wait([this, alive = alive_](const asio::error_code& ec) {
    if (!*alive || ec) return;
    on_beat();
  });
}

void NodeDaemon::drain() {
  call_on(io_, [this] {
    if (shut_down_ || supervisor_.draining()) return;
    spdlog::info(
        "node {}: draining: {} queued task(s) go back to the coordinator, {} running may "
        "finish within {} ms",
        spawn_spec_.node_name, supervisor_.queued(),
        supervisor_.unfinished() - supervisor_.queued(), options_.drain_grace.count());
    supervisor_.drain();
    drain_timer_.expires_after(options_.drain_grace);
    drain_timer_.async_wait([this, alive = alive_](const asio::error_code& ec) {
      if (!*alive || ec) return;
      spdlog::warn("node {}: drain grace over; stopping {} task(s) and handing them back",
                   spawn_spec_.node_name, supervisor_.unfinished());
      supervisor_.abandon();
      apply();
    });
    apply();
  });
}

void NodeDaemon::on_message(Received&& m) {
  last_seen_ = Supervisor::Clock::now();
  if (!m) {
    spdlog::warn("node {}: rejected a message from the coordinator: {}", spawn_spec_.node_name,
                 m.error().detail);
    return;
  }
  switch (m->kind) {
    case wire::Kind::kWelcome: {
      auto instance = std::get<wire::Welcome>(m->body).instance;
      auto beat = std::chrono::milliseconds(std::get<wire::Welcome>(m->body).heartbeat_ms);
      if (beat.count() && beat < options_.heartbeat) options_.heartbeat = beat;
      if (coordinator_instance_ != 0) {
        spdlog::warn("node {}: registered again ({}); dropping {} task(s) it no longer knows",
                     spawn_spec_.node_name,
                     instance != coordinator_instance_ ? "the coordinator restarted"
                                                       : "the coordinator had declared us dead",
                     supervisor_.unfinished());
        supervisor_.reset();
      }
      coordinator_instance_ = instance;
      hello_pending_ = false;
      std::lock_guard lock(mu_);
      welcomed_ = true;
      cv_.notify_all();
      break;
    }
    case wire::Kind::kBye:  // the coordinator does not know us (once per message we sent)
      if (!hello_pending_) send_hello();
      break;
    case wire::Kind::kReject:
      spdlog::error("node {}: the coordinator refused us: {}", spawn_spec_.node_name,
                    std::get<wire::Reject>(m->body).reason);
      set_stopped(std::get<wire::Reject>(m->body).reason);
      break;
    case wire::Kind::kDispatch: {
      auto& batch = std::get<wire::TaskBatch>(m->body);
      for (auto& p : batch.pools) {
        supervisor_.pool_limit(p.key, p.max_tasks_per_child);
        pools_[p.key] = std::move(p);
      }
      supervisor_.tasks(std::move(batch.tasks), std::move(m->payloads), Supervisor::Clock::now());
      break;
    }
    case wire::Kind::kCancel: {
      auto& c = std::get<wire::Cancel>(m->body);
      supervisor_.cancel(c.ids, c.kill_running);
      break;
    }
    default:
      break;
  }
  apply();
}

void NodeDaemon::spawn(Slot slot) {
  auto e = std::make_shared<Exec>(io_);
  e->slot = slot;
  try {
    e->proc = ExecutorProcess::spawn(spawn_spec_);
  } catch (const std::exception& ex) {
    spdlog::error("node {}: {}", spawn_spec_.node_name, ex.what());
    asio::post(io_, [this, slot, alive = alive_] {
      if (!*alive) return;
      supervisor_.executor_died(slot, 0, 127, Supervisor::Clock::now());
      apply();
    });
    return;
  }
  e->socket.assign(asio::local::stream_protocol(), e->proc.release_socket());
  if (e->proc.has_pidfd()) {
    e->pidfd.assign(e->proc.release_pidfd());
  } else if (!warned_no_pidfd_) {
    warned_no_pidfd_ = true;
    spdlog::warn("node {}: no pidfd for executors ({}); watching them through their sockets",
                 spawn_spec_.node_name,
                 std::getenv("DPOOL_NO_PIDFD") ? "DPOOL_NO_PIDFD is set" : "pidfd_open failed");
  }
  if (execs_.size() <= slot) execs_.resize(slot + 1);
  execs_[slot] = e;
  init_pool(*e, 0);  // the node's own initializer, if any
  if (!e->pending.empty()) write(e);
  read(e);
  watch(e);
}

// A pidfd turning readable means some executor exited. The wake-up is only a
// hint (a descriptor number can be reused between epoll's report and its
// delivery), so every executor is checked without blocking.
void NodeDaemon::watch(const std::shared_ptr<Exec>& e) {
  if (!e->pidfd.is_open()) return;  // watched through its socket: see poll_exit
  e->pidfd.async_wait(asio::posix::descriptor_base::wait_read,
                      [this, e, alive = alive_](const asio::error_code& ec) {
                        if (!*alive || ec) return;
                        reap_exited();
                        if (execs_[e->slot] == e) watch(e);
                      });
}

// Without a pidfd, an executor's socket reaching EOF means it is exiting (or
// closed its end, in which case it is killed after a grace period); its exit
// is then polled for until it is reaped.
void NodeDaemon::poll_exit(const std::shared_ptr<Exec>& e, Supervisor::TimePoint since) {
  if (!e->exit_poll) e->exit_poll = std::make_unique<asio::steady_timer>(io_);
  e->exit_poll->expires_after(std::chrono::milliseconds(2));
  e->exit_poll->async_wait([this, e, since, alive = alive_](const asio::error_code& ec) {
    if (!*alive || ec) return;
    reap_exited();
    if (e->slot >= execs_.size() || execs_[e->slot] != e) return;  // reaped
    if (Supervisor::Clock::now() - since > std::chrono::seconds(5)) e->proc.kill();
    poll_exit(e, since);
  });
}

void NodeDaemon::reap_exited() {
  for (auto& slot_exec : execs_) {
    auto e = slot_exec;  // a copy: the slot may be refilled below
    if (!e) continue;
    int pid = e->proc.pid();
    auto status = e->proc.try_reap();
    if (!status) continue;
    auto [sig, code] = *status;
    asio::error_code ignored;
    e->socket.close(ignored);
    e->pidfd.close(ignored);
    slot_exec.reset();
    if (sig || code)
      spdlog::warn("node {}: executor {} died ({}); replacing it", spawn_spec_.node_name, pid,
                   sig ? "signal " + std::to_string(sig) : "exit code " + std::to_string(code));
    supervisor_.executor_died(e->slot, sig, code, Supervisor::Clock::now());
  }
  apply();
}

void NodeDaemon::read(const std::shared_ptr<Exec>& e) {
  auto span = e->reader.buffer();
  e->socket.async_read_some(asio::buffer(span.data(), span.size()),
                            [this, e, alive = alive_](const asio::error_code& ec, std::size_t n) {
                              if (!*alive || !e->socket.is_open()) return;
                              if (ec) {  // EOF: the process is exiting; its pidfd reports it
                                asio::error_code ignored;
                                e->socket.shutdown(asio::socket_base::shutdown_both, ignored);
                                if (!e->pidfd.is_open()) poll_exit(e, Supervisor::Clock::now());
                                return;
                              }
                              e->reader.commit(n);
                              for (;;) {
                                auto r = e->reader.next();
                                if (!r) {
                                  spdlog::error(
                                      "node {}: executor sent a bad record ({}); killing it",
                                      spawn_spec_.node_name, r.error());
                                  e->proc.kill();
                                  if (!e->pidfd.is_open()) poll_exit(e, Supervisor::Clock::now());
                                  return;
                                }
                                if (!*r) break;
                                on_record(e, std::move(**r));
                              }
                              apply();
                              read(e);
                            });
}

void NodeDaemon::on_record(const std::shared_ptr<Exec>& e, Record&& r) {
  if (r.kind == RecordKind::kReady) {
    auto meta = wire::decode_result(r.meta);
    supervisor_.executor_ready(e->slot, meta ? static_cast<int>(meta->pid) : e->proc.pid(),
                               Supervisor::Clock::now());
    return;
  }
  if (r.kind != RecordKind::kDone) return;
  auto meta = wire::decode_result(r.meta);
  if (!meta) {
    e->proc.kill();
    return;
  }
  zmq::message_t payload;
  if (r.payload.size <= 4096) {
    payload = zmq::message_t(r.payload.data.get(), r.payload.size);
  } else {
    auto size = r.payload.size;
    char* data = r.payload.data.release();
    payload = zmq::message_t(
        data, size, [](void* p, void*) { delete[] static_cast<char*>(p); }, nullptr);
  }
  supervisor_.executor_done(e->slot, std::move(*meta), std::move(payload),
                            Supervisor::Clock::now());
}

void NodeDaemon::write(const std::shared_ptr<Exec>& e) {
  if (e->writing || e->pending.empty() || !e->socket.is_open()) return;
  e->writing = true;
  auto batch = std::make_shared<std::vector<Exec::Out>>(std::move(e->pending));
  e->pending.clear();
  std::vector<asio::const_buffer> buffers;
  buffers.reserve(batch->size() * 2);
  for (auto& o : *batch) {
    buffers.push_back(asio::buffer(o.head));
    if (o.args && o.args->size()) buffers.push_back(asio::buffer(o.args->data(), o.args->size()));
  }
  asio::async_write(e->socket, buffers,
                    [this, e, batch, alive = alive_](const asio::error_code& ec, std::size_t) {
                      if (!*alive) return;
                      e->writing = false;
                      if (ec) return;  // a dead executor is reported by its pidfd
                      write(e);
                    });
}

void NodeDaemon::apply() {
  auto a = supervisor_.take_actions();
  if (a.empty()) return;
  for (auto slot : a.kill)
    if (slot < execs_.size() && execs_[slot]) execs_[slot]->proc.kill();
  for (auto slot : a.retire)
    if (slot < execs_.size() && execs_[slot]) {
      asio::error_code ignored;
      execs_[slot]->socket.shutdown(asio::socket_base::shutdown_send, ignored);
    }
  for (auto& [slot, tasks] : a.run) {
    auto& e = execs_.at(slot);
    for (auto& [task, args] : tasks) {
      if (task.pool) init_pool(*e, task.pool);
      queue_record(*e, RecordKind::kRun, task, std::move(args));
    }
    write(e);
  }
  for (auto slot : a.spawn) spawn(slot);
  if (a.credit && link_) link_->send({wire::Kind::kCredit, *a.credit});
  if (!a.results.results.empty() && link_)
    link_->send({wire::Kind::kResult, std::move(a.results), std::move(a.result_payloads)});
  arm_deadline();
  if (supervisor_.draining() && supervisor_.unfinished() == 0 && !shut_down_) {
    spdlog::info("node {}: drained", spawn_spec_.node_name);
    set_stopped("drained");
  }
}

void NodeDaemon::arm_deadline() {
  auto next = supervisor_.next_deadline();
  if (!next || (deadline_armed_ && *next >= deadline_at_)) return;
  deadline_armed_ = true;
  deadline_at_ = *next;
  deadline_.expires_at(*next);
  deadline_.async_wait([this, alive = alive_](const asio::error_code& ec) {
    if (!*alive || ec) return;  // cancelled by a nearer deadline, or shut down
    deadline_armed_ = false;
    supervisor_.tick(Supervisor::Clock::now());
    apply();
  });
}

void NodeDaemon::shutdown_on_loop() {
  if (shut_down_) return;
  supervisor_.shutdown();
  supervisor_.take_actions();
  shut_down_ = true;
  *alive_ = false;
  deadline_.cancel();
  beat_.cancel();
  drain_timer_.cancel();
  for (auto& e : execs_) {
    if (!e) continue;
    asio::error_code ignored;
    e->socket.close(ignored);
    e->pidfd.close(ignored);
  }
  execs_.clear();  // ExecutorProcess kills and reaps
  if (link_) link_->send({wire::Kind::kBye, wire::Bye{"node stopping"}});
  link_.reset();
  set_stopped("stopped");
}

void NodeDaemon::set_stopped(std::string why) {
  std::lock_guard lock(mu_);
  if (!stopped_) stop_reason_ = std::move(why);
  stopped_ = true;
  cv_.notify_all();
}

void NodeDaemon::wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return stopped_; });
}

void NodeDaemon::stop() {
  set_stopped("stopped");
}

bool NodeDaemon::stopped() {
  std::lock_guard lock(mu_);
  return stopped_;
}

}  // namespace dpool::internal

namespace dpool {

Node::Node(NodeOptions options)
    : daemon_(std::make_unique<internal::NodeDaemon>(std::move(options))) {}
Node::Node(Coordinator& coordinator, NodeOptions options)
    : daemon_(std::make_unique<internal::NodeDaemon>(coordinator.hub(), std::move(options))) {}
Node::~Node() = default;
unsigned Node::processes() const {
  return daemon_->processes();
}
void Node::wait() {
  daemon_->wait();
}
void Node::stop() {
  daemon_->stop();
}
void Node::drain() {
  daemon_->drain();
}
bool Node::stopped() const {
  return daemon_->stopped();
}

}  // namespace dpool
