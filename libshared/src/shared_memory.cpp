// dpool::SharedMemory over shm_open, and the clean-up of segments their
// creator forgot to unlink: at a normal exit here, and by the tracker
// (shm_tracker.hpp) when the creator dies any other way.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <dpool/errors.hpp>
#include <dpool/shared_memory.hpp>
#include <map>
#include <mutex>

#include "shm_tracker.hpp"

namespace dpool {
namespace {

// Segments this program created and has not unlinked or kept, with the pid
// that created each (the child of a bare fork() inherits the parent's list
// but must not unlink its segments); unlinked at a normal exit. g_mu also
// orders each create, unlink and keep with what the tracker is told.
std::mutex g_mu;
std::map<std::string, pid_t>& created() {
  static auto* names = [] {
    auto* s = new std::map<std::string, pid_t>;
    std::atexit([] {
      std::lock_guard lock(g_mu);
      for (auto& [n, pid] : created()) {
        if (pid != ::getpid()) continue;
        ::shm_unlink(("/" + n).c_str());
        internal::shm_untrack(n);  // so that the tracker, after us, unlinks nothing
      }
    });
    return s;
  }();
  return *names;
}

std::string path_of(const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos)
    throw Error("a SharedMemory name is a non-empty word without '/': \"" + name + "\"");
  return "/" + name;
}

[[noreturn]] void fail(const std::string& what, const std::string& name) {
  throw Error("SharedMemory \"" + name + "\": " + what + ": " + std::strerror(errno));
}

}  // namespace

struct SharedMemory::Mapping {
  std::string name;
  std::byte* data = nullptr;
  std::size_t size = 0;
  ~Mapping() {
    if (data) ::munmap(data, size);
  }
};

SharedMemory::SharedMemory(const std::string& name, std::size_t size, CreateTag) {
  auto path = path_of(name);
  std::lock_guard lock(g_mu);
  int fd = ::shm_open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    fail(errno == EEXIST ? "exists already (attach with SharedMemory(name))" : "cannot create",
         name);
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    ::close(fd);
    ::shm_unlink(path.c_str());
    fail("cannot size it", name);
  }
  void* p = size ? ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : nullptr;
  ::close(fd);
  if (p == MAP_FAILED) {
    ::shm_unlink(path.c_str());
    fail("cannot map it", name);
  }
  map_ = std::make_shared<Mapping>();
  map_->name = name;
  map_->data = static_cast<std::byte*>(p);
  map_->size = size;
  created()[name] = ::getpid();
  internal::shm_track(name);
}

SharedMemory::SharedMemory(const std::string& name) {
  auto path = path_of(name);
  int fd = ::shm_open(path.c_str(), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) fail(errno == ENOENT ? "there is no such segment" : "cannot open", name);
  struct stat st {};
  ::fstat(fd, &st);
  auto size = static_cast<std::size_t>(st.st_size);
  void* p = size ? ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : nullptr;
  ::close(fd);
  if (p == MAP_FAILED) fail("cannot map it", name);
  map_ = std::make_shared<Mapping>();
  map_->name = name;
  map_->data = static_cast<std::byte*>(p);
  map_->size = size;
}

std::byte* SharedMemory::data() const {
  return map_ ? map_->data : nullptr;
}

std::size_t SharedMemory::size() const {
  return map_ ? map_->size : 0;
}

const std::string& SharedMemory::name() const {
  static const std::string none;
  return map_ ? map_->name : none;
}

void SharedMemory::unlink() {
  if (!map_) return;
  std::lock_guard lock(g_mu);
  ::shm_unlink(path_of(map_->name).c_str());
  if (created().erase(map_->name)) internal::shm_untrack(map_->name);
}

void SharedMemory::keep() {
  if (!map_) return;
  std::lock_guard lock(g_mu);
  if (created().erase(map_->name)) internal::shm_untrack(map_->name);
}

}  // namespace dpool
