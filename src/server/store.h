// The workspace server's state: resource groups, workspaces, clusters, compute targets and long-running
// operations, as rows of one SQLite database. Methods take a transaction so that callers compose them.
#ifndef AMLCORE_SERVER_STORE_H_
#define AMLCORE_SERVER_STORE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "amlcore/compute.h"
#include "domain/compute_wire.h"
#include "domain/data_wire.h"
#include "domain/service_wire.h"
#include "server/database.h"

namespace amlcore::server {

using Tx = Database::Tx;

// String maps (tags, properties) as the JSON text their columns keep; unreadable text reads as empty.
std::string MapToText(const std::map<std::string, std::string>& map);
std::map<std::string, std::string> MapFromText(const std::string& text);

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

// Kinds of clusters: AKS clusters, which compute targets link workspaces to, and the container groups that
// run one ACI or local web service each (created and deleted with their service, never a compute target).
struct ClusterKind {
  static constexpr char kAks[] = "AKS";
  static constexpr char kContainerGroup[] = "ContainerGroup";
};

// A cluster. AKS clusters exist on their own; compute targets link workspaces to them.
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
  std::string scoring_endpoint;  // base URL of the cluster's router, as its backend reported it ("" until ready)
  std::string created;
  int64_t route_generation = 0;  // of the last route table built for its router
  std::string kind = ClusterKind::kAks;
  int64_t port = 0;              // the port its router must listen on (a local service's); 0: any, then kept
  std::string dns_name_label;    // a container group's ACI DNS name label
  bool access_log = false;       // its router logs every request
  // A Kubernetes cluster attached through a kubeconfig context: Kubernetes runs and schedules its workloads.
  std::optional<domain::KubernetesTarget> kubernetes;

