// Refused input counted per source and logged at a bounded rate
// (libshared/src/rejections.hpp). Pure: an "interval" is what lies between
// two report() calls.
#include "rejections.hpp"

#include <doctest/doctest.h>

#include <string>

namespace {

using dpool::internal::Rejections;

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE(
    "a source gets one line when first refused; the rest of the interval is summed into one") {
  Rejections r({.subject = "message"});
  auto first = r.refuse(1, "peer 1", "bad header");
  CHECK(has(first.line, "refused a message from peer 1: bad header (1 from it so far)"));
  for (int i = 0; i < 999; ++i) CHECK(r.refuse(1, "peer 1", "bad body").line.empty());
  auto lines = r.report();
  REQUIRE(lines.size() == 1);
  CHECK(has(lines[0], "refused 999 more message(s) from peer 1 (1000 in all)"));
  CHECK(has(lines[0], "the last: bad body"));
  CHECK(r.total() == 1000);
  // A new interval: the source may have a line of its own again, with its count.
  auto next = r.refuse(1, "peer 1", "bad header");
  CHECK(has(next.line, "(1001 from it so far)"));
  CHECK(r.report().empty());
}

TEST_CASE("a source that keeps sending hostile input is dropped once, with a line that says so") {
  Rejections r({.drop_after = 3});
  CHECK_FALSE(r.refuse(7, "peer 7", "garbage").drop);
  CHECK_FALSE(r.refuse(7, "peer 7", "not hostile", false).drop);
  CHECK_FALSE(r.refuse(7, "peer 7", "garbage").drop);
  auto third = r.refuse(7, "peer 7", "garbage");
  CHECK(third.drop);
  CHECK(has(third.line, "dropped it after 3 refusals"));
  CHECK(has(third.line, "with 2 not logged before"));
  CHECK_FALSE(r.refuse(7, "peer 7", "garbage").drop);  // once
  CHECK(r.dropped() == 1);
}

TEST_CASE("sources are counted apart, and past the budget of an interval they share one line") {
  Rejections r({.max_lines = 3});
  CHECK_FALSE(r.refuse(1, "peer 1", "x").line.empty());
  CHECK_FALSE(r.refuse(2, "peer 2", "x").line.empty());
  CHECK_FALSE(r.refuse(3, "peer 3", "x").line.empty());
  for (std::uint64_t s = 4; s < 100; ++s) CHECK(r.refuse(s, "peer", "x").line.empty());
  auto lines = r.report();
  REQUIRE(lines.size() <= 3);
  CHECK(has(lines.back(), "(99 refused in all)"));
  CHECK(r.total() == 99);
}

TEST_CASE("the refusals of a source that left are reported with the next interval") {
  Rejections r({});
  r.refuse(1, "peer 1", "x");
  r.refuse(1, "peer 1", "x");
  r.forget(1);
  auto lines = r.report();
  REQUIRE(lines.size() == 1);
  CHECK(has(lines[0], "refused 1 more message(s) from 1 other source(s)"));
}
