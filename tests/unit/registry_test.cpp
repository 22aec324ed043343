// The task registry (libshared/include/dpool/registry.hpp) and the type names
// behind signatures and fingerprints (dpool/detail/type_name.hpp).
#include <doctest/doctest.h>

#include <algorithm>
#include <dpool/errors.hpp>
#include <dpool/options.hpp>
#include <dpool/registry.hpp>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "text.hpp"

namespace {

int g_touched = 0;

struct Unserializable {
  int value = 0;
  template <class Ar>
  void save(Ar&) const {
    throw std::runtime_error("Unserializable refuses to be saved");
  }
  template <class Ar>
  void load(Ar&) {}
};

}  // namespace

int unit_square(int x) {
  return x * x;
}
int unit_twice(int x) {
  return 2 * x;
}  // same signature as unit_square
long unit_square_long(long x) {
  return x * x;
}
std::string unit_repeat(std::string s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}
std::size_t unit_length(const std::string& s) {
  return s.size();
}
std::size_t unit_length_by_value(std::string s) {
  return s.size();
}
void unit_touch(int x) {
  g_touched += x;
}
int unit_throws(int) {
  throw std::out_of_range("unit_throws always throws");
}
Unserializable unit_unserializable(int x) {
  return Unserializable{x};
}
int unit_noexcept(int x) noexcept {
  return x + 1;
}
int unit_unregistered(int x) {
  return x;
}
int unit_plain(int x) {
  return x - 1;
}

DPOOL_REGISTER_AS(unit_square, "unit_square");
DPOOL_REGISTER_AS(unit_twice, "unit_twice");
DPOOL_REGISTER_AS(unit_square_long, "unit_square_long");
DPOOL_REGISTER_AS(unit_repeat, "unit_repeat");
DPOOL_REGISTER_AS(unit_length, "unit_length");
DPOOL_REGISTER_AS(unit_length_by_value, "unit_length_by_value");
DPOOL_REGISTER_AS(unit_touch, "unit_touch");
DPOOL_REGISTER_AS(unit_throws, "unit_throws");
DPOOL_REGISTER_AS(unit_unserializable, "unit_unserializable");
DPOOL_REGISTER_AS(unit_noexcept, "unit_noexcept");
DPOOL_REGISTER(unit_plain);

namespace {

using dpool::detail::Registry;
using dpool::detail::TaskEntry;

const TaskEntry& entry(const char* name) {
  auto* e = Registry::instance().find(name);
  REQUIRE_MESSAGE(e != nullptr, "task " << name << " is not registered");
  return *e;
}

template <class T>
T decoded(const std::string& bytes) {
  T value{};
  dpool::detail::decode_into(bytes, value);
  return value;
}

std::string run(const TaskEntry& e, const std::string& args, bool chunk = false) {
  std::string out;
  e.invoke(args, chunk, out);
  return out;
}

using test_support::contains;

}  // namespace

TEST_CASE("DPOOL_REGISTER_AS registers a task under the chosen name") {
  auto& e = entry("unit_square");
  CHECK(e.name == "unit_square");
  CHECK(e.fn == reinterpret_cast<const void*>(&unit_square));
  CHECK(static_cast<bool>(e.invoke));
  CHECK(e.signature == "int(int)");
}

TEST_CASE("DPOOL_REGISTER registers a task under its name as written") {
  auto& e = entry("unit_plain");
  CHECK(e.fn == reinterpret_cast<const void*>(&unit_plain));
  CHECK(decoded<int>(run(e, dpool::detail::encode(std::tuple<int>{10}))) == 9);
}

TEST_CASE("a task is found by its function pointer") {
  auto* e = Registry::instance().find_fn(reinterpret_cast<const void*>(&unit_repeat));
  REQUIRE(e != nullptr);
  CHECK(e->name == "unit_repeat");
  CHECK(Registry::instance().find_fn(reinterpret_cast<const void*>(&unit_unregistered)) == nullptr);
}

