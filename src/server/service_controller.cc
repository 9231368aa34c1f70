#include "server/service_controller.h"

#include <cstdio>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "amlcore/webservice.h"
#include "common/errors.h"
#include "common/json.h"
#include "common/log.h"
#include "domain/endpoint_rules.h"
#include "domain/scheduler.h"
#include "domain/service_rules.h"
#include "domain/vm_sizes.h"
#include "server/cluster_controller.h"
#include "server/model_service.h"

namespace amlcore::server {
namespace {
namespace bj = json::bj;
using namespace std::chrono_literals;

constexpr auto kSoon = 0ms;
constexpr auto kBuildPoll = 100ms;
constexpr auto kReplicaPoll = 100ms;
constexpr auto kRetry = 1s;
// A version waiting for capacity is woken when capacity frees up; this only bounds how long a missed wake-up
// could leave it waiting.
constexpr auto kCapacityRecheck = 30s;
constexpr int kMaxProbes = 50;

std::string ErrorJson(absl::string_view code, absl::string_view message) {
  return json::Serialize(bj::object{{"code", json::Bj(code)}, {"message", json::Bj(message)}});
}

// Elapsed time since a stored timestamp.
absl::Duration Since(const std::string& timestamp) {
  absl::Time t = ParseTimestamp(timestamp);
  return t == absl::UnixEpoch() ? absl::ZeroDuration() : absl::Now() - t;
}

std::string ReplicaCount(int64_t n) { return absl::StrCat(n, " replica", n == 1 ? "" : "s"); }
}  // namespace

backend::ClusterRef ServiceController::Loaded::cluster_ref() const {
  return cluster ? ClusterRefOf(*cluster) : backend::ClusterRef{};
}

ServiceController::ServiceController(Store* store, Operations* operations, backend::Backend backend,
                                     RoutePublisher* routes, Options options)
    : store_(store), operations_(operations), backend_(backend), routes_(routes), options_(options) {}

ServiceController::Reported& ServiceController::ReportedFor(const std::string& operation_id) {
  std::lock_guard lock(mu_);
  return reported_[operation_id];
}

void ServiceController::Forget(const std::string& operation_id) {
  std::lock_guard lock(mu_);
  reported_.erase(operation_id);
}

absl::StatusOr<std::optional<ServiceController::Loaded>> ServiceController::Load(int64_t service_id) {
  std::optional<Loaded> out;
  auto status = store_->db().Read([&](Tx& tx) -> absl::Status {
    auto service = store_->GetService(tx, service_id);
    if (!service.ok()) return service.status();
    if (!service->has_value()) return absl::OkStatus();
    auto versions = store_->ServiceVersions(tx, service_id);
    if (!versions.ok()) return versions.status();
    if (versions->empty()) return absl::InternalError(absl::StrCat("Service ", (*service)->name, " has no version."));
    Loaded l;
    l.service = **service;
    l.versions = std::move(*versions);
    // The version the operation changes: the first one in progress (an operation changes one at a time).
    l.version = l.versions.front();
    for (const auto& v : l.versions) {
      if (domain::InProgress(v.state)) {
        l.version = v;
        break;
      }
    }
    auto spec = DeploymentSpecFromJson(l.version.spec);
    if (!spec.ok()) return spec.status();
    l.spec = std::move(*spec);
    auto op = store_->RunningOperationOn(tx, ResourceKind::kService, service_id);
    if (!op.ok()) return op.status();
    l.operation = std::move(*op);
    auto cluster = store_->GetCluster(tx, l.service.cluster_id);
    if (!cluster.ok()) return cluster.status();
    l.cluster = std::move(*cluster);
    out = std::move(l);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return out;
}

void ServiceController::Summarize(ServiceRecord& service, const std::vector<ServiceVersionRecord>& versions) {
  std::vector<domain::VersionCondition> conditions;
  for (const auto& v : versions) conditions.push_back({v.name, v.state, v.phase, v.reason, v.error});
  domain::VersionCondition c = domain::ServiceCondition(conditions);
  service.state = c.state;
  service.phase = c.phase;
  service.reason = c.reason;
  service.error = c.error_json;
}

absl::Status ServiceController::Advance(const Loaded& l, const Change& change) {
  auto status = store_->db().Transaction([&](Tx& tx) -> absl::Status {
    auto service = store_->GetService(tx, l.service.id);
    if (!service.ok()) return service.status();
    if (!service->has_value() || (*service)->state == ServiceState::kDeleting) return absl::AbortedError("superseded");
    auto op = store_->GetOperation(tx, l.operation->id);
    if (!op.ok()) return op.status();
    if (!op->has_value() || (*op)->done()) return absl::AbortedError("superseded");
    auto versions = store_->ServiceVersions(tx, l.service.id);
    if (!versions.ok()) return versions.status();
    auto version = std::find_if(versions->begin(), versions->end(),
                                [&](const ServiceVersionRecord& v) { return v.id == l.version.id; });
    if (version == versions->end()) return absl::AbortedError("superseded");
    ServiceRecord s = **service;
    OperationRecord o = **op;
    if (auto st = change(tx, s, *version, o); !st.ok()) return st;
    if (auto st = store_->UpdateServiceVersion(tx, *version); !st.ok()) return st;
    Summarize(s, *versions);
    if (auto st = store_->UpdateService(tx, s); !st.ok()) return st;
    return store_->UpdateOperation(tx, o);
  });
  operations_->Notify(l.operation->id);
  return status;
}

StepResult ServiceController::Reconcile(int64_t service_id) {
  auto loaded = Load(service_id);
  if (!loaded.ok()) {
    logging::Error(absl::StrCat("service ", service_id, ": ", loaded.status().ToString()));
    return StepResult::RequeueAfter(kRetry);
  }
  if (!loaded->has_value()) return StepResult::Done();
  Loaded& l = **loaded;
  if (l.service.state == ServiceState::kDeleting) return DeleteService(l);
  if (!l.operation) return StepResult::Done();
  if (!domain::InProgress(l.version.state)) return Complete(l);
  if (l.version.state == kVersionDeleting) return RemoveVersion(l);
  const std::string& phase = l.version.phase;
  if (phase.empty() || phase == ServicePhase::kValidating) return Validate(l);
  if (phase == ServicePhase::kBuildingEnvironment) return BuildEnvironment(l);
  if (phase == ServicePhase::kScheduling) return Schedule(l);
  if (phase == ServicePhase::kStartingReplicas) return StartReplicas(l);
  if (phase == ServicePhase::kInitializing) return AwaitReplicas(l);
  return Fail(l, ServicePhase::kValidating, "InternalError", absl::StrCat("Unknown deployment phase ", phase));
}

std::optional<StepResult> ServiceController::StartContainerGroup(Loaded& l) {
  ClusterRecord& group = *l.cluster;
  auto state = backend_.workloads->EnsureCluster(ClusterRefOf(group));
  if (!state.ok()) {
    std::string where = group.port != 0 ? absl::StrCat(" on port ", group.port) : "";
    return Fail(l, ServicePhase::kValidating, "ContainerGroupFailed",
                absl::StrCat("The service's container group could not start", where, ": ", state.status().message()));
  }
  if (!state->ready) return StepResult::RequeueAfter(std::chrono::milliseconds(50));
  if (state->scoring_endpoint == group.scoring_endpoint) return std::nullopt;
  auto s = store_->db().Transaction([&](Tx& tx) -> absl::Status {
    auto current = store_->GetCluster(tx, group.id);
    if (!current.ok() || !current->has_value()) return absl::NotFoundError("container group gone");
    ClusterRecord updated = **current;
    updated.scoring_endpoint = state->scoring_endpoint;
    if (auto st = store_->UpdateCluster(tx, updated); !st.ok()) return st;
    if (l.operation) return store_->AppendOperationLog(tx, l.operation->id, state->message);
    return absl::OkStatus();
  });
  if (!s.ok()) return StepResult::RequeueAfter(kRetry);
  group.scoring_endpoint = state->scoring_endpoint;
  return std::nullopt;
}

StepResult ServiceController::Validate(Loaded& l) {
  const domain::ServiceRequest& request = l.spec.request;
  std::vector<domain::ModelArtifact> models;
  auto read = store_->db().Read([&](Tx& tx) -> absl::Status {
    for (const auto& id : request.model_ids) {
      auto parsed = ParseModelId(id);
      if (!parsed.ok()) return parsed.status();
      auto model = store_->FindModel(tx, l.service.workspace_id, parsed->first, parsed->second);
      if (!model.ok()) return model.status();
      if (!model->has_value()) return ModelNotFound(id);
      models.push_back({(*model)->model.name, (*model)->model.version, (*model)->model.files});
    }
    return absl::OkStatus();
  });
  if (!read.ok()) return Fail(l, ServicePhase::kValidating, "ModelNotFound", std::string(read.message()));
  if (l.cluster && l.cluster->is_container_group()) {
    if (std::optional<StepResult> waiting = StartContainerGroup(l)) return *waiting;
  }
  if (!l.cluster || l.cluster->state != ProvisioningState::kSucceeded || l.cluster->scoring_endpoint.empty()) {
    return Fail(l, ServicePhase::kValidating, "ComputeTargetNotReady",
                absl::StrCat("The front end of cluster ", l.cluster ? l.cluster->name : l.service.compute_name,
                             " is not running."));
  }
  l.spec.models = std::move(models);
  Environment environment = request.has_environment ? request.environment : Environment{};
  l.spec.environment_hash = domain::EnvironmentHash(environment);
  std::string spec = DeploymentSpecToJson(l.spec);
  auto s = Advance(l, [&](Tx& tx, ServiceRecord&, ServiceVersionRecord& v, OperationRecord& o) -> absl::Status {
    v.spec = spec;
    v.phase = ServicePhase::kBuildingEnvironment;
    v.phase_started = NowTimestamp();
    v.state = ServiceState::kTransitioning;
    o.phase = ServicePhase::kBuildingEnvironment;
    if (auto st = store_->AppendOperationLog(
            tx, o.id,
            absl::StrCat("Validating", l.service.kind == ServiceKind::kEndpoint
                                           ? absl::StrCat(" version ", l.version.name) : "",
                         ": ", request.model_ids.empty() ? "no models" : absl::StrJoin(request.model_ids, ", "),
                         ", entry script ", request.entry_script, ", target ", l.service.compute_name));
        !st.ok()) {
      return st;
    }
    return store_->AppendOperationLog(
        tx, o.id,
        absl::StrCat("Building environment ", environment.name.empty() ? "(the runtime's Python)" : environment.name,
                     " (hash ", l.spec.environment_hash.substr(0, 12), ")"));
  });
  if (!s.ok()) return absl::IsAborted(s) ? StepResult::Done() : StepResult::RequeueAfter(kRetry);
  return StepResult::RequeueAfter(kSoon);
}

StepResult ServiceController::BuildEnvironment(Loaded& l) {
  const domain::ServiceRequest& request = l.spec.request;
  Environment environment = request.has_environment ? request.environment : Environment{};
  const std::string& hash = l.spec.environment_hash;
  Reported& reported = ReportedFor(l.operation->id);
  bool workspace_knows = false;
  (void)store_->db().Read([&](Tx& tx) -> absl::Status {
    auto known = store_->EnvironmentBuildKnown(tx, hash, l.service.workspace_id);
    workspace_knows = known.ok() && *known;
    return absl::OkStatus();
  });
  backend::EnvironmentBuild build = backend_.artifacts->EnsureEnvironment(environment, hash);
  std::vector<std::string> lines;
  if (build.state == backend::EnvironmentBuild::State::kReady && reported.build_lines == 0 && workspace_knows) {
    // This workspace deployed the environment before: one line says so.
    lines.push_back(absl::StrCat("Environment ", hash.substr(0, 12), ": cache hit (workspace), using ", build.ref));
    lines.insert(lines.end(), build.warnings.begin(), build.warnings.end());
    reported.build_lines = build.log.size();
  } else {
    for (size_t i = reported.build_lines; i < build.log.size(); ++i) lines.push_back(build.log[i]);
    reported.build_lines = build.log.size();
  }
  for (const auto& line : lines) (void)operations_->Log(l.operation->id, line);
  if (build.state == backend::EnvironmentBuild::State::kBuilding) return StepResult::RequeueAfter(kBuildPoll);
  if (build.state == backend::EnvironmentBuild::State::kFailed) {
    std::string code = ErrorCodeOf(build.error);
    return Fail(l, ServicePhase::kBuildingEnvironment, code.empty() ? "EnvironmentBuildFailed" : code,
                std::string(build.error.message()));
  }
  (void)store_->db().Transaction(
      [&](Tx& tx) { return store_->RecordEnvironmentBuild(tx, hash, l.service.workspace_id); });
  l.spec.environment_ref = build.ref;
  std::string spec = DeploymentSpecToJson(l.spec);
  domain::Demand want = DemandOf(request);
  int64_t seq = 0;
  auto s = Advance(l, [&](Tx& tx, ServiceRecord&, ServiceVersionRecord& v, OperationRecord& o) -> absl::Status {
    auto next = store_->NextScheduleSeq(tx);
    if (!next.ok()) return next.status();
    seq = *next;
    v.spec = spec;
    v.phase = ServicePhase::kScheduling;
    v.phase_started = NowTimestamp();
    v.schedule_seq = seq;
    o.phase = ServicePhase::kScheduling;
    return store_->AppendOperationLog(tx, o.id,
                                      absl::StrCat("Scheduling ", want.cpu, " CPU and ", want.memory_gb,
                                                   " GB on cluster ", l.cluster ? l.cluster->name : ""));
  });
  if (!s.ok()) return absl::IsAborted(s) ? StepResult::Done() : StepResult::RequeueAfter(kRetry);
  return StepResult::RequeueAfter(kSoon);
}

StepResult ServiceController::Schedule(Loaded& l) {
  if (!l.cluster) return Fail(l, ServicePhase::kScheduling, "InvalidCluster", "The service's cluster no longer exists.");
  if (auto size = domain::FindVmSize(l.cluster->vm_size); !size.ok() && !l.cluster->is_kubernetes()) {
    return Fail(l, ServicePhase::kScheduling, "InvalidCluster", std::string(size.status().message()));
  }
  domain::Demand capacity = CapacityOf(*l.cluster);
  domain::Demand want = DemandOf(l.spec.request);
  bool placed = false;
  domain::Demand free_for_us;
  auto s = Advance(l, [&](Tx& tx, ServiceRecord&, ServiceVersionRecord& v, OperationRecord& o) -> absl::Status {
    auto versions = store_->VersionsOnCluster(tx, l.cluster->id);
    if (!versions.ok()) return versions.status();
    domain::Demand held;
    std::vector<domain::WaitingVersion> waiting;
    for (const auto& [service, version] : *versions) {
      if (service.state == ServiceState::kDeleting || version.state == kVersionDeleting) continue;
      domain::Demand reserved{std::max(0.0, version.reserved_cpu), std::max(0.0, version.reserved_memory_gb)};
      held += reserved;
      if (version.phase != ServicePhase::kScheduling || !domain::InProgress(version.state)) continue;
      auto spec = DeploymentSpecFromJson(version.spec);
      if (!spec.ok()) continue;
      waiting.push_back({version.id, DemandOf(spec->request), reserved});
    }
    std::sort(waiting.begin(), waiting.end(), [&](const auto& a, const auto& b) {
      auto seq = [&](int64_t id) {
        for (const auto& [service, version] : *versions) {
          if (version.id == id) return version.schedule_seq;
        }
        return int64_t{0};
      };
      return seq(a.id) < seq(b.id);
    });
    domain::Placement placement = domain::Schedule(capacity, held, waiting);
    placed = std::find(placement.placed.begin(), placement.placed.end(), v.id) != placement.placed.end();
    domain::Demand own{std::max(0.0, v.reserved_cpu), std::max(0.0, v.reserved_memory_gb)};
    free_for_us = {capacity.cpu - held.cpu + own.cpu, capacity.memory_gb - held.memory_gb + own.memory_gb};
    if (placed) {
      v.reserved_cpu = want.cpu;
      v.reserved_memory_gb = want.memory_gb;
      v.phase = ServicePhase::kStartingReplicas;
      v.phase_started = NowTimestamp();
      v.state = ServiceState::kTransitioning;
      v.reason.clear();
      v.error.clear();
      o.phase = ServicePhase::kStartingReplicas;
      auto c = domain::Resolve(l.spec.request.config);
      return store_->AppendOperationLog(
          tx, o.id, absl::StrCat("Starting ", ReplicaCount(c.num_replicas), " of revision ", v.revision));
    }
    std::string message = domain::InsufficientCapacityMessage(want, l.cluster->name, free_for_us, capacity);
    std::string error = ErrorJson("InsufficientCapacity", message);
    // Said once, and again only when the numbers change.
    if (v.state == ServiceState::kUnschedulable && v.error == error) return absl::OkStatus();
    v.state = ServiceState::kUnschedulable;
    v.reason = "InsufficientCapacity";
    v.error = error;
    return store_->AppendOperationLog(tx, o.id, message);
  });
  if (!s.ok()) return absl::IsAborted(s) ? StepResult::Done() : StepResult::RequeueAfter(kRetry);
  return placed ? StepResult::RequeueAfter(kSoon) : StepResult::RequeueAfter(kCapacityRecheck);
}

StepResult ServiceController::StartReplicas(Loaded& l) {
  domain::WorkloadKey key = WorkloadKeyOf(l.service, l.version);
  auto bundle = backend_.artifacts->StageBundle(backend::BundleRequest{
      key, l.version.revision,
      domain::Artifacts{l.spec.request.snapshot, l.spec.request.source_directory, l.spec.request.entry_script,
                        l.spec.models}});
  if (!bundle.ok()) {
    std::string code = ErrorCodeOf(bundle.status());
    return Fail(l, ServicePhase::kStartingReplicas, code.empty() ? "BundleFailed" : code,
                std::string(bundle.status().message()));
  }
  l.spec.bundle_ref = *bundle;
  std::string spec = DeploymentSpecToJson(l.spec);
  auto s = Advance(l, [&](Tx&, ServiceRecord&, ServiceVersionRecord& v, OperationRecord&) -> absl::Status {
    v.spec = spec;
    v.live_spec = spec;
    v.live_revision = v.revision;
    v.phase = ServicePhase::kInitializing;
    v.phase_started = NowTimestamp();
    return absl::OkStatus();
  });
  if (!s.ok()) return absl::IsAborted(s) ? StepResult::Done() : StepResult::RequeueAfter(kRetry);
  l.version.live_revision = l.version.revision;
  if (auto applied = backend_.workloads->ApplyVersion(l.cluster_ref(), WorkloadOf(l.service, l.version, l.spec,
                                                                                  l.version.revision));
      !applied.ok()) {
    return Fail(l, ServicePhase::kStartingReplicas, "FrontEndUnavailable", std::string(applied.message()));
  }
  if (auto published = routes_->Publish(l.cluster->id); !published.ok()) {
    return Fail(l, ServicePhase::kStartingReplicas, "FrontEndUnavailable", std::string(published.message()));
  }
  return StepResult::RequeueAfter(kReplicaPoll);
}

StepResult ServiceController::AwaitReplicas(Loaded& l) {
  if (absl::ToChronoMilliseconds(Since(l.version.phase_started)) > options_.initialize_timeout) {
    return Fail(l, ServicePhase::kInitializing, "DeploymentTimedOut",
                absl::StrCat("The replicas did not become ready within ",
                             std::chrono::duration_cast<std::chrono::minutes>(options_.initialize_timeout).count(),
                             " minutes."));
  }
  auto observed = backend_.workloads->ObserveVersions(l.cluster_ref());
  if (!observed.ok()) return StepResult::RequeueAfter(kRetry);
  domain::WorkloadKey key = WorkloadKeyOf(l.service, l.version);
  const domain::VersionObservation* version = nullptr;
  for (const auto& v : *observed) {
    if (v.key == key) version = &v;
  }
  if (version == nullptr || version->revision != l.version.live_revision) return StepResult::RequeueAfter(kReplicaPoll);
  Reported& reported = ReportedFor(l.operation->id);
  for (const auto& r : version->replicas) {
    if (r.revision != l.version.live_revision) continue;
    std::string& seen = reported.replica_states[r.id];
    if (seen != r.state) {
      seen = r.state;
      if (r.state == domain::ReplicaState::kInitializing && !reported.initializing) {
        reported.initializing = true;
        (void)Advance(l, [&](Tx& tx, ServiceRecord&, ServiceVersionRecord& v, OperationRecord& o) -> absl::Status {
          v.phase = ServicePhase::kInitializing;
          o.phase = ServicePhase::kInitializing;
          return store_->AppendOperationLog(tx, o.id, absl::StrCat("Replica ", r.id, " is running init()"));
        });
      } else if (r.state == domain::ReplicaState::kReady) {
        (void)operations_->Log(l.operation->id, absl::StrCat("Replica ", r.id, " is ready"));
      } else if (r.state == domain::ReplicaState::kWaiting && !r.last_reason.empty()) {
        (void)operations_->Log(l.operation->id, absl::StrCat("Replica ", r.id, " stopped: ", r.last_reason));
      }
    }
    // Kubernetes could not place the replica: said once per scheduler message; it starts when room frees up.
    if (r.last_reason == "Unschedulable" && reported.unschedulable != r.last_message) {
      reported.unschedulable = r.last_message;
      (void)Advance(l, [&](Tx& tx, ServiceRecord&, ServiceVersionRecord& v, OperationRecord& o) -> absl::Status {
        v.state = ServiceState::kUnschedulable;
        v.reason = "Unschedulable";
        v.error = ErrorJson("Unschedulable", absl::StrCat("Replica ", r.id, " cannot be scheduled: ", r.last_message));
        return store_->AppendOperationLog(tx, o.id,
                                          absl::StrCat("Replica ", r.id, " cannot be scheduled: ", r.last_message));
      });
    }
    std::string reason = domain::DeploymentFailureReason(r);
    if (!reason.empty()) {
      // A replica whose process could not even be set up failed to start; anything later failed while loading
      // the script and running init().
      bool starting = reason == "ReplicaSetupFailed" || reason == "ReplicaStartFailed";
      return Fail(l, starting ? ServicePhase::kStartingReplicas : ServicePhase::kInitializing, reason,
                  absl::StrCat("Replica ", r.id, ": ", r.last_message));
    }
  }
  if (version->ready < version->required) return StepResult::RequeueAfter(kReplicaPoll);
  // Ready once a request through the router reaches a replica.
  auto probe = backend_.router->Probe(l.cluster_ref(), l.service.name, l.version.name);
  if (probe.ok() && *probe) {
    return Succeed(l, absl::StrCat(version->desired, "/", version->desired,
                                   " replicas ready; a probe through the front end succeeded"));
  }
  if (++reported.probes >= kMaxProbes) {
    return Fail(l, ServicePhase::kReady, "FrontEndProbeFailed",
                "The replicas are ready but a request through the front end did not reach them.");
  }
  return StepResult::RequeueAfter(kReplicaPoll);
}

StepResult ServiceController::Succeed(Loaded& l, const std::string& summary) {
  auto s = Advance(l, [&](Tx& tx, ServiceRecord&, ServiceVersionRecord& v, OperationRecord& o) -> absl::Status {
    v.phase = ServicePhase::kReady;
    v.state = ServiceState::kHealthy;
    v.reason.clear();
    v.error.clear();
    return operations_->Finish(tx, o, OperationStatus::kSucceeded, summary);
  });
  if (!s.ok()) return absl::IsAborted(s) ? StepResult::Done() : StepResult::RequeueAfter(kRetry);
  Forget(l.operation->id);
  backend_.artifacts->ReleaseBundles(WorkloadKeyOf(l.service, l.version), {l.version.live_revision});
  // An update to fewer replicas or smaller ones leaves room for others.
  WakeWaiting(l.service.cluster_id);
  return StepResult::Done();
}

StepResult ServiceController::Fail(Loaded& l, const char* failed_phase, const std::string& reason,
                                   const std::string& message) {
  std::string full = absl::StrCat("Phase ", failed_phase, " failed: ", message);
  std::string error = ErrorJson(reason, full);
  // What ran before the update of this version (updates record it when they start).
  auto payload = json::ParseObject(l.operation->payload, "payload");
  bool this_version = payload.ok() && json::GetString(*payload, "version", l.version.name) == l.version.name;
  std::string previous_spec = this_version ? json::GetString(*payload, "previousLiveSpec") : "";
  int64_t previous_revision = this_version ? json::GetInt(*payload, "previousLiveRevision") : 0;
  std::optional<DeploymentSpec> previous;
  if (!previous_spec.empty()) {
    if (auto parsed = DeploymentSpecFromJson(previous_spec); parsed.ok()) previous = std::move(*parsed);
  }
  // An update that failed after its replicas started goes back to what ran before, in the backend first, so
  // that the operation ends once the previous revision runs again.
  bool roll_back = previous && l.version.live_revision != previous_revision && l.cluster;
  if (roll_back) {
    (void)backend_.workloads->ApplyVersion(l.cluster_ref(),
                                           WorkloadOf(l.service, l.version, *previous, previous_revision));
  }
  auto s = Advance(l, [&](Tx& tx, ServiceRecord&, ServiceVersionRecord& v, OperationRecord& o) -> absl::Status {
    if (previous) {
      v.live_spec = previous_spec;
      v.live_revision = previous_revision;
      domain::Demand held = DemandOf(previous->request);
      v.reserved_cpu = held.cpu;
      v.reserved_memory_gb = held.memory_gb;
      v.state = ServiceState::kHealthy;
      v.phase = ServicePhase::kReady;
    } else {
      v.state = ServiceState::kFailed;
      v.phase = failed_phase;
    }
    v.reason = reason;
    v.error = error;
    return operations_->Finish(
        tx, o, OperationStatus::kFailed,
        absl::StrCat("Failed in phase ", failed_phase, ": ", reason,
                     previous ? "; the service keeps running its previous deployment" : ""),
        MakeError(absl::StatusCode::kAborted, reason, full));
  });
  if (!s.ok()) return absl::IsAborted(s) ? StepResult::Done() : StepResult::RequeueAfter(kRetry);
  Forget(l.operation->id);
  if (roll_back) (void)routes_->Publish(l.cluster->id);
  WakeWaiting(l.service.cluster_id);
  return StepResult::Done();
}

StepResult ServiceController::Complete(Loaded& l) {
  // Routes are published as the database now has them: a change of traffic takes effect here, and what runs
  // takes settings that change in place (an autoscaling policy) without a new revision.
  if (l.cluster && l.cluster->state == ProvisioningState::kSucceeded) {
    if (auto published = routes_->Publish(l.cluster->id); !published.ok()) return StepResult::RequeueAfter(kRetry);
    for (const auto& v : l.versions) {
      if (v.live_spec.empty() || v.state == kVersionDeleting) continue;
      auto live = DeploymentSpecFromJson(v.live_spec);
      if (!live.ok()) continue;
      domain::WorkloadSpec workload = WorkloadOf(l.service, v, *live, v.live_revision);
      if (!workload.autoscale) continue;
      if (auto applied = backend_.workloads->ApplyVersion(l.cluster_ref(), workload); !applied.ok()) {
        return StepResult::RequeueAfter(kRetry);
      }
    }
  }
  std::vector<std::string> shares;
  for (const auto& v : l.versions) {
    shares.push_back(absl::StrCat(v.name, " ", v.traffic_percentile, "%", v.is_default ? " (default)" : "",
                                  v.version_type == domain::VersionType::kControl ? " (control)" : ""));
  }
  auto s = store_->db().Transaction([&](Tx& tx) -> absl::Status {
    auto op = store_->GetOperation(tx, l.operation->id);
    if (!op.ok() || !op->has_value() || (*op)->done()) return op.status();
    OperationRecord o = **op;
    std::string line = l.service.kind == ServiceKind::kEndpoint
                           ? absl::StrCat("Routes of endpoint ", l.service.name, ": ", absl::StrJoin(shares, ", "))
                           : "Updated";
    if (auto st = operations_->Finish(tx, o, OperationStatus::kSucceeded, line); !st.ok()) return st;
    return store_->UpdateOperation(tx, o);
  });
  operations_->Notify(l.operation->id);
  if (!s.ok()) return StepResult::RequeueAfter(kRetry);
  Forget(l.operation->id);
  return StepResult::Done();
}

StepResult ServiceController::RemoveVersion(Loaded& l) {
  domain::WorkloadKey key = WorkloadKeyOf(l.service, l.version);
  if (l.cluster && l.cluster->state == ProvisioningState::kSucceeded) {
    backend::ClusterRef ref = l.cluster_ref();
    // Out of the routes first (its share goes to the others), then its replicas drain.
    if (auto published = routes_->Publish(l.cluster->id); !published.ok()) return StepResult::RequeueAfter(kRetry);
    if (auto s = backend_.workloads->DeleteVersion(ref, key); s.ok()) {
      bool draining = false;
      if (auto observed = backend_.workloads->ObserveVersions(ref); observed.ok()) {
        for (const auto& v : *observed) draining |= v.key == key;
      }
      bool patient = absl::ToChronoMilliseconds(Since(l.operation->created)) < options_.drain_timeout;
      if (draining && patient) return StepResult::RequeueAfter(kReplicaPoll);
    }
  }
  backend_.artifacts->ReleaseBundles(key, {});
  auto s = store_->db().Transaction([&](Tx& tx) -> absl::Status {
    auto op = store_->GetOperation(tx, l.operation->id);
    if (!op.ok() || !op->has_value() || (*op)->done()) return op.status();
    if (auto st = tx.Execute("DELETE FROM service_versions WHERE id = ?", {l.version.id}); !st.ok()) {
      return st.status();
    }
    auto service = store_->GetService(tx, l.service.id);
    auto versions = store_->ServiceVersions(tx, l.service.id);
    if (!service.ok() || !service->has_value() || !versions.ok()) return absl::InternalError("service gone");
    ServiceRecord svc = **service;
    Summarize(svc, *versions);
    if (auto st = store_->UpdateService(tx, svc); !st.ok()) return st;
    OperationRecord o = **op;
    if (auto st = operations_->Finish(tx, o, OperationStatus::kSucceeded,
                                      absl::StrCat("Version ", l.version.name, " deleted"));
        !st.ok()) {
      return st;
    }
    return store_->UpdateOperation(tx, o);
  });
  operations_->Notify(l.operation->id);
  if (!s.ok()) return StepResult::RequeueAfter(kRetry);
  Forget(l.operation->id);
  WakeWaiting(l.service.cluster_id);
  return StepResult::Done();
}

StepResult ServiceController::DeleteService(Loaded& l) {
  std::string operation_id = l.operation ? l.operation->id : "";
  if (l.cluster && l.cluster->state == ProvisioningState::kSucceeded) {
    backend::ClusterRef ref = l.cluster_ref();
    (void)routes_->Publish(l.cluster->id);
    bool deleted = true;
    for (const auto& v : l.versions) deleted &= backend_.workloads->DeleteVersion(ref, WorkloadKeyOf(l.service, v)).ok();
    if (deleted) {
      // Wait (by coming back) until its replicas have stopped, so that nothing of the service is left when the
      // deletion ends; a cluster that cannot tell is cleaned up by its own controller later.
      bool draining = false;
      if (auto observed = backend_.workloads->ObserveVersions(ref); observed.ok()) {
        for (const auto& o : *observed) {
          for (const auto& v : l.versions) draining |= o.key == WorkloadKeyOf(l.service, v);
        }
      }
      bool patient = !l.operation || absl::ToChronoMilliseconds(Since(l.operation->created)) < options_.drain_timeout;
      if (draining && patient) return StepResult::RequeueAfter(kReplicaPoll);
    }
  }
  // A container group is the service's own: it goes with it, and its port is free once the deletion ends.
  bool group = l.cluster && l.cluster->is_container_group();
  if (group) {
    auto gone = backend_.workloads->DeleteCluster(l.cluster_ref());
    if (!gone.ok() || !*gone) return StepResult::RequeueAfter(kReplicaPoll);
  }
  for (const auto& v : l.versions) backend_.artifacts->ReleaseBundles(WorkloadKeyOf(l.service, v), {});
  auto s = store_->db().Transaction([&](Tx& tx) -> absl::Status {
    if (auto st = store_->DeleteService(tx, l.service.id); !st.ok()) return st;
    if (group) {
      if (auto st = store_->DeleteCluster(tx, l.cluster->id); !st.ok()) return st;
    }
    if (operation_id.empty()) return absl::OkStatus();
    auto op = store_->GetOperation(tx, operation_id);
    if (!op.ok() || !op->has_value()) return op.status();
    OperationRecord o = **op;
    if (auto st = operations_->Finish(tx, o, OperationStatus::kSucceeded,
                                      l.service.kind == ServiceKind::kEndpoint ? "Endpoint deleted" : "Service deleted");
        !st.ok()) {
      return st;
    }
    return store_->UpdateOperation(tx, o);
  });
  if (!operation_id.empty()) operations_->Notify(operation_id);
  if (!s.ok()) return StepResult::RequeueAfter(kRetry);
  if (!operation_id.empty()) Forget(operation_id);
  return StepResult::Done();
}

void ServiceController::WakeWaiting(int64_t cluster_id) {
  std::vector<std::pair<int64_t, int64_t>> waiting;  // (seq, service id)
  (void)store_->db().Read([&](Tx& tx) -> absl::Status {
    auto versions = store_->VersionsOnCluster(tx, cluster_id);
    if (!versions.ok()) return versions.status();
    for (const auto& [service, version] : *versions) {
      if (version.phase == ServicePhase::kScheduling && domain::InProgress(version.state) &&
          service.state != ServiceState::kDeleting) {
        waiting.emplace_back(version.schedule_seq, service.id);
      }
    }
    return absl::OkStatus();
  });
  std::sort(waiting.begin(), waiting.end());
  for (const auto& [seq, id] : waiting) operations_->controllers().Enqueue({ResourceKind::kService, id});
}

std::optional<ServiceController::ReplicaCounts> ServiceController::LastReplicaCounts(
    const domain::WorkloadKey& key) const {
  std::lock_guard lock(mu_);
  auto it = replica_counts_.find(key.Name());
  if (it == replica_counts_.end()) return std::nullopt;
  return it->second;
}

namespace {
// The operation-log line for a version whose autoscaler changed its replica count.
std::string ScalingLine(const ServiceRecord& service, const ServiceVersionRecord& version, int64_t from,
                        const domain::VersionObservation& now) {
  std::string who = service.kind == ServiceKind::kEndpoint
                        ? absl::StrCat("Version ", version.name, " of ", service.name)
                        : absl::StrCat("Service ", service.name);
  if (now.desired == 0) {
    return absl::StrCat(who, " scaled to zero: it had no request for its idle period; the next request starts a "
                        "replica.");
  }
  return absl::StrCat(who, " scaled from ", from, " to ", now.desired, " replicas: its load asks for ", now.wanted,
                      ", ", now.ready, " ready now.");
}
}  // namespace

bool ServiceController::UpdateHealth(int64_t cluster_id, const std::vector<domain::VersionObservation>& observed) {
  // Versions whose autoscaler changed their replica count since the last observation: from what.
  std::map<std::string, int64_t> scaled;
  {
    std::lock_guard lock(mu_);
    for (const auto& v : observed) {
      if (v.removed) {
        replica_counts_.erase(v.key.Name());
        continue;
      }
      auto& counts = replica_counts_[v.key.Name()];
      if (counts.desired != v.desired && (counts.desired != 0 || counts.ready != 0 || counts.wanted != 0)) {
        scaled[v.key.Name()] = counts.desired;
      }
      counts = ReplicaCounts{v.ready, v.desired, v.wanted};
    }
  }
  bool unhealthy = false;
  (void)store_->db().Transaction([&](Tx& tx) -> absl::Status {
    auto on_cluster = store_->ServicesOnCluster(tx, cluster_id);
    if (!on_cluster.ok()) return on_cluster.status();
    for (ServiceRecord service : *on_cluster) {
      if (service.state == ServiceState::kDeleting) continue;
      auto running = store_->RunningOperationOn(tx, ResourceKind::kService, service.id);
      if (!running.ok() || running->has_value()) continue;
      auto versions = store_->ServiceVersions(tx, service.id);
      if (!versions.ok()) return versions.status();
      bool changed = false;
      for (ServiceVersionRecord& version : *versions) {
        if (version.state != ServiceState::kHealthy && version.state != ServiceState::kUnhealthy) continue;
        if (version.live_spec.empty()) continue;
        domain::WorkloadKey key = WorkloadKeyOf(service, version);
        if (auto from = scaled.find(key.Name()); from != scaled.end()) {
          // Told in the log of the operation that deployed it, where wait_for_deployment and get_logs look.
          auto op = store_->LatestOperationOn(tx, ResourceKind::kService, service.id,
                                            {ServiceOperation::kCreate, ServiceOperation::kUpdate});
          for (const auto& v : observed) {
            if (!(v.key == key) || !op.ok() || !op->has_value()) continue;
            if (auto st = store_->AppendOperationLog(tx, (*op)->id, ScalingLine(service, version, from->second, v));
                !st.ok()) {
              return st;
            }
          }
        }
        for (const auto& v : observed) {
          // A backend still catching up with the revision that should run says nothing of its health yet.
          if (!(v.key == key) || v.revision != version.live_revision) continue;
          std::string reason;
          for (const auto& r : v.replicas) {
            if (!r.last_reason.empty() && r.state != domain::ReplicaState::kReady) reason = r.last_reason;
          }
          bool healthy = v.ready >= v.required;
          unhealthy |= !healthy;
          if (healthy && version.state == ServiceState::kUnhealthy) {
            version.state = ServiceState::kHealthy;
            version.reason.clear();
          } else if (!healthy && version.state == ServiceState::kHealthy) {
            version.state = ServiceState::kUnhealthy;
            version.reason = reason == "Error" ? "CrashLoopBackOff" : reason;
          } else {
            continue;
          }
          changed = true;
          if (auto st = store_->UpdateServiceVersion(tx, version); !st.ok()) return st;
        }
      }
      if (!changed) continue;
      Summarize(service, *versions);
      if (auto st = store_->UpdateService(tx, service); !st.ok()) return st;
    }
    return absl::OkStatus();
  });
  return unhealthy;
}

absl::Status ServiceController::RecordMissingReservations() {
  return store_->db().Transaction([&](Tx& tx) -> absl::Status {
    auto clusters = store_->ListClusters(tx);
    if (!clusters.ok()) return clusters.status();
    for (const auto& cluster : *clusters) {
      auto versions = store_->VersionsOnCluster(tx, cluster.id);
      if (!versions.ok()) return versions.status();
      for (auto [service, version] : *versions) {
        if (version.reserved_cpu >= 0 && version.reserved_memory_gb >= 0) continue;
        domain::Demand held;
        if (auto spec = DeploymentSpecFromJson(version.live_spec); !version.live_spec.empty() && spec.ok()) {
          held = DemandOf(spec->request);
        }
        version.reserved_cpu = held.cpu;
        version.reserved_memory_gb = held.memory_gb;
        if (auto s = store_->UpdateServiceVersion(tx, version); !s.ok()) return s;
      }
    }
    return absl::OkStatus();
  });
}

}  // namespace amlcore::server
