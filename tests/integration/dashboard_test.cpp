// The dashboard page in a real browser: headless Chromium loads it from a
// real coordinator while a client's map of slow tasks runs on a real
// worker, and the DOM it renders (after the page's own polling of
// api/status) shows the node and a done count that rises between two loads.
// Skipped (exit 77) where /usr/bin/chromium is missing. With
// DPOOL_DASHBOARD_SCREENSHOT=FILE it also saves a screenshot there (how
// docs/dashboard.png is made).
#include <doctest/doctest.h>
#include <stdlib.h>

#include <chrono>
#include <cstdlib>
#include <dpool/dpool.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "config_dirs.hpp"
#include "processes.hpp"
#include "test_tasks.hpp"
#include "text.hpp"
#include "timing.hpp"

using namespace std::chrono_literals;
using test_support::Clock;
namespace ts = test_support;
using test_support::FreshConfig;

namespace {

using test_support::contains;

// Headless Chromium with a profile of its own (`profile`), nothing fetched
// but the page: `what` is "--dump-dom" or "--screenshot=FILE".
ts::Run chromium(const std::string& profile, const std::string& what, const std::string& url) {
  return ts::run_to_end(
      {"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
       "--no-first-run", "--disable-background-networking", "--disable-component-update",
       "--disable-sync", "--user-data-dir=" + profile, "--virtual-time-budget=5000",
       "--window-size=1280,1000", "--hide-scrollbars", what, url},
      120s);
}

// The number in the page's "done" tile; -1 if the page has none (yet).
long done_shown(const std::string& dom) {
  std::smatch m;
  static const std::regex done(R"(id="done">(\d+)<)");
  return std::regex_search(dom, m, done) ? std::stol(m[1]) : -1;
}

// Loads the page until `ok(dom)` holds, for up to 60 s; returns the last DOM.
// A browser run that fails is reported and tried again within the time.
template <class Pred>
std::string dump_until(const std::string& profile, const std::string& url, Pred ok) {
  auto deadline = Clock::now() + 60s;
  for (;;) {
    auto run = chromium(profile, "--dump-dom", url);
    if (run.code != 0) MESSAGE("chromium failed (exit " << run.code << "): " << run.output);
    if (Clock::now() > deadline) {
      REQUIRE_MESSAGE(run.code == 0, run.output);
      return run.output;
    }
    if (run.code == 0 && ok(run.output)) return run.output;
  }
}

}  // namespace

TEST_CASE(
    "the dashboard in headless Chromium shows the node, and a done count that rises while a map "
    "runs") {
  FreshConfig config;
  ts::Coordinator c({"--http", "127.0.0.1:0"});
  auto line = c.process.wait_line("dashboard at http://", 10s);
  auto at = line.find("http://");
  auto url = line.substr(at, line.find(' ', at) - at);
  ts::Worker w(c.address, "--load", 2, "dashboard-node");
  auto profile = config.root + "/chromium";

  dpool::Pool pool(dpool::Connect{.address = c.address});
  CHECK_THROWS(pool.apply(test_tasks::throw_runtime, std::string("a failure to show")));
  // Far more than the test needs: the pool is terminated at the end.
  std::vector<int> slow(4000, 100);
  auto running = pool.map_async(test_tasks::sleep_ms, slow, 1);

  auto first = dump_until(profile, url, [](const std::string& dom) {
    return contains(dom, "dashboard-node") && done_shown(dom) > 1;
  });
  // Each check shows the page's text when it fails.
  auto text = [](const std::string& dom) {
    auto from = dom.find("<body");
    return from == std::string::npos ? dom : dom.substr(from, dom.find("<script") - from);
  };
  CHECK_MESSAGE(contains(first, "dashboard-node"), text(first));
  auto done1 = done_shown(first);         // its poll of api/status answered
  CHECK_MESSAGE(done1 > 1, text(first));  // the failed task, and some of the map's
  CHECK_MESSAGE(contains(first, "a failure to show"), text(first));
  CHECK_MESSAGE(contains(first, "sleep_ms"), text(first));  // among the longest-running tasks

  auto second =
      dump_until(profile, url, [&](const std::string& dom) { return done_shown(dom) > done1; });
  CHECK_MESSAGE(done_shown(second) > done1, text(second));
  CHECK_FALSE(running.ready());  // it was still running: the count rose with it

  if (const char* keep = std::getenv("DPOOL_DASHBOARD_SCREENSHOT")) {
    // A picture worth showing: charts with a minute of history, and a
    // second node joining half way, which the tasks per second show.
    auto points = [](int n) {
      return [n](const std::string& dom) {
        std::smatch m;
        static const std::regex p(R"re(id="rate-chart"[^>]*data-points="(\d+)")re");
        return std::regex_search(dom, m, p) && std::stoi(m[1]) >= n;
      };
    };
    auto deadline = Clock::now() + 120s;
    while (!points(25)(chromium(profile, "--dump-dom", url).output) && Clock::now() < deadline) {
    }
    ts::Worker more(c.address, "--load", 4, "dashboard-node-2");
    while (!points(55)(chromium(profile, "--dump-dom", url).output) && Clock::now() < deadline) {
    }
    auto png = config.root + "/dashboard.png";
    auto shot = chromium(profile, "--screenshot=" + png, url);
    REQUIRE_MESSAGE(shot.code == 0, shot.output);
    std::ifstream in(png, std::ios::binary);
    std::string head(8, '\0');
    in.read(head.data(), 8);
    CHECK(head == "\x89PNG\r\n\x1a\n");
    std::filesystem::copy_file(png, keep, std::filesystem::copy_options::overwrite_existing);
  }
  pool.terminate();
}
