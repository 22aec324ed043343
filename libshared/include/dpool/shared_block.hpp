// A block of memory shared by this program and its Processes on one
// machine (a memfd each process maps), behind Queue, Value, Array, Lock and
// the other synchronisation objects. Handles to such objects hold a
// shared_ptr to their block; given as an argument to a Process, a block
// travels as its descriptor (see detail::FdCollector).
#pragma once

#include <cstddef>
#include <cstdint>
#include <dpool/connection.hpp>
#include <dpool/export.hpp>
#include <memory>
#include <string>

namespace dpool::detail {

class DPOOL_API SharedBlock {
 public:
  // A new zero-filled block of `size` bytes. Throws dpool::Error when the
  // system refuses (memfd_create, ftruncate, mmap).
  static std::shared_ptr<SharedBlock> create(std::size_t size);
  // The block behind `fd`, a descriptor from create's; takes the descriptor.
  static std::shared_ptr<SharedBlock> attach(int fd);
  ~SharedBlock();
  SharedBlock(const SharedBlock&) = delete;
  SharedBlock& operator=(const SharedBlock&) = delete;

  void* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  int fd() const noexcept { return fd_; }

  // How a handle's block travels. To a Process being started: as a
  // descriptor it receives (FdCollector). Anywhere else (a local-mode task):
  // as this process's descriptor number, which a process on this machine
  // opens through /proc while the handle lives here. `manager_equivalent`
  // (e.g. "mgr.lock") names what to use instead in the error a process on
  // another machine gets.
  struct Ref {
    std::uint8_t kind = 0;  // 0: descriptor passed; 1: /proc/<pid>/fd/<fd> on machine `boot`
    std::uint32_t index = 0;
    std::string boot, host;
    std::int32_t pid = 0, fd = -1;
    template <class Ar>
    void serialize(Ar& ar) {
      ar(kind, index, boot, host, pid, fd);
    }
  };
  Ref ref() const;
  static std::shared_ptr<SharedBlock> from(const Ref& ref, const char* what,
                                           const char* manager_equivalent);

  template <class Ar>
  static void save(Ar& ar, const std::shared_ptr<SharedBlock>& block) {
    ar(block->ref());
  }
  template <class Ar>
  static std::shared_ptr<SharedBlock> load(Ar& ar, const char* what = "shared object",
                                           const char* manager_equivalent = "the Manager") {
    Ref r;
    ar(r);
    return from(r, what, manager_equivalent);
  }

 private:
  SharedBlock(int fd, void* data, std::size_t size) : fd_(fd), data_(data), size_(size) {}
  int fd_;
  void* data_;
  std::size_t size_;
};

}  // namespace dpool::detail
