#include "server/cluster_controller.h"

#include <algorithm>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "domain/deploy_settings.h"
#include "domain/endpoint_rules.h"
#include "domain/scheduler.h"
#include "server/deployment_spec.h"

namespace amlcore::server {

backend::ClusterRef ClusterRefOf(const ClusterRecord& cluster) {
  backend::ClusterRef ref{cluster.id, cluster.resource_id(), std::nullopt, static_cast<uint16_t>(cluster.port),
                          cluster.kubernetes, cluster.load_balancer_type};
  if (cluster.ssl && cluster.ssl->status != "Disabled" && !cluster.ssl->cert.empty()) {
    ref.tls = backend::ClusterTls{cluster.ssl->cert, cluster.ssl->key, cluster.ssl->cname};
  }
  return ref;
}
namespace {
using namespace std::chrono_literals;
}  // namespace

StepResult ClusterController::Reconcile(int64_t cluster_id) {
  std::optional<ClusterRecord> cluster;
  bool attached = false;
  std::vector<std::pair<ServiceRecord, ServiceVersionRecord>> versions;
  auto read = store_->db().Read([&](Tx& tx) -> absl::Status {
    auto found = store_->GetCluster(tx, cluster_id);
    if (!found.ok()) return found.status();
    cluster = std::move(*found);
    if (!cluster) return absl::OkStatus();
    auto computes = store_->ComputesOfCluster(tx, cluster_id);
    if (!computes.ok()) return computes.status();
    attached = !computes->empty();
    return absl::OkStatus();
  });
  if (!read.ok()) return StepResult::RequeueAfter(1s);
  if (!cluster) return StepResult::Done();
  backend::ClusterRef ref = ClusterRefOf(*cluster);

  // A container group being deleted is its service's controller's to take down.
  if (cluster->is_container_group() && cluster->state == ProvisioningState::kDeleting) return StepResult::Done();
  // A cluster marked for deletion that no compute target (and so no operation) holds any more goes away here.
  if (cluster->state == ProvisioningState::kDeleting && !attached) {
    auto done = backend_.workloads->DeleteCluster(ref);
    if (!done.ok()) {
      logging::Error(absl::StrCat("deleting cluster ", ref.resource_id, ": ", done.status().ToString()));
      return StepResult::RequeueAfter(1s);
    }
    if (!*done) return StepResult::RequeueAfter(100ms);
    (void)store_->db().Transaction([&](Tx& tx) { return store_->DeleteCluster(tx, cluster_id); });
    return StepResult::Done();
  }
  if (cluster->state != ProvisioningState::kSucceeded) return StepResult::Done();

  auto state = backend_.workloads->EnsureCluster(ref);
  if (!state.ok()) {
    logging::Error(absl::StrCat("cluster ", ref.resource_id, ": ", state.status().ToString()));
    return StepResult::RequeueAfter(1s);
  }
  if (!state->ready) return StepResult::RequeueAfter(100ms);
  if (state->scoring_endpoint != cluster->scoring_endpoint) {
    logging::Info(state->message);
    (void)store_->db().Transaction([&](Tx& tx) -> absl::Status {
      auto current = store_->GetCluster(tx, cluster_id);
      if (!current.ok() || !current->has_value()) return absl::OkStatus();
      ClusterRecord updated = **current;
      updated.scoring_endpoint = state->scoring_endpoint;
      return store_->UpdateCluster(tx, updated);
    });
  }
  if (auto s = routes_->Resync(cluster_id); !s.ok()) return StepResult::RequeueAfter(1s);

  // Observe first, then read what should run: a deployment records its workload before it applies it, so
  // whatever is observed here is known to the read below.
  auto observed = backend_.workloads->ObserveVersions(ref);
  if (!observed.ok()) return StepResult::RequeueAfter(1s);
  auto listed = store_->db().Read([&](Tx& tx) -> absl::Status {
    auto on = store_->VersionsOnCluster(tx, cluster_id);
    if (!on.ok()) return on.status();
    versions = std::move(*on);
    return absl::OkStatus();
  });
  if (!listed.ok()) return StepResult::RequeueAfter(1s);
  // Workloads the backend should run: the live revision of every version of a service that is not deleted.
  std::set<std::string> wanted;
  for (const auto& [service, version] : versions) {
    if (service.state == ServiceState::kDeleting || version.state == kVersionDeleting || version.live_spec.empty()) {
      continue;
    }
    domain::WorkloadKey key = WorkloadKeyOf(service, version);
    wanted.insert(key.Name());
    // A version being deployed is the service controller's to apply (it may be rolling back right now).
    if (domain::InProgress(version.state)) continue;
    bool running = false;
    for (const auto& v : *observed) running |= v.key == key && v.revision == version.live_revision && !v.removed;
    if (running) continue;
    auto spec = DeploymentSpecFromJson(version.live_spec);
    if (!spec.ok()) continue;
    logging::Warning(absl::StrCat("cluster ", ref.resource_id, " lost workload ", key.Name(), "; applying it again"));
    (void)backend_.workloads->ApplyVersion(ref, WorkloadOf(service, version, *spec, version.live_revision));
  }
  for (const auto& v : *observed) {
    if (!v.removed && !wanted.contains(v.key.Name())) (void)backend_.workloads->DeleteVersion(ref, v.key);
  }
  bool granted = GrantCapacity(*cluster, versions, *observed);
  // A load that asks for more replicas than run waits for capacity granted here: look again soon.
  bool scaling_up = std::any_of(observed->begin(), observed->end(),
                                [](const auto& v) { return !v.removed && v.wanted > v.desired; });
  // While a service is short of replicas, look again soon rather than at the next periodic pass.
  if (services_->UpdateHealth(cluster_id, *observed) || granted || scaling_up) return StepResult::RequeueAfter(250ms);
  return StepResult::Done();
}

bool ClusterController::GrantCapacity(const ClusterRecord& cluster,
                                      const std::vector<std::pair<ServiceRecord, ServiceVersionRecord>>& versions,
                                      const std::vector<domain::VersionObservation>& observed) {
  bool granted = false;
  bool released = false;
  for (const auto& [service, listed] : versions) {
    if (service.state == ServiceState::kDeleting || listed.live_spec.empty() || domain::InProgress(listed.state) ||
        listed.state == kVersionDeleting) {
      continue;
    }
    auto spec = DeploymentSpecFromJson(listed.live_spec);
    if (!spec.ok()) continue;
    auto c = domain::Resolve(spec->request.config);
    if (!c.autoscale_enabled || c.num_replicas_given || c.cpu_cores <= 0) continue;
    domain::WorkloadKey key = WorkloadKeyOf(service, listed);
    const domain::VersionObservation* o = nullptr;
    for (const auto& v : observed) {
      if (v.key == key && v.revision == listed.live_revision && !v.removed) o = &v;
    }
    if (o == nullptr) continue;
    // What it should hold: what runs (until its autoscaler has scaled it down) or what its load asks for.
    int64_t target = std::clamp(std::max(o->wanted, o->desired), c.num_replicas, c.autoscale_max_replicas);
    std::optional<ServiceVersionRecord> changed;
    auto s = store_->db().Transaction([&](Tx& tx) -> absl::Status {
      auto current = store_->ServiceVersions(tx, service.id);
      if (!current.ok()) return current.status();
      ServiceVersionRecord version;
      for (const auto& v : *current) {
        if (v.id == listed.id) version = v;
      }
      if (version.id == 0 || version.live_revision != listed.live_revision) return absl::OkStatus();
      int64_t held = ReplicasHeld(version, spec->request);
      if (target == held) return absl::OkStatus();
      int64_t next = target;
      if (target > held) {
        auto on_cluster = store_->VersionsOnCluster(tx, cluster.id);
        if (!on_cluster.ok()) return on_cluster.status();
        domain::Demand free = CapacityOf(cluster);
        for (const auto& [other_service, other] : *on_cluster) {
          free.cpu -= std::max(0.0, other.reserved_cpu);
          free.memory_gb -= std::max(0.0, other.reserved_memory_gb);
        }
        int64_t room = 0;
        while (held + room < target &&
               domain::Fits({(room + 1) * c.cpu_cores, (room + 1) * c.memory_gb}, free)) {
          ++room;
        }
        next = held + room;
        if (next == held) return absl::OkStatus();
      }
      version.reserved_cpu = static_cast<double>(next) * c.cpu_cores;
      version.reserved_memory_gb = static_cast<double>(next) * c.memory_gb;
      if (auto st = store_->UpdateServiceVersion(tx, version); !st.ok()) return st;
      changed = version;
      return absl::OkStatus();
    });
    if (!s.ok() || !changed) continue;
    int64_t held_now = ReplicasHeld(*changed, spec->request);
    logging::Info(absl::StrCat(key.Name(), " holds capacity for ", held_now, " replicas (its load asks for ", o->wanted,
                               ")"));
    (void)backend_.workloads->ApplyVersion(ClusterRefOf(cluster),
                                           WorkloadOf(service, *changed, *spec, changed->live_revision));
    (held_now > ReplicasHeld(listed, spec->request) ? granted : released) = true;
  }
  // What was given back is free for services waiting on this cluster.
  if (released) services_->WakeWaiting(cluster.id);
  return granted;
}

}  // namespace amlcore::server
