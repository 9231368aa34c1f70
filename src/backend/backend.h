// The seam between the workspace server and where clusters actually run. The local backend runs a cluster as
// an amlcore-fe process (plus, later, replica processes) on this machine; a Kubernetes backend will run the
// same front end and replicas as Deployments. The server only talks to this interface.
#ifndef AMLCORE_BACKEND_BACKEND_H_
#define AMLCORE_BACKEND_BACKEND_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/process.h"
#include "domain/route_table.h"

namespace amlcore::backend {

struct ClusterSpec {
  int64_t id = 0;
  std::string resource_id;
  uint16_t port = 0;  // where the front end listened before; 0 lets the backend choose
};

struct FrontEndInfo {
  uint16_t port = 0;
  ProcessId process;
};

class ComputeBackend {
 public:
  virtual ~ComputeBackend() = default;
  // Starts the cluster's front end, or adopts the one already running, and returns once it answers health
  // checks. Idempotent: safe to call again after a crash of the caller.
  virtual absl::StatusOr<FrontEndInfo> EnsureFrontEnd(const ClusterSpec& cluster) = 0;
  // True when the cluster's front end is running and healthy.
  virtual bool IsFrontEndHealthy(const ClusterSpec& cluster) = 0;
  // Stops the front end (and everything it runs) and removes the cluster's files.
  virtual absl::Status DeleteCluster(const ClusterSpec& cluster) = 0;
  // Hands the front end its whole route table (idempotent; an older generation is refused).
  virtual absl::Status PushRoutes(const ClusterSpec& cluster, const domain::RouteTable& table) = 0;
  // What the cluster's replicas are doing.
  virtual absl::StatusOr<domain::FrontEndStatus> ReplicaStatus(const ClusterSpec& cluster) = 0;
};

}  // namespace amlcore::backend

#endif  // AMLCORE_BACKEND_BACKEND_H_
