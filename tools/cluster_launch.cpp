#include "cluster_launch.hpp"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <thread>

#include "hosts_file.hpp"
#include "remote_shell.hpp"

namespace dpool_cli {

namespace {

// One daemon of the cluster: where it runs, its name (file names in the run
// directory) and its command line.
struct Daemon {
  std::string role;  // "coordinator" or "worker"
  std::string destination;
  std::string name;
  std::vector<std::string> argv;
};

bool has(const std::vector<std::string>& words, const std::string& w) {
  for (const auto& x : words)
    if (x == w) return true;
  return false;
}

std::string file_safe(std::string s) {
  for (char& c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_')) c = '_';
  return s;
}

ClusterSpec load_spec(const LaunchOptions& o) {
  ClusterSpec spec = read_hosts_file(o.hosts_file);
  if (!o.exec.empty()) spec.exec = o.exec, spec.load.clear();
  if (!o.load.empty()) spec.load = o.load, spec.exec.clear();
  if (!o.dpool.empty()) spec.dpool = o.dpool;
  return spec;
}

std::vector<Daemon> daemons(const ClusterSpec& spec, const LaunchOptions& o) {
  std::vector<std::string> keys;
  if (!o.keys.empty()) keys = {"--keys", o.keys};
  std::vector<Daemon> out;
  Daemon c{"coordinator", spec.coordinator.destination, "coordinator", {spec.dpool, "coordinator"}};
  if (!has(spec.coordinator.extra, "--bind"))
    c.argv.insert(c.argv.end(), {"--bind", spec.bind_address()});
  c.argv.insert(c.argv.end(), keys.begin(), keys.end());
  c.argv.insert(c.argv.end(), spec.coordinator.extra.begin(), spec.coordinator.extra.end());
  out.push_back(c);

  std::map<std::string, int> seen;  // two workers on one host get host, host-2
  for (const auto& w : spec.workers) {
    int n = ++seen[w.host];
    std::string name = n == 1 ? w.host : w.host + "-" + std::to_string(n);
    Daemon d{"worker",
             w.destination,
             "worker-" + file_safe(name),
             {spec.dpool, "worker", "--connect", spec.connect_address()}};
    if (!has(w.extra, "--name")) d.argv.insert(d.argv.end(), {"--name", name});
    if (!spec.exec.empty()) d.argv.insert(d.argv.end(), {"--exec", spec.exec});
    if (!spec.load.empty()) {
      d.argv.push_back("--load");
      d.argv.insert(d.argv.end(), spec.load.begin(), spec.load.end());
    }
    d.argv.insert(d.argv.end(), keys.begin(), keys.end());
    d.argv.insert(d.argv.end(), w.extra.begin(), w.extra.end());
    out.push_back(d);
  }
  return out;
}

// Shell text that sets pidf, log and alive() (true while the process of the
// pid file runs and is this daemon, not a stranger that got its pid).
std::string prelude(const LaunchOptions& o, const Daemon& d) {
  std::string run = shell_quote(o.run_dir);
  return "pidf=" + run + "/" + d.name + ".pid; log=" + run + "/" + d.name +
         ".log; pid=$(cat \"$pidf\" 2>/dev/null || true)\n"
         "alive() { [ -n \"$pid\" ] && kill -0 \"$pid\" 2>/dev/null && "
         "tr '\\0' ' ' <\"/proc/$pid/cmdline\" 2>/dev/null | grep -q -- ' " +
         d.role + " '; }\n";
}

std::string start_script(const LaunchOptions& o, const Daemon& d) {
  return "mkdir -p " + shell_quote(o.run_dir) + " || exit 1\n" + prelude(o, d) +
         "if alive; then echo \"already running as pid $pid: run dpool cluster down first\"; "
         "exit 3; fi\n"
         "nohup " +
         shell_join(d.argv) +
         " >\"$log\" 2>&1 </dev/null &\n"
         "echo $! >\"$pidf\"; echo \"started pid $!, log in $log\"\n";
}

std::string state_script(const LaunchOptions& o, const Daemon& d) {
  return prelude(o, d) +
         "if alive; then echo \"running, pid $pid\"; exit 0; fi\n"
         "if [ -z \"$pid\" ]; then echo 'not running (no pid file)'; exit 4; fi\n"
         "echo \"not running (pid $pid has exited); the end of $log:\"; tail -n 15 \"$log\"; "
         "exit 5\n";
}

// SIGTERM (a worker drains), then SIGINT, then SIGKILL. There is no event for
// the exit of a process that is not one's child, so the script polls it every
// 0.1 s, bounded by the stop timeout.
std::string stop_script(const LaunchOptions& o, const Daemon& d) {
  auto tenths = std::to_string(o.stop_timeout.count() / 100);
  return prelude(o, d) +
         "if ! alive; then rm -f \"$pidf\"; echo 'not running'; exit 0; fi\n"
         "upto() { i=0; while alive && [ $i -lt $1 ]; do sleep 0.1; i=$((i+1)); done; }\n"
         "kill -TERM \"$pid\"; upto " +
         tenths +
         "\n"
         "if alive; then kill -INT \"$pid\"; upto 50; fi\n"
         "if alive; then kill -KILL \"$pid\"; echo \"killed pid $pid: it did not stop within " +
         std::to_string(o.stop_timeout.count() / 1000) +
         " s of SIGTERM\"; else echo \"stopped pid $pid\"; fi\n"
         "rm -f \"$pidf\"\n";
}

void report(const Daemon& d, const RemoteResult& r) {
  std::string text = r.output;
  while (!text.empty() && text.back() == '\n') text.pop_back();
  std::printf("%s on %s: %s\n", d.name.c_str(), d.destination.c_str(),
              r.code == 255 && text.empty() ? "ssh failed" : text.c_str());
}

// The status query, run on the coordinator's host where its keys are.
std::string status_script(const ClusterSpec& spec, const LaunchOptions& o, bool json) {
  std::vector<std::string> argv{spec.dpool, "status", spec.connect_address(), "--connect-timeout",
                                "2s"};
  if (json) argv.push_back("--json");
  if (!o.keys.empty()) argv.insert(argv.end(), {"--keys", o.keys});
  return shell_join(argv);
}

// The nodes the coordinator counts, from `dpool status --json`; -1 without an answer.
int nodes_in(const RemoteResult& r) {
  const std::string key = "\"totals\":{\"nodes\":";
  auto at = r.output.find(key);
  if (r.code != 0 || at == std::string::npos) return -1;
  return std::atoi(r.output.c_str() + at + key.size());
}

// Asks the coordinator until it counts `nodes` nodes, every 0.2 s, until the
// deadline: the coordinator is another machine's daemon, with no event to
// wait on from here. Returns the last answer's node count (-1: none).
// Stops early when the coordinator's process is gone (the script's exit code 5).
int wait_for_nodes(const RemoteShell& ssh, const ClusterSpec& spec, const LaunchOptions& o,
                   int nodes, std::chrono::steady_clock::time_point deadline, RemoteResult& last) {
  Daemon coord{"coordinator", spec.coordinator.destination, "coordinator", {}};
  std::string script = prelude(o, coord) +
                       "if ! alive; then echo \"the coordinator exited; the end of $log:\"; "
                       "tail -n 15 \"$log\"; exit 5; fi\n" +
                       status_script(spec, o, true);
  int seen = -1;
  for (;;) {
    last = ssh.run(spec.coordinator.destination, script);
    seen = nodes_in(last);
    if (seen >= nodes || last.code == 5 || std::chrono::steady_clock::now() >= deadline)
      return seen;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace

int cluster_up(const LaunchOptions& o) {
  ClusterSpec spec = load_spec(o);
  if (spec.exec.empty() == spec.load.empty())
    throw HostsFileError(o.hosts_file +
                         ": say what the workers run: an \"exec PROGRAM\" or \"load LIB.so\" line, "
                         "or --exec / --load");
  RemoteShell ssh(o.ssh_options);
  auto all = daemons(spec, o);
  auto deadline = std::chrono::steady_clock::now() + o.timeout;
  const Daemon& coord = all.front();

  auto started = ssh.run(coord.destination, start_script(o, coord));
  report(coord, started);
  if (started.code != 0) {
    std::fprintf(stderr, "dpool cluster up: the coordinator did not start on %s\n",
                 coord.destination.c_str());
    return 1;
  }
  RemoteResult last;
  if (wait_for_nodes(ssh, spec, o, 0, deadline, last) < 0) {
    std::fprintf(stderr, "dpool cluster up: the coordinator on %s %s:\n%s",
                 coord.destination.c_str(),
                 last.code == 5 ? "did not start" : "did not answer in time", last.output.c_str());
    return 1;
  }
  std::printf("coordinator answers at %s\n", spec.connect_address().c_str());

  std::vector<std::pair<std::string, std::string>> jobs;
  for (std::size_t i = 1; i < all.size(); ++i)
    jobs.emplace_back(all[i].destination, start_script(o, all[i]));
  auto results = ssh.run_all(jobs);
  bool ok = true;
  for (std::size_t i = 0; i < results.size(); ++i) {
    report(all[i + 1], results[i]);
    ok = ok && results[i].code == 0;
  }
  const int workers = static_cast<int>(spec.workers.size());
  int joined = ok ? wait_for_nodes(ssh, spec, o, workers, deadline, last) : -1;
  if (joined >= workers) {
    std::printf("cluster up: %d worker%s joined the coordinator at %s\n", joined,
                joined == 1 ? "" : "s", spec.connect_address().c_str());
    return 0;
  }
  if (ok)
    std::fprintf(stderr, "dpool cluster up: %d of %d workers joined within %lld s; their state:\n",
                 joined < 0 ? 0 : joined, workers,
                 static_cast<long long>(o.timeout.count() / 1000));
  else
    std::fprintf(stderr, "dpool cluster up: not every worker could be started; their state:\n");
  jobs.clear();
  for (std::size_t i = 1; i < all.size(); ++i)
    jobs.emplace_back(all[i].destination, state_script(o, all[i]));
  results = ssh.run_all(jobs);
  for (std::size_t i = 0; i < results.size(); ++i) report(all[i + 1], results[i]);
  std::fprintf(stderr, "dpool cluster up: `dpool cluster down %s` stops what did start\n",
               o.hosts_file.c_str());
  return 1;
}

int cluster_down(const LaunchOptions& o) {
  ClusterSpec spec = load_spec(o);
  RemoteShell ssh(o.ssh_options);
  auto all = daemons(spec, o);
  // Workers first, all at once (each drains), so that none loses its coordinator.
  std::vector<std::pair<std::string, std::string>> jobs;
  for (std::size_t i = 1; i < all.size(); ++i)
    jobs.emplace_back(all[i].destination, stop_script(o, all[i]));
  auto results = ssh.run_all(jobs);
  bool ok = true;
  for (std::size_t i = 0; i < results.size(); ++i) {
    report(all[i + 1], results[i]);
    ok = ok && results[i].code == 0;
  }
  auto coord = ssh.run(all.front().destination, stop_script(o, all.front()));
  report(all.front(), coord);
  ok = ok && coord.code == 0;
  if (!ok) std::fprintf(stderr, "dpool cluster down: some hosts could not be reached or stopped\n");
  return ok ? 0 : 1;
}

int cluster_status(const LaunchOptions& o) {
  ClusterSpec spec = load_spec(o);
  RemoteShell ssh(o.ssh_options);
  auto all = daemons(spec, o);
  std::vector<std::pair<std::string, std::string>> jobs;
  for (const auto& d : all) jobs.emplace_back(d.destination, state_script(o, d));
  auto results = ssh.run_all(jobs);
  bool ok = true;
  for (std::size_t i = 0; i < results.size(); ++i) {
    report(all[i], results[i]);
    ok = ok && results[i].code == 0;
  }
  if (results.front().code == 0) {
    auto table = ssh.run(spec.coordinator.destination, status_script(spec, o, false));
    std::fputs(table.output.c_str(), stdout);
    ok = ok && table.code == 0;
  }
  return ok ? 0 : 1;
}

}  // namespace dpool_cli
