// The client side of a pool: the inbox of submitted tasks, one SUBMIT per
// flush, results delivered to their AsyncResults, the link's events.
#include "client_session.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <asio/post.hpp>

#include "calls.hpp"
#include "event_loop.hpp"
#include "forwarded_output.hpp"
#include "sealed_line.hpp"

namespace dpool::internal {
namespace {

TaskInfo::Clock::time_point from_us(std::int64_t us) {
  return TaskInfo::Clock::time_point(std::chrono::microseconds(us));
}

}  // namespace

ClientSession::ClientSession(asio::io_context& io, Options options)
    : io_(io), options_(std::move(options)), resilient_(options_.heartbeat.count() > 0) {}

std::shared_ptr<ClientSession> ClientSession::connect(asio::io_context& io,
                                                      const CoordinatorLink::MakeLink& make_link,
                                                      Options options) {
  auto s = std::make_shared<ClientSession>(io, std::move(options));
  if (s->resilient_) {
    // The session owns `direct_`, which calls back into it only from the
    // user threads that make calls, while the session is alive.
    s->direct_ = std::make_unique<DirectCalls>(
        s->options_.where,
        [raw = s.get()]() -> std::optional<calls::DirectTicket> {
          std::string bytes;
          try {
            bytes = raw->call_link(calls::Op::kDirect, {});
          } catch (const Error& e) {
            if (e.code() != ErrorCode::kRefused) throw;
            return std::nullopt;  // a coordinator without direct lines
          }
          auto ticket = wire::decode_meta<calls::DirectTicket>(bytes);
          if (!ticket || ticket->key.size() != direct::kKeyBytes) return std::nullopt;
          return *ticket;
        },
        s->options_.connect_timeout);
  }
  call_on(io, [&] {
    s->link_ = std::make_unique<CoordinatorLink>(
        io,
        CoordinatorLink::Options{s->options_.where, "this client", s->options_.heartbeat,
                                 s->options_.coordinator_timeout, s->options_.reconnect_grace},
        s->link_events());
    s->link_->open(make_link);
  });
  try {
    s->link_->wait_welcome(s->options_.connect_timeout,
                           "start one with `dpool coordinator --bind " + s->options_.where +
                               "`, check the address, or raise Connect::connect_timeout");
  } catch (...) {
    s->detach();
    throw;
  }
  return s;
}

CoordinatorLink::Events ClientSession::link_events() {
  std::weak_ptr<ClientSession> weak = weak_from_this();
  CoordinatorLink::Events e;
  e.hello = [this] {
    wire::Hello hello;
    hello.role = wire::Role::kClient;
    hello.pid = static_cast<std::uint32_t>(::getpid());
    hello.name = "client:" + std::to_string(hello.pid);
    hello.pool = options_.pool;
    hello.output = options_.forward_output;
    return hello;
  };
  e.welcomed = [weak](const wire::Welcome& w, CoordinatorLink::Rejoin how) {
    if (auto self = weak.lock()) self->on_welcome(w, how);
  };
  e.lost = [weak] {
    if (auto self = weak.lock()) self->on_lost();
  };
  e.refused = [weak](const std::string& reason) {
    if (auto self = weak.lock()) self->on_refused(reason);
  };
  e.message = [weak](wire::Message&& m) {
    auto self = weak.lock();
    if (self && !wire::dispatch(*self, std::move(m)))
      spdlog::warn("dpool client: unexpected {} from the coordinator; dropped", m.kind().name);
  };
  return e;
}

bool ClientSession::submit(const std::string& name, std::uint64_t fingerprint,
                           std::vector<detail::TaskRequest>&& tasks,
                           std::shared_ptr<detail::StateBase> sink, const TaskOptions& options,
                           bool block) {
  if (options_.max_message_bytes)
    for (auto& t : tasks)
      if (t.args.size() > options_.max_message_bytes)
        throw SerializationError("the arguments of '" + name + "' take " +
                                 std::to_string(t.args.size()) + " bytes, more than the " +
                                 std::to_string(options_.max_message_bytes) +
                                 " bytes a message may carry; raise Connect::max_message_bytes "
                                 "here and --max-message on the coordinator and every worker");
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
    p.spec.process = std::move(t.process);
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
  wire::Submit msg;
  msg.tasks.reserve(batch.size());
  Payloads payloads;
  payloads.reserve(batch.size());
  auto now = TaskInfo::Clock::now();
  for (auto& p : batch) {
    Inflight f{std::move(p.sink), p.part, now, !p.spec.process.empty(), std::nullopt, {}};
    payloads.push_back(Payload::adopt(std::move(p.args)));
    if (resilient_ && !f.process) {
      f.spec = p.spec;
      f.args = payloads.back().share();  // large buffers are shared, not copied
    }
    inflight_.emplace(p.spec.id, std::move(f));
    msg.tasks.push_back(std::move(p.spec));
  }
  link_->send({std::move(msg), std::move(payloads)});
}

void ClientSession::on_welcome(const wire::Welcome& welcome, CoordinatorLink::Rejoin how) {
  executors_ = welcome.executors;
  if (how == CoordinatorLink::Rejoin::kFirst || !resilient_) return;
  // Our lines went with the coordinator's memory of us; calls waiting on
  // them are failed as the link's own calls were.
  if (direct_)
    direct_->break_all("the coordinator at " + options_.where +
                       " restarted or forgot this client during a call on a shared object");
  // The coordinator forgot our tasks (it restarted, or declared us dead):
  // send every unfinished one again. Results are matched by id, so each is
  // delivered once even if it also finishes under its old registration.
  // A Process is not started twice: it ends, reported as lost.
  wire::Submit msg;
  Payloads payloads;
  std::size_t lost = 0;
  for (auto it = inflight_.begin(); it != inflight_.end();) {
    auto& f = it->second;
    if (f.process) {
      detail::Failure gone;
      gone.code = ErrorCode::kWorkerLost;
      gone.message =
          "the coordinator forgot it (it restarted, or had given up on this client); "
          "a Process is never started a second time";
      auto sink = std::move(f.sink);
      auto part = f.part;
      it = inflight_.erase(it);
      sink->deliver(part, detail::Outcome{gone, {}, {}});
      ++lost;
      continue;
    }
    if (f.spec) {
      msg.tasks.push_back(*f.spec);
      payloads.push_back(f.args.share());
    }
    ++it;
  }
  completed(lost);
  spdlog::warn(
      "dpool client: registered again with the coordinator ({}); resubmitted {} "
      "unfinished task(s)",
      how == CoordinatorLink::Rejoin::kRestarted ? "it restarted" : "it had given up on us",
      msg.tasks.size());
  if (!msg.tasks.empty()) link_->send({std::move(msg), std::move(payloads)});
}

void ClientSession::on_lost() {
  if (direct_)
    direct_->break_all("the coordinator at " + options_.where +
                       " stayed unreachable for more than " +
                       detail::describe(options_.reconnect_grace) +
                       " (Connect::reconnect_grace) during a call on a shared object");
  if (inflight_.empty()) return;
  detail::Failure f;
  f.code = ErrorCode::kConnection;
  f.message = "the coordinator at " + options_.where + " stayed unreachable for more than " +
              detail::describe(options_.reconnect_grace) +
              " (Connect::reconnect_grace); the task's result is lost with it";
  spdlog::error("dpool client: {}; failing {} unfinished task(s)", f.message, inflight_.size());
  fail_all(f);
}

// A REJECT after we joined (our key was taken off the coordinator's
// allow-list): nothing in flight will be answered.
void ClientSession::on_refused(const std::string& reason) {
  if (direct_)
    direct_->break_all("the coordinator at " + options_.where + " refused this client: " + reason);
  if (inflight_.empty()) return;
  detail::Failure f;
  f.code = ErrorCode::kConnection;
  f.message = "the coordinator at " + options_.where + " refused this client: " + reason;
  fail_all(f);
}

void ClientSession::on(wire::Status&& status) {
  executors_ = status.executors;
}

void ClientSession::on(wire::Output&& output) {
  show_output(output, stdout, stderr);
}

void ClientSession::on(wire::Deliver&& batch, Payloads&& payloads) {
  std::size_t done = 0;
  for (std::size_t i = 0; i < batch.results.size(); ++i) {
    auto& r = batch.results[i];
    auto it = inflight_.find(r.id);
    if (it == inflight_.end()) continue;  // cancelled by terminate()
    detail::Outcome o;
    o.failure = std::move(r.failure);
    if (!payloads[i].empty()) {
      auto owner = std::make_shared<Payload>(std::move(payloads[i]));
      o.payload = detail::Bytes(owner, owner->data(), owner->size());
    }
    o.info.node = std::move(r.node);
    o.info.pid = static_cast<int>(r.pid);
    o.info.attempts = r.attempts;
    o.info.submitted = it->second.submitted;
    o.info.started = from_us(r.started_us);
    o.info.finished = from_us(r.finished_us);
    if (o.failure.code == wire::kStarted) {  // a Process began; its end follows
      it->second.sink->deliver(it->second.part, std::move(o));
      continue;
    }
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

}  // namespace dpool::internal
