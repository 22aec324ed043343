// multiprocessing.shared_memory.SharedMemory: a named block of memory that
// processes of this machine attach to by name (POSIX shared memory, in
// /dev/shm).
#pragma once

#include <cstddef>
#include <dpool/export.hpp>
#include <memory>
#include <string>

namespace dpool {

struct CreateTag {};
inline constexpr CreateTag create{};

// A copyable handle: copies share one mapping. The segment itself outlives
// every handle until unlink(); a segment that its creator never unlinked is
// unlinked when the creating program ends, however it ends (kill -9
// included: a tracker process started at the program's first create cleans
// up after it), unless keep() asked otherwise.
class DPOOL_API SharedMemory {
 public:
  // Creates the segment `name` (no leading '/') of `size` zero bytes. Throws
  // dpool::Error if it exists already or cannot be made.
  SharedMemory(const std::string& name, std::size_t size, CreateTag);
  // Attaches to the existing segment `name`. Throws dpool::Error if there is none.
  explicit SharedMemory(const std::string& name);

  std::byte* data() const;
  std::size_t size() const;
  const std::string& name() const;
  // Removes the name (attached handles keep their mapping); idempotent.
  void unlink();
  // Leaves the segment in place when this program exits.
  void keep();

  // As an argument of a Process or task: its name.
  template <class Ar>
  void save(Ar& ar) const {
    ar(name());
  }
  template <class Ar>
  void load(Ar& ar) {
    std::string n;
    ar(n);
    *this = SharedMemory(n);
  }
  SharedMemory() = default;  // refers to nothing until assigned

 private:
  struct Mapping;
  std::shared_ptr<Mapping> map_;
};

}  // namespace dpool
