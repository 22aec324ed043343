// dpool::cluster_status: a short-lived client of a coordinator that asks
// for the cluster's state (calls::Op::kStatus).
#include <unistd.h>

#include <dpool/errors.hpp>
#include <dpool/status.hpp>

#include "cluster_status.hpp"
#include "one_call.hpp"

namespace dpool {
namespace internal {
namespace {

OneCall status_call() {
  OneCall c;
  c.client = std::string(kStatusClientPrefix) + std::to_string(::getpid());
  c.op = calls::Op::kStatus;
  c.what = "status call";
  return c;
}

ClusterStatus decoded(const Payload& bytes, const std::string& where) {
  auto status = wire::decode_meta<ClusterStatus>(bytes.view());
  if (!status)
    throw ConnectionError("the coordinator at " + where +
                          " sent a status that cannot be decoded (" + status.error() +
                          "); run the same dpool release on both sides");
  return std::move(*status);
}

}  // namespace
}  // namespace internal

ClusterStatus cluster_status(const Connect& where) {
  auto call = internal::status_call();
  call.answer_timeout = where.connect_timeout;
  return internal::decoded(internal::call_coordinator_once(where, std::move(call)), where.address);
}

ClusterStatus cluster_status(Coordinator& coordinator) {
  return internal::decoded(internal::call_coordinator_once(coordinator, internal::status_call()),
                           "the embedded coordinator");
}

}  // namespace dpool
