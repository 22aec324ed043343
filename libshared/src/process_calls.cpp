// The calls of a local dpool::Process to its program's pool, relayed by its
// parent (see process_calls.hpp): the parent's CallRelay and the child's
// channel, and the list of the program's pools.
#include "process_calls.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "calls.hpp"
#include "client_session.hpp"
#include "fd_io.hpp"

namespace dpool::internal {
namespace {

constexpr std::size_t kCallHead = 12;  // id, length

void put_le(std::string& out, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
std::uint64_t get_le(const char* p, int n) {
  std::uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(p[i]);
  return v;
}

// Reads what is there (at most one read); false at the end of the stream.
bool read_some(int fd, std::string& buffer) {
  char chunk[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(n));
    return true;
  }
}

bool read_exact(int fd, char* data, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::read(fd, data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

std::mutex g_pools_mu;
std::vector<std::weak_ptr<ClientSession>> g_pools;  // newest last

}  // namespace

void add_program_pool(const std::shared_ptr<ClientSession>& session) {
  std::lock_guard lock(g_pools_mu);
  g_pools.push_back(session);
}

void remove_program_pool(const ClientSession* session) {
  std::lock_guard lock(g_pools_mu);
  std::erase_if(g_pools, [&](const std::weak_ptr<ClientSession>& w) {
    auto s = w.lock();
    return !s || s.get() == session;
  });
}

std::shared_ptr<ClientSession> program_pool() {
  std::lock_guard lock(g_pools_mu);
  for (auto it = g_pools.rbegin(); it != g_pools.rend(); ++it)
    if (auto s = it->lock()) return s;
  return nullptr;
}

// ---- the parent's relay -----------------------------------------------------

struct CallRelay::Shared {
  std::shared_ptr<ClientSession> session;
  int fd = -1;
  int wake = -1;  // eventfd: answers to write, or stop
  std::uint32_t pid = 0;
  std::mutex mu;
  std::deque<std::string> answers;  // framed, for the relay thread to write
  bool stop = false;
  std::thread thread;

  void answered(std::uint64_t id, const detail::Failure& f, std::string_view bytes) {
    std::string out;
    put_le(out, id, 8);
    put_le(out, static_cast<std::uint16_t>(f.code), 2);
    put_le(out, f.message.size(), 4);
    out += f.message;
    put_le(out, bytes.size(), 4);
    out.append(bytes);
    std::lock_guard lock(mu);
    if (wake < 0) return;  // the relay is gone (its Process ended): nobody to tell
    answers.push_back(std::move(out));
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake, &one, sizeof one);
  }

  // The relay thread: calls in, answers out, until the child's end closes
  // or the relay is destroyed.
  void run(const std::shared_ptr<Shared>& self) {
    std::string in;
    bool child_open = true;
    while (child_open) {
      pollfd p[2] = {{fd, POLLIN, 0}, {wake, POLLIN, 0}};
      poll_until(p, 2, std::chrono::steady_clock::time_point::max());
      if (p[1].revents) {
        std::uint64_t count;
        [[maybe_unused]] auto n = ::read(wake, &count, sizeof count);
        std::deque<std::string> out;
        {
          std::lock_guard lock(mu);
          out.swap(answers);
          if (stop) break;
        }
        for (auto& a : out)
          if (!send_all(fd, a)) break;  // the child is gone; its end says so next
      }
      if (p[0].revents) {
        child_open = read_some(fd, in);
        while (in.size() >= kCallHead) {
          auto id = get_le(in.data(), 8);
          auto len = get_le(in.data() + 8, 4);
          if (len > calls::kMaxItemBytes * 2 + wire::kMaxBodyBytes) {
            child_open = false;  // not a call of ours: drop the child's channel
            break;
          }
          if (in.size() < kCallHead + len) break;
          std::string request = in.substr(kCallHead, len);
          in.erase(0, kCallHead + len);
          session->call_object_for(pid, std::move(request),
                                   [self, id](const detail::Failure& f, std::string_view bytes) {
                                     self->answered(id, f, bytes);
                                   });
        }
      }
    }
    session->process_exited(pid);
  }
};

CallRelay::CallRelay(std::shared_ptr<ClientSession> session, int fd)
    : shared_(std::make_shared<Shared>()) {
  shared_->session = std::move(session);
  shared_->fd = fd;
  shared_->wake = ::eventfd(0, EFD_CLOEXEC);
  if (shared_->wake < 0) {
    ::close(fd);
    throw Error("could not make an eventfd for a Process's calls");
  }
}

void CallRelay::start(std::uint32_t pid) {
  shared_->pid = pid;
  shared_->thread = std::thread([s = shared_] { s->run(s); });
}

CallRelay::~CallRelay() {
  if (shared_->thread.joinable()) {
    {
      std::lock_guard lock(shared_->mu);
      shared_->stop = true;
      std::uint64_t one = 1;
      [[maybe_unused]] auto n = ::write(shared_->wake, &one, sizeof one);
    }
    shared_->thread.join();
  }
  // An answer still to come (its callback keeps Shared alive) sees wake < 0
  // and is dropped: the Process it was for has ended.
  std::lock_guard lock(shared_->mu);
  ::close(shared_->fd);
  ::close(shared_->wake);
  shared_->fd = shared_->wake = -1;
}

// ---- the child's channel ----------------------------------------------------

namespace {

class ParentChannel final : public detail::CallChannel,
                            public std::enable_shared_from_this<ParentChannel> {
 public:
  explicit ParentChannel(int fd) : fd_(fd) {}

  std::string call_object(std::string request) override {
    std::future<Answer> answered;
    std::uint64_t id;
    {
      std::lock_guard lock(mu_);
      if (gone_)
        throw ConnectionError(
            "this Process's parent is gone, and with it the pool it reached the coordinator "
            "through");
      id = next_id_++;
      answered = waiting_[id].get_future();
      if (!reading_) {
        // It keeps the channel alive and lives until the process exits.
        std::thread([self = shared_from_this()] { self->read_answers(); }).detach();
        reading_ = true;
      }
    }
    std::string frame;
    put_le(frame, id, 8);
    put_le(frame, request.size(), 4);
    frame += request;
    {
      std::lock_guard lock(send_mu_);
      send_all(fd_, frame);  // if the parent is gone, the reader fails the call
    }
    auto [failure, bytes] = answered.get();
    if (failure.code != ErrorCode::kNone) calls::throw_call_failure(failure);
    return std::move(bytes);
  }

 private:
  using Answer = std::pair<detail::Failure, std::string>;

  void read_answers() {
    for (;;) {
      char head[14];
      if (!read_exact(fd_, head, sizeof head)) break;
      auto id = get_le(head, 8);
      detail::Failure f;
      f.code = static_cast<ErrorCode>(get_le(head + 8, 2));
      f.message.resize(get_le(head + 10, 4));
      char len[4];
      if (!read_exact(fd_, f.message.data(), f.message.size()) || !read_exact(fd_, len, 4)) break;
      std::string bytes(get_le(len, 4), '\0');
      if (!read_exact(fd_, bytes.data(), bytes.size())) break;
      std::lock_guard lock(mu_);
      if (auto it = waiting_.find(id); it != waiting_.end()) {
        it->second.set_value({std::move(f), std::move(bytes)});
        waiting_.erase(it);
      }
    }
    std::lock_guard lock(mu_);
    gone_ = true;
    for (auto& [id, promise] : waiting_) {
      detail::Failure f;
      f.code = ErrorCode::kConnection;
      f.message = "this Process's parent went away during the call";
      promise.set_value({f, {}});
    }
    waiting_.clear();
  }

  int fd_;
  std::mutex send_mu_;
  std::mutex mu_;
  std::unordered_map<std::uint64_t, std::promise<Answer>> waiting_;
  std::uint64_t next_id_ = 1;
  bool gone_ = false;
  bool reading_ = false;
};

std::mutex g_parent_mu;
std::shared_ptr<detail::CallChannel> g_parent;

}  // namespace

void use_parent_channel(int fd) {
  std::lock_guard lock(g_parent_mu);
  g_parent = std::make_shared<ParentChannel>(fd);
}

std::shared_ptr<detail::CallChannel> parent_channel() {
  std::lock_guard lock(g_parent_mu);
  return g_parent;
}

}  // namespace dpool::internal
