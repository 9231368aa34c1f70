// A workspace: the top-level object that owns compute targets, models and web services.
//
//   auto ws = amlcore::Workspace::Create("my-ws", {.exist_ok = true});
//   if (!ws.ok()) return ws.status();
//   std::cout << ws->name() << " in " << ws->resource_group();
#ifndef AMLCORE_WORKSPACE_H_
#define AMLCORE_WORKSPACE_H_

#include <map>
#include <memory>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace amlcore {

namespace internal {
class Connection;
}  // namespace internal

class ComputeTarget;

// How the SDK reaches the workspace server (amlcored). Empty fields fall back to the environment variables
// AMLCORE_ENDPOINT and AMLCORE_TOKEN; without an endpoint the SDK uses the local server of AMLCORE_HOME
// (default ~/.amlcore) and starts it when it is not running.
struct ConnectionOptions {
  std::string endpoint;  // e.g. "http://127.0.0.1:8765"
  std::string token;     // the server's admin token
  std::string home;      // overrides AMLCORE_HOME
};

struct WorkspaceCreateOptions {
  std::string subscription_id;  // empty: Workspace::kDefaultSubscriptionId
  std::string resource_group;   // empty: Workspace::kDefaultResourceGroup
  std::string location;         // empty: Workspace::kDefaultLocation
  bool create_resource_group = true;
  bool exist_ok = false;
  std::string friendly_name;
  std::string description;
  std::map<std::string, std::string> tags;
  ConnectionOptions connection;
};
struct WorkspaceGetOptions {
  std::string subscription_id;  // empty: search every subscription
  std::string resource_group;   // empty: search every resource group
  ConnectionOptions connection;
};
struct WorkspaceListOptions {
  std::string subscription_id;  // empty: kDefaultSubscriptionId
  std::string resource_group;   // empty: every resource group
  ConnectionOptions connection;
};

class Workspace {
 public:
  static constexpr char kDefaultSubscriptionId[] = "00000000-0000-0000-0000-000000000000";
  static constexpr char kDefaultResourceGroup[] = "default";
  static constexpr char kDefaultLocation[] = "local";

  static absl::StatusOr<Workspace> Create(absl::string_view name, const WorkspaceCreateOptions& options = {});
  // Finds a workspace by name; fails if none or several match.
  static absl::StatusOr<Workspace> Get(absl::string_view name, const WorkspaceGetOptions& options = {});
  static absl::StatusOr<std::vector<Workspace>> List(const WorkspaceListOptions& options = {});
  // Reads config.json (or .azureml/config.json) from `path` or, when `path` is a directory or empty, from
  // that directory (default: the current one) and its parents.
  static absl::StatusOr<Workspace> FromConfig(absl::string_view path = "", absl::string_view file_name = "",
                                              const ConnectionOptions& connection = {});

  // The config file FromConfig would read (same search), or kNotFound with azureml's message.
  static absl::StatusOr<std::string> FindConfigFile(absl::string_view path = "", absl::string_view file_name = "");

  // Writes <path>/.azureml/<file_name> (defaults: ".", "config.json"); returns the file written.
  absl::StatusOr<std::string> WriteConfig(absl::string_view path = "", absl::string_view file_name = "") const;
  // Deletes the workspace: its attached compute targets are detached and the clusters it created deleted.
  absl::Status Delete(bool delete_dependent_resources = false) const;
  absl::StatusOr<std::map<std::string, std::shared_ptr<ComputeTarget>>> ComputeTargets() const;

  const std::string& name() const { return name_; }
  const std::string& subscription_id() const { return subscription_id_; }
  const std::string& resource_group() const { return resource_group_; }
  const std::string& location() const { return location_; }
  const std::string& friendly_name() const { return friendly_name_; }
  const std::string& description() const { return description_; }
  const std::map<std::string, std::string>& tags() const { return tags_; }
  // ARM resource id of the workspace.
  std::string id() const;
  // The path of the workspace under the server's base URL.
  std::string resource_path() const;

  const std::shared_ptr<internal::Connection>& connection() const { return connection_; }

 private:
  friend class WorkspaceCodec;
  Workspace() = default;

  std::shared_ptr<internal::Connection> connection_;
  std::string name_;
  std::string subscription_id_;
  std::string resource_group_;
  std::string location_;
  std::string friendly_name_;
  std::string description_;
  std::map<std::string, std::string> tags_;
};

}  // namespace amlcore

#endif  // AMLCORE_WORKSPACE_H_
