// The controller of web services and endpoints: takes a service's running operation one step further each time
// it is called and says when to come back, never waiting itself. A version's deployment goes through the phases
// Validating, BuildingEnvironment, Scheduling, StartingReplicas and Initializing, each persisted on the version,
// so a restart resumes where it was; a version being removed drains first. A version waiting for capacity holds
// nothing: it is woken when capacity frees up. Deleting a service cancels whatever runs on it and always
// completes. An operation changes one version at a time; the service's state follows its versions'.
#ifndef AMLCORE_SERVER_SERVICE_CONTROLLER_H_
#define AMLCORE_SERVER_SERVICE_CONTROLLER_H_

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "server/controller_queue.h"
#include "server/deployment_spec.h"
#include "server/operations.h"
#include "server/route_publisher.h"
#include "server/store.h"

namespace amlcore::server {

// Operation types of services.
struct ServiceOperation {
  static constexpr char kCreate[] = "ServiceCreate";
  static constexpr char kUpdate[] = "ServiceUpdate";
  static constexpr char kDelete[] = "ServiceDelete";
};

// A version's state while it is removed from its endpoint.
inline constexpr char kVersionDeleting[] = "Deleting";

class ServiceController {
 public:
  struct Options {
    std::chrono::milliseconds initialize_timeout{std::chrono::minutes(10)};
    std::chrono::milliseconds drain_timeout{std::chrono::seconds(30)};
  };

  ServiceController(Store* store, Operations* operations, backend::Backend backend, RoutePublisher* routes,
                    Options options);

  // One step of the service's operation.
  StepResult Reconcile(int64_t service_id);
  // Wakes the services of a cluster that wait for capacity (in the order they asked).
  void WakeWaiting(int64_t cluster_id);
  // Moves steady versions of a cluster between Healthy and Unhealthy from one observation of them. Returns
  // whether any of them is not Healthy (the cluster is then watched more closely).
  bool UpdateHealth(int64_t cluster_id, const std::vector<domain::VersionObservation>& observed);
  // What the backend last reported of a version's replicas: ready, to run now, and asked for by its load.
  struct ReplicaCounts {
    int64_t ready = 0;
    int64_t desired = 0;
    int64_t wanted = 0;
  };
  std::optional<ReplicaCounts> LastReplicaCounts(const domain::WorkloadKey& key) const;
  // Sets the capacity held by versions that stores of earlier releases did not record.
  absl::Status RecordMissingReservations();

  // Sets a service's state, phase, reason and error from its versions' (inside the caller's transaction).
  static void Summarize(ServiceRecord& service, const std::vector<ServiceVersionRecord>& versions);

 private:
  struct Loaded {
    ServiceRecord service;
    std::vector<ServiceVersionRecord> versions;
    ServiceVersionRecord version;  // the one the operation changes now
    DeploymentSpec spec;           // its spec
    std::optional<OperationRecord> operation;
    std::optional<ClusterRecord> cluster;
    backend::ClusterRef cluster_ref() const;
  };
  // What a step has already reported to the operation log, by operation id (lost on restart: a resumed
  // deployment may repeat a line).
  struct Reported {
    size_t build_lines = 0;
    std::map<std::string, std::string> replica_states;
    bool initializing = false;
    int probes = 0;
    std::string unschedulable;  // the scheduler's last message said (Kubernetes)
  };
  using Change = std::function<absl::Status(Tx&, ServiceRecord&, ServiceVersionRecord&, OperationRecord&)>;

  absl::StatusOr<std::optional<Loaded>> Load(int64_t service_id);
  // Applies `change` to the service, the loaded version and the operation in one transaction (then sums the
  // service's condition up from its versions) if the operation still runs and the service is not being
  // deleted; kAborted otherwise (a deletion took over, and will reconcile next).
  absl::Status Advance(const Loaded& l, const Change& change);

  // An ACI or local service's container group: started (or its settings applied) before the deployment goes
  // on; a step to return while it starts, nothing once it runs.
  std::optional<StepResult> StartContainerGroup(Loaded& l);
  StepResult Validate(Loaded& l);
  StepResult BuildEnvironment(Loaded& l);
  StepResult Schedule(Loaded& l);
  StepResult StartReplicas(Loaded& l);
  StepResult AwaitReplicas(Loaded& l);
  // Removes one version of an endpoint: out of the routes, its replicas drained, its row gone.
  StepResult RemoveVersion(Loaded& l);
  // An operation with no version left to change (a change of routes only, or the last step of one that did).
  StepResult Complete(Loaded& l);
  StepResult DeleteService(Loaded& l);
  StepResult Succeed(Loaded& l, const std::string& summary);
  // Ends the version's deployment Failed: a new version is Failed; an updated one goes back to what it ran.
  StepResult Fail(Loaded& l, const char* phase, const std::string& reason, const std::string& message);
  Reported& ReportedFor(const std::string& operation_id);
  void Forget(const std::string& operation_id);

  Store* store_;
  Operations* operations_;
  backend::Backend backend_;
  RoutePublisher* routes_;
  Options options_;
  mutable std::mutex mu_;
  std::map<std::string, Reported> reported_;
  std::map<std::string, ReplicaCounts> replica_counts_;  // by workload name
};

}  // namespace amlcore::server

#endif  // AMLCORE_SERVER_SERVICE_CONTROLLER_H_
