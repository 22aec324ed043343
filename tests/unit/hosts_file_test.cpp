// The hosts file of `dpool cluster` (tools/hosts_file.hpp) and the quoting of
// the remote commands built from it (tools/remote_shell.hpp).
#include "hosts_file.hpp"

#include <doctest/doctest.h>

#include <string>

#include "remote_shell.hpp"

using dpool_cli::HostsFileError;
using dpool_cli::parse_hosts;

TEST_CASE("a hosts file names the coordinator, its port, the workers and their options") {
  auto spec = parse_hosts(
      "# a cluster\n"
      "coordinator admin@head:6000 --http 8787   # with a dashboard\n"
      "\n"
      "worker node1 --procs 8\n"
      "worker bob@node2\n"
      "exec /opt/app/bin/prog\n"
      "dpool /opt/dpool/bin/dpool\n",
      "hosts");
  CHECK(spec.coordinator.destination == "admin@head");
  CHECK(spec.coordinator.host == "head");
  CHECK(spec.port == 6000);
  CHECK(spec.coordinator.extra == std::vector<std::string>{"--http", "8787"});
  CHECK(spec.connect_address() == "tcp://head:6000");
  CHECK(spec.bind_address() == "tcp://0.0.0.0:6000");
  REQUIRE(spec.workers.size() == 2);
  CHECK(spec.workers[0].host == "node1");
  CHECK(spec.workers[0].extra == std::vector<std::string>{"--procs", "8"});
  CHECK(spec.workers[1].destination == "bob@node2");
  CHECK(spec.workers[1].host == "node2");
  CHECK(spec.exec == "/opt/app/bin/prog");
  CHECK(spec.dpool == "/opt/dpool/bin/dpool");
}

TEST_CASE("the port defaults to 5555 and the coordinator's --bind is kept") {
  auto spec = parse_hosts("coordinator head --bind tcp://10.0.0.1:5555\nworker w\n", "h");
  CHECK(spec.port == 5555);
  CHECK(spec.bind_address() == "tcp://10.0.0.1:5555");
  CHECK(spec.connect_address() == "tcp://head:5555");
  auto load = parse_hosts("coordinator head\nworker w\nload a.so b.so\n", "h");
  CHECK(load.load == std::vector<std::string>{"a.so", "b.so"});
}

TEST_CASE("a bad hosts file is refused with its name and line") {
  auto error_of = [](const std::string& text) {
    try {
      parse_hosts(text, "hosts.txt");
    } catch (const HostsFileError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error_of("coordinator h\nwroker w\n").find("hosts.txt:2: unknown line \"wroker\"") == 0);
  CHECK(error_of("coordinator h:99999\nworker w\n") == "hosts.txt:1: not a port: \"99999\"");
  CHECK(error_of("coordinator h:x\nworker w\n") == "hosts.txt:1: not a port: \"x\"");
  CHECK(error_of("worker w\n") == "hosts.txt: no \"coordinator HOST[:PORT]\" line");
  CHECK(error_of("coordinator h\n") == "hosts.txt: no \"worker HOST\" line");
  CHECK(error_of("coordinator a\ncoordinator b\nworker w\n") ==
        "hosts.txt:2: a second coordinator line");
  CHECK(error_of("coordinator h\nworker\n") == "hosts.txt:2: \"worker\" needs a value");
  CHECK(error_of("coordinator h\nworker w\nexec a b\n") == "hosts.txt:3: \"exec\" takes one path");
}

TEST_CASE("words for the remote shell are quoted unless plainly safe") {
  using dpool_cli::shell_join;
  using dpool_cli::shell_quote;
  CHECK(shell_quote("/opt/dpool/bin/dpool") == "/opt/dpool/bin/dpool");
  CHECK(shell_quote("tcp://10.0.0.1:5555") == "tcp://10.0.0.1:5555");
  CHECK(shell_quote("") == "''");
  CHECK(shell_quote("a b") == "'a b'");
  CHECK(shell_quote("$(rm -rf ~)") == "'$(rm -rf ~)'");
  CHECK(shell_quote("it's") == "'it'\\''s'");
  CHECK(shell_quote("a;b") == "'a;b'");
  CHECK(shell_join({"dpool", "worker", "--name", "x y"}) == "dpool worker --name 'x y'");
}
