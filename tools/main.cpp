// The `dpool` command: run a coordinator or a worker node, see what they do, or make keys.
//   dpool coordinator --bind tcp://127.0.0.1:5555 [--http 127.0.0.1:8787]
//   dpool worker --connect tcp://127.0.0.1:5555 --procs 2 --exec ./my_program
//   dpool worker --connect tcp://127.0.0.1:5555 --load ./libmytasks.so
//   dpool keygen [DIR]                    a key set (default: ~/.config/dpool)
//   dpool keygen --add node NAME [DIR]    one more node (or client) key
//   dpool status [ADDRESS] [--json] [--watch SECONDS]   a coordinator's nodes, clients, load
//   dpool cluster up|down|status HOSTS_FILE   start, stop, check a cluster over ssh
//   dpool push LIB.so [ADDRESS]           a task library for every node (--accept-code)
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <dpool/dpool.hpp>
#include <iostream>

#include "cluster_command.hpp"
#include "executor_count.hpp"
#include "status_view.hpp"

namespace {

// "1s", "250ms", "2.5s", "100us", or a bare number of seconds.
std::chrono::milliseconds parse_duration(const std::string& text) {
  std::size_t end = 0;
  double value = std::stod(text, &end);
  std::string unit = text.substr(end);
  double ms = unit == "ms"                    ? value
              : unit == "us"                  ? value / 1000
              : unit == "m"                   ? value * 60000
              : (unit.empty() || unit == "s") ? value * 1000
                                              : -1;
  if (ms < 0) throw std::invalid_argument("unknown unit");
  return std::chrono::milliseconds(static_cast<long>(ms + 0.5));
}

// The options every daemon has for its socket's security.
void add_security(CLI::App* app, std::string& keys, bool& insecure, std::size_t& max_message,
                  const std::string& keys_help) {
  app->add_option("--keys", keys, keys_help);
  app->add_flag("--insecure", insecure,
                "no CurveZMQ: serve or connect in the clear (anyone who reaches the port gets in)");
  app->add_option("--max-message", max_message,
                  "largest frame accepted, e.g. 64MiB or 2GiB (1GiB); the same on every machine")
      ->transform(CLI::AsSizeValue(false));
}

// `dpool keygen`: a key set, or one more key.
int keygen(const std::string& dir, const std::vector<std::string>& add) {
  if (!add.empty()) {
    dpool::add_key(dir, add[0], add[1]);
    std::printf(
        "dpool keygen: wrote %s/%s.key (give it to that %s, with coordinator.pub) and put its "
        "public key on the coordinator's allow-list, %s/%ss/%s.pub\n",
        dir.c_str(), add[1].c_str(), add[0].c_str(), dir.c_str(), add[0].c_str(), add[1].c_str());
    return 0;
  }
  dpool::generate_keys(dir);
  std::printf(
      "dpool keygen: wrote a key set to %s\n"
      "  coordinator.key   the coordinator's key pair: it stays with the coordinator\n"
      "  coordinator.pub   its public key: every worker and client needs it\n"
      "  node.key          a key pair for workers (allowed by nodes/node.pub)\n"
      "  client.key        a key pair for clients (allowed by clients/client.pub)\n"
      "Copy the directory to the machines of the cluster, or point --keys there.\n",
      dir.c_str());
  return 0;
}

// A CLI11 option holding a duration.
CLI::Option* add_duration(CLI::App* app, const std::string& name, std::chrono::milliseconds& target,
                          const std::string& help) {
  return app
      ->add_option_function<std::string>(
          name, [&target](const std::string& s) { target = parse_duration(s); }, help)
      ->check([](const std::string& s) {
        try {
          return parse_duration(s).count() > 0 ? std::string() : std::string("must be positive");
        } catch (const std::exception&) {
          return "not a duration (like 500ms or 2s): " + s;
        }
      });
}

// `dpool status`: asks once, or every `watch` seconds until a stop signal
// (then a failed ask is reported and the next one tried: the coordinator may
// be restarting). Returns 1 when the one ask failed.
int status(const dpool::Connect& where, bool json, double watch, const sigset_t& stop) {
  for (;;) {
    int rc = 0;
    try {
      auto s = dpool::cluster_status(where);
      auto text = json ? dpool::internal::status_json(s, where.address) + "\n"
                       : dpool::internal::status_table(s, where.address);
      if (watch > 0 && !json && isatty(STDOUT_FILENO)) std::fputs("\033[H\033[2J", stdout);
      std::fputs(text.c_str(), stdout);
      std::fflush(stdout);
    } catch (const dpool::Error& e) {
      std::fprintf(stderr, "dpool status: %s\n", e.what());
      rc = 1;
    }
    if (watch <= 0) return rc;
    auto whole = static_cast<long>(watch);
    timespec wait{whole, static_cast<long>((watch - static_cast<double>(whole)) * 1e9)};
    if (sigtimedwait(&stop, nullptr, &wait) > 0) return 0;  // Ctrl-C: done
  }
}

// `dpool push`: each node's answer on a line. Returns 1 unless every node
// loaded the library.
int push(const dpool::Connect& where, const std::string& library) {
  try {
    auto answers = dpool::push_library(where, library);
    if (answers.empty())
      std::printf("no node is connected to %s; nodes that join get %s\n", where.address.c_str(),
                  library.c_str());
    int rc = 0;
    for (auto& a : answers) {
      if (a.loaded) {
        std::printf("%s: loaded\n", a.node.c_str());
      } else {
        std::printf("%s: not loaded: %s\n", a.node.c_str(), a.error.c_str());
        rc = 1;
      }
    }
    return rc;
  } catch (const dpool::Error& e) {
    std::fprintf(stderr, "dpool push: %s\n", e.what());
    return 1;
  }
}

// Blocks SIGINT/SIGTERM in every thread and returns once one arrives.
int wait_for_signal(const sigset_t& set) {
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

}  // namespace

int main(int argc, char** argv) {
  dpool::init(argc, argv);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);  // before any thread starts

