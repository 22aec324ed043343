// `dpool cluster up|down|status HOSTS_FILE`: starts the coordinator and one
// worker per host of a hosts file (hosts_file.hpp) over ssh, sees whether they
// run, and stops them. The daemons run detached on their hosts, each with a
// pid file and a log in the run directory there.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace dpool_cli {

struct LaunchOptions {
  std::string hosts_file;
  std::string exec;                        // overrides the file's exec line
  std::vector<std::string> load;           // overrides the file's load line
  std::string dpool;                       // overrides the file's dpool line
  std::string keys;                        // --keys for every daemon and status query
  std::string run_dir = ".dpool/cluster";  // on each host; relative: to the remote home
  std::vector<std::string> ssh_options;    // -o KEY=VALUE for every ssh
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};       // up: until all joined
  std::chrono::milliseconds stop_timeout{std::chrono::seconds(45)};  // down: per daemon
};

// Each returns the command's exit code (0: done; 1: something failed, said on
// stderr) and throws HostsFileError for a bad hosts file.
int cluster_up(const LaunchOptions& options);
int cluster_down(const LaunchOptions& options);
int cluster_status(const LaunchOptions& options);

}  // namespace dpool_cli
