// multiprocessing.Value and Array: values in shared memory, each with the
// recursive lock that guards it, for this program and its Processes on one
// machine. Cheap copyable handles; given as an argument to a dpool::Process
// they travel as a reference to the same memory.
#pragma once

#include <atomic>
#include <cstddef>
#include <dpool/shared_block.hpp>
#include <dpool/sync.hpp>
#include <initializer_list>
#include <new>
#include <type_traits>

namespace dpool {
namespace detail {

// A block holding a recursive robust mutex, then `n` values of T.
template <class T>
struct SharedArrayLayout {
  static_assert(std::is_trivially_copyable_v<T>,
                "a shared Value or Array holds its T as bytes: T must be trivially copyable");
  static constexpr std::size_t kMutexBytes = 64;  // room for a pthread_mutex_t
  static constexpr std::size_t kCountOffset = kMutexBytes;
  static constexpr std::size_t kDataOffset =
      (kCountOffset + sizeof(std::uint64_t) + alignof(T) - 1) / alignof(T) * alignof(T);
  static std::size_t bytes(std::size_t n) { return kDataOffset + n * sizeof(T); }
};

// The lock of a new Value or Array: an RLock at the block's start.
DPOOL_API RLock make_embedded_rlock(const std::shared_ptr<SharedBlock>& block);

}  // namespace detail

// multiprocessing.Value: one T in shared memory. value() is the T itself,
// guarded by get_lock() (hold it while reading and writing through value());
// load, store and fetch_add are atomic without the lock for arithmetic T.
template <class T>
class Value : public detail::BlockHandle {
  using Layout = detail::SharedArrayLayout<T>;

 public:
  explicit Value(T initial = T{})
      : BlockHandle(detail::SharedBlock::create(Layout::bytes(1))),
        lock_(detail::make_embedded_rlock(block_)) {
    new (data()) T(initial);
  }

  T& value() { return *data(); }
  const T& value() const { return *data(); }
  RLock& get_lock() { return lock_; }

  T load() const requires std::is_arithmetic_v<T> { return std::atomic_ref<T>(*data()).load(); }
  void store(T v) requires std::is_arithmetic_v<T> { std::atomic_ref<T>(*data()).store(v); }
  T fetch_add(T d) requires std::is_arithmetic_v<T> {
    return std::atomic_ref<T>(*data()).fetch_add(d);
  }

 private:
  T* data() const {
    return std::launder(
        reinterpret_cast<T*>(static_cast<char*>(block_->data()) + Layout::kDataOffset));
  }
  RLock lock_;

 public:
  template <class Ar>
  void load(Ar& ar) {
    BlockHandle::load(ar);
    lock_ = RLock(block_, 0);
  }
};

// multiprocessing.Array: a fixed number of T in shared memory, zeros or the
// values given, guarded by get_lock().
template <class T>
class Array : public detail::BlockHandle {
  using Layout = detail::SharedArrayLayout<T>;

 public:
  Array() = default;  // refers to nothing until assigned (as an argument before it is decoded)
  explicit Array(std::size_t n) : Array(n, nullptr) {}
  Array(std::initializer_list<T> values) : Array(values.size(), values.begin()) {}

  T& operator[](std::size_t i) { return data()[i]; }
  const T& operator[](std::size_t i) const { return data()[i]; }
  std::size_t size() const {
    if (!block_) return 0;
    return *reinterpret_cast<const std::uint64_t*>(static_cast<const char*>(block_->data()) +
                                                   Layout::kCountOffset);
  }
  T* begin() { return data(); }
  T* end() { return data() + size(); }
  const T* begin() const { return data(); }
  const T* end() const { return data() + size(); }
  RLock& get_lock() { return lock_; }

 private:
  Array(std::size_t n, const T* values)
      : BlockHandle(detail::SharedBlock::create(Layout::bytes(n))),
        lock_(detail::make_embedded_rlock(block_)) {
    *reinterpret_cast<std::uint64_t*>(static_cast<char*>(block_->data()) + Layout::kCountOffset) =
        n;
    for (std::size_t i = 0; i < n; ++i) new (data() + i) T(values ? values[i] : T{});
  }
  T* data() const {
    if (!block_) throw Error("this dpool::Array refers to nothing");
    return std::launder(
        reinterpret_cast<T*>(static_cast<char*>(block_->data()) + Layout::kDataOffset));
  }
  RLock lock_{nullptr, 0};

 public:
  template <class Ar>
  void load(Ar& ar) {
    BlockHandle::load(ar);
    lock_ = RLock(block_, 0);
  }
};

}  // namespace dpool
