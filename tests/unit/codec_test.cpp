// The argument and result codec (libshared/include/dpool/detail/codec.hpp),
// the chunk encoders of pool.hpp and the block path of registry.hpp.
#include <doctest/doctest.h>

#include <cereal/archives/portable_binary.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <dpool/async_result.hpp>
#include <dpool/detail/codec.hpp>
#include <dpool/errors.hpp>
#include <dpool/pool.hpp>
#include <dpool/registry.hpp>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <ranges>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <unordered_map>
#include <variant>
#include <vector>

#include "allocation_tracking.hpp"

namespace {

using dpool::detail::decode_into;
using dpool::detail::encode;

using test_support::largest_allocation_during;

template <class T>
T round_trip(const T& value) {
  T back{};
  decode_into(encode(value), back);
  return back;
}

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen());
  return s;
}

// The archive's first byte followed by `tail`.
std::string archive_of(const std::string& tail) {
  return std::string(1, dpool::detail::kLittleEndianFlag) + tail;
}
std::string u64_bytes(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

struct Point {
  int x = 0;
  double y = 0;
  std::string label;
  template <class Ar>
  void serialize(Ar& ar) {
    ar(x, y, label);
  }
  bool operator==(const Point&) const = default;
};

struct Shape {
  std::string name;
  std::vector<Point> points;
  std::optional<Point> centre;
  std::map<std::string, std::vector<int>> tags;
  template <class Ar>
  void serialize(Ar& ar) {
    ar(name, points, centre, tags);
  }
  bool operator==(const Shape&) const = default;
};

// Versioned, with separate save and load: cereal writes the version once.
struct Versioned {
  std::uint16_t a = 0;
  std::int64_t b = 0;
  template <class Ar>
  void save(Ar& ar, std::uint32_t version) const {
    ar(a, b, version);
  }
  template <class Ar>
  void load(Ar& ar, std::uint32_t version) {
    std::uint32_t stored = 0;
    ar(a, b, stored);
    CHECK(stored == version);
  }
  bool operator==(const Versioned&) const = default;
};

enum class Colour : std::uint8_t { kRed = 1, kBlue = 7 };

struct Empty {
  bool operator==(const Empty&) const = default;
};

Shape sample_shape() {
  Shape s;
  s.name = "triangle";
  s.points = {{1, 0.5, "a"}, {-2, 1e300, ""}, {3, -0.0, std::string(300, 'z')}};
  s.centre = Point{7, 3.25, "c"};
  s.tags = {{"odd", {1, 3, 5}}, {"none", {}}};
  return s;
}

}  // namespace

CEREAL_CLASS_VERSION(Versioned, 3)

int codec_square(int x) {
  return x * x;
}
double codec_half(std::int64_t x) {
  return static_cast<double>(x) / 2;
}
std::string codec_text(int x) {
  return std::to_string(x);
}
int g_codec_sum = 0;
void codec_add(int x) {
  g_codec_sum += x;
}
bool codec_odd(std::uint16_t x) {
  return x % 2 != 0;
}
DPOOL_REGISTER_AS(codec_square, "codec_square");
DPOOL_REGISTER_AS(codec_half, "codec_half");
DPOOL_REGISTER_AS(codec_text, "codec_text");
DPOOL_REGISTER_AS(codec_add, "codec_add");
DPOOL_REGISTER_AS(codec_odd, "codec_odd");

namespace {

std::string run(const char* task, const std::string& args, bool chunk) {
  auto* e = dpool::detail::Registry::instance().find(task);
  REQUIRE(e != nullptr);
  std::string out;
  e->invoke(args, chunk, out);
  return out;
}

}  // namespace

TEST_CASE("arithmetic values round-trip at their fixed width, little-endian") {
  CHECK(encode(std::int32_t{0x01020304}) == archive_of(std::string("\x04\x03\x02\x01", 4)));
  CHECK(encode(std::uint64_t{1}) == archive_of(u64_bytes(1)));
  CHECK(encode(true, false) == archive_of(std::string("\x01\x00", 2)));

  CHECK(round_trip(std::int8_t{-5}) == -5);
  CHECK(round_trip(std::uint8_t{250}) == 250);
  CHECK(round_trip(std::int16_t{-30000}) == -30000);
  CHECK(round_trip(std::numeric_limits<std::int64_t>::min()) ==
        std::numeric_limits<std::int64_t>::min());
  CHECK(round_trip(std::numeric_limits<std::uint64_t>::max()) ==
        std::numeric_limits<std::uint64_t>::max());
  CHECK(round_trip(3.5f) == 3.5f);
  CHECK(round_trip(-1e-300) == -1e-300);
  CHECK(std::isnan(round_trip(std::numeric_limits<double>::quiet_NaN())));
  CHECK(round_trip('q') == 'q');
  CHECK(round_trip(true) == true);

  int a = 0;
  double b = 0;
  char c = 0;
  decode_into(encode(1, 2.5, 'x'), a, b, c);
  CHECK(a == 1);
  CHECK(b == 2.5);
  CHECK(c == 'x');
}

