#include "cluster_command.hpp"

#include <csignal>
#include <cstdio>

#include "hosts_file.hpp"

namespace dpool_cli {

void ClusterCommand::add_to(CLI::App& app, const AddDuration& add_duration) {
  auto& o = options_;
  cluster_ = app.add_subcommand("cluster", "start, check or stop a cluster over ssh");
  cluster_->require_subcommand(1);
  for (auto [verb, help] :
       {std::pair{"up", "start the coordinator, then one worker per host"},
        std::pair{"down", "stop the workers (they drain), then the coordinator"},
        std::pair{"status", "whether each daemon runs, and dpool status"}}) {
    auto* sub = cluster_->add_subcommand(verb, help);
    sub->add_option("hosts_file", o.hosts_file,
                    "coordinator HOST[:PORT] and worker HOST lines (docs/operations.md)")
        ->required();
    sub->add_option("--dpool", o.dpool, "the dpool program on the hosts (default: dpool)");
    sub->add_option("--keys", o.keys, "--keys for every daemon, a key directory on the hosts");
    sub->add_option(
        "--run-dir", o.run_dir,
        "pid files and logs on each host; relative to the remote home (" + o.run_dir + ")");
    sub->add_option("--ssh-option", o.ssh_options,
                    "KEY=VALUE given to ssh as -o KEY=VALUE, e.g. IdentityFile=~/.ssh/id_dpool; "
                    "repeatable")
        ->allow_extra_args(false);  // one value each time, so HOSTS_FILE may follow
    if (std::string(verb) == "up") up_ = sub;
    if (std::string(verb) == "down") down_ = sub;
  }
  auto* exec = up_->add_option("--exec", o.exec, "the workers' --exec PROGRAM, on the hosts");
  up_->add_option("--load", o.load, "the workers' --load LIB.so..., on the hosts")->excludes(exec);
  add_duration(up_, "--timeout", o.timeout,
               "how long the coordinator and workers may take to start and join (30s)");
  add_duration(down_, "--stop-timeout", o.stop_timeout,
               "how long each daemon may take to stop after SIGTERM (45s)");
}

int ClusterCommand::run() {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_UNBLOCK, &stop, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  try {
    if (up_->parsed()) return cluster_up(options_);
    if (down_->parsed()) return cluster_down(options_);
    return cluster_status(options_);
  } catch (const HostsFileError& e) {
    std::fprintf(stderr, "dpool cluster: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dpool cluster: %s\n", e.what());
    return 1;
  }
}

}  // namespace dpool_cli
