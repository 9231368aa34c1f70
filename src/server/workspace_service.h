// Resource groups and workspaces on the server.
#ifndef AMLCORE_SERVER_WORKSPACE_SERVICE_H_
#define AMLCORE_SERVER_WORKSPACE_SERVICE_H_

#include "absl/strings/string_view.h"
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/json.h"
#include "server/compute_service.h"
#include "server/controller_queue.h"
#include "server/store.h"

namespace amlcore::server {

class WorkspaceService {
 public:
  WorkspaceService(Store* store, ComputeService* computes, ControllerQueue* controllers)
      : store_(store), computes_(computes), controllers_(controllers) {}

  absl::Status PutResourceGroup(const std::string& subscription, const std::string& name, absl::string_view body);
  absl::StatusOr<json::bj::object> GetResourceGroup(const std::string& subscription, const std::string& name);

  struct PutResult {
    WorkspaceRecord workspace;
    bool created = false;
  };
  // Creates (or, unless create_only, updates the description, friendly name and tags of) a workspace.
  absl::StatusOr<PutResult> Put(const WorkspaceKey& key, absl::string_view body, bool create_only);
  absl::StatusOr<WorkspaceRecord> Get(const WorkspaceKey& key);
  // Empty subscription or resource group matches all.
  absl::StatusOr<std::vector<WorkspaceRecord>> List(const std::string& subscription, const std::string& resource_group,
                                                    const std::string& name);
  absl::Status Delete(const WorkspaceKey& key);

 private:
  Store* store_;
  ComputeService* computes_;
  ControllerQueue* controllers_;
};

json::bj::object WorkspaceToJson(const WorkspaceRecord& workspace);

}  // namespace amlcore::server

#endif  // AMLCORE_SERVER_WORKSPACE_SERVICE_H_
