// The SharedMemory tracker: the creating program's side (start it, tell it
// what to clean) and the tracker process itself (shm_tracker.hpp).
//
// The socket carries messages of one op byte, a two-byte length (host order:
// both ends are the same program) and the name. The tracker answers once, a
// byte when it is ready, so the program knows that the re-run took the role.
#include "shm_tracker.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <set>

#include "child_process.hpp"

namespace dpool::internal {
namespace {

constexpr const char* kMarker = "DPOOL_SHM_TRACKER";
constexpr char kTrack = 'T';
constexpr char kUntrack = 'U';
constexpr char kReady = 'R';
constexpr int kReadyTimeoutMs = 10'000;  // bounds a re-run that never takes the role

// ---- the creating program's side -------------------------------------------

struct Client {
  std::mutex mu;
  int fd = -1;          // our end of the socket; -1 before the start or after a failure
  pid_t pid = -1;       // the tracker, reaped if it dies before us
  bool failed = false;  // no tracker for this process: do not try again
};

Client& client() {
  static auto* c = new Client;  // never destroyed: atexit handlers still send to it
  return *c;
}

// A bare fork()'s child must not hold the tracker's socket (it would keep
// the tracker alive after our death) nor send to it: it starts its own.
void on_fork_prepare() {
  client().mu.lock();
}
void on_fork_parent() {
  client().mu.unlock();
}
void on_fork_child() {
  auto& c = client();
  if (c.fd >= 0) ::close(c.fd);
  c.fd = -1;
  c.pid = -1;
  c.failed = false;
  c.mu.unlock();
}

void give_up(Client& c, const char* why) {
  spdlog::debug("SharedMemory tracker: {}; segments are unlinked at a normal exit only", why);
  if (c.fd >= 0) ::close(c.fd);
  c.fd = -1;
  if (c.pid > 0) ::waitpid(c.pid, nullptr, WNOHANG);  // a dead tracker is no zombie of ours
  c.pid = -1;
  c.failed = true;
}

bool wait_ready(int fd) {
  pollfd p{fd, POLLIN, 0};
  int n;
  do n = ::poll(&p, 1, kReadyTimeoutMs);
  while (n < 0 && errno == EINTR);
  char b = 0;
  return n > 0 && ::read(fd, &b, 1) == 1 && b == kReady;
}

// Starts the tracker if this process has none; with c.mu held.
bool started(Client& c) {
  if (c.fd >= 0) return true;
  if (c.failed) return false;
  static std::once_flag atfork;
  std::call_once(atfork, [] { ::pthread_atfork(on_fork_prepare, on_fork_parent, on_fork_child); });
  try {
    SpawnSpec spec{"/proc/self/exe", {"dpool-shm-tracker"}, {{kMarker, "1"}}, {}};
    auto child = ChildProcess::spawn(spec);
    if (!wait_ready(child.socket())) {
      give_up(c, "the re-run of this program did not become the tracker");
      return false;  // ~ChildProcess kills and reaps it
    }
    c.fd = child.release_socket();
    c.pid = child.pid();
    child.release();  // it outlives this handle, and us by its clean-up
    return true;
  } catch (const std::exception& e) {
    give_up(c, e.what());
    return false;
  }
}

void send(char op, const std::string& name) {
  auto& c = client();
  std::lock_guard lock(c.mu);
  if (op == kUntrack && c.fd < 0) return;  // nothing was sent to track
  if (!started(c)) return;
  auto len = static_cast<std::uint16_t>(name.size());
  std::string msg(1, op);
  msg.append(reinterpret_cast<const char*>(&len), sizeof len);
  msg.append(name, 0, len);
  std::size_t off = 0;
  while (off < msg.size()) {
    ssize_t n = ::send(c.fd, msg.data() + off, msg.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return give_up(c, "the tracker is gone");
    off += static_cast<std::size_t>(n);
  }
}

// ---- the tracker process ----------------------------------------------------

void detach_from_terminal_and_files() {
  ::prctl(PR_SET_NAME, "dpool-shmtrack");
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGTERM, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  ::close_range(kChildFd + 1, ~0U, 0);  // the program's inherited descriptors
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    ::dup2(null, STDIN_FILENO);
    ::dup2(null, STDOUT_FILENO);  // stderr stays: nothing is written to it unless broken
    ::close(null);
  }
}

// Applies the complete messages at the front of `buf` to `names`.
void apply(std::string& buf, std::set<std::string>& names) {
  constexpr std::size_t kHeader = 1 + sizeof(std::uint16_t);
  std::size_t at = 0;
  while (buf.size() - at >= kHeader) {
    std::uint16_t len;
    std::memcpy(&len, buf.data() + at + 1, sizeof len);
    if (buf.size() - at < kHeader + len) break;
    std::string name = buf.substr(at + kHeader, len);
    if (buf[at] == kTrack)
      names.insert(std::move(name));
    else
      names.erase(name);
    at += kHeader + len;
  }
  buf.erase(0, at);
}

[[noreturn]] void run_tracker() {
  struct stat st {};
  if (::fstat(kChildFd, &st) != 0 || !S_ISSOCK(st.st_mode)) ::_exit(2);  // not started by us
  detach_from_terminal_and_files();
  if (::write(kChildFd, &kReady, 1) != 1) ::_exit(1);
  std::set<std::string> names;
  std::string buf;
  char chunk[4096];
  for (;;) {
    ssize_t n = ::read(kChildFd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // end-of-file: the program is gone
    buf.append(chunk, static_cast<std::size_t>(n));
    apply(buf, names);
  }
  for (auto& name : names) ::shm_unlink(("/" + name).c_str());
  ::_exit(0);
}

// Before main() and the program's static constructors: a re-run started as
// the tracker never reaches the program's own code.
[[gnu::constructor]] void become_shm_tracker_if_spawned() {
  if (std::getenv(kMarker)) run_tracker();
}

}  // namespace

void shm_track(const std::string& name) {
  send(kTrack, name);
}

void shm_untrack(const std::string& name) {
  send(kUntrack, name);
}

}  // namespace dpool::internal
