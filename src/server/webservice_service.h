// Web services on the server: validates deployment, update and delete requests and records them with their
// operation (the ServiceController carries them out), and answers for services, keys and logs.
#ifndef AMLCORE_SERVER_WEBSERVICE_SERVICE_H_
#define AMLCORE_SERVER_WEBSERVICE_SERVICE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/backend.h"
#include "common/blob_store.h"
#include "common/json.h"
#include "domain/service_wire.h"
#include "server/compute_service.h"
#include "server/operations.h"
#include "server/route_publisher.h"
#include "server/service_controller.h"
#include "server/store.h"
#include "server/token_authority.h"

namespace amlcore::server {

struct ServiceQuery {
  std::string compute_type;
  std::string model_name;
  std::vector<std::string> tags;
  std::vector<std::string> properties;
};

// An endpoint's own settings (auth, token auth, app insights) out of a deployment configuration, as
// deploymentConfig JSON.
json::bj::object EndpointSettings(const AksServiceDeploymentConfiguration& config);

class WebserviceService {
 public:
  WebserviceService(Store* store, BlobStore* blobs, backend::Backend backend, Operations* operations,
                    RoutePublisher* routes, ServiceController* controller, TokenAuthority* tokens);

  struct Accepted {
    json::bj::object resource;
    std::string operation_id;
    ResourceKey resource_key;
    std::string canceled;  // an operation the request canceled
  };
  absl::StatusOr<Accepted> Create(const WorkspaceKey& workspace, absl::string_view body);
  // A JSON patch (replace/add on /deploymentConfig, /models, /environment, /entryScript, /sourceDirectory,
  // /snapshot, /description, /kvTags, /properties).
  absl::StatusOr<Accepted> Update(const WorkspaceKey& workspace, const std::string& name, absl::string_view body);
  // Cancels whatever runs on the service and deletes it; deleting again answers with the deletion under way.
  absl::StatusOr<Accepted> Delete(const WorkspaceKey& workspace, const std::string& name);
  absl::StatusOr<json::bj::object> Get(const WorkspaceKey& workspace, const std::string& name);
  absl::StatusOr<json::bj::array> List(const WorkspaceKey& workspace, const ServiceQuery& query);
  absl::StatusOr<json::bj::object> ListKeys(const WorkspaceKey& workspace, const std::string& name);
  absl::StatusOr<json::bj::object> RegenerateKey(const WorkspaceKey& workspace, const std::string& name,
                                                 absl::string_view body);
  // A token for a service with token authentication (for an endpoint, valid for all its versions).
  absl::StatusOr<domain::ServiceToken> IssueToken(const WorkspaceKey& workspace, const std::string& name);
  // The logs of a service, or of one version of an endpoint (its default version when `version` is empty): of
  // the replica that best shows it, or of every replica; each replica's log under a line that names it.
  absl::StatusOr<std::string> Logs(const WorkspaceKey& workspace, const std::string& name, int64_t tail, bool init,
                                   const std::string& version = "", bool all_replicas = false);

  // Services of a workspace deploying a model id (inside the caller's transaction).
  absl::StatusOr<std::vector<std::string>> ServicesUsingModel(Tx& tx, int64_t workspace_id,
                                                              const std::string& model_id);

 private:
  absl::StatusOr<json::bj::object> Describe(Tx& tx, const ServiceRecord& service);
  // Starts `op` on `service` and describes the service, as the caller will see it, into `accepted`.
  absl::Status Begin(Tx& tx, OperationRecord op, const ServiceRecord& service, const std::string& summary,
                     Accepted& accepted);
  // Stores the next revision of the service's version with `spec` and marks the service Transitioning.
  // An update that changes only routing settings (auth, labels): recorded, then published as routes.
  absl::Status UpdateRoutes(Tx& tx, ServiceRecord& service, ServiceVersionRecord version,
                            const domain::ServiceRequest& request, const AksServiceDeploymentConfiguration& changes,
                            Accepted& accepted);
  absl::StatusOr<int64_t> NextRevision(Tx& tx, ServiceRecord& service, const std::string& spec);
  // The payload an update starts with: what runs now.
  absl::StatusOr<json::bj::object> RememberLive(Tx& tx, const ServiceRecord& service);
  // The named service of the workspace; kNotFound ("WorkspaceNotFound", "WebserviceNotFound") otherwise.
  absl::StatusOr<ServiceRecord> RequireService(Tx& tx, const WorkspaceKey& key, const std::string& name);
  // The named service, when no operation is running on it.
  absl::StatusOr<ServiceRecord> RequireIdleService(Tx& tx, const WorkspaceKey& key, const std::string& name);
  // A PATCH of an endpoint (endpoint_updates.cc): its versions (add, replace, remove /versions/{name}) and its
  // own settings, checked against the endpoint rules as a whole.
  absl::Status UpdateEndpoint(Tx& tx, ServiceRecord& service, const json::bj::array& patch, Accepted& accepted);
  // The checks of one version's deployment request that depend on the state (models, snapshot, cluster).
  absl::Status CheckVersionRequest(Tx& tx, const ServiceRecord& service, const ClusterRecord& cluster,
                                   const domain::ServiceRequest& request);
  // The container group an ACI or local service runs in: a new one (recorded), or the one `existing` has, set
  // up as the request asks (location, port, SSL). A conflict when another local service has the port.
  absl::StatusOr<ClusterRecord> ContainerGroupFor(Tx& tx, const WorkspaceRecord& workspace,
                                                  const domain::ServiceRequest& request,
                                                  const ServiceRecord* existing);
  // One replica fits on one agent of the cluster.
  absl::Status CheckReplicaFits(const AksServiceDeploymentConfiguration& config, const ClusterRecord& cluster);

  Store* store_;
  BlobStore* blobs_;
  backend::Backend backend_;
  Operations* operations_;
  RoutePublisher* routes_;
  ServiceController* controller_;
  TokenAuthority* tokens_;
};

}  // namespace amlcore::server

#endif  // AMLCORE_SERVER_WEBSERVICE_SERVICE_H_
