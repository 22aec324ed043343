#include "client_session.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <asio/post.hpp>
#include <random>

#include "event_loop.hpp"

namespace dpool::internal {
namespace {

TaskInfo::Clock::time_point from_us(std::int64_t us) {
  return TaskInfo::Clock::time_point(std::chrono::microseconds(us));
}

// Small payloads are copied into the message; large ones are handed over.
zmq::message_t to_message(std::string&& s) {
  if (s.size() <= 4096) return zmq::message_t(s.data(), s.size());
  auto* owned = new std::string(std::move(s));
  return zmq::message_t(
      owned->data(), owned->size(),
      [](void*, void* hint) { delete static_cast<std::string*>(hint); }, owned);
}

}  // namespace

ClientSession::ClientSession(asio::io_context& io, std::string where)
    : io_(io), where_(std::move(where)) {}

std::shared_ptr<ClientSession> ClientSession::connect(asio::io_context& io, MakeLink make_link,
                                                      std::string where,
                                                      std::chrono::milliseconds timeout,
                                                      wire::PoolSettings pool) {
  auto s = std::make_shared<ClientSession>(io, where);
  s->pool_ = std::move(pool);
  call_on(io, [&] {
    std::weak_ptr<ClientSession> weak = s;
    s->link_ = make_link([weak](Received&& m) {
      if (auto self = weak.lock()) self->on_message(std::move(m));
    });
    s->instance_ = std::random_device{}();
    s->send_hello();
  });
  std::unique_lock lock(s->mu_);
  if (!s->cv_.wait_for(lock, timeout, [&] { return s->welcomed_ || !s->refused_.empty(); })) {
    lock.unlock();
    s->detach();
    throw ConnectionError("no dpool coordinator answered at " + where + " within " +
                          detail::describe(timeout) +
                          "; start one with `dpool coordinator --bind " + where +
                          "`, check the address, or raise Connect::connect_timeout");
  }
  if (!s->refused_.empty()) {
    auto why = s->refused_;
    lock.unlock();
    s->detach();
    throw ConnectionError("the coordinator at " + where + " refused this client: " + why);
  }
  return s;
}

bool ClientSession::submit(const std::string& name, std::uint64_t fingerprint,
                           std::vector<detail::TaskRequest>&& tasks,
                           std::shared_ptr<detail::StateBase> sink, const TaskOptions& options,
                           bool block) {
  std::unique_lock lock(mu_);
  // A batch larger than the window goes in alone, once nothing else is in flight.
  auto room = [&] {
    return closed_ || outstanding_ == 0 || outstanding_ + tasks.size() <= window_;
  };
  if (!room()) {
    if (!block) return false;
    cv_.wait(lock, room);
  }
  if (closed_)
    throw PoolClosed("cannot submit '" + name +
                     "': this pool was closed or terminated; make a new Pool for more work");
  sink->bind_tasks(weak_from_this(), next_id_, tasks.size(), options.cancel_running);
  if (closed_)
    throw PoolClosed("cannot submit '" + name +
                     "': this pool was closed or terminated; make a new Pool for more work");
  for (auto& t : tasks) {
    Pending p;
    p.spec.id = next_id_++;
    p.spec.name = name;
    p.spec.fingerprint = fingerprint;
    p.spec.chunk = t.chunk;
    p.spec.timeout_ms = static_cast<std::uint32_t>(options.timeout.count());
    p.spec.retries = options.retries;
    p.spec.priority = options.priority;
    p.args = std::move(t.args);
    p.sink = sink;
    p.part = t.part;
    inbox_.push_back(std::move(p));
  }
  outstanding_ += tasks.size();
  if (!flush_posted_) {
    flush_posted_ = true;
    asio::post(io_, [weak = weak_from_this()] {
      if (auto self = weak.lock()) self->flush();
    });
  }
  return true;
}

void ClientSession::set_window(std::size_t n) {
  if (n == 0) {  // about 256 KiB of memory per task in flight, at least 10,000
    auto pages = static_cast<std::size_t>(::sysconf(_SC_PHYS_PAGES));
    auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    n = std::max<std::size_t>(10'000, pages / (256 * 1024 / page));
  }
  std::lock_guard lock(mu_);
  window_ = n;
}

void ClientSession::flush() {
  std::vector<Pending> batch;
  {
    std::lock_guard lock(mu_);
    flush_posted_ = false;
    batch.swap(inbox_);
  }
  if (batch.empty() || !link_) return;
  wire::TaskBatch msg;
  msg.tasks.reserve(batch.size());
  Frames payloads;
  payloads.reserve(batch.size());
  auto now = TaskInfo::Clock::now();
  for (auto& p : batch) {
    Inflight f{std::move(p.sink), p.part, now, std::nullopt, {}};
    payloads.push_back(to_message(std::move(p.args)));
    if (resilient_) {
      f.spec = p.spec;
      f.args.copy(payloads.back());  // shares large buffers
    }
    inflight_.emplace(p.spec.id, std::move(f));
    msg.tasks.push_back(std::move(p.spec));
  }
  link_->send({wire::Kind::kSubmit, std::move(msg), std::move(payloads)});
}

void ClientSession::send_hello() {
  wire::Hello hello;
  hello.role = wire::Role::kClient;
  hello.pid = static_cast<std::uint32_t>(::getpid());
  hello.name = "client:" + std::to_string(hello.pid);
  hello.instance = instance_;
  hello.pool = pool_;
  hello_pending_ = true;
  if (link_) link_->send({wire::Kind::kHello, std::move(hello)});
}

void ClientSession::on_welcome(const wire::Welcome& welcome) {
  executors_ = welcome.executors;
  coordinator_beat_ = std::chrono::milliseconds(welcome.heartbeat_ms);
  if (coordinator_beat_.count() && coordinator_beat_ < beat_interval_)
    beat_interval_ = coordinator_beat_;
  bool again = coordinator_instance_ != 0;
  bool restarted = again && welcome.instance != coordinator_instance_;
  coordinator_instance_ = welcome.instance;
  lost_ = false;
  hello_pending_ = false;
  if (again && resilient_) {
    // The coordinator forgot our tasks (it restarted, or declared us dead):
    // send every unfinished one again. Results are matched by id, so each is
    // delivered once even if it also finishes under its old registration.
    wire::TaskBatch msg;
    Frames payloads;
    for (auto& [id, f] : inflight_) {
      if (!f.spec) continue;
      msg.tasks.push_back(*f.spec);
      zmq::message_t copy;
      copy.copy(f.args);
      payloads.push_back(std::move(copy));
    }
    spdlog::warn(
        "dpool client: registered again with the coordinator ({}); resubmitted {} "
        "unfinished task(s)",
        restarted ? "it restarted" : "it had given up on us", msg.tasks.size());
    if (!msg.tasks.empty() && link_)
      link_->send({wire::Kind::kSubmit, std::move(msg), std::move(payloads)});
  }
  std::lock_guard lock(mu_);
  welcomed_ = true;
  cv_.notify_all();
}

void ClientSession::keep_alive(std::chrono::milliseconds interval,
                               std::chrono::milliseconds timeout, std::chrono::milliseconds grace) {
  call_on(io_, [&] {
    resilient_ = true;
    beat_interval_ = coordinator_beat_.count() ? std::min(interval, coordinator_beat_) : interval;
    beat_timeout_ = timeout;
    grace_ = grace;
    last_seen_ = std::chrono::steady_clock::now();
    beat_timer_ = std::make_unique<asio::steady_timer>(io_);
    on_beat();
  });
}

// Every interval: a heartbeat to the coordinator; after `timeout` of silence,
// a new HELLO (re-registering once it is back); after `grace`, give up.
void ClientSession::on_beat() {
  if (!link_ || !beat_timer_) return;
  auto now = std::chrono::steady_clock::now();
  link_->send({wire::Kind::kHeartbeat, wire::Heartbeat{}});
  if (now - last_seen_ > beat_timeout_) {
    if (!lost_) {
      lost_ = true;
      lost_since_ = now;
      spdlog::warn(
          "dpool client: the coordinator has been silent for {} ms; waiting up to {} ms "
          "for it to come back",
          beat_timeout_.count(), grace_.count());
    }
    send_hello();
    last_seen_ = now;  // one HELLO per timeout period
    if (now - lost_since_ > grace_ && !inflight_.empty()) {
      detail::Failure f;
      f.code = ErrorCode::kConnection;
      f.message = "the coordinator at " + where_ + " stayed unreachable for more than " +
                  detail::describe(grace_) +
                  " (Connect::reconnect_grace); the task's result is lost with it";
      spdlog::error("dpool client: {}; failing {} unfinished task(s)", f.message, inflight_.size());
      fail_all(f);
    }
  }
  beat_timer_->expires_after(beat_interval_);
  beat_timer_->async_wait([weak = weak_from_this()](const asio::error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->on_beat();
  });
}

void ClientSession::on_message(Received&& m) {
  last_seen_ = std::chrono::steady_clock::now();
  if (!m) {
    spdlog::warn("dpool client: rejected a message from the coordinator: {}", m.error().detail);
    return;
  }
  switch (m->kind) {
    case wire::Kind::kWelcome:
      on_welcome(std::get<wire::Welcome>(m->body));
      break;
    case wire::Kind::kBye:  // the coordinator does not know us (it restarted, or gave up on us)
      if (resilient_ && !hello_pending_) send_hello();
      break;
    case wire::Kind::kReject: {
      std::lock_guard lock(mu_);
      refused_ = std::get<wire::Reject>(m->body).reason;
      cv_.notify_all();
      break;
    }
    case wire::Kind::kStatus:
      executors_ = std::get<wire::Status>(m->body).executors;
      break;
    case wire::Kind::kCancel: {
      auto& c = std::get<wire::Cancel>(m->body);
      auto it = cancel_answers_.find(c.request);
      if (it != cancel_answers_.end()) {
        it->second->set_value(std::move(c.ids));
        cancel_answers_.erase(it);
      }
      break;
    }
    case wire::Kind::kDeliver:
      on_deliver(std::move(std::get<wire::ResultBatch>(m->body)), std::move(m->payloads));
      break;
    default:
      break;
  }
}

void ClientSession::on_deliver(wire::ResultBatch&& batch, Frames&& payloads) {
  std::size_t done = 0;
  for (std::size_t i = 0; i < batch.results.size(); ++i) {
    auto& r = batch.results[i];
    auto it = inflight_.find(r.id);
    if (it == inflight_.end()) continue;  // cancelled by terminate()
    detail::Outcome o;
    o.failure = std::move(r.failure);
    if (payloads[i].size()) {
      auto owner = std::make_shared<zmq::message_t>(std::move(payloads[i]));
      o.payload = detail::Bytes(owner, owner->data<char>(), owner->size());
    }
    o.info.node = std::move(r.node);
    o.info.pid = static_cast<int>(r.pid);
    o.info.attempts = r.attempts;
    o.info.submitted = it->second.submitted;
    o.info.started = from_us(r.started_us);
    o.info.finished = from_us(r.finished_us);
    auto sink = std::move(it->second.sink);
    auto part = it->second.part;
    inflight_.erase(it);
    sink->deliver(part, std::move(o));
    ++done;
  }
  completed(done);
}

void ClientSession::completed(std::size_t n) {
  if (!n) return;
  std::lock_guard lock(mu_);
  outstanding_ -= std::min(n, outstanding_);
  cv_.notify_all();
}

std::future<std::vector<std::uint64_t>> ClientSession::start_cancel(std::uint64_t first,
                                                                    std::size_t count,
                                                                    bool kill_running) {
  auto answer = std::make_shared<std::promise<std::vector<std::uint64_t>>>();
  auto future = answer->get_future();
  // Always through the coordinator, after whatever is still waiting to be
  // sent: a cancel then also proves the coordinator holds every task
  // submitted before it.
  asio::post(io_, [weak = weak_from_this(), answer, first, count, kill_running] {
    auto self = weak.lock();
    if (!self || !self->link_) return answer->set_value({first});
    self->flush();
    wire::Cancel c;
    c.request = self->next_request_++;
    c.kill_running = kill_running;
    for (auto id = first; id < first + count; ++id)
      if (self->inflight_.contains(id)) c.ids.push_back(id);
    if (c.ids.empty()) return answer->set_value({first});  // all finished already
    self->cancel_answers_.emplace(c.request, answer);
    self->link_->send({wire::Kind::kCancel, std::move(c)});
  });
  return future;
}

bool ClientSession::cancel(std::uint64_t first, std::size_t count, bool kill_running) {
  auto answer = start_cancel(first, count, kill_running);
  if (answer.wait_for(std::chrono::seconds(30)) != std::future_status::ready) return false;
  return answer.get().empty();
}

void ClientSession::drop(std::uint64_t first, std::size_t count) {
  start_cancel(first, count, false);
}

void ClientSession::answer_cancels() {
  for (auto& [request, answer] : std::exchange(cancel_answers_, {})) answer->set_value({0});
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
      link_->send({wire::Kind::kCancel, std::move(c)});
    }
    detail::Failure f;
    f.code = ErrorCode::kCancelled;
    f.message = "the pool was terminated before it finished";
    fail_all(f);
    answer_cancels();
  });
}

void ClientSession::detach() {
  call_on(io_, [this] {
    if (beat_timer_) beat_timer_->cancel();
    beat_timer_.reset();
    if (link_) link_->send({wire::Kind::kBye, wire::Bye{"pool closed"}});
    link_.reset();
    answer_cancels();
  });
}

}  // namespace dpool::internal