  bool is_container_group() const { return kind == ClusterKind::kContainerGroup; }
  bool is_kubernetes() const { return kubernetes.has_value(); }
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

// What an operation acts on: operations are keyed by the kind and id of their resource, never by a name.
struct ResourceKind {
  static constexpr char kCompute[] = "compute";
  static constexpr char kService[] = "service";
};

struct OperationRecord {
  std::string id;
  std::string type;  // ComputeProvision, ComputeUpdate, ComputeDelete, ComputeDetach, ServiceCreate, ...
  int64_t workspace_id = 0;
  std::string resource_kind;  // ResourceKind
  int64_t resource_id = 0;
  std::string resource_name;  // for messages
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

struct ModelRecord {
  int64_t id = 0;
  int64_t workspace_id = 0;
  domain::ModelDocument model;
};

struct EnvironmentRecord {
  int64_t id = 0;
  int64_t workspace_id = 0;
  std::string name;
  int64_t version = 0;
  std::string definition;  // azureml JSON
  std::string created;
};

// A web service (an AksWebservice, or later an AksEndpoint with several versions).
// Kinds of services.
struct ServiceKind {
  static constexpr char kWebservice[] = "AksWebservice";
  static constexpr char kEndpoint[] = "AksEndpoint";
  static constexpr char kAciWebservice[] = "AciWebservice";      // in a container group of its own
  static constexpr char kLocalWebservice[] = "LocalWebservice";  // in a container group on a fixed port
};
// The computeType of a kind of service in documents and requests (AKS, AKSENDPOINT, ACI, Local), and back.
const char* ComputeTypeOfKind(absl::string_view kind);
const char* KindOfComputeType(absl::string_view compute_type);

struct ServiceRecord {
  int64_t id = 0;
  int64_t workspace_id = 0;
  std::string name;
  std::string kind = ServiceKind::kWebservice;
  std::string compute_name;
  int64_t cluster_id = 0;
  std::string state;
  std::string phase;
  std::string reason;
  std::string error;  // JSON {"code", "message"} or ""
  std::string primary_key;
  std::string secondary_key;
  std::string description;
  std::map<std::string, std::string> tags;
  std::map<std::string, std::string> properties;
  std::string created;
  std::string updated;
  // An endpoint's own settings (auth, token auth, app insights) as deploymentConfig JSON; a web service's are
  // those of its version.
  std::string endpoint_config = "{}";
};

// One version of a service: what its replicas run. An AksWebservice has one, named like the service.
struct ServiceVersionRecord {
  int64_t id = 0;
  int64_t service_id = 0;
  std::string name;
  std::string spec;        // JSON of the DeploymentSpec asked for
  int64_t revision = 0;    // bumped with every change of spec
  std::string live_spec;   // the spec the backend runs ("" until the first deployment starts replicas)
  int64_t live_revision = 0;
  std::string uid;         // new for every version created; part of its workload's name
  // Where the deployment of `revision` is ("" when no deployment runs), and since when.
  std::string phase;
  std::string phase_started;
  int64_t schedule_seq = 0;  // order in which waiting versions asked for capacity
  // Capacity the version holds on its cluster (what its scheduled revision asks for).
  double reserved_cpu = 0;
  double reserved_memory_gb = 0;
  // How requests reach it among the endpoint's versions.
  int64_t traffic_percentile = 0;
  bool is_default = true;
  std::string version_type;  // "" (a web service's only version), Control or Treatment
  // The version's own state (a web service's state is its version's).
  std::string state;
  std::string reason;
  std::string error;  // JSON {"code", "message"} or ""
  std::string created;
};

// A saved dataset definition; its id comes from the definition (domain::SavedDatasetId).
struct SavedDatasetRecord {
  std::string id;
  int64_t workspace_id = 0;
  DatasetDefinition definition;
  std::string created;
};

// One registered version of a dataset name.
struct DatasetRecord {
  int64_t id = 0;
  int64_t workspace_id = 0;
  std::string name;
  int64_t version = 0;
  std::string saved_id;
  std::string description;
  std::map<std::string, std::string> tags;
  std::string created;
};

// Timestamps as stored: RFC 3339 in UTC with microseconds.
std::string NowTimestamp();
// A stored timestamp as a time; the Unix epoch when it does not parse.
absl::Time ParseTimestamp(absl::string_view timestamp);

// A key that signs service tokens (ES256). Times are seconds since the epoch.
struct SigningKeyRecord {
  std::string kid;
  std::string private_pem;
  std::string public_pem;
  int64_t created = 0;
  int64_t retired = 0;          // 0: it signs new tokens
  int64_t published_until = 0;  // for a retired key: routers accept its tokens until then
};

// The schema, one migration per release that changed it, oldest first (never edited once released).
const std::vector<std::string>& StoreMigrations();

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
  // The running operation on a resource, if any.
  absl::StatusOr<std::optional<OperationRecord>> RunningOperationOn(Tx& tx, absl::string_view kind,
                                                                    int64_t resource_id);
  absl::Status AppendOperationLog(Tx& tx, const std::string& operation_id, const std::string& message);
  struct LogLine {
    int64_t seq = 0;
    std::string time;
    std::string message;
  };
  absl::StatusOr<std::vector<LogLine>> OperationLog(Tx& tx, const std::string& operation_id);
  // The newest operation of the given types on a resource, if any.
  absl::StatusOr<std::optional<OperationRecord>> LatestOperationOn(Tx& tx, absl::string_view kind,
                                                                   int64_t resource_id,
                                                                   const std::vector<std::string>& types);

  // Models.
  absl::StatusOr<int64_t> NextModelVersion(Tx& tx, int64_t workspace_id, const std::string& name);
  absl::StatusOr<int64_t> InsertModel(Tx& tx, const ModelRecord& record);
  // `version` 0 means the latest.
  absl::StatusOr<std::optional<ModelRecord>> FindModel(Tx& tx, int64_t workspace_id, const std::string& name,
                                                       int64_t version);
  absl::StatusOr<std::vector<ModelRecord>> ListModels(Tx& tx, int64_t workspace_id, const std::string& name);
  absl::Status DeleteModel(Tx& tx, int64_t id);

  // Registered environments.
  absl::StatusOr<int64_t> InsertEnvironment(Tx& tx, const EnvironmentRecord& record);
  absl::StatusOr<std::optional<EnvironmentRecord>> FindEnvironment(Tx& tx, int64_t workspace_id,
                                                                   const std::string& name, int64_t version);
  absl::StatusOr<std::vector<EnvironmentRecord>> ListEnvironments(Tx& tx, int64_t workspace_id);
  absl::StatusOr<bool> EnvironmentBuildKnown(Tx& tx, const std::string& hash, int64_t workspace_id);
  absl::Status RecordEnvironmentBuild(Tx& tx, const std::string& hash, int64_t workspace_id);

