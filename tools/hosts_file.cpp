#include "hosts_file.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace dpool_cli {

namespace {

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// [USER@]HOST -> HOST
std::string host_of(const std::string& destination) {
  auto at = destination.rfind('@');
  return at == std::string::npos ? destination : destination.substr(at + 1);
}

}  // namespace

std::string ClusterSpec::connect_address() const {
  return "tcp://" + coordinator.host + ":" + std::to_string(port);
}

std::string ClusterSpec::bind_address() const {
  const auto& x = coordinator.extra;
  auto it = std::find(x.begin(), x.end(), "--bind");
  if (it != x.end() && it + 1 != x.end()) return *(it + 1);
  return "tcp://0.0.0.0:" + std::to_string(port);
}

ClusterSpec parse_hosts(const std::string& text, const std::string& name) {
  ClusterSpec spec;
  bool have_coordinator = false;
  std::istringstream in(text);
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    auto where = [&] { return name + ":" + std::to_string(number) + ": "; };
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    auto w = words(line);
    if (w.empty()) continue;
    const std::string& key = w[0];
    if (w.size() < 2) throw HostsFileError(where() + "\"" + key + "\" needs a value");
    std::vector<std::string> rest(w.begin() + 2, w.end());
    if (key == "coordinator") {
      if (have_coordinator) throw HostsFileError(where() + "a second coordinator line");
      have_coordinator = true;
      std::string dest = w[1];
      // HOST:PORT (one colon; an IPv6 address has several and takes no port here)
      if (auto colon = dest.rfind(':'); colon != std::string::npos && dest.find(':') == colon) {
        std::string port = dest.substr(colon + 1);
        dest.erase(colon);
        try {
          std::size_t end = 0;
          spec.port = std::stoi(port, &end);
          if (end != port.size() || spec.port < 1 || spec.port > 65535) throw std::out_of_range("");
        } catch (const std::exception&) {
          throw HostsFileError(where() + "not a port: \"" + port + "\"");
        }
      }
      spec.coordinator = {dest, host_of(dest), rest};
    } else if (key == "worker") {
      spec.workers.push_back({w[1], host_of(w[1]), rest});
    } else if (key == "exec" || key == "dpool") {
      if (!rest.empty()) throw HostsFileError(where() + "\"" + key + "\" takes one path");
      (key == "exec" ? spec.exec : spec.dpool) = w[1];
    } else if (key == "load") {
      spec.load.assign(w.begin() + 1, w.end());
    } else {
      throw HostsFileError(where() + "unknown line \"" + key +
                           "\" (expected coordinator, worker, exec, load or dpool)");
    }
  }
  if (!have_coordinator) throw HostsFileError(name + ": no \"coordinator HOST[:PORT]\" line");
  if (spec.workers.empty()) throw HostsFileError(name + ": no \"worker HOST\" line");
  return spec;
}

ClusterSpec read_hosts_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw HostsFileError("cannot read the hosts file " + path);
  std::stringstream text;
  text << in.rdbuf();
  return parse_hosts(text.str(), path);
}

}  // namespace dpool_cli