TEST_CASE("a bool byte other than 0 or 1 reads as true") {
  bool b = false;
  decode_into(archive_of("\x02"), b);
  CHECK(b == true);
}

TEST_CASE("strings round-trip, empty and large") {
  CHECK(round_trip(std::string()).empty());
  CHECK(encode(std::string()) == archive_of(u64_bytes(0)));
  CHECK(encode(std::string("hi")) == archive_of(u64_bytes(2) + "hi"));
  const auto big = random_bytes(1 << 20, 1);
  CHECK(round_trip(big) == big);
  CHECK(round_trip(std::u32string(U"\u00e9t\u00e9")) == U"\u00e9t\u00e9");
  // Strings at odd offsets, after values of other widths.
  std::string s1, s2;
  std::uint8_t x = 0;
  decode_into(encode(std::uint8_t{9}, std::string("abc"), std::string(1000, 'q')), x, s1, s2);
  CHECK(x == 9);
  CHECK(s1 == "abc");
  CHECK(s2 == std::string(1000, 'q'));
}

TEST_CASE("a large string is encoded into a buffer sized once") {
  const auto big = random_bytes(1 << 20, 2);
  const auto bytes = encode(big);
  CHECK(bytes.size() == 1 + 8 + big.size());
  CHECK(bytes.capacity() < bytes.size() + 64);
  const auto call = dpool::detail::encode_call<std::tuple<std::string, int>>(big, 3);
  CHECK(call.capacity() < call.size() + 64);
}

TEST_CASE("a spent large buffer is reused by the next large encode, and only one is kept") {
  using dpool::detail::keep_large_buffer;
  using dpool::detail::kLargeBuffer;
  using dpool::detail::kMaxKeptBuffer;
  using dpool::detail::large_buffer;
  const auto big = random_bytes(kLargeBuffer + 100, 3);

  auto first = dpool::detail::encode_call<std::tuple<std::string>>(big);
  const char* where = first.data();
  keep_large_buffer(std::move(first));
  auto second = dpool::detail::encode_call<std::tuple<std::string>>(big);
  CHECK(second.data() == where);  // the same memory, written again
  CHECK(second == encode(std::tuple<std::string>{big}));

  // Taken: the next one is new.
  auto third = large_buffer(kLargeBuffer);
  CHECK(third.data() != where);
  CHECK(third.empty());
  CHECK(third.capacity() >= kLargeBuffer);

  // The last one offered is kept; a request larger than it, or less than
  // half of it, gets a new buffer.
  keep_large_buffer(std::move(third));
  const char* last = second.data();
  keep_large_buffer(std::move(second));
  auto again = large_buffer(kLargeBuffer);
  CHECK(again.data() == last);
  keep_large_buffer(std::move(again));
  auto bigger = large_buffer(kLargeBuffer * 4);
  CHECK(bigger.data() != last);
  CHECK(bigger.capacity() >= kLargeBuffer * 4);
  keep_large_buffer(std::move(bigger));
  CHECK(large_buffer(kLargeBuffer).capacity() < kLargeBuffer * 4);  // not the 4x one

  // Small buffers and huge ones are not kept: they do not replace the one
  // kept.
  std::string medium;
  medium.reserve(kLargeBuffer);
  const char* medium_at = medium.data();
  keep_large_buffer(std::move(medium));
  keep_large_buffer(std::string(1024, 'x'));
  std::string huge;
  huge.reserve(kMaxKeptBuffer + 1);
  keep_large_buffer(std::move(huge));
  CHECK(large_buffer(kLargeBuffer).data() == medium_at);
}

