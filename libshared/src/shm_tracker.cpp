// The SharedMemory tracker: the creating program's side (start it, tell it
// what to clean) and the tracker process itself (shm_tracker.hpp).
//
// The socket carries messages of one op byte, a two-byte length (host order:
// both ends are the same program) and a payload: a segment's name, or for a
// semaphore the holder's pid, with the semaphore's block as SCM_RIGHTS. The
// tracker answers once, a byte when it is ready, so the program knows that
// the re-run took the role.
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
#include <string_view>
#include <utility>
#include <vector>

#include "child_process.hpp"
#include "fd_io.hpp"
#include "semaphore_shared.hpp"

namespace dpool::internal {
namespace {

constexpr const char* kMarker = "DPOOL_SHM_TRACKER";
constexpr char kTrack = 'T';
constexpr char kUntrack = 'U';
constexpr char kSemaphore = 'S';
constexpr char kEnded = 'E';  // the program ends normally: its permits are its to keep
constexpr char kReady = 'R';
constexpr int kReadyTimeoutMs = 10'000;  // bounds a re-run that never takes the role

// ---- the creating program's side -------------------------------------------

struct Client {
  std::mutex mu;
  int fd = -1;          // our end of the socket; -1 before the start or after a failure
  pid_t pid = -1;       // the tracker, reaped if it dies before us
  bool failed = false;  // no tracker for this process: do not try again
  std::set<std::pair<dev_t, ino_t>> watched;  // semaphore blocks sent to it
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
  c.watched.clear();  // the parent's holdings are the parent's
  c.mu.unlock();
}

void give_up(Client& c, const char* why) {
  spdlog::debug(
      "SharedMemory tracker: {}; segments are unlinked at a normal exit only, and semaphore "
      "permits held when this process ends are not given back",
      why);
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
    SpawnSpec spec;
    spec.program = "/proc/self/exe";
    spec.argv = {"dpool-shm-tracker"};
    spec.env = {{kMarker, "1"}};
    spec.blocked = {SIGINT, SIGTERM,
                    SIGHUP};  // until it ignores them: a Ctrl-C now must not kill it
    auto child = ChildProcess::spawn(spec);
    if (!wait_ready(child.socket())) {
      give_up(c, "the re-run of this program did not become the tracker");
      return false;  // ~ChildProcess kills and reaps it
    }
    c.fd = child.release_socket();
    c.pid = child.pid();
    child.release();  // it outlives this handle, and us by its clean-up
    static std::once_flag at_exit;
    std::call_once(at_exit, [] { std::atexit(shm_tracker_normal_end); });
    return true;
  } catch (const std::exception& e) {
    give_up(c, e.what());
    return false;
  }
}

// Sends one message, with `fd` attached if not -1; with c.mu held.
void write_message(Client& c, char op, std::string_view payload, int fd = -1) {
  auto len = static_cast<std::uint16_t>(payload.size());
  std::string msg(1, op);
  msg.append(reinterpret_cast<const char*>(&len), sizeof len);
  msg.append(payload.substr(0, len));
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  std::size_t off = 0;
  while (off < msg.size()) {
    iovec iov{msg.data() + off, msg.size() - off};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    if (fd >= 0 && off == 0) {  // with the message's first byte
      mh.msg_control = control;
      mh.msg_controllen = sizeof control;
      auto* cm = CMSG_FIRSTHDR(&mh);
      cm->cmsg_level = SOL_SOCKET;
      cm->cmsg_type = SCM_RIGHTS;
      cm->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    }
    ssize_t n = ::sendmsg(c.fd, &mh, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return give_up(c, "the tracker is gone");
    off += static_cast<std::size_t>(n);
  }
}

void send(char op, const std::string& name) {
  auto& c = client();
  std::lock_guard lock(c.mu);
  if (op == kUntrack && c.fd < 0) return;  // nothing was sent to track
  if (started(c)) write_message(c, op, name);
}

// ---- the tracker process ----------------------------------------------------

void detach_from_terminal_and_files() {
  ::prctl(PR_SET_NAME, "dpool-shmtrack");
  sigset_t ignored;
  sigemptyset(&ignored);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    ::signal(sig, SIG_IGN);
    sigaddset(&ignored, sig);
  }
  ::sigprocmask(SIG_UNBLOCK, &ignored, nullptr);  // blocked from the spawn until now
  ::close_range(kChildFd + 1, ~0U, 0);            // the program's inherited descriptors
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    ::dup2(null, STDIN_FILENO);
    ::dup2(null, STDOUT_FILENO);  // stderr stays: nothing is written to it unless broken
    ::close(null);
  }
}

