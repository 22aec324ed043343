// The node's I/O shell: its coordinator link, the supervisor's actions carried
// out, pools and initializers, deadlines, draining and shutdown.
#include "node_daemon.hpp"

#include <limits.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <asio/post.hpp>
#include <cstdio>
#include <dpool/init.hpp>
#include <filesystem>

#include "executor_loop.hpp"

namespace dpool::internal {
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
      name_(supervisor_.options().node),
      deadline_(io_),
      drain_timer_(io_) {
  init_spawn_spec();
  auto address = options_.connect;
  if (address.empty())
    throw Error("a node needs the coordinator's address (--connect tcp://HOST:PORT)");
  auto dealer = dealer_options(address, kNodeRole, options_.key_file, options_.insecure,
                               options_.max_message_bytes);
  own_loop_->call([&] {
    start([&](Receiver r, Refused refused) {
      return connect_dealer(io_, dealer, std::move(r), std::move(refused));
    });
  });
  try {
    link_->wait_welcome(options_.connect_timeout, "start one with `dpool coordinator --bind " +
                                                      address + "` or check the address");
  } catch (...) {
    own_loop_->call([this] { shutdown_on_loop(); });
    throw;
  }
}

NodeDaemon::NodeDaemon(Hub& hub, NodeOptions options)
    : options_(std::move(options)),
      io_(hub.io()),
      supervisor_(supervisor_options(options_)),
      name_(supervisor_.options().node),
      deadline_(io_),
      drain_timer_(io_) {
  init_spawn_spec();
  call_on(io_, [&] { start([&](Receiver r, Refused) { return hub.attach(std::move(r)); }); });
}

NodeDaemon::~NodeDaemon() {
  call_on(io_, [this] { shutdown_on_loop(); });
  if (own_loop_) own_loop_->stop();
}

void NodeDaemon::init_spawn_spec() {
  spawn_spec_.env = {{kEnvExecutorFd, std::to_string(kChildFd)},
                     {kEnvNodeName, name_},
                     {kEnvParentPid, std::to_string(::getpid())}};
  // An embedded node's executors share its process's terminal, as local mode's do.
  if (own_loop_ && options_.forward_output) {
    spawn_spec_.env.emplace_back(kEnvCaptureOutput, "1");
    output_ = std::make_unique<TaskOutput>(Supervisor::Clock::now());
  } else {
    spawn_spec_.unset.push_back(kEnvCaptureOutput);
  }
  spawn_spec_.unset.push_back(kEnvCode);  // until code is pushed (adopt_code)
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

void NodeDaemon::start(const CoordinatorLink::MakeLink& make_link) {
  execs_ = std::make_unique<ExecutorSet>(io_, name_, spawn_spec_, supervisor_.processes(),
                                         executor_events());
  inited_.resize(supervisor_.processes());
  processes_ = std::make_unique<NodeProcesses>(io_, name_, spawn_spec_, process_hooks());
  NodeCode::Hooks code_hooks;
  code_hooks.answer = [this](wire::Loaded&& l) { link_->send({std::move(l)}); };
  code_hooks.adopted = [this] { adopt_code(); };
  code_ = std::make_unique<NodeCode>(
      io_, name_, options_.accept_code,
      options_.executor_host.empty() ? self_dir() + "/dpool-executor" : options_.executor_host,
      std::move(code_hooks));
  CoordinatorLink::Options o;
  o.where = options_.connect.empty() ? "the embedded coordinator" : options_.connect;
  o.who = "node " + name_;
  if (own_loop_) {  // a remote coordinator can go silent or restart; an in-process one cannot
    o.heartbeat = options_.heartbeat;
    o.timeout = options_.coordinator_timeout;
  }
  link_ = std::make_unique<CoordinatorLink>(io_, std::move(o), link_events());
  link_->open(make_link);
  supervisor_.start();
  apply();
}

CoordinatorLink::Events NodeDaemon::link_events() {
  CoordinatorLink::Events e;
  e.hello = [this] {
    wire::Hello hello;
    hello.role = wire::Role::kNode;
    hello.name = name_;
    hello.pid = static_cast<std::uint32_t>(::getpid());
    hello.executors = supervisor_.processes();
    hello.slots = supervisor_.processes() * 2;
    return hello;
  };
  e.welcomed = [this](const wire::Welcome&, CoordinatorLink::Rejoin how) { on_welcome(how); };
  e.refused = [this](const std::string& reason) { set_stopped(reason); };
  e.beat = [this] {
    wire::Heartbeat beat;  // what we hold: the coordinator takes back what we do not list
    beat.holding = supervisor_.held();
    processes_->add_ids(beat.holding);
    beat.received = received_dispatch_;
    return beat;
  };
  e.message = [this](wire::Message&& m) {
    if (!wire::dispatch(*this, std::move(m)))
      spdlog::warn("node {}: unexpected {} from the coordinator; dropped", name_, m.kind().name);
    apply();
  };
  return e;
}

void NodeDaemon::on_welcome(CoordinatorLink::Rejoin how) {
  if (how == CoordinatorLink::Rejoin::kFirst) return;
  spdlog::warn("node {}: registered again ({}); dropping {} task(s) it no longer knows", name_,
               how == CoordinatorLink::Rejoin::kRestarted ? "the coordinator restarted"
                                                          : "the coordinator had declared us dead",
               supervisor_.unfinished());
  supervisor_.reset();
  received_dispatch_ = 0;  // the coordinator numbers its DISPATCHes to us afresh
  if (processes_->running())
    spdlog::warn("node {}: killing {} Process(es) the coordinator no longer knows", name_,
                 processes_->running());
  processes_->reset();
  apply();
}

void NodeDaemon::on(wire::Dispatch&& batch, Payloads&& args) {
  received_dispatch_ = batch.seq;
  for (auto& p : batch.pools) {
    supervisor_.pool_limit(p.key, p.max_tasks_per_child);
    pools_[p.key] = std::move(p);
  }
  // Processes run outside the pool's executors.
  std::size_t kept = 0;
  for (std::size_t i = 0; i < batch.tasks.size(); ++i) {
    if (!batch.tasks[i].process.empty()) {
      processes_->start(std::move(batch.tasks[i]), std::move(args[i]));
      continue;
    }
    if (kept != i) {
      batch.tasks[kept] = std::move(batch.tasks[i]);
      args[kept] = std::move(args[i]);
    }
    ++kept;
  }
  batch.tasks.resize(kept);
  args.resize(kept);
  if (kept) supervisor_.tasks(std::move(batch.tasks), std::move(args), Supervisor::Clock::now());
}

void NodeDaemon::on(wire::Cancel&& cancel) {
  supervisor_.cancel(cancel.ids, cancel.kill_running);
  processes_->cancel(cancel.ids);
}

void NodeDaemon::on(wire::Signal&& signal) {
  processes_->signal(signal.ids, signal.signal);
}

void NodeDaemon::on(wire::Code&& code, Payloads&& bytes) {
  code_->receive(std::move(code), std::move(bytes.at(0)));
}

void NodeDaemon::adopt_code() {
  auto& env = spawn_spec_.env;
  std::erase_if(env, [](const auto& kv) { return kv.first == kEnvCode; });
  env.emplace_back(kEnvCode, code_->env());
  execs_->respec(spawn_spec_);
  processes_->respec(spawn_spec_);
  supervisor_.recycle();
  apply();
}

NodeProcesses::Hooks NodeDaemon::process_hooks() {
  NodeProcesses::Hooks h;
  h.report = [this](wire::Results&& results) {
    Payloads none(results.results.size());  // a Process's result is discarded
    send_results(std::move(results), std::move(none));
  };
  h.output = [this](std::uint64_t task, wire::Lines&& lines) {
    if (output_) output_->add(task, lines.pid, lines.stream, lines.text, Supervisor::Clock::now());
  };
  h.call = [this](const wire::Request& request, Payload&& args, NodeProcesses::Answer answer) {
    call_coordinator(request, std::move(args), std::move(answer));
  };
  h.exited = [this](int pid) {
    if (output_) output_->finish(static_cast<std::uint32_t>(pid), Supervisor::Clock::now());
    executor_gone(pid);
  };
  h.settled = [this] { apply(); };
  return h;
}

void NodeDaemon::on(wire::Reclaim&& reclaim) {
  auto ids = supervisor_.reclaim(reclaim.count);
  if (!ids.empty())
    spdlog::debug("node {}: handed {} queued task(s) back to the coordinator", name_, ids.size());
  link_->send({wire::Returned{std::move(ids)}});
}

void NodeDaemon::drain() {
  call_on(io_, [this] {
    if (shut_down_ || supervisor_.draining()) return;
    spdlog::info(
        "node {}: draining: {} queued task(s) go back to the coordinator, {} running may "
        "finish within {} ms",
        name_, supervisor_.queued(), supervisor_.unfinished() - supervisor_.queued(),
        options_.drain_grace.count());
    supervisor_.drain();
    drain_timer_.expires_after(options_.drain_grace);
    drain_timer_.async_wait([this, alive = alive_](const asio::error_code& ec) {
      if (!*alive || ec) return;
      spdlog::warn("node {}: drain grace over; stopping {} task(s) and handing them back", name_,
                   supervisor_.unfinished());
      supervisor_.abandon();
      processes_->kill_all();  // each reports -9; none is run elsewhere
      apply();
    });
    apply();
  });
}

void NodeDaemon::spawn(Slot slot) {
  inited_[slot].clear();
  execs_->spawn(slot);
  init_pool(slot, 0);  // the node's own initializer, if any
  execs_->flush(slot);
}

void NodeDaemon::init_pool(Slot slot, std::uint64_t pool) {
  if (!inited_[slot].insert(pool).second) return;
  auto p = pools_.find(pool);
  if (p == pools_.end() || p->second.init_name.empty()) return;
  wire::Task init;
  init.name = p->second.init_name;
  init.fingerprint = p->second.init_fingerprint;
  init.pool = pool;
  execs_->queue(slot, RecordKind::kInit, init,
                std::make_shared<const Payload>(p->second.init_args));
}

void NodeDaemon::apply() {
  if (shut_down_) return;
  flush_output();
  auto a = supervisor_.take_actions();
  if (a.empty()) return check_drained();
  for (auto slot : a.kill) execs_->kill(slot);
  for (auto slot : a.retire) execs_->retire(slot);
  for (auto& [slot, tasks] : a.run) {
    for (auto& [task, args] : tasks) {
      if (task.pool) init_pool(slot, task.pool);
      execs_->queue(slot, RecordKind::kRun, task, std::move(args));
    }
    execs_->flush(slot);
  }
  for (auto slot : a.spawn) spawn(slot);
  if (a.credit) link_->send({*a.credit});
  if (!a.results.results.empty()) send_results(std::move(a.results), std::move(a.result_payloads));
  arm_deadline();
  check_drained();
}

void NodeDaemon::check_drained() {
  if (supervisor_.draining() && supervisor_.unfinished() == 0 && processes_->running() == 0 &&
      !stopped()) {
    spdlog::info("node {}: drained", name_);
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
  drain_timer_.cancel();
  if (execs_) execs_->clear();
  if (processes_) processes_->clear();
  code_.reset();
  if (link_) link_->close("node stopping");
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