TEST_CASE("vectors round-trip") {
  CHECK(round_trip(std::vector<int>{}).empty());
  CHECK(round_trip(std::vector<int>{1, -2, 3}) == std::vector<int>{1, -2, 3});
  CHECK(round_trip(std::vector<double>{0.5, -1e10}) == std::vector<double>{0.5, -1e10});
  CHECK(round_trip(std::vector<bool>{true, false, true}) == std::vector<bool>{true, false, true});
  CHECK(round_trip(std::vector<std::string>{"a", "", "ccc"}) ==
        std::vector<std::string>{"a", "", "ccc"});
  CHECK(round_trip(std::vector<std::vector<std::int16_t>>{{1}, {}, {2, 3}}) ==
        std::vector<std::vector<std::int16_t>>{{1}, {}, {2, 3}});
  // A block of numbers at an offset that is not aligned for them.
  std::vector<std::uint64_t> big(10000);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = i * 0x9e3779b97f4a7c15ull;
  char tag = 0;
  std::vector<std::uint64_t> back;
  decode_into(encode('t', big), tag, back);
  CHECK(back == big);
  // Loading into a vector that already holds more.
  std::vector<int> reused(100, 7);
  decode_into(encode(std::vector<int>{4, 5}), reused);
  CHECK(reused == std::vector<int>{4, 5});
}

TEST_CASE("maps, sets, tuples, pairs, arrays, optionals, variants, durations, enums") {
  std::map<std::string, int> m{{"a", 1}, {"b", 2}};
  CHECK(round_trip(m) == m);
  std::unordered_map<int, std::string> um{{1, "x"}, {2, "y"}};
  CHECK(round_trip(um) == um);
  std::set<long> s{3, 1, 2};
  CHECK(round_trip(s) == s);
  std::tuple<int, std::string, double> t{1, "two", 3.0};
  CHECK(round_trip(t) == t);
  CHECK(encode(std::tuple<int, char>{1, 'c'}) == encode(1, 'c'));
  std::pair<short, std::string> p{-1, "p"};
  CHECK(round_trip(p) == p);
  std::array<int, 3> arr{4, 5, 6};
  CHECK(round_trip(arr) == arr);
  CHECK(round_trip(std::optional<std::string>()) == std::nullopt);
  CHECK(round_trip(std::optional<std::string>("x")) == std::optional<std::string>("x"));
  using V = std::variant<std::monostate, int, std::string>;
  CHECK(round_trip(V()) == V());
  CHECK(round_trip(V(5)) == V(5));
  CHECK(round_trip(V(std::string("v"))) == V(std::string("v")));
  CHECK(round_trip(std::chrono::milliseconds(1234)) == std::chrono::milliseconds(1234));
  CHECK(round_trip(Colour::kBlue) == Colour::kBlue);
  CHECK(round_trip(std::vector<std::tuple<>>(1000)).size() == 1000);
  CHECK(round_trip(std::vector<Empty>(3)).size() == 3);
}

TEST_CASE("user structs with serialize, save and load, and class versions round-trip") {
  CHECK(round_trip(sample_shape()) == sample_shape());
  std::vector<Versioned> vs{{1, -2}, {3, 4}};
  CHECK(round_trip(vs) == vs);
  // The version is written once per archive, before the first object.
  CHECK(encode(vs).size() == 1 + 8 + 4 + 2 * (2 + 8 + 4));
}

TEST_CASE("the bytes are those of cereal's PortableBinary archives") {
  const auto shape = sample_shape();
  const std::vector<Versioned> vs{{1, -2}, {3, 4}};
  const std::variant<int, std::string> var = std::string("v");

  const auto ours = encode(shape, vs, var, std::vector<bool>{true, false});
  std::ostringstream os;
  {
    cereal::PortableBinaryOutputArchive ar(os);
    ar(shape, vs, var, std::vector<bool>{true, false});
  }
  CHECK(ours == os.str());

  Shape shape_back;
  std::vector<Versioned> vs_back;
  std::variant<int, std::string> var_back;
  std::vector<bool> bits;
  decode_into(os.str(), shape_back, vs_back, var_back, bits);
  CHECK(shape_back == shape);
  CHECK(vs_back == vs);
  CHECK(var_back == var);
  CHECK(bits == std::vector<bool>{true, false});
}

TEST_CASE("every truncation of valid input throws") {
  const auto bytes = encode(sample_shape(), std::vector<int>{1, 2, 3}, std::string("end"));
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    CAPTURE(n);
    Shape s;
    std::vector<int> v;
    std::string str;
    CHECK_THROWS_AS(decode_into(bytes.substr(0, n), s, v, str), cereal::Exception);
  }
}

TEST_CASE("a first byte other than the little-endian flag throws") {
  int x = 0;
  CHECK_THROWS_AS(decode_into(std::string("\x00\x01\x00\x00\x00", 5), x), cereal::Exception);
  CHECK_THROWS_AS(decode_into(std::string_view(), x), cereal::Exception);
}

