// The workspace server's state: resource groups, workspaces, clusters, compute targets and long-running
// operations, as rows of one SQLite database. Methods take a transaction so that callers compose them.
#ifndef AMLCORE_SERVER_STORE_H_
#define AMLCORE_SERVER_STORE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "amlcore/compute.h"
#include "common/process.h"
#include "domain/compute_wire.h"
#include "server/database.h"

namespace amlcore::server {

using Tx = Database::Tx;

struct WorkspaceRecord {
  int64_t id = 0;
  std::string subscription_id;
  std::string resource_group;
  std::string name;
  std::string location;
  std::string friendly_name;
  std::string description;
  std::map<std::string, std::string> tags;
  std::string created;
};

// An AKS cluster. Clusters exist on their own; compute targets link workspaces to them.
struct ClusterRecord {
  int64_t id = 0;
  std::string subscription_id;
  std::string resource_group;
  std::string name;
  std::string location;
  int64_t agent_count = 0;
  std::string vm_size;
  std::optional<SslConfiguration> ssl;
  std::optional<domain::AksNetworking> networking;
  std::string load_balancer_type;
  std::string load_balancer_subnet;
  std::string state;  // Creating, Succeeded, Failed, Deleting
  int64_t created_by_workspace = 0;  // 0: created outside any workspace
  int64_t frontend_port = 0;
  ProcessId frontend;
  std::string created;

  std::string resource_id() const;
};

struct ComputeRecord {
  int64_t id = 0;
  int64_t workspace_id = 0;
  std::string name;
  int64_t cluster_id = 0;
  bool is_attached = false;
  std::string cluster_purpose;
  std::string location;
  std::string description;
  std::map<std::string, std::string> tags;
  std::string provisioning_state;
  std::vector<ProvisioningError> provisioning_errors;
  std::string created;
  std::string modified;
};

// Status values of operations as the compute API reports them.
struct OperationStatus {
  static constexpr char kInProgress[] = "InProgress";
  static constexpr char kSucceeded[] = "Succeeded";
  static constexpr char kFailed[] = "Failed";
  static constexpr char kCanceled[] = "Canceled";
};

struct OperationRecord {
  std::string id;
  std::string type;  // ComputeProvision, ComputeUpdate, ComputeDelete, ComputeDetach
  int64_t workspace_id = 0;
  int64_t target_id = 0;  // compute id
  std::string target_name;
  std::string status;
  std::string phase;  // provisioning state shown while it runs
  std::string error_code;
  std::string error_message;
  std::string payload;  // JSON, type specific
  int64_t version = 0;  // bumped on every change, for long polling
  std::string created;
  std::string ended;

  bool done() const { return status != OperationStatus::kInProgress; }
};

std::string NowTimestamp();

class Store {
 public:
  explicit Store(Database* db) : db_(db) {}
  absl::Status Initialize();
  Database& db() { return *db_; }

  // Resource groups.
  absl::StatusOr<bool> ResourceGroupExists(Tx& tx, const std::string& subscription, const std::string& name);
  absl::Status EnsureResourceGroup(Tx& tx, const std::string& subscription, const std::string& name,
                                   const std::string& location);

  // Workspaces. Lookups are case-insensitive, as in Azure.
  absl::StatusOr<std::optional<WorkspaceRecord>> FindWorkspace(Tx& tx, const std::string& subscription,
                                                               const std::string& resource_group,
                                                               const std::string& name);
  absl::StatusOr<std::vector<WorkspaceRecord>> ListWorkspaces(Tx& tx, const std::string& subscription,
                                                              const std::string& resource_group);
  absl::StatusOr<std::vector<WorkspaceRecord>> FindWorkspacesByName(Tx& tx, const std::string& name);
  absl::StatusOr<int64_t> InsertWorkspace(Tx& tx, const WorkspaceRecord& record);
  // Friendly name, description and tags; the rest of a workspace does not change.
  absl::Status UpdateWorkspace(Tx& tx, const WorkspaceRecord& record);
  absl::Status DeleteWorkspace(Tx& tx, int64_t id);

  // Clusters.
  absl::StatusOr<std::optional<ClusterRecord>> FindCluster(Tx& tx, const std::string& subscription,
                                                           const std::string& resource_group,
                                                           const std::string& name);
  absl::StatusOr<std::optional<ClusterRecord>> GetCluster(Tx& tx, int64_t id);
  absl::StatusOr<std::vector<ClusterRecord>> ListClusters(Tx& tx);
  absl::StatusOr<int64_t> InsertCluster(Tx& tx, const ClusterRecord& record);
  absl::Status UpdateCluster(Tx& tx, const ClusterRecord& record);
  absl::Status DeleteCluster(Tx& tx, int64_t id);

  // Compute targets.
  absl::StatusOr<std::optional<ComputeRecord>> FindCompute(Tx& tx, int64_t workspace_id, const std::string& name);
  absl::StatusOr<std::optional<ComputeRecord>> GetCompute(Tx& tx, int64_t id);
  absl::StatusOr<std::vector<ComputeRecord>> ListComputes(Tx& tx, int64_t workspace_id);
  absl::StatusOr<std::vector<ComputeRecord>> ComputesOfCluster(Tx& tx, int64_t cluster_id);
  absl::StatusOr<int64_t> InsertCompute(Tx& tx, const ComputeRecord& record);
  absl::Status UpdateCompute(Tx& tx, const ComputeRecord& record);
  absl::Status DeleteCompute(Tx& tx, int64_t id);

  // Operations and their logs.
  absl::Status InsertOperation(Tx& tx, const OperationRecord& record);
  absl::Status UpdateOperation(Tx& tx, OperationRecord& record);  // bumps record.version
  absl::StatusOr<std::optional<OperationRecord>> GetOperation(Tx& tx, const std::string& id);
  absl::StatusOr<std::vector<OperationRecord>> UnfinishedOperations(Tx& tx);
  // The running operation on a compute target, if any.
  absl::StatusOr<std::optional<OperationRecord>> RunningOperationOn(Tx& tx, int64_t workspace_id,
                                                                    const std::string& target_name);
  absl::Status AppendOperationLog(Tx& tx, const std::string& operation_id, const std::string& message);

  // Names of the workspaces and compute targets attached to a cluster ("ws/compute").
  absl::StatusOr<std::vector<std::string>> DescribeAttachments(Tx& tx, int64_t cluster_id);

 private:
  Database* db_;
};

}  // namespace amlcore::server

#endif  // AMLCORE_SERVER_STORE_H_