  // Services and their versions.
  absl::StatusOr<std::optional<ServiceRecord>> FindService(Tx& tx, int64_t workspace_id, const std::string& name);
  absl::StatusOr<std::optional<ServiceRecord>> GetService(Tx& tx, int64_t id);
  absl::StatusOr<std::vector<ServiceRecord>> ListServices(Tx& tx, int64_t workspace_id);
  absl::StatusOr<std::vector<ServiceRecord>> ServicesOnCluster(Tx& tx, int64_t cluster_id);
  absl::StatusOr<int64_t> InsertService(Tx& tx, const ServiceRecord& record);
  absl::Status UpdateService(Tx& tx, const ServiceRecord& record);
  absl::Status DeleteService(Tx& tx, int64_t id);
  absl::StatusOr<std::vector<ServiceVersionRecord>> ServiceVersions(Tx& tx, int64_t service_id);
  absl::StatusOr<int64_t> InsertServiceVersion(Tx& tx, const ServiceVersionRecord& record);
  absl::Status UpdateServiceVersion(Tx& tx, const ServiceVersionRecord& record);
  // Versions of services on a cluster, with the service each belongs to.
  absl::StatusOr<std::vector<std::pair<ServiceRecord, ServiceVersionRecord>>> VersionsOnCluster(Tx& tx,
                                                                                              int64_t cluster_id);
  // The next number in the order of waiting versions.
  absl::StatusOr<int64_t> NextScheduleSeq(Tx& tx);

  // Every blob the state refers to: model files, datastore files, source snapshots of service versions (asked
  // for or running), and those of what running updates would go back to.
  absl::StatusOr<std::set<std::string>> ReferencedBlobs(Tx& tx);

  // The server's own settings (its token issuer, ...).
  absl::StatusOr<std::optional<std::string>> GetServerSetting(Tx& tx, const std::string& name);
  absl::Status PutServerSetting(Tx& tx, const std::string& name, const std::string& value);

  // Token signing keys, oldest first.
  absl::StatusOr<std::vector<SigningKeyRecord>> SigningKeys(Tx& tx);
  absl::Status PutSigningKey(Tx& tx, const SigningKeyRecord& key);  // inserts, or updates its retirement
  absl::Status DeleteSigningKey(Tx& tx, const std::string& kid);

  // Datastores' files, by path.
  absl::StatusOr<std::vector<DatastoreFile>> ListDatastoreFiles(Tx& tx, int64_t workspace_id,
                                                                const std::string& datastore,
                                                                const std::string& prefix);
  absl::StatusOr<std::optional<DatastoreFile>> FindDatastoreFile(Tx& tx, int64_t workspace_id,
                                                                 const std::string& datastore,
                                                                 const std::string& path);
  absl::Status PutDatastoreFile(Tx& tx, int64_t workspace_id, const std::string& datastore,
                                const DatastoreFile& file);  // inserts or replaces

  // Saved datasets and their registrations.
  absl::Status PutSavedDataset(Tx& tx, const SavedDatasetRecord& record);  // keeps an existing one
  absl::StatusOr<std::optional<SavedDatasetRecord>> FindSavedDataset(Tx& tx, int64_t workspace_id,
                                                                     const std::string& id);
  absl::StatusOr<int64_t> InsertDataset(Tx& tx, const DatasetRecord& record);
  // `version` 0 means the latest.
  absl::StatusOr<std::optional<DatasetRecord>> FindDataset(Tx& tx, int64_t workspace_id, const std::string& name,
                                                           int64_t version);
  // The latest version of each name, by name.
  absl::StatusOr<std::vector<DatasetRecord>> ListLatestDatasets(Tx& tx, int64_t workspace_id);
  // The newest registration of a saved dataset, if it has one.
  absl::StatusOr<std::optional<DatasetRecord>> LatestRegistrationOf(Tx& tx, int64_t workspace_id,
                                                                    const std::string& saved_id);

  // Names of the workspaces and compute targets attached to a cluster ("ws/compute").
  absl::StatusOr<std::vector<std::string>> DescribeAttachments(Tx& tx, int64_t cluster_id);

 private:
  Database* db_;
};

}  // namespace amlcore::server

#endif  // AMLCORE_SERVER_STORE_H_