  CLI::App app{"dpool: run a coordinator or a worker node, or see what they do"};
  app.require_subcommand(1);
  app.fallthrough();  // --log may follow the subcommand

  dpool::CoordinatorOptions copt;
  auto* coord = app.add_subcommand("coordinator", "schedule tasks from clients onto worker nodes");
  coord->add_option("--bind", copt.bind, "address to listen on, e.g. tcp://127.0.0.1:5555")
      ->required();
  coord->add_option("--name", copt.name, "name in logs and errors");
  add_duration(coord, "--heartbeat", copt.heartbeat, "heartbeat interval to each peer (1s)");
  add_duration(coord, "--node-timeout", copt.peer_timeout,
               "silence after which a node or client is declared dead (5s)");
  coord->add_option("--node-loss-retries", copt.node_loss_retries,
                    "re-runs of a task whose node is lost before WorkerLost (3)");
  coord->add_option("--max-queued", copt.max_queued,
                    "tasks that may wait for a node; beyond, submissions fail with QueueFull");
  coord
      ->add_option("--manager-max-bytes", copt.manager_max_bytes,
                   "bytes the Manager's objects and pool.queue items may hold, e.g. 512MiB (1GiB)")
      ->transform(CLI::AsSizeValue(false));
  coord->add_option("--state", copt.state_dir,
                    "keep the Manager's objects in DIR (SQLite) across restarts; default: memory");
  coord->add_option("--manager-max-objects", copt.manager_max_objects,
                    "Manager objects and pool.queues that may exist at once (100000)");
  add_security(coord, copt.key_dir, copt.insecure, copt.max_message_bytes,
               "key directory (default ~/.config/dpool, made on first start)");
  coord->add_option("--http", copt.http,
                    "serve a dashboard, /metrics and /api/status on HOST:PORT, or PORT for "
                    "127.0.0.1:PORT (0: a free port)");
  coord->add_option("--accept-push-from", copt.accept_push_from,
                    "NAME of a client key that may push task libraries (dpool push); repeatable");
  coord->add_option("--http-token", copt.http_token,
                    "token HTTP requests need (default: none on loopback; elsewhere made in the "
                    "key directory's http.token)");

  dpool::NodeOptions nopt;
  auto* worker = app.add_subcommand("worker", "run executors for a coordinator");
  worker->add_option("--connect", nopt.connect, "coordinator address")->required();
  auto* procs = worker
                    ->add_option("--procs", nopt.processes,
                                 "executor processes (default: SLURM_CPUS_ON_NODE in a SLURM "
                                 "job, else cores)")
                    ->check(CLI::Range(1u, 4096u));
  auto* exec = worker->add_option("--exec", nopt.exec,
                                  "self-hosted: a program whose main() starts with dpool::init");
  auto* load = worker->add_option("--load", nopt.load, "library mode: task libraries (.so)");
  exec->excludes(load);
  worker->add_option("--name", nopt.name, "node name in logs and errors (default host:pid)");
  worker->add_option("--executor-host", nopt.executor_host, "path of dpool-executor");
  worker->add_flag("--accept-code", nopt.accept_code,
                   "load task libraries pushed to the cluster (dpool push) into new executors");
  bool keep_output = false;
  worker->add_flag("--no-forward-output", keep_output,
                   "print what tasks print here, not on the clients that submitted them");
  add_duration(worker, "--connect-timeout", nopt.connect_timeout,
               "how long to wait for the coordinator at start (10s)");
  add_duration(worker, "--heartbeat", nopt.heartbeat, "heartbeat interval (1s)");
  add_duration(worker, "--coordinator-timeout", nopt.coordinator_timeout,
               "silence after which the node registers again (5s)");
  add_duration(worker, "--drain-grace", nopt.drain_grace,
               "on SIGTERM, how long running tasks may finish (30s)");
  add_security(worker, nopt.key_file, nopt.insecure, nopt.max_message_bytes,
               "key directory, or a node's .key file (default ~/.config/dpool)");

