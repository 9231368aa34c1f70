// The replicas of a router that runs in a Kubernetes namespace (an attached cluster's amlcore-fe): Kubernetes
// runs them as the pods of amlcore's Deployments; this reads what the router needs from the API server, once a
// second (Refresh): the route table from the Secret amlcore-routes, the versions from the Deployments, and
// their ready pods, which each version's dispatcher then routes to by pod IP. What it read last stays in use
// when the API server cannot be reached, so scoring goes on.
#ifndef AMLCORE_FRONTEND_KUBERNETES_REPLICAS_H_
#define AMLCORE_FRONTEND_KUBERNETES_REPLICAS_H_

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/kubernetes/kube_client.h"
#include "frontend/replica_runner.h"

namespace amlcore::frontend {

class KubernetesReplicas final : public ReplicaRunner {
 public:
  KubernetesReplicas(std::unique_ptr<kubernetes::KubeClient> client, std::string namespace_name);

  void Put(VersionTarget target) override;
  void Remove(const std::string& workload) override;
  // Recorded here and applied to the Deployment (spec.replicas, and the wanted annotation the workspace server
  // reads) by the next Refresh: the autoscaler's thread never waits for the API server.
  void Scale(const std::string& workload, int64_t count, int64_t wanted) override;
  int64_t Desired(const std::string& workload) const override;
  std::vector<domain::VersionObservation> Status() const override;
  std::map<std::vector<std::string>, uint64_t> RestartCounts() const override;
  void Start() override {}
  void Stop() override {}

  // The route table in the Secret amlcore-routes when its generation is newer than `current`.
  absl::StatusOr<std::optional<domain::RouteTable>> NewerRoutes(int64_t current);
  // The versions amlcore's Deployments run, as workloads for the front end to Put.
  absl::StatusOr<std::vector<backend::local::LocalWorkload>> Workloads();
  // Applies the replica counts the autoscalers decided, then reads the pods and gives each version's dispatcher
  // its ready ones.
  absl::Status Refresh();

 private:
  std::unique_ptr<kubernetes::KubeClient> client_;
  const std::string namespace_;
  mutable std::mutex mu_;
  std::map<std::string, VersionTarget> targets_;  // by workload name
  struct Scaled {
    int64_t count = -1;  // decided, not yet applied: -1
    int64_t wanted = 0;
    bool applied = true;
  };
  std::map<std::string, Scaled> scaled_;  // autoscaled workloads, by name
  std::vector<domain::VersionObservation> status_;
  std::map<std::vector<std::string>, uint64_t> restarts_;
};

}  // namespace amlcore::frontend

#endif  // AMLCORE_FRONTEND_KUBERNETES_REPLICAS_H_