TEST_CASE("an unknown name finds nothing") {
  CHECK(Registry::instance().find("unit_no_such_task") == nullptr);
  CHECK(Registry::instance().find("") == nullptr);
  CHECK(Registry::instance().find("unit_squar") == nullptr);
}

TEST_CASE("registered names are listed sorted and capped") {
  auto all = Registry::instance().names(1000);
  CHECK(std::is_sorted(all.begin(), all.end()));
  CHECK(std::find(all.begin(), all.end(), "unit_square") != all.end());
  CHECK(std::find(all.begin(), all.end(), "unit_plain") != all.end());
  CHECK(all.size() >= 11);
  auto two = Registry::instance().names(2);
  REQUIRE(two.size() == 2);
  CHECK(two[0] == all[0]);
  CHECK(two[1] == all[1]);
}

TEST_CASE("registering a name again replaces the first registration") {
  auto& square = entry("unit_square");
  TaskEntry first{"unit_replaced", "int(int)", 1, square.invoke, nullptr};
  TaskEntry second{"unit_replaced", "long(long)", 2, entry("unit_square_long").invoke, nullptr};
  auto before = Registry::instance().names(100000).size();
  Registry::instance().add(first);
  Registry::instance().add(second);
  CHECK(Registry::instance().names(100000).size() == before + 1);
  auto& e = entry("unit_replaced");
  CHECK(e.signature == "long(long)");
  CHECK(e.fingerprint == 2);
}

TEST_CASE("signatures name the result and argument types, stripped of const and references") {
  CHECK(entry("unit_square").signature == "int(int)");
  auto long_sig = entry("unit_square_long").signature;  // "long int(long int)" with GCC
  CHECK(contains(long_sig, "long"));
  CHECK(long_sig.find('(') != std::string::npos);
  CHECK(long_sig.substr(0, long_sig.find('(')) + "(" + long_sig.substr(0, long_sig.find('(')) +
            ")" ==
        long_sig);
  CHECK(entry("unit_touch").signature == "void(int)");
  auto repeat = entry("unit_repeat").signature;
  CHECK(contains(repeat, "string"));
  CHECK(contains(repeat, ", int)"));
  // The result type and the first argument are both std::string.
  auto result_type = repeat.substr(0, repeat.find('('));
  CHECK(contains(result_type, "string"));
  CHECK(repeat == result_type + "(" + result_type + ", int)");
  // const std::string& travels as std::string.
  CHECK(entry("unit_length").signature == entry("unit_length_by_value").signature);
  CHECK_FALSE(contains(entry("unit_length").signature, "&"));
  CHECK_FALSE(contains(entry("unit_length").signature, "const"));
  CHECK(entry("unit_noexcept").signature == "int(int)");
}

TEST_CASE("type names are readable") {
  CHECK(dpool::detail::type_name<int>() == "int");
  CHECK(dpool::detail::type_name<double>() == "double");
  CHECK(dpool::detail::type_name<unsigned char>() == "unsigned char");
  CHECK(contains(std::string(dpool::detail::type_name<std::vector<int>>()), "vector<int"));
  CHECK(dpool::detail::signature_of<void>() == "void()");
  CHECK((dpool::detail::signature_of<int, double, char>() == "int(double, char)"));
  CHECK((dpool::detail::signature_of<const int&, const double&>() == "int(double)"));
}