TEST_CASE("a hostile size throws before anything is allocated for it") {
  // The allocation counter sees allocations at all.
  CHECK(largest_allocation_during([] { std::vector<char> v(100000); }) >= 100000);

  // Claims 2^60 elements, followed by a few bytes.
  const auto hostile = archive_of(u64_bytes(std::uint64_t{1} << 60) + "abcdefgh");
  const std::size_t limit = 4096;
  auto expect_refused = [&](auto value) {
    const std::string type(dpool::detail::type_name<decltype(value)>());
    CAPTURE(type);
    bool refused = false;
    const std::size_t largest = largest_allocation_during([&] {
      try {
        decode_into(hostile, value);
      } catch (const cereal::Exception&) {
        refused = true;
      }
    });
    CHECK(refused);
    CHECK(largest < limit);
  };
  expect_refused(std::string());
  expect_refused(std::u16string());
  expect_refused(std::vector<int>());
  expect_refused(std::vector<double>());
  expect_refused(std::vector<bool>());
  expect_refused(std::vector<std::string>());
  expect_refused(std::vector<std::tuple<int>>());
  expect_refused(std::vector<std::tuple<>>());
  expect_refused(std::vector<Point>());
  expect_refused(std::map<int, int>());
  expect_refused(std::unordered_map<int, int>());
  expect_refused(std::set<int>());

  // A count that fits the bytes left only when multiplied with wrap-around.
  const auto wrapping = archive_of(u64_bytes((std::uint64_t{1} << 62) + 1) + "abcd");
  std::vector<int> v;
  CHECK_THROWS_AS(decode_into(wrapping, v), cereal::Exception);

  // A string that claims exactly one byte more than there is.
  std::string s;
  CHECK_THROWS_AS(decode_into(archive_of(u64_bytes(5) + "abcd"), s), cereal::Exception);
  decode_into(archive_of(u64_bytes(4) + "abcd"), s);
  CHECK(s == "abcd");
}

TEST_CASE("encode_call writes the bytes of the argument tuple without building it") {
  using Args = std::tuple<std::string, int, double>;
  const std::string text(100, 'a');
  CHECK(dpool::detail::encode_call<Args>(text, 3, 0.5) == encode(Args{text, 3, 0.5}));
  // Arguments of other types are converted as the tuple would convert them.
  CHECK(dpool::detail::encode_call<Args>("lit", 3L, 1) == encode(Args{"lit", 3, 1.0}));
  // One tuple for all the parameters.
  CHECK(dpool::detail::encode_call<std::tuple<int, long>>(std::tuple<int, long>{1, 2}) ==
        encode(std::tuple<int, long>{1, 2}));
  CHECK(dpool::detail::encode_call<std::tuple<>>() == encode(std::tuple<>{}));
}

TEST_CASE("chunks are encoded straight from a range, as a vector of argument tuples") {
  using dpool::detail::MapItem;
  using dpool::detail::StarItem;
  std::vector<std::tuple<int>> tuples;
  for (int i = 0; i < 1000; ++i) tuples.emplace_back(i * 7 - 300);

  auto iota = std::views::iota(0, 1000) | std::views::transform([](int i) { return i * 7 - 300; });
  auto it = iota.begin();
  const auto block = dpool::detail::encode_items<std::tuple<int>, MapItem>(it, 1000);
  CHECK(block == encode(tuples));
  CHECK(block.size() == 1 + 8 + 4 * 1000);
  CHECK(dpool::detail::encode_chunk(tuples.begin(), tuples.end()) == block);

  // Split into chunks, each an archive of its own; the iterator carries on.
  auto it2 = iota.begin();
  const auto first = dpool::detail::encode_items<std::tuple<int>, MapItem>(it2, 600);
  const auto second = dpool::detail::encode_items<std::tuple<int>, MapItem>(it2, 400);
  CHECK(first == encode(std::vector<std::tuple<int>>(tuples.begin(), tuples.begin() + 600)));
  CHECK(second == encode(std::vector<std::tuple<int>>(tuples.begin() + 600, tuples.end())));

  // Items converted to the argument type: longs for an int parameter.
  std::vector<long> longs{1, -2, 3};
  auto lit = longs.begin();
  CHECK(dpool::detail::encode_items<std::tuple<int>, MapItem>(lit, 3) ==
        encode(std::vector<std::tuple<int>>{{1}, {-2}, {3}}));

  // Tuples of several arguments, for map and starmap.
  using Args = std::tuple<std::string, int>;
  std::vector<Args> args{{"a", 1}, {"bb", 2}};
  auto ait = args.begin();
  CHECK(dpool::detail::encode_items<Args, MapItem>(ait, 2) == encode(args));
  std::vector<std::pair<const char*, short>> stars{{"a", 1}, {"bb", 2}};
  auto sit = stars.begin();
  CHECK(dpool::detail::encode_items<Args, StarItem>(sit, 2) == encode(args));
  auto ait2 = args.begin();
  CHECK(dpool::detail::encode_items<Args, StarItem>(ait2, 2) == encode(args));
  std::vector<std::tuple<long>> star_numbers{{5}, {6}};
  auto nit = star_numbers.begin();
  CHECK(dpool::detail::encode_items<std::tuple<int>, StarItem>(nit, 2) ==
        encode(std::vector<std::tuple<int>>{{5}, {6}}));
}

