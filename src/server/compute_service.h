// Compute targets on the server: validates and records create / attach / update / delete / detach requests,
// runs them as long-running operations against the backend, and keeps clusters' front ends running.
#ifndef AMLCORE_SERVER_COMPUTE_SERVICE_H_
#define AMLCORE_SERVER_COMPUTE_SERVICE_H_

#include "absl/strings/string_view.h"
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/backend.h"
#include "domain/compute_wire.h"
#include "server/controller_queue.h"
#include "server/operations.h"
#include "server/request_checks.h"
#include "server/store.h"

namespace amlcore::server {

class ComputeService {
 public:
  struct Options {
    // Extra time a cluster takes to provision, to rehearse slow clouds (AMLCORE_SIMULATED_PROVISIONING_SECONDS).
    std::chrono::milliseconds simulated_provisioning{0};
    // Where the certificate authority that issues leaf-domain-label certificates lives (made on first use).
    std::string certificate_authority_directory;
  };

  // `capacity_changed(cluster_id)` is called when a cluster can hold more than before.
  ComputeService(Store* store, backend::WorkloadBackend* backend, Operations* operations, Options options,
                 std::function<void(int64_t)> capacity_changed);

  struct Accepted {
    domain::ComputeResource resource;
    std::string operation_id;
    ResourceKey resource_key;
    std::string location;  // of the workspace, for the operation status URL
    bool created = false;
  };
  // PUT: create, attach, or (existing name, unless create_only) update.
  absl::StatusOr<Accepted> Put(const WorkspaceKey& workspace, const std::string& name, absl::string_view body,
                               bool create_only);
  // The compute target, with its running operation (if any) in operation_id.
  absl::StatusOr<Accepted> Get(const WorkspaceKey& workspace, const std::string& name);
  absl::StatusOr<std::vector<domain::ComputeResource>> List(const WorkspaceKey& workspace);
  // DELETE with underlyingResourceAction "delete" or "detach".
  absl::StatusOr<Accepted> Delete(const WorkspaceKey& workspace, const std::string& name,
                                  const std::string& action);
  absl::StatusOr<json::bj::object> ListKeys(const WorkspaceKey& workspace, const std::string& name);

  // Removes every compute target of a workspace that is being deleted (inside the caller's transaction): created
  // clusters are marked for deletion (their controller takes them down), attached ones detached. Refused while
  // an operation runs or another workspace uses a created cluster. Returns the clusters marked.
  absl::StatusOr<std::vector<int64_t>> RemoveWorkspaceComputes(Tx& tx, int64_t workspace_id);

  // One step of the compute target's running operation.
  StepResult Reconcile(int64_t compute_id);

 private:
  // Starts `op` on `compute` and fills `accepted` with its id and the compute target as the caller will see it.
  absl::Status Begin(Tx& tx, const WorkspaceRecord& workspace, OperationRecord& op, const ComputeRecord& compute,
                     const std::string& first_line, Accepted& accepted);
  // The compute targets a cluster is attached as, or ClusterAlreadyAttached when one is in `workspace`.
  absl::StatusOr<std::vector<ComputeRecord>> AttachmentsOf(Tx& tx, const ClusterRecord& cluster,
                                                           const WorkspaceRecord& workspace);
  // Records a new compute target and begins its provisioning operation.
  absl::Status InsertAndBegin(Tx& tx, const WorkspaceRecord& workspace, OperationRecord& op, ComputeRecord& compute,
                              const std::string& name, const std::string& first_line, Accepted& accepted);
  // The Kubernetes cluster an attach of `cluster_name` reaches (its kubeconfig context, read now), or why none.
  static absl::StatusOr<domain::KubernetesTarget> KubernetesTargetFor(const domain::ComputePutRequest& request,
                                                                      const std::string& cluster_name);
  absl::StatusOr<domain::ComputeResource> Describe(Tx& tx, const WorkspaceRecord& workspace,
                                                   const ComputeRecord& compute);
  StepResult Fail(const std::string& operation_id, const absl::Status& error);
  // The cluster behind an operation's compute target (none when the target is gone).
  absl::StatusOr<std::optional<ClusterRecord>> ClusterOf(const OperationRecord& operation);
  StepResult Provision(const OperationRecord& operation, const char* failure_code);
  StepResult DeleteCluster(const OperationRecord& operation);
  StepResult Detach(const OperationRecord& operation);

  Store* store_;
  backend::WorkloadBackend* backend_;
  Operations* operations_;
  Options options_;
  std::function<void(int64_t)> capacity_changed_;
};

}  // namespace amlcore::server

#endif  // AMLCORE_SERVER_COMPUTE_SERVICE_H_
