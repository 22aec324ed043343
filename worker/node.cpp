// dpool::Node, the public face of the node daemon.
#include <dpool/node.hpp>

#include "coordinator_access.hpp"
#include "node_daemon.hpp"

namespace dpool {

Node::Node(NodeOptions options)
    : daemon_(std::make_unique<internal::NodeDaemon>(std::move(options))) {}
Node::Node(Coordinator& coordinator, NodeOptions options)
    : daemon_(std::make_unique<internal::NodeDaemon>(internal::CoordinatorAccess::hub(coordinator),
                                                     std::move(options))) {}
Node::~Node() = default;
unsigned Node::processes() const {
  return daemon_->processes();
}
void Node::wait() {
  daemon_->wait();
}
void Node::stop() {
  daemon_->stop();
}
void Node::drain() {
  daemon_->drain();
}
bool Node::stopped() const {
  return daemon_->stopped();
}

}  // namespace dpool
