// Tasks are registered functions: a name plus serialized arguments. A program
// registers each task once, at namespace scope:
//
//   int square(int x) { return x * x; }
//   DPOOL_REGISTER(square);                 // known as "square"
//   DPOOL_REGISTER_AS(square, "math.sq");   // or under a chosen name
//
// and calls it by pointer (pool.apply(square, 3)) or, without linking the
// code, through a typed handle: dpool::Remote<int(int)> sq{"square"}.
#pragma once

#include <cstdint>
#include <dpool/detail/codec.hpp>
#include <dpool/detail/type_name.hpp>
#include <dpool/errors.hpp>
#include <dpool/export.hpp>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

namespace dpool {

// A typed handle to a task known only by its registered name.
template <class Sig>
class Remote;

template <class R, class... A>
class Remote<R(A...)> {
 public:
  explicit Remote(std::string name) : name_(std::move(name)) {}
  const std::string& name() const noexcept { return name_; }

 private:
  std::string name_;
};

namespace detail {

// Runs a task on serialized arguments and appends its serialized result to
// `out`. In chunk mode the arguments are a vector of argument tuples and the
// result a vector of results (a count for void tasks). Throws what the task
// throws, or dpool::SerializationError for undecodable arguments or an
// unserializable result.
using InvokeFn = void (*)(std::string_view args, bool chunk, std::string& out);

struct TaskEntry {
  std::string name;
  std::string signature;  // "int(int)"
  std::uint64_t fingerprint = 0;
  InvokeFn invoke = nullptr;
  const void* fn = nullptr;  // the registered function's address
};

// Process-wide table of registered tasks. Filled by static initializers;
// read-only afterwards, so lookups need no lock.
class DPOOL_API Registry {
 public:
  static Registry& instance();
  void add(TaskEntry entry);
  const TaskEntry* find(std::string_view name) const;
  const TaskEntry* find_fn(const void* fn) const;
  // Up to `max` registered names, sorted, for error messages.
  std::vector<std::string> names(std::size_t max) const;

 private:
  std::vector<TaskEntry> entries_;
};

template <class F>
struct FnTraits;

template <class R, class... A>
struct FnTraits<R (*)(A...)> {
  static_assert(((!std::is_lvalue_reference_v<A> ||
                  std::is_const_v<std::remove_reference_t<A>>)&&...),
                "a task cannot take a non-const reference: its arguments are copies");
  using Result = std::decay_t<R>;
  using Args = std::tuple<std::decay_t<A>...>;
  static const std::string& signature() {
    static const std::string s = signature_of<R, A...>();
    return s;
  }
  static std::uint64_t fingerprint() {
    static const std::uint64_t f = fingerprint_of(signature());
    return f;
  }
};
template <class R, class... A>
struct FnTraits<R (*)(A...) noexcept> : FnTraits<R (*)(A...)> {};
template <class R, class... A>
struct FnTraits<Remote<R(A...)>> : FnTraits<R (*)(A...)> {};

// Runs `decode`, turning what it throws into dpool::SerializationError.
template <class F>
auto decoding(const char* what, F&& decode) {
  try {
    return decode();
  } catch (const std::exception& e) {
    throw SerializationError(std::string("could not decode the ") + what +
                             " (caller and executor built from different code?): " + e.what());
  }
}

template <class T>
void decode_task_input(std::string_view bytes, T& value, const char* what) {
  decoding(what, [&] { decode_into(bytes, value); });
}

template <class T>
void encode_task_output(std::string& out, const T& value) {
  try {
    encode_into(out, value);
  } catch (const std::exception& e) {
    throw SerializationError(std::string("the task's result could not be serialized: ") + e.what());
  }
}

// The chunks of a task whose only argument is a number (not bool) carry their
// items as one block of raw values, and decode in place without a vector of
// tuples. The block has the bytes of std::vector<std::tuple<A>>, so either
// side may still use the general form.
template <class Args>
inline constexpr bool kBlockArgs = false;
template <BlockValue A>
inline constexpr bool kBlockArgs<std::tuple<A>> = true;

// Runs item i of a chunk through `call(i)` for i < n and writes the chunk's
// output: the count for a void task, else the results as a std::vector<R>
// (numbers as one block, straight into `out`).
template <class R, class Call>
void run_chunk(std::size_t n, Call&& call, std::string& out) {
  if constexpr (std::is_void_v<R>) {
    for (std::size_t i = 0; i < n; ++i) call(i);
    encode_task_output(out, static_cast<std::uint64_t>(n));
  } else if constexpr (BlockValue<R>) {
    BufferOutputArchive ar(out);
    std::size_t i = 0;
    write_block<R>(ar, n, [&] { return call(i++); });
  } else {
    std::vector<R> results;
    results.reserve(n);
    for (std::size_t i = 0; i < n; ++i) results.push_back(call(i));
    encode_task_output(out, results);
  }
}

template <auto Fn>
void invoke(std::string_view bytes, bool chunk, std::string& out) {
  using T = FnTraits<decltype(Fn)>;
  using R = typename T::Result;
  using Args = typename T::Args;
  if (!chunk) {
    Args args;
    decode_task_input(bytes, args, "arguments");
    if constexpr (std::is_void_v<R>) {
      std::apply(Fn, std::move(args));
    } else {
      encode_task_output(out, std::apply(Fn, std::move(args)));
    }
    return;
  }
  if constexpr (kBlockArgs<Args>) {
    const auto items = decoding("arguments of a chunk", [&] {
      BufferInputArchive ar(bytes);
      return read_block<std::tuple_element_t<0, Args>>(ar);
    });
    run_chunk<R>(
        items.size(), [&](std::size_t i) { return Fn(items[i]); }, out);
  } else {
    std::vector<Args> items;
    decode_task_input(bytes, items, "arguments of a chunk");
    run_chunk<R>(
        items.size(), [&](std::size_t i) { return std::apply(Fn, std::move(items[i])); }, out);
  }
}

template <auto Fn>
bool register_task(const char* name) {
  using T = FnTraits<decltype(Fn)>;
  Registry::instance().add(TaskEntry{name, T::signature(), T::fingerprint(), &invoke<Fn>,
                                     reinterpret_cast<const void*>(Fn)});
  return true;
}

}  // namespace detail
}  // namespace dpool

#define DPOOL_DETAIL_CAT2(a, b) a##b
#define DPOOL_DETAIL_CAT(a, b) DPOOL_DETAIL_CAT2(a, b)

// Registers `fn` under `name`. Use at namespace scope, once per task.
#define DPOOL_REGISTER_AS(fn, name)                                                     \
  [[maybe_unused]] static const bool DPOOL_DETAIL_CAT(dpool_registered_, __COUNTER__) = \
      ::dpool::detail::register_task<&fn>(name)

// Registers `fn` under its own name as written.
#define DPOOL_REGISTER(fn) DPOOL_REGISTER_AS(fn, #fn)
