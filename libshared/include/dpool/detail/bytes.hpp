// An immutable, shared view of serialized bytes whose owner may be a string,
// a received ZeroMQ message or anything else. Copying shares; no byte is copied.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace dpool::detail {

class Bytes {
 public:
  Bytes() = default;
  Bytes(std::shared_ptr<const void> owner, const char* data, std::size_t size)
      : owner_(std::move(owner)), data_(data), size_(size) {}
  static Bytes from(std::string&& s) {
    auto owner = std::make_shared<const std::string>(std::move(s));
    return Bytes(owner, owner->data(), owner->size());
  }
  const char* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::string_view view() const noexcept { return {data_, size_}; }

 private:
  std::shared_ptr<const void> owner_;
  const char* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace dpool::detail