TEST_CASE("a block chunk runs on the executor side and returns a block of results") {
  std::vector<std::tuple<int>> items;
  std::vector<int> expected;
  for (int i = -500; i < 500; ++i) {
    items.emplace_back(i);
    expected.push_back(i * i);
  }
  std::vector<int> results;
  decode_into(run("codec_square", encode(items), true), results);
  CHECK(results == expected);
  CHECK(run("codec_square", encode(items), true) == encode(expected));

  // A numeric result of another width.
  std::vector<std::tuple<std::int64_t>> wide{{1}, {-3}, {1ll << 40}};
  std::vector<double> halves;
  decode_into(run("codec_half", encode(wide), true), halves);
  CHECK(halves == std::vector<double>{0.5, -1.5, static_cast<double>(1ll << 39)});

  // A result that is not a number, a void task, a bool result.
  std::vector<std::string> texts;
  decode_into(run("codec_text", encode(std::vector<std::tuple<int>>{{1}, {-22}}), true), texts);
  CHECK(texts == std::vector<std::string>{"1", "-22"});
  g_codec_sum = 0;
  std::uint64_t ran = 0;
  decode_into(run("codec_add", encode(std::vector<std::tuple<int>>{{1}, {10}, {100}}), true), ran);
  CHECK(ran == 3);
  CHECK(g_codec_sum == 111);
  std::vector<bool> odd;
  decode_into(run("codec_odd", encode(std::vector<std::tuple<std::uint16_t>>{{1}, {2}}), true),
              odd);
  CHECK(odd == std::vector<bool>{true, false});

  // Empty chunks, truncated chunks, hostile counts.
  std::vector<int> none;
  decode_into(run("codec_square", encode(std::vector<std::tuple<int>>{}), true), none);
  CHECK(none.empty());
  const auto good = encode(items);
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{8}, good.size() - 1}) {
    CAPTURE(n);
    CHECK_THROWS_AS(run("codec_square", good.substr(0, n), true), dpool::SerializationError);
  }
  const auto hostile = archive_of(u64_bytes(std::uint64_t{1} << 60) + "abcd");
  bool refused = false;
  const std::size_t largest = largest_allocation_during([&] {
    try {
      run("codec_square", hostile, true);
    } catch (const dpool::SerializationError&) {
      refused = true;
    }
  });
  CHECK(refused);
  CHECK(largest < 4096);
}

TEST_CASE("timeouts accept any duration type") {
  using dpool::detail::timeout_of;
  using std::chrono::steady_clock;
  CHECK(timeout_of(std::chrono::duration<double>(2.5)) == std::chrono::milliseconds(2500));
  CHECK(timeout_of(std::chrono::duration<double, std::milli>(0.5)) ==
        std::chrono::microseconds(500));
  CHECK(timeout_of(std::chrono::duration<float, std::nano>(0.25f)) == std::chrono::nanoseconds(1));
  CHECK(timeout_of(std::chrono::duration<double>(1e300)) == steady_clock::duration::max());
  CHECK(timeout_of(std::chrono::hours::max()) == steady_clock::duration::max());
  CHECK(timeout_of(std::chrono::duration<double>(-1)) == steady_clock::duration::zero());
  CHECK(timeout_of(std::chrono::duration<double>(std::nan(""))) == steady_clock::duration::zero());
  CHECK(timeout_of(std::chrono::seconds(3)) == std::chrono::seconds(3));
  // get(timeout) and wait(timeout) instantiate with a floating-point duration.
  dpool::AsyncResult<int> empty;
  CHECK_THROWS_AS(empty.get(std::chrono::duration<double>(2.5)), std::logic_error);
}
