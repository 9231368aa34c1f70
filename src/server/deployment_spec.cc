#include "server/deployment_spec.h"

#include <algorithm>

#include "common/json.h"
#include "common/json_fields.h"
#include "domain/service_rules.h"
#include "domain/vm_sizes.h"

namespace amlcore::server {
namespace {
namespace bj = json::bj;
}  // namespace

std::string DeploymentSpecToJson(const DeploymentSpec& spec) {
  auto request = json::Parse(domain::ServiceRequestToJson(spec.request));
  // "python" names the environment's reference: stores of earlier releases have it under that key.
  return json::Serialize(bj::object{{"request", request.ok() ? *request : bj::value(nullptr)},
                                    {"environmentHash", spec.environment_hash},
                                    {"python", spec.environment_ref},
                                    {"models", json::Encode(spec.models)},
                                    {"bundle", spec.bundle_ref}});
}

absl::StatusOr<DeploymentSpec> DeploymentSpecFromJson(const std::string& text) {
  auto object = json::ParseObject(text, "deployment spec");
  if (!object.ok()) return object.status();
  DeploymentSpec spec;
  const bj::value* request = object->if_contains("request");
  if (request == nullptr) return absl::InternalError("deployment spec without request");
  auto parsed = domain::ServiceRequestFromJson(json::Serialize(*request));
  if (!parsed.ok()) return parsed.status();
  spec.request = std::move(*parsed);
  spec.environment_hash = json::GetString(*object, "environmentHash");
  spec.environment_ref = json::GetString(*object, "python");
  spec.bundle_ref = json::GetString(*object, "bundle");
  if (const bj::value* models = object->if_contains("models")) {
    if (auto s = json::Decode(*models, &spec.models, "models"); !s.ok()) return s;
  }
  return spec;
}

domain::Demand DemandOf(const domain::ServiceRequest& request) {
  auto r = domain::Resolve(request.config);
  return {static_cast<double>(r.num_replicas) * r.cpu_cores, static_cast<double>(r.num_replicas) * r.memory_gb};
}

domain::WorkloadKey WorkloadKeyOf(const ServiceRecord& service, const ServiceVersionRecord& version) {
  return domain::WorkloadKey{service.name, version.name, version.uid};
}

domain::WorkloadSpec WorkloadOf(const ServiceRecord& service, const ServiceVersionRecord& version,
                                const DeploymentSpec& spec, int64_t revision) {
  const domain::ServiceRequest& r = spec.request;
  auto c = domain::Resolve(r.config);
  domain::WorkloadSpec w;
  w.key = WorkloadKeyOf(service, version);
  w.revision = revision;
  w.artifacts = domain::Artifacts{r.snapshot, r.source_directory, r.entry_script, spec.models};
  w.environment_hash = spec.environment_hash;
  w.environment_ref = spec.environment_ref;
  w.bundle_ref = spec.bundle_ref;
  w.environment_variables = r.environment.environment_variables;
  w.resources = domain::ResourceSpec{c.cpu_cores, c.memory_gb, c.cpu_cores_limit, c.memory_gb_limit, c.gpu_cores};
  w.liveness = domain::ProbeSpec{c.period_seconds, c.initial_delay_seconds, c.timeout_seconds, c.success_threshold,
                                 c.failure_threshold};
  w.replicas = c.num_replicas;
  w.scoring_timeout_ms = c.scoring_timeout_ms;
  w.max_concurrent_requests = c.replica_max_concurrent_requests;
  if (c.autoscale_enabled && !c.num_replicas_given) {
    w.autoscale = domain::AutoscaleSpec{c.autoscale_min_replicas, c.autoscale_max_replicas,
                                        c.autoscale_target_utilization, c.autoscale_refresh_seconds};
    w.replicas_allowed = ReplicasHeld(version, spec.request);
  }
  return w;
}

domain::Demand CapacityOf(const ClusterRecord& cluster) {
  // Kubernetes schedules an attached cluster's pods itself: a pod that fits no node shows as Unschedulable.
  if (cluster.is_kubernetes()) return {1e9, 1e9};
  auto size = domain::FindVmSize(cluster.vm_size);
  if (!size.ok()) return {};
  return {static_cast<double>(cluster.agent_count * size->vcpus),
          static_cast<double>(cluster.agent_count) * size->memory_gib};
}

int64_t ReplicasHeld(const ServiceVersionRecord& version, const domain::ServiceRequest& request) {
  auto c = domain::Resolve(request.config);
  if (version.reserved_cpu < 0 || c.cpu_cores <= 0) return c.num_replicas;
  // What the version holds on its cluster, in replicas of its size (with a little slack for sums of fractions).
  return std::max<int64_t>(c.num_replicas, static_cast<int64_t>(version.reserved_cpu / c.cpu_cores + 1e-6));
}

domain::VersionRoute RouteOf(const ServiceRecord& service, const ServiceVersionRecord& version,
                             const DeploymentSpec& spec) {
  auto c = domain::Resolve(spec.request.config);
  domain::VersionRoute route;
  route.name = version.name;
  route.workload = WorkloadKeyOf(service, version).Name();
  route.traffic_percentile = version.traffic_percentile;
  route.is_default = version.is_default;
  route.is_control = version.version_type == "Control";
  route.max_concurrent_requests_per_replica = c.replica_max_concurrent_requests;
  route.max_queue_wait_ms = c.max_request_wait_time;
  route.scoring_timeout_ms = c.scoring_timeout_ms;
  route.concurrency_given = spec.request.config.replica_max_concurrent_requests.has_value();
  return route;
}

}  // namespace amlcore::server
