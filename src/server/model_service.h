// Registered models and environments on the server.
#ifndef AMLCORE_SERVER_MODEL_SERVICE_H_
#define AMLCORE_SERVER_MODEL_SERVICE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "domain/service_wire.h"
#include "common/blob_store.h"
#include "server/compute_service.h"
#include "server/store.h"

namespace amlcore::server {

struct ModelQuery {
  std::string name;
  std::vector<std::string> tags;  // "key" or "key=value"
  std::vector<std::string> properties;
  bool latest = false;
};

class ModelService {
 public:
  // `users` names the services deploying a model id ("name:version"); deleting is refused while there are any.
  using UsersOf =
      std::function<absl::StatusOr<std::vector<std::string>>(Tx& tx, int64_t workspace_id, const std::string& id)>;

  ModelService(Store* store, BlobStore* blobs, UsersOf users) : store_(store), blobs_(blobs), users_(std::move(users)) {}

  absl::StatusOr<domain::ModelDocument> Register(const WorkspaceKey& workspace, absl::string_view body);
  // `id` is "name:version" or "name" (latest).
  absl::StatusOr<domain::ModelDocument> Get(const WorkspaceKey& workspace, const std::string& id);
  absl::StatusOr<std::vector<domain::ModelDocument>> List(const WorkspaceKey& workspace, const ModelQuery& query);
  absl::Status Delete(const WorkspaceKey& workspace, const std::string& id);

  absl::StatusOr<json::bj::object> RegisterEnvironment(const WorkspaceKey& workspace, absl::string_view body);
  absl::StatusOr<json::bj::object> GetEnvironment(const WorkspaceKey& workspace, const std::string& name,
                                                  int64_t version);
  absl::StatusOr<json::bj::array> ListEnvironments(const WorkspaceKey& workspace);

 private:
  Store* store_;
  BlobStore* blobs_;
  UsersOf users_;
};

// Splits "name:version" (version 0 when absent); kInvalidArgument for a malformed version.
absl::StatusOr<std::pair<std::string, int64_t>> ParseModelId(const std::string& id);
absl::Status ModelNotFound(const std::string& id);
// kNotFound ("ModelNotFound") for the first of `ids` the workspace does not have.
absl::Status RequireModels(Store& store, Tx& tx, int64_t workspace_id, const std::vector<std::string>& ids);

}  // namespace amlcore::server

#endif  // AMLCORE_SERVER_MODEL_SERVICE_H_
