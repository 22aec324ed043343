// The task libraries pushed to this node (`dpool push`): each is written to
// a directory of the node's own, tried in a process of its own
// (`dpool-executor --check`, so that a library that fails or crashes as it
// loads takes nothing down), and, once it loads, named to the executors and
// Processes started after (kEnvCode). Every CODE gets its LOADED answer. A
// node that does not accept code answers so, and writes nothing.
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "child_process.hpp"
#include "protocol.hpp"

namespace dpool::internal {

// Loop thread only. The io_context must outlive it; destroying it kills a
// check still running and removes the directory and its libraries.
class NodeCode {
 public:
  struct Hooks {
    std::function<void(wire::Loaded&&)> answer;  // for the coordinator
    std::function<void()> adopted;               // env() changed: start new executors with it
  };

  // `accept`: NodeOptions::accept_code. `checker`: the dpool-executor to
  // try libraries with.
  NodeCode(asio::io_context& io, std::string node, bool accept, std::string checker, Hooks hooks);
  ~NodeCode();
  NodeCode(const NodeCode&) = delete;
  NodeCode& operator=(const NodeCode&) = delete;

  void receive(wire::Code&& code, Payload&& bytes);
  // The value of kEnvCode for new executors: the loaded libraries' paths,
  // ':'-separated, one per file name (the latest pushed); empty if none.
  std::string env() const;

 private:
  struct Check {
    wire::Code code;
    std::string path;
  };
  void next();  // starts the next check, if none runs
  void finish(const std::string& error);
  void answer(std::uint64_t seq, std::string error);
  // Writes the bytes where the node keeps libraries; empty on success, else why not.
  std::string write(const wire::Code& code, const Payload& bytes, std::string& path);

  asio::io_context& io_;
  std::string node_;
  bool accept_;
  std::string checker_;
  Hooks hooks_;
  std::string dir_;  // made at the first library
  std::deque<Check> queue_;
  bool checking_ = false;
  ChildProcess child_;
  std::unique_ptr<asio::steady_timer> timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::map<std::string, std::string> loaded_;  // file name -> path
};

}  // namespace dpool::internal
