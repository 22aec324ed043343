// How a call names its function and encodes its arguments: shared by the
// pool verbs, dpool::bind and dpool::Process.
#pragma once

#include <dpool/detail/codec.hpp>
#include <dpool/errors.hpp>
#include <dpool/registry.hpp>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace dpool::detail {

template <class F>
std::string task_name(const F& f) {
  if constexpr (std::is_pointer_v<F>) {
    auto* e = Registry::instance().find_fn(reinterpret_cast<const void*>(f));
    if (!e)
      throw UnknownTask(
          "this function is not registered as a task; add DPOOL_REGISTER(function_name) at "
          "namespace scope next to its definition");
    return e->name;
  } else {
    return f.name();
  }
}

// Function pointers and Remote handles; anything else is a compile error.
template <class F>
using Callable =
    std::conditional_t<std::is_function_v<std::remove_pointer_t<std::decay_t<F>>>,
                       std::add_pointer_t<std::remove_pointer_t<std::decay_t<F>>>, std::decay_t<F>>;

template <class F>
using ResultOf = typename FnTraits<Callable<F>>::Result;

// Call arguments and map items are written straight into the archive in the
// layout of the task's argument tuple (T::Args), without building that tuple
// first: a value that already has its parameter's type is written where it is,
// so a large argument is not copied before it is encoded. A value of another
// type is converted to the parameter's type first, as the tuple would do.

template <class P, class X>
void write_param(BufferOutputArchive& ar, X&& x) {
  if constexpr (std::is_same_v<std::remove_cvref_t<X>, P>) {
    ar(std::as_const(x));
  } else {
    const P value(std::forward<X>(x));
    ar(value);
  }
}

// True when each argument converts to its own parameter, so the arguments can
// be written one by one (rather than, say, one tuple passed for them all).
template <class... P, class... A>
constexpr bool per_parameter(std::type_identity<std::tuple<P...>>, std::type_identity<A>...) {
  if constexpr (sizeof...(P) != sizeof...(A)) {
    return false;
  } else {
    return (std::is_constructible_v<P, A&&> && ...);
  }
}

template <class... P, class... A>
void write_params(BufferOutputArchive& ar, std::type_identity<std::tuple<P...>>, A&&... args) {
  (write_param<P>(ar, std::forward<A>(args)), ...);
}

// The bytes of Args(args...).
template <class Args, class... A>
std::string encode_call(A&&... args) {
  static_assert(std::is_constructible_v<Args, A&&...>,
                "the arguments do not match the task's parameters");
  std::string out = encode_buffer((std::size_t{1} + ... + encoded_size_hint(args)));
  BufferOutputArchive ar(out);
  if constexpr (sizeof...(A) == 0) {
    // A task without parameters: the empty tuple encodes to nothing.
  } else if constexpr (per_parameter(std::type_identity<Args>{}, std::type_identity<A>{}...)) {
    write_params(ar, std::type_identity<Args>{}, std::forward<A>(args)...);
  } else {
    ar(Args(std::forward<A>(args)...));
  }
  return out;
}

}  // namespace dpool::detail
