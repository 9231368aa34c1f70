// What the server stores for one version of a web service: the request as made (azureml's shape), and what
// its deployment resolved (models' files, the built environment, the staged bundle). From it come the
// backend-neutral workload spec and route of the version, and the capacity it asks for.
#ifndef AMLCORE_SERVER_DEPLOYMENT_SPEC_H_
#define AMLCORE_SERVER_DEPLOYMENT_SPEC_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "domain/scheduler.h"
#include "domain/service_wire.h"
#include "domain/workload.h"
#include "server/store.h"

namespace amlcore::server {

struct DeploymentSpec {
  domain::ServiceRequest request;
  std::string environment_hash;
  std::string environment_ref;
  std::vector<domain::ModelArtifact> models;
  std::string bundle_ref;
};

std::string DeploymentSpecToJson(const DeploymentSpec& spec);
absl::StatusOr<DeploymentSpec> DeploymentSpecFromJson(const std::string& text);

// Replicas x (cpu, memory) the request asks of its cluster.
domain::Demand DemandOf(const domain::ServiceRequest& request);
// A cluster's schedulable capacity: its agents times its VM size.
domain::Demand CapacityOf(const ClusterRecord& cluster);
// The replicas of its size a version holds capacity for on its cluster (at least the count it runs without
// autoscaling).
int64_t ReplicasHeld(const ServiceVersionRecord& version, const domain::ServiceRequest& request);

domain::WorkloadKey WorkloadKeyOf(const ServiceRecord& service, const ServiceVersionRecord& version);
// The workload of `version` at `revision` as `spec` describes it.
domain::WorkloadSpec WorkloadOf(const ServiceRecord& service, const ServiceVersionRecord& version,
                                const DeploymentSpec& spec, int64_t revision);
domain::VersionRoute RouteOf(const ServiceRecord& service, const ServiceVersionRecord& version,
                             const DeploymentSpec& spec);

}  // namespace amlcore::server

#endif  // AMLCORE_SERVER_DEPLOYMENT_SPEC_H_