struct Watched {
  SemaphoreShared* sem;
  pid_t holder;
};

// What the tracker learnt: segments to unlink, semaphores to give back to.
struct Ledger {
  bool ended_normally = false;  // kEnded came: the permits stay taken
  std::set<std::string> names;
  std::vector<Watched> semaphores;
  std::vector<int> fds;  // received, not yet matched with their message
};

void watch(Ledger& ledger, std::string_view payload) {
  if (ledger.fds.empty()) return;  // lost (MSG_CTRUNC): that one is not recovered
  int fd = ledger.fds.front();
  ledger.fds.erase(ledger.fds.begin());
  struct stat st {};
  std::int32_t pid = 0;
  if (payload.size() == sizeof pid) std::memcpy(&pid, payload.data(), sizeof pid);
  void* p = MAP_FAILED;
  if (pid > 0 && ::fstat(fd, &st) == 0 &&
      static_cast<std::size_t>(st.st_size) >= sizeof(SemaphoreShared))
    p = ::mmap(nullptr, sizeof(SemaphoreShared), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (p != MAP_FAILED) ledger.semaphores.push_back({static_cast<SemaphoreShared*>(p), pid});
}

// Applies the complete messages at the front of `buf` to `ledger`.
void apply(std::string& buf, Ledger& ledger) {
  constexpr std::size_t kHeader = 1 + sizeof(std::uint16_t);
  std::size_t at = 0;
  while (buf.size() - at >= kHeader) {
    std::uint16_t len;
    std::memcpy(&len, buf.data() + at + 1, sizeof len);
    if (buf.size() - at < kHeader + len) break;
    std::string payload = buf.substr(at + kHeader, len);
    if (buf[at] == kTrack)
      ledger.names.insert(std::move(payload));
    else if (buf[at] == kUntrack)
      ledger.names.erase(payload);
    else if (buf[at] == kSemaphore)
      watch(ledger, payload);
    else if (buf[at] == kEnded)
      ledger.ended_normally = true;
    at += kHeader + len;
  }
  buf.erase(0, at);
}

[[noreturn]] void run_tracker() {
  struct stat st {};
  if (::fstat(kChildFd, &st) != 0 || !S_ISSOCK(st.st_mode)) ::_exit(2);  // not started by us
  detach_from_terminal_and_files();
  if (::write(kChildFd, &kReady, 1) != 1) ::_exit(1);
  Ledger ledger;
  std::string buf;
  char chunk[4096];
  for (;;) {
    ssize_t n = recv_with_fds(kChildFd, chunk, ledger.fds);
    if (n <= 0) break;  // end-of-file: the program is gone
    buf.append(chunk, static_cast<std::size_t>(n));
    apply(buf, ledger);
  }
  for (auto& name : ledger.names) ::shm_unlink(("/" + name).c_str());
  if (!ledger.ended_normally)
    for (auto& w : ledger.semaphores) give_back(*w.sem, w.holder);
  ::_exit(0);
}

// Before main() (and, with libdpool.so, before the program's own static
// constructors): a re-run started as the tracker never reaches main().
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

void shm_tracker_normal_end() {
  auto& c = client();
  std::lock_guard lock(c.mu);
  if (c.fd >= 0) write_message(c, kEnded, {});
}

void semaphore_watch(int block_fd) {
  struct stat st {};
  if (::fstat(block_fd, &st) != 0) return;
  auto& c = client();
  std::lock_guard lock(c.mu);
  // The key stays unique while watched: the tracker keeps the memfd mapped.
  if (!c.watched.insert({st.st_dev, st.st_ino}).second) return;
  if (!started(c)) return;
  std::int32_t pid = ::getpid();
  write_message(c, kSemaphore, std::string_view(reinterpret_cast<const char*>(&pid), sizeof pid),
                block_fd);
}

}  // namespace dpool::internal