TEST_CASE("fingerprints are equal for equal signatures and differ otherwise") {
  auto& square = entry("unit_square");
  CHECK(square.fingerprint == entry("unit_twice").fingerprint);
  CHECK(square.fingerprint == entry("unit_noexcept").fingerprint);
  CHECK(square.fingerprint == dpool::detail::fingerprint_of("int(int)"));
  CHECK(square.fingerprint != entry("unit_square_long").fingerprint);
  CHECK(square.fingerprint != entry("unit_touch").fingerprint);
  CHECK(square.fingerprint != entry("unit_repeat").fingerprint);
  CHECK(entry("unit_length").fingerprint == entry("unit_length_by_value").fingerprint);
  // Pinned: both ends of a call must compute the same value.
  CHECK(dpool::detail::fingerprint_of("int(int)") == dpool::detail::fingerprint_of("int(int)"));
  CHECK(dpool::detail::fingerprint_of("int(int)") != dpool::detail::fingerprint_of("int(long)"));
  CHECK(dpool::detail::fingerprint_of("ab") != dpool::detail::fingerprint_of("ba"));
}

// type_name.hpp calls fingerprint_of FNV-1a, but its offset basis
// 1469598103934665603 has lost the last digit of FNV's 14695981039346656037
// (0xcbf29ce484222325), so it matches no other FNV-1a implementation.
TEST_CASE("the fingerprint is 64-bit FNV-1a, as its comment says") {
  CHECK(dpool::detail::fingerprint_of("") == 0xcbf29ce484222325ull);
  CHECK(dpool::detail::fingerprint_of("a") == 0xaf63dc4c8601ec8cull);
  CHECK(dpool::detail::fingerprint_of("foobar") == 0x85944171f73967e8ull);
}

TEST_CASE("invoking a task on encoded arguments gives its encoded result") {
  auto out = run(entry("unit_square"), dpool::detail::encode(std::tuple<int>{7}));
  CHECK(out == dpool::detail::encode(49));
  CHECK(decoded<int>(out) == 49);

  auto rep =
      run(entry("unit_repeat"), dpool::detail::encode(std::tuple<std::string, int>{"ab", 3}));
  CHECK(decoded<std::string>(rep) == "ababab");

  auto len = run(entry("unit_length"), dpool::detail::encode(std::tuple<std::string>{"hello"}));
  CHECK(decoded<std::size_t>(len) == 5);
}

TEST_CASE("invoke appends to the output buffer") {
  std::string out = "prefix";
  entry("unit_square").invoke(dpool::detail::encode(std::tuple<int>{3}), false, out);
  REQUIRE(out.rfind("prefix", 0) == 0);
  CHECK(decoded<int>(out.substr(6)) == 9);
}

TEST_CASE("a void task writes nothing and runs") {
  g_touched = 0;
  auto out = run(entry("unit_touch"), dpool::detail::encode(std::tuple<int>{5}));
  CHECK(out.empty());
  CHECK(g_touched == 5);
}

TEST_CASE("chunk mode runs the task on each argument tuple and returns a vector of results") {
  std::vector<std::tuple<int>> items = {{1}, {2}, {3}, {-4}};
  auto out = run(entry("unit_square"), dpool::detail::encode(items), true);
  CHECK(decoded<std::vector<int>>(out) == std::vector<int>{1, 4, 9, 16});

  std::vector<std::tuple<std::string, int>> reps = {{"x", 2}, {"yz", 1}, {"", 5}};
  auto rout = run(entry("unit_repeat"), dpool::detail::encode(reps), true);
  CHECK(decoded<std::vector<std::string>>(rout) == std::vector<std::string>{"xx", "yz", ""});

  auto empty =
      run(entry("unit_square"), dpool::detail::encode(std::vector<std::tuple<int>>{}), true);
  CHECK(decoded<std::vector<int>>(empty).empty());
}

TEST_CASE("chunk mode of a void task returns how many ran") {
  g_touched = 0;
  std::vector<std::tuple<int>> items = {{1}, {10}, {100}};
  auto out = run(entry("unit_touch"), dpool::detail::encode(items), true);
  CHECK(decoded<std::uint64_t>(out) == 3);
  CHECK(g_touched == 111);
}