  std::string key_dir = dpool::default_key_dir();
  std::vector<std::string> add_key;
  auto* keys = app.add_subcommand("keygen", "make CurveZMQ keys for a coordinator, nodes, clients");
  keys->add_option("dir", key_dir, "where (default " + key_dir + ")");
  keys->add_option("--add", add_key, "ROLE NAME: one more key pair, for a node or a client")
      ->expected(2)
      ->allow_extra_args(false);  // DIR may follow
  dpool::Connect sopt;
  sopt.address = "tcp://127.0.0.1:5555";
  sopt.connect_timeout = std::chrono::seconds(5);
  bool status_json = false;
  double watch = 0;
  dpool::Connect popt;
  popt.address = "tcp://127.0.0.1:5555";
  std::string library;
  auto* push_cmd = app.add_subcommand(
      "push", "send a task library to every node (those started with --accept-code load it)");
  push_cmd->add_option("library", library, "the task library (.so)")->required();
  push_cmd->add_option("address", popt.address, "the coordinator (default tcp://127.0.0.1:5555)");
  push_cmd->add_option("--keys", popt.key_file,
                       "key directory, or a client's .key file (default ~/.config/dpool)");
  push_cmd->add_flag("--insecure", popt.insecure, "connect in the clear");
  auto* stat = app.add_subcommand(
      "status", "show a coordinator's nodes, clients, Manager objects and throughput");
  stat->add_option("address", sopt.address, "the coordinator (default tcp://127.0.0.1:5555)");
  stat->add_flag("--json", status_json, "print one JSON object (one a line with --watch)");
  stat->add_option("--watch", watch, "print again every SECONDS until Ctrl-C")
      ->check(CLI::PositiveNumber);
  stat->add_option("--keys", sopt.key_file,
                   "key directory, or a client's .key file (default ~/.config/dpool)");
  stat->add_flag("--insecure", sopt.insecure,
                 "connect in the clear, to a coordinator started with --insecure");
  add_duration(stat, "--connect-timeout", sopt.connect_timeout,
               "how long to wait for the coordinator's answer (5s)");

  dpool_cli::ClusterCommand cluster;
  cluster.add_to(app, add_duration);

  std::string log_level = "info";
  app.add_option("--log", log_level, "log level: trace, debug, info, warn, error")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);

  try {
    app.parse(argc, argv);
    if (worker->parsed() && nopt.exec.empty() && nopt.load.empty())
      throw CLI::ValidationError("worker", "give --exec PROGRAM or --load LIB.so");
    nopt.forward_output = !keep_output;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  // The status command's output is its table, or one line saying why there
  // is none: its connection logs nothing of its own unless asked (--log).
  dpool::set_log_level(
      (stat->parsed() || push_cmd->parsed()) && app.get_option("--log")->count() == 0 ? "critical"
                                                                                      : log_level);

  if (cluster.parsed()) return cluster.run();
  try {
    if (keys->parsed()) return keygen(key_dir, add_key);
    if (push_cmd->parsed()) {
      if (popt.address.find("://") == std::string::npos) popt.address = "tcp://" + popt.address;
      return push(popt, library);
    }
    if (stat->parsed()) {
      if (sopt.address.find("://") == std::string::npos) sopt.address = "tcp://" + sopt.address;
      return status(sopt, status_json, watch, stop_signals);
    }
    if (coord->parsed()) {
      dpool::Coordinator c(copt);
      std::printf("dpool coordinator listening on %s\n", c.endpoint().c_str());
      int sig = wait_for_signal(stop_signals);
      std::printf("dpool coordinator stopping (signal %d)\n", sig);
      return 0;
    }
    std::string count_source = "--procs";
    if (procs->count() == 0) {
      auto count = dpool::internal::default_executor_count(
          [](const char* name) -> const char* { return std::getenv(name); }, dpool::cpu_count());
      nopt.processes = count.count;
      count_source = count.source;
    }
    dpool::Node node(nopt);
    std::printf("dpool worker connected to %s with %u executor%s (%s)\n", nopt.connect.c_str(),
                node.processes(), node.processes() == 1 ? "" : "s", count_source.c_str());
    std::thread waiter([&] {
      node.wait();
      kill(getpid(), SIGINT);  // wakes the main thread's sigwait
    });
    int sig = wait_for_signal(stop_signals);
    if (sig == SIGTERM && !node.stopped()) {  // drain; a second signal stops at once
      std::printf("dpool worker draining (SIGTERM); send SIGINT to stop at once\n");
      node.drain();
      sig = wait_for_signal(stop_signals);
    }
    std::printf("dpool worker stopping\n");
    node.stop();
    waiter.join();
    return 0;
  } catch (const dpool::Error& e) {
    std::fprintf(stderr, "dpool: %s\n", e.what());
    return 1;
  }
}
