// The controller of clusters: keeps what runs on a cluster in line with the database. It brings the cluster up
// (or keeps it up, adopting what already runs after a restart of amlcored), re-publishes routes a router lost,
// applies workloads the backend lost and removes those nobody wants, tells services whether they are healthy,
// and takes down clusters marked for deletion. Every cluster is reconciled periodically.
#ifndef AMLCORE_SERVER_CLUSTER_CONTROLLER_H_
#define AMLCORE_SERVER_CLUSTER_CONTROLLER_H_

#include <utility>
#include <vector>

#include "backend/backend.h"
#include "server/controller_queue.h"
#include "server/route_publisher.h"
#include "server/service_controller.h"
#include "server/store.h"

namespace amlcore::server {

inline constexpr char kClusterKind[] = "cluster";

// The backend's view of a cluster: its id, resource id and, when SSL is enabled, the certificate its router
// serves and the host name (cname) of its scoring URIs.
backend::ClusterRef ClusterRefOf(const ClusterRecord& cluster);

class ClusterController {
 public:
  ClusterController(Store* store, backend::Backend backend, RoutePublisher* routes, ServiceController* services)
      : store_(store), backend_(backend), routes_(routes), services_(services) {}

  StepResult Reconcile(int64_t cluster_id);

 private:
  // Autoscaled versions hold capacity for the replicas their front end's autoscaler runs or asks for, as far as
  // the cluster has room (in the order they are listed), and give back what they no longer run; each change of
  // what a version holds goes to the backend as the replicas it is allowed. Returns whether a version was
  // granted more, so that its replicas start soon.
  bool GrantCapacity(const ClusterRecord& cluster,
                     const std::vector<std::pair<ServiceRecord, ServiceVersionRecord>>& versions,
                     const std::vector<domain::VersionObservation>& observed);

  Store* store_;
  backend::Backend backend_;
  RoutePublisher* routes_;
  ServiceController* services_;
};

}  // namespace amlcore::server

#endif  // AMLCORE_SERVER_CLUSTER_CONTROLLER_H_
