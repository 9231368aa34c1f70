#include "server/workspace_service.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/errors.h"
#include "domain/names.h"
#include "domain/workspace_wire.h"

namespace amlcore::server {
namespace {
namespace bj = json::bj;

absl::Status CheckKey(const WorkspaceKey& key) {
  if (auto s = domain::ValidateSubscriptionId(key.subscription_id); !s.ok()) return Invalid(s.message());
  if (auto s = domain::ValidateResourceGroupName(key.resource_group); !s.ok()) return Invalid(s.message());
  if (auto s = domain::ValidateWorkspaceName(key.name); !s.ok()) return Invalid(s.message());
  return absl::OkStatus();
}

absl::Status ReadTags(json::ObjectReader& reader, std::map<std::string, std::string>* tags) {
  const bj::value* raw = reader.Raw("tags");
  if (raw == nullptr) return absl::OkStatus();
  if (!raw->is_object()) return Invalid("Field 'tags' must be an object of strings.");
  for (const auto& [k, v] : raw->as_object()) {
    if (!v.is_string()) return Invalid(absl::StrCat("Tag '", json::Sv(k), "' must have a string value."));
    (*tags)[std::string(k)] = std::string(v.as_string());
  }
  return absl::OkStatus();
}
}  // namespace

json::bj::object WorkspaceToJson(const WorkspaceRecord& w) {
  domain::WorkspaceDocument d;
  d.id = absl::StrCat("/subscriptions/", w.subscription_id, "/resourceGroups/", w.resource_group,
                      "/providers/Microsoft.MachineLearningServices/workspaces/", w.name);
  d.name = w.name;
  d.location = w.location;
  d.tags = w.tags;
  d.properties = {.friendly_name = w.friendly_name,
                  .description = w.description,
                  .creation_time = w.created,
                  .subscription_id = w.subscription_id,
                  .resource_group = w.resource_group};
  return json::Encode(d).as_object();
}

absl::Status WorkspaceService::PutResourceGroup(const std::string& subscription, const std::string& name,
                                                absl::string_view body) {
  if (auto s = domain::ValidateSubscriptionId(subscription); !s.ok()) return Invalid(s.message());
  if (auto s = domain::ValidateResourceGroupName(name); !s.ok()) return Invalid(s.message());
  std::string location = "local";
  if (!body.empty()) {
    auto object = json::ParseObject(body, "Resource group body");
    if (!object.ok()) return Invalid(object.status().message());
    json::ObjectReader reader(&*object, "");
    location = reader.String("location").value_or(location);
    reader.Ignore("tags");
    if (auto s = reader.Finish(); !s.ok()) return Invalid(s.message());
  }
  return store_->db().Transaction(
      [&](Tx& tx) { return store_->EnsureResourceGroup(tx, subscription, name, location); });
}

absl::StatusOr<json::bj::object> WorkspaceService::GetResourceGroup(const std::string& subscription,
                                                                    const std::string& name) {
  bool exists = false;
  auto status = store_->db().Read([&](Tx& tx) -> absl::Status {
    auto found = store_->ResourceGroupExists(tx, subscription, name);
    if (!found.ok()) return found.status();
    exists = *found;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!exists) {
    return MakeError(absl::StatusCode::kNotFound, "ResourceGroupNotFound",
                     absl::StrCat("Resource group ", name, " could not be found in subscription ", subscription, "."));
  }
  return bj::object{{"id", absl::StrCat("/subscriptions/", subscription, "/resourceGroups/", name)}, {"name", name}};
}

absl::StatusOr<WorkspaceService::PutResult> WorkspaceService::Put(const WorkspaceKey& key, absl::string_view body,
                                                                  bool create_only) {
  if (auto s = CheckKey(key); !s.ok()) return s;
  auto object = json::ParseObject(body.empty() ? absl::string_view("{}") : body, "Workspace body");
  if (!object.ok()) return Invalid(object.status().message());
  WorkspaceRecord record;
  json::ObjectReader reader(&*object, "");
  record.location = reader.String("location").value_or("local");
  if (auto s = ReadTags(reader, &record.tags); !s.ok()) return s;
  json::ObjectReader properties = reader.Object("properties");
  record.friendly_name = properties.String("friendlyName").value_or(key.name);
  record.description = properties.String("description").value_or("");
  if (auto s = properties.Finish(); !s.ok()) return Invalid(s.message());
  if (auto s = reader.Finish(); !s.ok()) return Invalid(s.message());
  record.subscription_id = key.subscription_id;
  record.resource_group = key.resource_group;
  record.name = key.name;
  record.created = NowTimestamp();

  PutResult result;
  auto status = store_->db().Transaction([&](Tx& tx) -> absl::Status {
    auto group = store_->ResourceGroupExists(tx, key.subscription_id, key.resource_group);
    if (!group.ok()) return group.status();
    if (!*group) {
      return MakeError(absl::StatusCode::kNotFound, "ResourceGroupNotFound",
                       absl::StrCat("Resource group ", key.resource_group, " could not be found in subscription ",
                                    key.subscription_id, ". Create it, or pass create_resource_group=True."));
    }
    auto existing = store_->FindWorkspace(tx, key.subscription_id, key.resource_group, key.name);
    if (!existing.ok()) return existing.status();
    if (existing->has_value()) {
      if (create_only) {
        return MakeError(absl::StatusCode::kAlreadyExists, "WorkspaceAlreadyExists",
                         absl::StrCat("Workspace with name '", key.name,
                                      "' already exists under resource group with name '", key.resource_group,
                                      "'."));
      }
      WorkspaceRecord updated = **existing;
      if (updated.location != record.location && object->contains("location")) {
        return Invalid(absl::StrCat("The location of workspace ", key.name, " is ", updated.location,
                                    " and cannot be changed."));
      }
      updated.friendly_name = record.friendly_name;
      updated.description = record.description;
      updated.tags = record.tags;
      if (auto s = store_->UpdateWorkspace(tx, updated); !s.ok()) return s;
      result.workspace = updated;
      return absl::OkStatus();
    }
    auto id = store_->InsertWorkspace(tx, record);
    if (!id.ok()) return id.status();
    record.id = *id;
    result.workspace = record;
    result.created = true;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<WorkspaceRecord> WorkspaceService::Get(const WorkspaceKey& key) {
  std::optional<WorkspaceRecord> found;
  auto status = store_->db().Read([&](Tx& tx) -> absl::Status {
    auto ws = RequireWorkspace(*store_, tx, key);
    if (!ws.ok()) return ws.status();
    found = std::move(*ws);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return std::move(*found);
}

absl::StatusOr<std::vector<WorkspaceRecord>> WorkspaceService::List(const std::string& subscription,
                                                                    const std::string& resource_group,
                                                                    const std::string& name) {
  std::vector<WorkspaceRecord> out;
  auto status = store_->db().Read([&](Tx& tx) -> absl::Status {
    auto all = name.empty() ? store_->ListWorkspaces(tx, subscription, resource_group)
                            : store_->FindWorkspacesByName(tx, name);
    if (!all.ok()) return all.status();
    out = std::move(*all);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return out;
}

absl::Status WorkspaceService::Delete(const WorkspaceKey& key) {
  std::vector<int64_t> clusters;
  auto status = store_->db().Transaction([&](Tx& tx) -> absl::Status {
    auto ws = RequireWorkspace(*store_, tx, key);
    if (!ws.ok()) return ws.status();
    auto all = store_->ListServices(tx, ws->id);
    if (!all.ok()) return all.status();
    std::vector<std::string> services;
    for (const auto& s : *all) services.push_back(s.name);
    if (!services.empty()) {
      return MakeError(absl::StatusCode::kAborted, "WorkspaceInUse",
                       absl::StrCat("Workspace ", key.name, " still has web services (", absl::StrJoin(services, ", "),
                                    "); delete them before the workspace."));
    }
    auto marked = computes_->RemoveWorkspaceComputes(tx, ws->id);
    if (!marked.ok()) return marked.status();
    clusters = std::move(*marked);
    return store_->DeleteWorkspace(tx, ws->id);
  });
  if (!status.ok()) return status;
  // The clusters it created are taken down by their controller.
  for (int64_t id : clusters) controllers_->Enqueue({"cluster", id});
  return absl::OkStatus();
}

}  // namespace amlcore::server