TEST_CASE("undecodable arguments throw dpool::SerializationError") {
  auto& square = entry("unit_square");
  CHECK_THROWS_AS(run(square, ""), dpool::SerializationError);
  CHECK_THROWS_AS(run(square, "\x01"), dpool::SerializationError);
  CHECK_THROWS_AS(run(square, "", true), dpool::SerializationError);

  auto& repeat = entry("unit_repeat");
  auto good = dpool::detail::encode(std::tuple<std::string, int>{"abc", 2});
  for (std::size_t n = 0; n < good.size(); ++n) {
    CAPTURE(n);
    CHECK_THROWS_AS(run(repeat, good.substr(0, n)), dpool::SerializationError);
  }
  // A string length of 2^64-1.
  auto giant = good;
  for (int i = 1; i <= 8; ++i) giant[i] = '\xff';
  CHECK_THROWS_AS(run(repeat, giant), dpool::SerializationError);

  try {
    run(square, "");
    FAIL("no exception");
  } catch (const dpool::SerializationError& e) {
    CHECK(e.code() == dpool::ErrorCode::kSerialization);
    CHECK(contains(e.what(), "could not decode the arguments"));
  }
}

TEST_CASE("a result whose save() throws gives dpool::SerializationError") {
  auto& e = entry("unit_unserializable");
  try {
    run(e, dpool::detail::encode(std::tuple<int>{1}));
    FAIL("no exception");
  } catch (const dpool::SerializationError& err) {
    CHECK(err.code() == dpool::ErrorCode::kSerialization);
    CHECK(contains(err.what(), "Unserializable refuses to be saved"));
  }
  std::vector<std::tuple<int>> items = {{1}, {2}};
  CHECK_THROWS_AS(run(e, dpool::detail::encode(items), true), dpool::SerializationError);
}

TEST_CASE("an exception from the task itself passes through unchanged") {
  try {
    run(entry("unit_throws"), dpool::detail::encode(std::tuple<int>{1}));
    FAIL("no exception");
  } catch (const dpool::Error&) {
    FAIL("the task's own exception was wrapped in a dpool::Error");
  } catch (const std::out_of_range& e) {
    CHECK(std::string(e.what()) == "unit_throws always throws");
  }
}

TEST_CASE("Remote<int(int)> carries its name and the signature of int(int)") {
  dpool::Remote<int(int)> sq{"unit_square"};
  CHECK(sq.name() == "unit_square");
  using RemoteTraits = dpool::detail::FnTraits<dpool::Remote<int(int)>>;
  CHECK(RemoteTraits::signature() == "int(int)");
  CHECK(RemoteTraits::fingerprint() == entry("unit_square").fingerprint);
  using Other = dpool::detail::FnTraits<dpool::Remote<long(long)>>;
  CHECK(Other::fingerprint() != RemoteTraits::fingerprint());
}

TEST_CASE(
    "dpool::bind of a registered function makes a Call with its name, fingerprint and arguments") {
  auto call = dpool::bind(unit_square, 6);
  CHECK_FALSE(call.empty());
  CHECK(call.name == "unit_square");
  CHECK(call.fingerprint == entry("unit_square").fingerprint);
  CHECK(call.args == dpool::detail::encode(std::tuple<int>{6}));
  CHECK(decoded<int>(run(entry(call.name.c_str()), call.args)) == 36);
}

TEST_CASE("dpool::bind of a Remote makes a Call without the function being linked") {
  dpool::Remote<std::string(std::string, int)> rep{"unit_repeat"};
  auto call = dpool::bind(rep, "ab", 2);
  CHECK(call.name == "unit_repeat");
  CHECK(call.fingerprint == entry("unit_repeat").fingerprint);
  CHECK(decoded<std::string>(run(entry("unit_repeat"), call.args)) == "abab");
}

TEST_CASE("dpool::bind of an unregistered function throws dpool::UnknownTask") {
  CHECK_THROWS_AS(dpool::bind(unit_unregistered, 1), dpool::UnknownTask);
  CHECK(dpool::Call{}.empty());
}
