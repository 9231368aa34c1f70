#include "amlcore/workspace.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "amlcore/compute.h"
#include "client/connection.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/json.h"
#include "common/json_fields.h"
#include "domain/workspace_wire.h"
#include "domain/names.h"

namespace amlcore {
namespace {
namespace bj = json::bj;
namespace fs = std::filesystem;

constexpr char kProviderPath[] = "/providers/Microsoft.MachineLearningServices/workspaces";

absl::Status User(absl::Status status) { return WithErrorKind(std::move(status), "user"); }

absl::Status CheckNames(absl::string_view name, absl::string_view subscription, absl::string_view group) {
  if (auto s = domain::ValidateWorkspaceName(name); !s.ok()) return s;
  if (!subscription.empty()) {
    if (auto s = domain::ValidateSubscriptionId(subscription); !s.ok()) return s;
  }
  if (!group.empty()) {
    if (auto s = domain::ValidateResourceGroupName(group); !s.ok()) return s;
  }
  return absl::OkStatus();
}

std::string Or(const std::string& value, const char* fallback) { return value.empty() ? fallback : value; }
}  // namespace

// Builds Workspace values from the server's JSON.
class WorkspaceCodec {
 public:
  static absl::StatusOr<Workspace> FromJson(std::shared_ptr<internal::Connection> connection, const bj::object& o) {
    domain::WorkspaceDocument d;
    if (auto s = json::Decode(bj::value(o), &d, "workspace"); !s.ok()) return s;
    Workspace ws;
    ws.connection_ = std::move(connection);
    ws.name_ = d.name;
    ws.location_ = d.location;
    ws.tags_ = d.tags;
    ws.friendly_name_ = d.properties.friendly_name;
    ws.description_ = d.properties.description;
    ws.subscription_id_ = d.properties.subscription_id;
    ws.resource_group_ = d.properties.resource_group;
    if (ws.name_.empty() || ws.subscription_id_.empty()) {
      return absl::InternalError(absl::StrCat("Unexpected workspace document: ", json::Serialize(o)));
    }
    return ws;
  }

  static absl::StatusOr<Workspace> FromReply(std::shared_ptr<internal::Connection> connection,
                                             const std::string& body) {
    auto object = json::ParseObject(body, "Workspace reply");
    if (!object.ok()) return object.status();
    return FromJson(std::move(connection), *object);
  }

