// The client of the multi-host tests, and the program their workers run with
// `--exec`. It checks what a user of a cluster relies on:
//   multihost_client ADDRESS
//       one map whose results name the node that ran each item; fails unless
//       they name two nodes.
//   multihost_client ADDRESS --cut NODE
//       the same, then a second map during which the test cuts NODE's link:
//       once results from both nodes arrived, it prints "cut NODE now" and
//       waits for a line on standard input (the test's "done"); then every
//       item must come back exactly once with its value, and some item that
//       NODE held must have run again on the other node.
// Exit code 0 when the checks hold, 1 with a line on standard error when not.
#include <dpool/dpool.hpp>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

// Where and how an item ran.
struct Placed {
  int item = 0;
  long value = 0;
  std::string node;
  unsigned attempt = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(item, value, node, attempt);
  }
};

// Item x, squared, after 100 ms of task work: long enough for both nodes to hold some.
Placed place(int x) {
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // task work: what the task does
  auto self = dpool::this_task::info();
  return {x, static_cast<long>(x) * x, self.node, self.attempt};
}

}  // namespace

DPOOL_REGISTER(place);

namespace {

int fail(const std::string& why) {
  std::cerr << "multihost_client: " << why << std::endl;
  return 1;
}

std::string names(const std::set<std::string>& nodes) {
  std::string out;
  for (const auto& n : nodes) out += (out.empty() ? "" : " ") + n;
  return out;
}

std::vector<int> items(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
  return v;
}

// Every item of 0..n-1 exactly once, with its value; the nodes that ran them.
std::string check_each_once(const std::vector<Placed>& results, int n) {
  std::map<int, int> seen;
  for (const auto& r : results) {
    if (r.item < 0 || r.item >= n)
      return "an item that was not submitted: " + std::to_string(r.item);
    if (r.value != static_cast<long>(r.item) * r.item)
      return "item " + std::to_string(r.item) + " has the wrong value " + std::to_string(r.value);
    if (++seen[r.item] > 1) return "item " + std::to_string(r.item) + " came back twice";
  }
  if (static_cast<int>(seen.size()) != n)
    return std::to_string(seen.size()) + " of " + std::to_string(n) + " items came back";
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  dpool::init(argc, argv);
  if (argc != 2 && !(argc == 4 && std::string(argv[2]) == "--cut"))
    return fail("usage: multihost_client ADDRESS [--cut NODE]");
  try {
    // Heartbeats as often as the tests' daemons send theirs: the coordinator
    // declares a client silent for its --node-timeout (500 ms there) dead.
    dpool::Pool pool(
        dpool::Connect{.address = argv[1], .heartbeat = std::chrono::milliseconds(50)});

    const int n1 = 16;
    std::vector<Placed> first = pool.map(place, items(n1), 1);
    if (auto bad = check_each_once(first, n1); !bad.empty()) return fail("first map: " + bad);
    std::set<std::string> nodes;
    for (const auto& r : first) nodes.insert(r.node);
    if (nodes.size() != 2)
      return fail("first map ran on " + std::to_string(nodes.size()) + " node(s) (" + names(nodes) +
                  "), not on both workers");
    std::cout << "first map: " << n1 << " items, each once, on " << names(nodes) << std::endl;
    if (argc == 2) return 0;

    const std::string cut = argv[3];
    if (!nodes.contains(cut)) return fail("no node named " + cut + " ran a task");
    const int n2 = 48;
    std::vector<Placed> second;
    std::set<std::string> before_cut;
    bool told = false;
    for (Placed r : pool.imap_unordered(place, items(n2))) {
      second.push_back(r);
      before_cut.insert(r.node);
      if (!told && before_cut.size() == 2) {
        told = true;
        std::cout << "cut " << cut << " now (" << second.size() << " results in)" << std::endl;
        std::string done;
        if (!std::getline(std::cin, done)) return fail("standard input closed before the cut");
      }
    }
    if (!told) return fail("second map: results never came from both nodes");
    if (auto bad = check_each_once(second, n2); !bad.empty()) return fail("second map: " + bad);
    int moved = 0;
    std::string survivor;
    for (const auto& r : second)
      if (r.attempt > 1) {
        if (r.node == cut) return fail("item " + std::to_string(r.item) + " ran again on " + cut);
        survivor = r.node;
        ++moved;
      }
    if (moved == 0) return fail("second map: no item ran again after " + cut + " was cut off");
    std::cout << "second map: " << n2 << " items, each once; " << moved << " moved from " << cut
              << " to " << survivor << std::endl;
    return 0;
  } catch (const dpool::Error& e) {
    return fail(std::string("dpool error: ") + e.what());
  }
}
