// Web services on the server: validates deployments, runs them as operations (environment, scheduling against
// the cluster's capacity, replicas through the cluster's front end, a probe), and answers for keys, logs,
// updates and deletion.
#ifndef AMLCORE_SERVER_WEBSERVICE_SERVICE_H_
#define AMLCORE_SERVER_WEBSERVICE_SERVICE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/backend.h"
#include "common/json.h"
#include "domain/service_wire.h"
#include "server/blob_store.h"
#include "server/compute_service.h"
#include "server/environment_builder.h"
#include "server/operations.h"
#include "server/store.h"

namespace amlcore::server {

struct ServiceQuery {
  std::string compute_type;
  std::string model_name;
  std::vector<std::string> tags;
  std::vector<std::string> properties;
};

class WebserviceService {
 public:
  struct Options {
    std::string home;
    std::string scoring_program;     // amlcore-score
    std::vector<std::string> python_path;  // import paths replicas get (amlcore and its azureml shims)
  };

  WebserviceService(Store* store, BlobStore* blobs, backend::ComputeBackend* backend, Operations* operations,
                    EnvironmentBuilder* environments, Options options);

  struct Accepted {
    json::bj::object resource;
    std::string operation_id;
  };
  absl::StatusOr<Accepted> Create(const WorkspaceKey& workspace, absl::string_view body);
  // A JSON patch (replace/add on /deploymentConfig, /models, /environment, /entryScript, /sourceDirectory,
  // /snapshot, /description, /kvTags, /properties).
  absl::StatusOr<Accepted> Update(const WorkspaceKey& workspace, const std::string& name, absl::string_view body);
  absl::StatusOr<Accepted> Delete(const WorkspaceKey& workspace, const std::string& name);
  absl::StatusOr<json::bj::object> Get(const WorkspaceKey& workspace, const std::string& name);
  absl::StatusOr<json::bj::array> List(const WorkspaceKey& workspace, const ServiceQuery& query);
  absl::StatusOr<json::bj::object> ListKeys(const WorkspaceKey& workspace, const std::string& name);
  absl::StatusOr<json::bj::object> RegenerateKey(const WorkspaceKey& workspace, const std::string& name,
                                                 absl::string_view body);
  absl::StatusOr<std::string> Logs(const WorkspaceKey& workspace, const std::string& name, int64_t tail, bool init);
  // MMS shape of an operation, with its log.
  absl::StatusOr<json::bj::object> OperationDocument(const OperationRecord& operation);

  // Services of a workspace deploying a model id (inside the caller's transaction).
  absl::StatusOr<std::vector<std::string>> ServicesUsingModel(Tx& tx, int64_t workspace_id,
                                                              const std::string& model_id);
  // Brings front ends up to date with the database and services' states up to date with the front ends.
  void Reconcile();

 private:
  struct Loaded;
  absl::StatusOr<Loaded> Load(int64_t service_id);
  absl::StatusOr<json::bj::object> Describe(Tx& tx, const ServiceRecord& service);
  // Starts `op` on `service` and describes the service, as the caller will see it, into `accepted`.
  absl::Status Begin(Tx& tx, OperationRecord op, const ServiceRecord& service, const std::string& summary,
                     Accepted& accepted);
  // Stores the next revision of the service's version with `spec` and marks the service Transitioning.
  absl::StatusOr<int64_t> NextRevision(Tx& tx, ServiceRecord& service, const std::string& spec);
  // The named service of the workspace; kNotFound ("WorkspaceNotFound", "WebserviceNotFound") otherwise.
  absl::StatusOr<ServiceRecord> RequireService(Tx& tx, const WorkspaceKey& key, const std::string& name);
  // The named service, when no operation is running on it.
  absl::StatusOr<ServiceRecord> RequireIdleService(Tx& tx, const WorkspaceKey& key, const std::string& name);
  absl::Status PushRoutes(int64_t cluster_id);
  void RunDeploy(const OperationRecord& operation);
  void RunDelete(const OperationRecord& operation);
  void SetState(int64_t service_id, const std::string& state, const std::string& phase, const std::string& reason,
                const std::string& error_json = "");
  std::string BundleDirectory(int64_t service_id, int64_t revision) const;

  Store* store_;
  BlobStore* blobs_;
  backend::ComputeBackend* backend_;
  Operations* operations_;
  EnvironmentBuilder* environments_;
  Options options_;
};

}  // namespace amlcore::server

#endif  // AMLCORE_SERVER_WEBSERVICE_SERVICE_H_
