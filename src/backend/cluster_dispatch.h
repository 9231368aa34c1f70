// One backend's seams over two: a cluster attached from Kubernetes goes to the Kubernetes backend, every other
// cluster (made by amlcore, a container group) to the local one. The artifact store stays the local one's: both
// run the artifacts it stages by content hash (the Kubernetes backend copies them into its cluster).
#ifndef AMLCORE_BACKEND_CLUSTER_DISPATCH_H_
#define AMLCORE_BACKEND_CLUSTER_DISPATCH_H_

#include <vector>

#include "backend/backend.h"

namespace amlcore::backend {

class ClusterDispatch final : public WorkloadBackend, public Router {
 public:
  ClusterDispatch(Backend local, WorkloadBackend* kubernetes_workloads, Router* kubernetes_router)
      : local_(local), kubernetes_workloads_(kubernetes_workloads), kubernetes_router_(kubernetes_router) {}

  // The seams to hand to the server.
  Backend seams() { return Backend{this, this, local_.artifacts}; }

  absl::StatusOr<ClusterState> EnsureCluster(const ClusterRef& c) override { return W(c)->EnsureCluster(c); }
  absl::StatusOr<bool> DeleteCluster(const ClusterRef& c) override { return W(c)->DeleteCluster(c); }
  absl::Status ApplyVersion(const ClusterRef& c, const domain::WorkloadSpec& spec) override {
    return W(c)->ApplyVersion(c, spec);
  }
  absl::Status DeleteVersion(const ClusterRef& c, const domain::WorkloadKey& key) override {
    return W(c)->DeleteVersion(c, key);
  }
  absl::StatusOr<std::vector<domain::VersionObservation>> ObserveVersions(const ClusterRef& c) override {
    return W(c)->ObserveVersions(c);
  }
  absl::StatusOr<std::vector<LogContent>> ReadLogs(const ClusterRef& c, const domain::WorkloadKey& key,
                                                   const LogRequest& request) override {
    return W(c)->ReadLogs(c, key, request);
  }
  absl::Status ApplyRoutes(const ClusterRef& c, const domain::RouteTable& table) override {
    return R(c)->ApplyRoutes(c, table);
  }
  absl::StatusOr<int64_t> RouteGeneration(const ClusterRef& c) override { return R(c)->RouteGeneration(c); }
  absl::StatusOr<bool> Probe(const ClusterRef& c, absl::string_view endpoint, absl::string_view version) override {
    return R(c)->Probe(c, endpoint, version);
  }

 private:
  WorkloadBackend* W(const ClusterRef& c) const { return c.kubernetes ? kubernetes_workloads_ : local_.workloads; }
  Router* R(const ClusterRef& c) const { return c.kubernetes ? kubernetes_router_ : local_.router; }

  Backend local_;
  WorkloadBackend* kubernetes_workloads_;
  Router* kubernetes_router_;
};

}  // namespace amlcore::backend

#endif  // AMLCORE_BACKEND_CLUSTER_DISPATCH_H_
