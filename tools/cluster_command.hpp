// The options of `dpool cluster up|down|status` and their dispatch to
// cluster_launch.hpp, so that main.cpp only adds the subcommand and runs it.
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <functional>
#include <string>

#include "cluster_launch.hpp"

namespace dpool_cli {

// How main.cpp adds an option holding a duration ("500ms", "2s"), so that
// every subcommand parses durations alike.
using AddDuration = std::function<CLI::Option*(CLI::App*, const std::string&,
                                               std::chrono::milliseconds&, const std::string&)>;

class ClusterCommand {
 public:
  // Adds `cluster` and its subcommands to `app`; the options are stored here,
  // which must outlive the parse.
  void add_to(CLI::App& app, const AddDuration& add_duration);
  bool parsed() const { return cluster_ != nullptr && cluster_->parsed(); }
  // Runs the parsed subcommand; returns the exit code (2: a bad hosts file).
  // Unblocks SIGINT and SIGTERM (Ctrl-C ends the command and its ssh) and
  // ignores SIGPIPE (see remote_shell.hpp).
  int run();

 private:
  LaunchOptions options_;
  CLI::App* cluster_ = nullptr;
  CLI::App* up_ = nullptr;
  CLI::App* down_ = nullptr;
};

}  // namespace dpool_cli
