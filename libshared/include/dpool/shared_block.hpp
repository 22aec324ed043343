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

  // Serialization of a handle's block: a descriptor passed to a Process.
  template <class Ar>
  static void save(Ar& ar, const std::shared_ptr<SharedBlock>& block) {
    ar(pass_fd(block->fd()));
  }
  template <class Ar>
  static std::shared_ptr<SharedBlock> load(Ar& ar) {
    std::uint32_t index = 0;
    ar(index);
    return attach(take_fd(index));
  }

 private:
  SharedBlock(int fd, void* data, std::size_t size) : fd_(fd), data_(data), size_(size) {}
  int fd_;
  void* data_;
  std::size_t size_;
};

}  // namespace dpool::detail
