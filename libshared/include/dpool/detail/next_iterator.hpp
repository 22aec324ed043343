// The input iterator of dpool's lazy ranges, over an owner's next().
#pragma once

#include <cstddef>
#include <iterator>
#include <optional>
#include <type_traits>

namespace dpool::detail {

// A single-pass input iterator over `owner->next()`, which returns
// std::optional<V> (nullopt ends the range) and may throw. When V is a
// pointer, the iterator yields what it points at. The owner outlives it.
template <class Owner, class V>
class NextIterator {
 public:
  using value_type = std::remove_cv_t<std::remove_pointer_t<V>>;
  using difference_type = std::ptrdiff_t;

  NextIterator() = default;
  explicit NextIterator(Owner* owner) : owner_(owner) { ++*this; }
  decltype(auto) operator*() const {
    if constexpr (std::is_pointer_v<V>)
      return **value_;
    else
      return *value_;
  }
  NextIterator& operator++() {
    value_ = owner_->next();
    return *this;
  }
  void operator++(int) { ++*this; }
  bool operator==(std::default_sentinel_t) const { return !value_; }

 private:
  Owner* owner_ = nullptr;
  std::optional<V> value_;
};

}  // namespace dpool::detail
