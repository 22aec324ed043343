// TaskOutput, the node's part of forwarding what tasks print: lines cut from
// raw chunks, attribution to the task that wrote them, the rate limit and the
// drop counts, on a fake clock; and show_output, the client's part.
#include "task_output.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "forwarded_output.hpp"

using namespace std::chrono_literals;
using dpool::internal::TaskOutput;
namespace wire = dpool::internal::wire;

namespace {

const TaskOutput::TimePoint t0{};

// The text of every entry, "task/pid/stream:text" (dropped counts as "+N").
std::vector<std::string> entries(const std::vector<wire::Lines>& lines) {
  std::vector<std::string> out;
  for (auto& l : lines) {
    std::string e = std::to_string(l.task) + "/" + std::to_string(l.pid) + "/" +
                    std::to_string(l.stream) + ":" + l.text;
    if (l.dropped) e += "+" + std::to_string(l.dropped);
    out.push_back(e);
  }
  return out;
}

std::string read_all(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  char buf[256];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) s.append(buf, n);
  return s;
}

}  // namespace

TEST_CASE("chunks are cut into whole lines; a line split across chunks is joined") {
  TaskOutput o(t0);
  o.add(7, 100, 1, "one\ntw", t0);
  o.add(7, 100, 1, "o\nthr", t0);
  CHECK(entries(o.take(t0)) == std::vector<std::string>{"7/100/1:one\ntwo\n"});
  o.finish(100, t0);  // the last line needs no newline to be shown
  CHECK(entries(o.take(t0)) == std::vector<std::string>{"7/100/1:thr\n"});
  CHECK_FALSE(o.pending());
}

TEST_CASE("streams and processes keep their own lines, in the order written") {
  TaskOutput o(t0);
  o.add(7, 100, 1, "out-a", t0);
  o.add(7, 100, 2, "err\n", t0);
  o.add(8, 200, 1, "other\n", t0);
  o.add(7, 100, 1, "\n", t0);
  CHECK(entries(o.take(t0)) ==
        std::vector<std::string>{"7/100/2:err\n", "8/200/1:other\n", "7/100/1:out-a\n"});
}

TEST_CASE("a line begun under one task and continued under the next is ended at the change") {
  TaskOutput o(t0);
  o.add(7, 100, 1, "no newline", t0);
  o.add(8, 100, 1, "next task\n", t0);
  CHECK(entries(o.take(t0)) ==
        std::vector<std::string>{"7/100/1:no newline\n", "8/100/1:next task\n"});
}

TEST_CASE("a line longer than max_line is cut, not held back") {
  TaskOutput::Limits limits;
  limits.max_line = 4;
  TaskOutput o(limits, t0);
  o.add(7, 100, 1, "abcdefghij", t0);
  CHECK(entries(o.take(t0)) == std::vector<std::string>{"7/100/1:abcd\nefgh\n"});
  o.finish(100, t0);
  CHECK(entries(o.take(t0)) == std::vector<std::string>{"7/100/1:ij\n"});
}

TEST_CASE("past the line rate lines are dropped and counted, reported with the next line shown") {
  TaskOutput::Limits limits;
  limits.lines_per_second = 2;
  limits.burst_seconds = 1;  // 2 lines saved up at most
  TaskOutput o(limits, t0);
  o.add(7, 100, 1, "1\n2\n3\n4\n5\n", t0);
  CHECK(entries(o.take(t0)) == std::vector<std::string>{"7/100/1:1\n2\n"});
  CHECK(o.dropped() == 3);
  o.add(7, 100, 1, "6\n", t0 + 500ms);  // one token back
  CHECK(entries(o.take(t0 + 500ms)) == std::vector<std::string>{"7/100/1:6\n+3"});
}

TEST_CASE("drops with no line after them are reported after report_dropped, or at finish") {
  TaskOutput::Limits limits;
  limits.lines_per_second = 1;
  limits.burst_seconds = 1;
  limits.report_dropped = 1000ms;
  TaskOutput o(limits, t0);
  o.add(7, 100, 1, "a\nb\nc\n", t0);
  CHECK(entries(o.take(t0)) == std::vector<std::string>{"7/100/1:a\n"});
  CHECK(entries(o.take(t0 + 999ms)).empty());  // not yet due
  CHECK(entries(o.take(t0 + 1000ms)) == std::vector<std::string>{"7/100/1:+2"});
  o.add(9, 300, 2, "x\ny\n", t0 + 1000ms);  // the token that came back, then one drop
  CHECK(entries(o.take(t0 + 1000ms)) == std::vector<std::string>{"9/300/2:x\n"});
  o.finish(300, t0 + 1001ms);
  CHECK(entries(o.take(t0 + 1001ms)) == std::vector<std::string>{"9/300/2:+1"});
}

TEST_CASE("the byte rate limits too, and a line refused by it spends no line token") {
  TaskOutput::Limits limits;
  limits.lines_per_second = 100;
  limits.bytes_per_second = 10;
  limits.burst_seconds = 1;
  TaskOutput o(limits, t0);
  o.add(7, 100, 1, "0123456789abc\nok\n", t0);  // 14 bytes: over; "ok\n": 3 bytes, fits
  CHECK(entries(o.take(t0)) == std::vector<std::string>{"7/100/1:ok\n+1"});
  CHECK(o.dropped() == 1);
}

TEST_CASE("show_output prefixes every line with [node:pid], per stream, with drop notes") {
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  REQUIRE(out);
  REQUIRE(err);
  wire::Output o;
  o.node = "n1";
  o.lines = {wire::Lines{7, 42, 1, "a\nb\n", 0}, wire::Lines{7, 42, 2, "e\n", 0},
             wire::Lines{8, 43, 1, "c\n", 5}, wire::Lines{8, 43, 1, "", 1}};
  dpool::internal::show_output(o, out, err);
  CHECK(read_all(out) ==
        "[n1:42] a\n[n1:42] b\n[n1:43] (5 lines dropped: output rate limit)\n[n1:43] c\n"
        "[n1:43] (1 line dropped: output rate limit)\n");
  CHECK(read_all(err) == "[n1:42] e\n");
  std::fclose(out);
  std::fclose(err);
}
