#include "server/model_service.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"
#include "common/files.h"
#include "domain/service_rules.h"
#include "server/data_service.h"

namespace amlcore::server {
namespace {
namespace bj = json::bj;

}  // namespace

absl::StatusOr<std::pair<std::string, int64_t>> ParseModelId(const std::string& id) {
  size_t colon = id.rfind(':');
  if (colon == std::string::npos) return std::make_pair(id, int64_t{0});
  int64_t version = 0;
  if (!absl::SimpleAtoi(id.substr(colon + 1), &version) || version <= 0) {
    return Invalid(absl::StrCat("Model id '", id, "' has no valid version; ids look like name:1."));
  }
  return std::make_pair(id.substr(0, colon), version);
}

absl::Status ModelNotFound(const std::string& id) {
  return MakeError(absl::StatusCode::kNotFound, "ModelNotFound",
                   absl::StrCat("ModelNotFound: Model with id ", id, " not found in provided workspace"));
}

absl::Status RequireModels(Store& store, Tx& tx, int64_t workspace_id, const std::vector<std::string>& ids) {
  for (const auto& id : ids) {
    auto parsed = ParseModelId(id);
    if (!parsed.ok()) return parsed.status();
    auto model = store.FindModel(tx, workspace_id, parsed->first, parsed->second);
    if (!model.ok()) return model.status();
    if (!model->has_value()) return ModelNotFound(id);
  }
  return absl::OkStatus();
}

absl::StatusOr<domain::ModelDocument> ModelService::Register(const WorkspaceKey& key, absl::string_view body) {
  auto object = json::ParseObject(body, "Model");
  if (!object.ok()) return Invalid(object.status().message());
  auto model = domain::ModelFromJson(*object);
  if (!model.ok()) return Invalid(model.status().message());
  if (auto s = domain::ValidateModelName(model->name); !s.ok()) return Invalid(s.message());
  if (auto s = domain::ValidateModelFramework(model->framework, model->framework_version); !s.ok()) {
    return Invalid(s.message());
  }
  if (model->resource_requirements) {
    if (auto s = domain::ValidateResourceConfiguration(*model->resource_requirements); !s.ok()) {
      return Invalid(s.message());
    }
  }
  // The datasets it names must be saved in the workspace.
  std::vector<std::string> dataset_ids;
  for (const ModelDatasetReference& d : model->datasets) {
    if (d.name.empty() || d.id.empty()) return Invalid("Every entry of 'datasets' needs a name and an id.");
    dataset_ids.push_back(d.id);
  }
  for (const std::string* url : {&model->sample_input_data, &model->sample_output_data}) {
    if (url->empty()) continue;
    auto id = domain::DatasetIdOfUrl(*url);
    if (!id.ok()) return Invalid(id.status().message());
    dataset_ids.push_back(*id);
  }
  std::string root;
  for (const auto& f : model->files) {
    if (auto s = CheckContainedPath(f.path); !s.ok()) return Invalid(absl::StrCat("Model file path ", s.message()));
    std::string first(absl::string_view(f.path).substr(0, f.path.find('/')));
    if (!root.empty() && first != root) {
      return Invalid(absl::StrCat("Model files must share one root entry; found '", root, "' and '", first, "'."));
    }
    root = first;
    if (!blobs_->Exists(f.sha256)) {
      return Invalid(absl::StrCat("The content of model file '", f.path, "' (SHA-256 ", f.sha256,
                                  ") was not uploaded; PUT it to /blobs/<sha256> first."));
    }
  }
  domain::ModelDocument out = *model;
  auto status = store_->db().Transaction([&](Tx& tx) -> absl::Status {
    auto ws = RequireWorkspace(*store_, tx, key);
    if (!ws.ok()) return ws.status();
    if (auto s = RequireSavedDatasets(*store_, tx, ws->id, dataset_ids); !s.ok()) return s;
    auto version = store_->NextModelVersion(tx, ws->id, out.name);
    if (!version.ok()) return version.status();
    out.version = *version;
    out.created_time = NowTimestamp();
    return store_->InsertModel(tx, ModelRecord{0, ws->id, out}).status();
  });
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<domain::ModelDocument> ModelService::Get(const WorkspaceKey& key, const std::string& id) {
  auto parsed = ParseModelId(id);
  if (!parsed.ok()) return parsed.status();
  std::optional<ModelRecord> found;
  auto status = store_->db().Read([&](Tx& tx) -> absl::Status {
    auto ws = RequireWorkspace(*store_, tx, key);
    if (!ws.ok()) return ws.status();
    auto model = store_->FindModel(tx, ws->id, parsed->first, parsed->second);
    if (!model.ok()) return model.status();
    found = std::move(*model);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!found) return ModelNotFound(id);
  return found->model;
}

absl::StatusOr<std::vector<domain::ModelDocument>> ModelService::List(const WorkspaceKey& key, const ModelQuery& q) {
  std::vector<domain::ModelDocument> out;
  auto status = store_->db().Read([&](Tx& tx) -> absl::Status {
    auto ws = RequireWorkspace(*store_, tx, key);
    if (!ws.ok()) return ws.status();
    auto models = store_->ListModels(tx, ws->id, q.name);
    if (!models.ok()) return models.status();
    std::string last_name;
    for (const auto& m : *models) {  // by name, newest version first
      if (q.latest && m.model.name == last_name) continue;
      last_name = m.model.name;
      if (!MatchesFilters(m.model.tags, q.tags) || !MatchesFilters(m.model.properties, q.properties)) continue;
      out.push_back(m.model);
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return out;
}

absl::Status ModelService::Delete(const WorkspaceKey& key, const std::string& id) {
  auto parsed = ParseModelId(id);
  if (!parsed.ok()) return parsed.status();
  return store_->db().Transaction([&](Tx& tx) -> absl::Status {
    auto ws = RequireWorkspace(*store_, tx, key);
    if (!ws.ok()) return ws.status();
    auto model = store_->FindModel(tx, ws->id, parsed->first, parsed->second);
    if (!model.ok()) return model.status();
    if (!model->has_value()) return ModelNotFound(id);
    std::string full_id = absl::StrCat((*model)->model.name, ":", (*model)->model.version);
    auto users = users_(tx, ws->id, full_id);
    if (!users.ok()) return users.status();
    if (!users->empty()) {
      return MakeError(absl::StatusCode::kFailedPrecondition, "ModelInUse",
                       absl::StrCat("Model ", full_id, " is deployed by ", absl::StrJoin(*users, ", "),
                                    "; delete or update those services first."));
    }
    return store_->DeleteModel(tx, (*model)->id);
  });
}

absl::StatusOr<json::bj::object> ModelService::RegisterEnvironment(const WorkspaceKey& key, absl::string_view body) {
  auto object = json::ParseObject(body, "Environment");
  if (!object.ok()) return Invalid(object.status().message());
  auto env = domain::EnvironmentFromJson(*object);
  if (!env.ok()) return Invalid(env.status().message());
  if (env->name.empty()) return Invalid("An environment needs a name.");
  bj::object out;
  auto status = store_->db().Transaction([&](Tx& tx) -> absl::Status {
    auto ws = RequireWorkspace(*store_, tx, key);
    if (!ws.ok()) return ws.status();
    auto latest = store_->FindEnvironment(tx, ws->id, env->name, 0);
    if (!latest.ok()) return latest.status();
    // Registering the same definition again keeps its version, as azureml does.
    if (latest->has_value()) {
      auto previous = json::ParseObject((*latest)->definition, "environment");
      if (previous.ok()) {
        auto previous_env = domain::EnvironmentFromJson(*previous);
        if (previous_env.ok() && domain::EnvironmentHash(*previous_env) == domain::EnvironmentHash(*env) &&
            previous_env->environment_variables == env->environment_variables) {
          out = *previous;
          return absl::OkStatus();
        }
      }
    }
    env->version = absl::StrCat(latest->has_value() ? (*latest)->version + 1 : 1);
    out = domain::EnvironmentToJson(*env);
    return store_->InsertEnvironment(tx, EnvironmentRecord{0, ws->id, env->name, latest->has_value() ? (*latest)->version + 1 : 1,
                                                           json::Serialize(out), NowTimestamp()})
        .status();
  });
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<json::bj::object> ModelService::GetEnvironment(const WorkspaceKey& key, const std::string& name,
                                                              int64_t version) {
  std::optional<EnvironmentRecord> found;
  auto status = store_->db().Read([&](Tx& tx) -> absl::Status {
    auto ws = RequireWorkspace(*store_, tx, key);
    if (!ws.ok()) return ws.status();
    auto env = store_->FindEnvironment(tx, ws->id, name, version);
    if (!env.ok()) return env.status();
    found = std::move(*env);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!found) {
    return MakeError(absl::StatusCode::kNotFound, "EnvironmentNotFound",
                     absl::StrCat("Environment ", name, version > 0 ? absl::StrCat(" version ", version) : "",
                                  " not found in the workspace."));
  }
  return json::ParseObject(found->definition, "environment");
}

absl::StatusOr<json::bj::array> ModelService::ListEnvironments(const WorkspaceKey& key) {
  bj::array out;
  auto status = store_->db().Read([&](Tx& tx) -> absl::Status {
    auto ws = RequireWorkspace(*store_, tx, key);
    if (!ws.ok()) return ws.status();
    auto all = store_->ListEnvironments(tx, ws->id);
    if (!all.ok()) return all.status();
    for (const auto& e : *all) {
      if (auto o = json::Parse(e.definition); o.ok()) out.push_back(*o);
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return out;
}

}  // namespace amlcore::server
