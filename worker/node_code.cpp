#include "node_code.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <asio/local/stream_protocol.hpp>
#include <asio/read.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace dpool::internal {
namespace {

// A library that takes longer than this to load (its static initializers
// hang) is refused.
constexpr auto kCheckLimit = std::chrono::seconds(30);

}  // namespace

NodeCode::NodeCode(asio::io_context& io, std::string node, bool accept, std::string checker,
                   Hooks hooks)
    : io_(io),
      node_(std::move(node)),
      accept_(accept),
      checker_(std::move(checker)),
      hooks_(std::move(hooks)) {}

NodeCode::~NodeCode() {
  *alive_ = false;
  child_ = ChildProcess();  // kills and reaps a check still running
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

void NodeCode::receive(wire::Code&& code, Payload&& bytes) {
  if (!accept_)
    return answer(code.seq,
                  "node " + node_ + " does not accept pushed code (start it with --accept-code)");
  std::string path;
  if (auto why = write(code, bytes, path); !why.empty()) return answer(code.seq, why);
  queue_.push_back({std::move(code), std::move(path)});
  next();
}

std::string NodeCode::write(const wire::Code& code, const Payload& bytes, std::string& path) {
  if (code.name.empty() || code.name.find('/') != std::string::npos || code.name == "." ||
      code.name == "..")
    return "a library without a plain file name (" + code.name + ")";
  if (dir_.empty()) {
    auto base = std::filesystem::temp_directory_path() / "dpool-code-XXXXXX";
    std::string pattern = base.string();
    if (!::mkdtemp(pattern.data()))
      return "cannot make a directory for pushed code in " + base.parent_path().string() + ": " +
             std::strerror(errno);
    dir_ = pattern;
  }
  // Named by its digest: the same bytes pushed again are the same file, and
  // a file executors have mapped is never written over (a new one is
  // written aside and renamed into place).
  path = dir_ + "/" + code.digest.substr(0, 16) + "-" + code.name;
  if (std::filesystem::exists(path)) return {};
  auto aside = path + ".part";
  int fd = ::open(aside.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return "cannot write " + aside + ": " + std::strerror(errno);
  auto view = bytes.view();
  while (!view.empty()) {
    auto n = ::write(fd, view.data(), view.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string why = "cannot write " + aside + ": " + std::strerror(errno);
      ::close(fd);
      ::unlink(aside.c_str());
      return why;
    }
    view.remove_prefix(static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (::rename(aside.c_str(), path.c_str()) != 0) {
    std::string why = "cannot rename " + aside + ": " + std::strerror(errno);
    ::unlink(aside.c_str());
    return why;
  }
  return {};
}

void NodeCode::next() {
  if (checking_ || queue_.empty()) return;
  auto& c = queue_.front();
  try {
    child_ = ChildProcess::spawn(SpawnSpec{checker_, {checker_, "--check", c.path}, {}, {}});
  } catch (const std::exception& e) {
    return finish(std::string("cannot start ") + checker_ + " to try it: " + e.what());
  }
  checking_ = true;
  auto socket = std::make_shared<asio::local::stream_protocol::socket>(io_);
  socket->assign(asio::local::stream_protocol(), child_.release_socket());
  auto text = std::make_shared<std::string>();
  timer_ = std::make_unique<asio::steady_timer>(io_, kCheckLimit);
  timer_->async_wait([this, alive = alive_](const asio::error_code& ec) {
    if (*alive && !ec) child_.kill();  // its socket closes: the read below ends
  });
  asio::async_read(*socket, asio::dynamic_buffer(*text),
                   [this, socket, text, alive = alive_](const asio::error_code&, std::size_t) {
                     if (!*alive) return;
                     timer_->cancel();
                     auto [signal, code] = child_.reap();  // it closed the socket: it exits
                     if (signal == 0 && code == 0) return finish({});
                     finish(!text->empty() ? *text
                            : signal       ? "it was killed by signal " + std::to_string(signal) +
                                           " while loading (or took more than 30 s)"
                                     : "its check exited with code " + std::to_string(code));
                   });
}

void NodeCode::finish(const std::string& error) {
  auto c = std::move(queue_.front());
  queue_.pop_front();
  checking_ = false;
  if (error.empty()) {
    if (auto old = loaded_.find(c.code.name); old != loaded_.end() && old->second != c.path) {
      std::error_code ignored;
      std::filesystem::remove(old->second, ignored);  // running executors keep their mapping
    }
    loaded_[c.code.name] = c.path;
    spdlog::info("node {}: loaded the pushed library {} (sha256 {}); new executors have it", node_,
                 c.code.name, c.code.digest.substr(0, 16));
    hooks_.adopted();
  } else {
    std::error_code ignored;
    if (loaded_.count(c.code.name) == 0 || loaded_[c.code.name] != c.path)
      std::filesystem::remove(c.path, ignored);
    spdlog::warn("node {}: the pushed library {} does not load: {}", node_, c.code.name, error);
  }
  answer(c.code.seq, error.empty() ? std::string() : "it does not load: " + error);
  next();
}

void NodeCode::answer(std::uint64_t seq, std::string error) {
  wire::Loaded l;
  l.seq = seq;
  l.loaded = error.empty();
  l.error = std::move(error);
  hooks_.answer(std::move(l));
}

std::string NodeCode::env() const {
  std::string s;
  for (auto& [name, path] : loaded_) s += (s.empty() ? "" : ":") + path;
  return s;
}

}  // namespace dpool::internal
