// The hosts file of `dpool cluster`: which machine runs the coordinator and
// which run workers, with the options each gets. Pure: text in, a spec out.
//
//   # comments and blank lines are ignored
//   coordinator head:5555 --heartbeat 1s     [USER@]HOST[:PORT] then options of `dpool coordinator`
//   worker node1 --procs 8                   [USER@]HOST then options of `dpool worker`
//   worker alice@node2
//   exec /opt/app/bin/my_program             or: load /opt/app/lib/libtasks.so ...
//   dpool /opt/dpool/bin/dpool               the dpool program on the hosts (default: dpool)
//
// Words are split on blanks; there is no quoting (paths with blanks are not
// supported). The port defaults to 5555; the coordinator binds
// tcp://0.0.0.0:PORT unless its options give --bind.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace dpool_cli {

struct HostLine {
  std::string destination;         // what ssh is given: [USER@]HOST
  std::string host;                // HOST alone, for addresses and names
  std::vector<std::string> extra;  // options for the daemon, as written
};

struct ClusterSpec {
  HostLine coordinator;
  int port = 5555;
  std::vector<HostLine> workers;
  std::string exec;               // worker --exec, if given
  std::vector<std::string> load;  // worker --load, if given
  std::string dpool = "dpool";    // the program on the remote hosts

  // The address workers and clients connect to: tcp://HOST:PORT.
  std::string connect_address() const;
  // The coordinator's bind address: its --bind option, or tcp://0.0.0.0:PORT.
  std::string bind_address() const;
};

// A hosts file that cannot be read or understood; what() says file:line: why.
struct HostsFileError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Parses the text of a hosts file; `name` is used in error messages.
ClusterSpec parse_hosts(const std::string& text, const std::string& name);
// Reads and parses a hosts file.
ClusterSpec read_hosts_file(const std::string& path);

}  // namespace dpool_cli