  static absl::StatusOr<std::vector<Workspace>> ListFromReply(std::shared_ptr<internal::Connection> connection,
                                                              const std::string& body) {
    auto object = json::ParseObject(body, "Workspace list");
    if (!object.ok()) return object.status();
    std::vector<Workspace> out;
    if (const bj::value* value = object->if_contains("value"); value && value->is_array()) {
      for (const auto& item : value->as_array()) {
        if (!item.is_object()) continue;
        auto ws = FromJson(connection, item.as_object());
        if (!ws.ok()) return ws.status();
        out.push_back(std::move(*ws));
      }
    }
    return out;
  }
};

std::string Workspace::resource_path() const {
  return absl::StrCat("/subscriptions/", subscription_id_, "/resourceGroups/", resource_group_, kProviderPath, "/",
                      name_);
}

std::string Workspace::id() const { return resource_path(); }

absl::StatusOr<Workspace> Workspace::Create(absl::string_view name, const WorkspaceCreateOptions& options) {
  std::string subscription = Or(options.subscription_id, kDefaultSubscriptionId);
  std::string group = Or(options.resource_group, kDefaultResourceGroup);
  std::string location = Or(options.location, kDefaultLocation);
  if (auto s = CheckNames(name, subscription, group); !s.ok()) return User(s);
  auto connection = internal::Connection::Open(options.connection);
  if (!connection.ok()) return User(connection.status());
  if (options.create_resource_group) {
    auto reply = (*connection)->Call("PUT", absl::StrCat("/subscriptions/", subscription, "/resourceGroups/", group),
                                     json::Serialize(bj::object{{"location", location}}));
    if (!reply.ok()) return User(reply.status());
  }
  bj::object tags;
  for (const auto& [k, v] : options.tags) tags[k] = v;
  bj::object body{{"location", location},
                  {"tags", std::move(tags)},
                  {"properties", bj::object{{"friendlyName", options.friendly_name.empty() ? std::string(name) : options.friendly_name},
                                            {"description", options.description}}}};
  std::string path = absl::StrCat("/subscriptions/", subscription, "/resourceGroups/", group, kProviderPath, "/", name);
  internal::CallOptions call;
  call.headers = {{"If-None-Match", "*"}};
  call.idempotent = false;
  auto reply = (*connection)->Call("PUT", path, json::Serialize(body), call);
  if (!reply.ok()) {
    if (absl::IsAlreadyExists(reply.status()) && options.exist_ok) {
      return Get(name, WorkspaceGetOptions{subscription, group, options.connection});
    }
    return User(reply.status());
  }
  auto ws = WorkspaceCodec::FromReply(*connection, reply->body);
  if (!ws.ok()) return User(ws.status());
  return ws;
}

absl::StatusOr<Workspace> Workspace::Get(absl::string_view name, const WorkspaceGetOptions& options) {
  if (auto s = CheckNames(name, options.subscription_id, options.resource_group); !s.ok()) return User(s);
  auto connection = internal::Connection::Open(options.connection);
  if (!connection.ok()) return User(connection.status());
  if (!options.subscription_id.empty() && !options.resource_group.empty()) {
    auto reply = (*connection)->Call("GET", absl::StrCat("/subscriptions/", options.subscription_id,
                                                         "/resourceGroups/", options.resource_group, kProviderPath,
                                                         "/", name));
    if (!reply.ok()) return User(reply.status());
    return WorkspaceCodec::FromReply(*connection, reply->body);
  }
  auto reply = (*connection)->Call("GET", absl::StrCat(kProviderPath, "?name=", name));
  if (!reply.ok()) return User(reply.status());
  auto all = WorkspaceCodec::ListFromReply(*connection, reply->body);
  if (!all.ok()) return User(all.status());
  std::vector<Workspace> matches;
  for (auto& ws : *all) {
    if (!options.subscription_id.empty() && ws.subscription_id() != options.subscription_id) continue;
    if (!options.resource_group.empty() && ws.resource_group() != options.resource_group) continue;
    matches.push_back(std::move(ws));
  }
  if (matches.empty()) {
    return User(MakeError(absl::StatusCode::kNotFound, "WorkspaceNotFound",
                          absl::StrCat("Workspace ", name, " not found", 
                                       options.subscription_id.empty() ? "" : absl::StrCat(" in subscription ", options.subscription_id),
                                       options.resource_group.empty() ? "" : absl::StrCat(" in resource group ", options.resource_group),
                                       ".")));
  }
  if (matches.size() > 1) {
    std::string where;
    for (const auto& ws : matches) absl::StrAppend(&where, "\n  ", ws.id());
    return User(MakeError(absl::StatusCode::kFailedPrecondition, "MultipleWorkspacesFound",
                          absl::StrCat("Several workspaces are named ", name,
                                       "; pass subscription_id and resource_group to choose one:", where)));
  }
  return std::move(matches.front());
}

absl::StatusOr<std::vector<Workspace>> Workspace::List(const WorkspaceListOptions& options) {
  std::string subscription = Or(options.subscription_id, kDefaultSubscriptionId);
  if (auto s = domain::ValidateSubscriptionId(subscription); !s.ok()) return User(s);
  auto connection = internal::Connection::Open(options.connection);
  if (!connection.ok()) return User(connection.status());
  std::string path = options.resource_group.empty()
                         ? absl::StrCat("/subscriptions/", subscription, kProviderPath)
                         : absl::StrCat("/subscriptions/", subscription, "/resourceGroups/", options.resource_group,
                                        kProviderPath);
  auto reply = (*connection)->Call("GET", path);
  if (!reply.ok()) return User(reply.status());
  return WorkspaceCodec::ListFromReply(*connection, reply->body);
}

absl::StatusOr<std::string> Workspace::FindConfigFile(absl::string_view path, absl::string_view file_name) {
  std::string name = file_name.empty() ? "config.json" : std::string(file_name);
  std::error_code ec;
  fs::path start = path.empty() ? fs::current_path(ec) : fs::path(std::string(path));
  if (fs::is_regular_file(start, ec)) return start.string();
  for (fs::path dir = fs::absolute(start, ec);; dir = dir.parent_path()) {
    for (const fs::path& candidate : {dir / ".azureml" / name, dir / name, dir / "aml_config" / name}) {
      if (fs::is_regular_file(candidate, ec)) return candidate.string();
    }
    if (dir == dir.parent_path()) break;
  }
  return User(MakeError(absl::StatusCode::kNotFound, "ConfigNotFound",
                        absl::StrCat("We could not find ", name, " in: ", start.string(),
                                     " or in its parent directories. Please provide the full path to the config "
                                     "file or ensure that ", name, " exists in the parent directories.")));
}

absl::StatusOr<Workspace> Workspace::FromConfig(absl::string_view path, absl::string_view file_name,
                                                const ConnectionOptions& connection) {
  auto found = FindConfigFile(path, file_name);
  if (!found.ok()) return found.status();
  auto text = ReadFile(*found);
  if (!text.ok()) return User(text.status());
  auto object = json::ParseObject(*text, *found);
  if (!object.ok()) return User(object.status());
  std::string ws_name = json::GetString(*object, "workspace_name");
  if (ws_name.empty()) {
    return User(absl::InvalidArgumentError(absl::StrCat(*found, " has no \"workspace_name\".")));
  }
  return Get(ws_name, WorkspaceGetOptions{json::GetString(*object, "subscription_id"),
                                          json::GetString(*object, "resource_group"), connection});
}

absl::StatusOr<std::string> Workspace::WriteConfig(absl::string_view path, absl::string_view file_name) const {
  fs::path dir = fs::path(path.empty() ? std::string(".") : std::string(path)) / ".azureml";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return User(absl::PermissionDeniedError(absl::StrCat("Cannot create ", dir.string(), ": ", ec.message())));
  fs::path file = dir / (file_name.empty() ? std::string("config.json") : std::string(file_name));
  bj::object config{{"subscription_id", subscription_id_},
                    {"resource_group", resource_group_},
                    {"workspace_name", name_}};
  if (auto s = WriteFileAtomic(file.string(), json::Serialize(config), 0644); !s.ok()) return User(s);
  return file.string();
}

absl::Status Workspace::Delete(bool delete_dependent_resources) const {
  auto reply = connection_->Call("DELETE", resource_path(), "", {.idempotent = false});
  return reply.ok() ? absl::OkStatus() : User(reply.status());
}

absl::StatusOr<std::map<std::string, std::shared_ptr<ComputeTarget>>> Workspace::ComputeTargets() const {
  auto list = ComputeTarget::List(*this);
  if (!list.ok()) return list.status();
  std::map<std::string, std::shared_ptr<ComputeTarget>> out;
  for (auto& target : *list) out[target->name()] = target;
  return out;
}

}  // namespace amlcore
