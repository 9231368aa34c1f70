#include "server/webservice_service.h"

#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/http_client.h"
#include "common/tar.h"
#include "domain/service_rules.h"
#include "domain/vm_sizes.h"
#include "server/model_service.h"

namespace amlcore::server {
namespace {
namespace bj = json::bj;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr char kCreate[] = "ServiceCreate";
constexpr char kUpdate[] = "ServiceUpdate";
constexpr char kDelete[] = "ServiceDelete";

absl::Status ServiceNotFound(const std::string& name) {
  return MakeError(absl::StatusCode::kNotFound, "WebserviceNotFound",
                   absl::StrCat("WebserviceNotFound: Webservice with name ", name, " not found in provided workspace"));
}

// What one version of a service runs: the request as made, and what the deployment resolved.
struct DeploymentSpec {
  domain::ServiceRequest request;
  std::string python;
  std::string environment_hash;
};

std::string SpecToJson(const DeploymentSpec& spec) {
  auto request = json::Parse(domain::ServiceRequestToJson(spec.request));
  return json::Serialize(bj::object{{"request", request.ok() ? *request : bj::value(nullptr)},
                                    {"python", spec.python},
                                    {"environmentHash", spec.environment_hash}});
}

absl::StatusOr<DeploymentSpec> SpecFromJson(const std::string& text) {
  auto object = json::ParseObject(text, "deployment spec");
  if (!object.ok()) return object.status();
  DeploymentSpec spec;
  const bj::value* request = object->if_contains("request");
  if (request == nullptr) return absl::InternalError("deployment spec without request");
  auto parsed = domain::ServiceRequestFromJson(json::Serialize(*request));
  if (!parsed.ok()) return parsed.status();
  spec.request = std::move(*parsed);
  spec.python = json::GetString(*object, "python");
  spec.environment_hash = json::GetString(*object, "environmentHash");
  return spec;
}

struct Demand {
  double cpu = 0;
  double memory = 0;
};

Demand DemandOf(const domain::ServiceRequest& request) {
  auto r = domain::Resolve(request.config);
  return {static_cast<double>(r.num_replicas) * r.cpu_cores, static_cast<double>(r.num_replicas) * r.memory_gb};
}

std::string ErrorJson(absl::string_view code, absl::string_view message) {
  return json::Serialize(bj::object{{"code", json::Bj(code)}, {"message", json::Bj(message)}});
}

// Failures of a replica that retrying will not cure.
bool Fatal(const std::string& reason) {
  return reason == "UserScriptImportFailed" || reason == "UserScriptInitFailed" || reason == "OOMKilled" ||
         reason == "LivenessProbeFailed" || reason == "ReplicaSetupFailed" || reason == "ReplicaStartFailed";
}

// Checks the request's own rules; state-dependent ones come later.
absl::Status CheckRequest(const domain::ServiceRequest& r) {
  if (auto s = domain::ValidateServiceName(r.name); !s.ok()) return Invalid(s.message());
  if (r.compute_type != "AKS") {
    return Invalid(absl::StrCat("computeType '", r.compute_type, "' is not supported; amlcore deploys to AKS targets."));
  }
  if (r.compute_name.empty()) return Invalid("A deployment needs a deployment_target (an AKS compute target).");
  if (r.entry_script.empty()) return Invalid("A deployment needs an entry script.");
  if (auto s = domain::ValidateDeployConfiguration(r.config); !s.ok()) return Invalid(s.message());
  if (r.config.token_auth_enabled.value_or(false)) {
    return Invalid(
        "Token authentication (token_auth_enabled=True) is not available yet in amlcore; use key authentication.");
  }
  return absl::OkStatus();
}
}  // namespace

struct WebserviceService::Loaded {
  ServiceRecord service;
  ServiceVersionRecord version;
  DeploymentSpec spec;
  ClusterRecord cluster;
};

WebserviceService::WebserviceService(Store* store, BlobStore* blobs, backend::ComputeBackend* backend,
                                     Operations* operations, EnvironmentBuilder* environments, Options options)
    : store_(store),
      blobs_(blobs),
      backend_(backend),
      operations_(operations),
      environments_(environments),
      options_(std::move(options)) {
  operations_->Register(kCreate, [this](const OperationRecord& op) { RunDeploy(op); });
  operations_->Register(kUpdate, [this](const OperationRecord& op) { RunDeploy(op); });
  operations_->Register(kDelete, [this](const OperationRecord& op) { RunDelete(op); });
}

std::string WebserviceService::BundleDirectory(int64_t service_id, int64_t revision) const {
  return absl::StrCat(options_.home, "/services/", service_id, "/r", revision, "/bundle");
}

absl::Status WebserviceService::Begin(Tx& tx, OperationRecord op, const ServiceRecord& service,
                                      const std::string& summary, Accepted& accepted) {
  op.workspace_id = service.workspace_id;
  op.target_id = service.id;
  op.target_name = service.name;
  if (auto s = operations_->Start(tx, op, summary); !s.ok()) return s;
  auto described = Describe(tx, service);
  if (!described.ok()) return described.status();
  accepted = {std::move(*described), op.id};
  return absl::OkStatus();
}

absl::StatusOr<int64_t> WebserviceService::NextRevision(Tx& tx, ServiceRecord& service, const std::string& spec) {
  auto versions = store_->ServiceVersions(tx, service.id);
  if (!versions.ok() || versions->empty()) return absl::InternalError("service without versions");
  ServiceVersionRecord version = versions->front();
  version.spec = spec;
  ++version.revision;
  if (auto s = store_->UpdateServiceVersion(tx, version); !s.ok()) return s;
  service.state = ServiceState::kTransitioning;
  service.phase = ServicePhase::kValidating;
  service.reason.clear();
  service.error.clear();
  if (auto s = store_->UpdateService(tx, service); !s.ok()) return s;
  return version.revision;
}

absl::StatusOr<ServiceRecord> WebserviceService::RequireService(Tx& tx, const WorkspaceKey& key,
                                                              const std::string& name) {
  auto ws = RequireWorkspace(*store_, tx, key);
  if (!ws.ok()) return ws.status();
  auto found = store_->FindService(tx, ws->id, name);
  if (!found.ok()) return found.status();
  if (!found->has_value()) return ServiceNotFound(name);
  return std::move(**found);
}

absl::StatusOr<ServiceRecord> WebserviceService::RequireIdleService(Tx& tx, const WorkspaceKey& key,
                                                                  const std::string& name) {
  auto found = RequireService(tx, key, name);
  if (!found.ok()) return found.status();
  if (auto s = RequireNoRunningOperation(*store_, tx, found->workspace_id, "Service", found->name); !s.ok()) return s;
  return found;
}

absl::StatusOr<json::bj::object> WebserviceService::Describe(Tx& tx, const ServiceRecord& s) {
  auto versions = store_->ServiceVersions(tx, s.id);
  if (!versions.ok()) return versions.status();
  auto cluster = store_->GetCluster(tx, s.cluster_id);
  if (!cluster.ok()) return cluster.status();
  std::string base = cluster->has_value() && (*cluster)->frontend_port != 0
                         ? absl::StrCat("http://127.0.0.1:", (*cluster)->frontend_port, "/api/v1/service/", s.name)
                         : "";
  bj::object out{{"id", s.name},
                 {"name", s.name},
                 {"description", s.description},
                 {"kvTags", domain::TagsToJson(s.tags)},
                 {"properties", domain::TagsToJson(s.properties)},
                 {"computeType", "AKS"},
                 {"computeName", s.compute_name},
                 {"state", s.state},
                 {"phase", s.phase},
                 {"reason", s.reason},
                 {"createdTime", s.created},
                 {"updatedTime", s.updated},
                 {"scoringUri", base.empty() ? bj::value(nullptr) : bj::value(absl::StrCat(base, "/score"))},
                 {"swaggerUri", base.empty() ? bj::value(nullptr) : bj::value(absl::StrCat(base, "/swagger.json"))}};
  if (auto error = json::Parse(s.error); !s.error.empty() && error.ok()) {
    out["error"] = *error;
  } else {
    out["error"] = nullptr;
  }
  if (!versions->empty()) {
    auto spec = SpecFromJson(versions->front().spec);
    if (spec.ok()) {
      const auto& r = spec->request;
      bj::array models;
      for (const auto& id : r.model_ids) {
        auto parsed = ParseModelId(id);
        models.push_back(bj::object{{"id", id},
                                    {"name", parsed.ok() ? parsed->first : id},
                                    {"version", parsed.ok() ? parsed->second : 0}});
      }
      out["models"] = std::move(models);
      out["entryScript"] = r.entry_script;
      out["sourceDirectory"] = r.source_directory;
      if (r.has_environment) out["environment"] = domain::EnvironmentToJson(r.environment);
      auto resolved = domain::ResolvedToJson(domain::Resolve(r.config));
      for (auto& [k, v] : resolved) out[k] = v;
    }
  }
  auto running = store_->RunningOperationOn(tx, s.workspace_id, s.name);
  if (!running.ok()) return running.status();
  out["operationId"] = running->has_value() ? bj::value((*running)->id) : bj::value(nullptr);
  return out;
}

absl::StatusOr<WebserviceService::Accepted> WebserviceService::Create(const WorkspaceKey& key, absl::string_view body) {
  auto request = domain::ServiceRequestFromJson(body);
  if (!request.ok()) return Invalid(request.status().message());
  if (auto s = CheckRequest(*request); !s.ok()) return s;
  if (!request->snapshot.empty() && !blobs_->Exists(request->snapshot)) {
    return Invalid(absl::StrCat("The source snapshot ", request->snapshot, " was not uploaded."));
  }
  return operations_->Accept<Accepted>([&](Tx& tx, Accepted& accepted) -> absl::Status {
    auto ws = RequireWorkspace(*store_, tx, key);
    if (!ws.ok()) return ws.status();
    auto compute = store_->FindCompute(tx, ws->id, request->compute_name);
    if (!compute.ok()) return compute.status();
    if (!compute->has_value()) {
      return MakeError(absl::StatusCode::kNotFound, "ComputeTargetNotFound",
                       absl::StrCat("ComputeTargetNotFound: Compute Target with name ", request->compute_name,
                                    " not found in provided workspace"));
    }
    if ((*compute)->provisioning_state != ProvisioningState::kSucceeded) {
      return Conflict("ComputeTargetNotReady", absl::StrCat("Compute target ", request->compute_name, " is ",
                                                            (*compute)->provisioning_state,
                                                            "; deploy once it has Succeeded."));
    }
    auto cluster = store_->GetCluster(tx, (*compute)->cluster_id);
    if (!cluster.ok() || !cluster->has_value()) return absl::InternalError("compute target without cluster");
    auto size = domain::FindVmSize((*cluster)->vm_size);
    if (!size.ok()) return size.status();
    auto resolved = domain::Resolve(request->config);
    if (resolved.cpu_cores > size->vcpus || resolved.memory_gb > size->memory_gib) {
      return Invalid(absl::StrCat("Invalid configuration, one replica asks for ", resolved.cpu_cores, " CPU and ",
                                  resolved.memory_gb, " GB but one agent of cluster ", (*cluster)->name, " (",
                                  size->name, ") has ", size->vcpus, " vCPUs and ", size->memory_gib, " GB."));
    }
    if (auto s = RequireModels(*store_, tx, ws->id, request->model_ids); !s.ok()) return s;
    // The front end routes by name, so a name is taken on its cluster, whichever workspace uses it.
    auto on_cluster = store_->ServicesOnCluster(tx, (*cluster)->id);
    if (!on_cluster.ok()) return on_cluster.status();
    for (const auto& other : *on_cluster) {
      if (other.workspace_id != ws->id && absl::EqualsIgnoreCase(other.name, request->name)) {
        return Conflict("ServiceNameTaken", absl::StrCat("Cluster ", (*cluster)->name, " already serves a service named ",
                                                         request->name, " for another workspace; choose another name."));
      }
    }
    auto existing = store_->FindService(tx, ws->id, request->name);
    if (!existing.ok()) return existing.status();
    OperationRecord op;
    DeploymentSpec spec{*request, "", ""};
    if (existing->has_value()) {
      ServiceRecord service = **existing;
      if (!request->overwrite) {
        return MakeError(absl::StatusCode::kAlreadyExists, "ServiceAlreadyExists",
                         absl::StrCat("Error, there is already a service with name ", request->name,
                                      " found in workspace ", ws->name,
                                      ". Pass overwrite=True to replace it (keeping its scoring URI and keys)."));
      }
      if (auto s = RequireNoRunningOperation(*store_, tx, ws->id, "Service", request->name); !s.ok()) return s;
      if (service.cluster_id != (*cluster)->id) {
        return Invalid(absl::StrCat("Service ", request->name, " runs on compute target ", service.compute_name,
                                    "; overwrite keeps a service on its target. Delete it to move it."));
      }
      service.description = request->config.description;
      service.tags = request->config.tags;
      service.properties = request->config.properties;
      if (!request->config.primary_key.empty()) service.primary_key = request->config.primary_key;
      if (!request->config.secondary_key.empty()) service.secondary_key = request->config.secondary_key;
      auto revision = NextRevision(tx, service, SpecToJson(spec));
      if (!revision.ok()) return revision.status();
      op.type = kUpdate;
      op.payload = json::Serialize(bj::object{{"revision", *revision}, {"overwrite", true}});
      return Begin(tx, op, service, absl::StrCat("Replacing service ", request->name, " (overwrite)"), accepted);
    }
    ServiceRecord service;
    service.workspace_id = ws->id;
    service.name = request->name;
    service.compute_name = request->compute_name;
    service.cluster_id = (*cluster)->id;
    service.state = ServiceState::kTransitioning;
    service.phase = ServicePhase::kValidating;
    service.primary_key = request->config.primary_key.empty() ? RandomHex(16) : request->config.primary_key;
    service.secondary_key = request->config.secondary_key.empty() ? RandomHex(16) : request->config.secondary_key;
    service.description = request->config.description;
    service.tags = request->config.tags;
    service.properties = request->config.properties;
    service.created = service.updated = NowTimestamp();
    auto id = store_->InsertService(tx, service);
    if (!id.ok()) return id.status();
    service.id = *id;
    ServiceVersionRecord version{0, service.id, service.name, SpecToJson(spec), 1, "", 0};
    if (auto v = store_->InsertServiceVersion(tx, version); !v.ok()) return v.status();
    op.type = kCreate;
    op.payload = json::Serialize(bj::object{{"revision", 1}});
    return Begin(tx, op, service,
                 absl::StrCat("Deploying service ", service.name, " with ", request->model_ids.size(), " model",
                              request->model_ids.size() == 1 ? "" : "s", " to ", service.compute_name), accepted);
  });
}

absl::StatusOr<WebserviceService::Accepted> WebserviceService::Update(const WorkspaceKey& key, const std::string& name,
                                                                      absl::string_view body) {
  auto patch = json::Parse(body);
  if (!patch.ok()) return Invalid(patch.status().message());
  if (!patch->is_array()) return Invalid("An update is a JSON patch: a list of {\"op\", \"path\", \"value\"}.");
  return operations_->Accept<Accepted>([&](Tx& tx, Accepted& accepted) -> absl::Status {
    auto found = RequireIdleService(tx, key, name);
    if (!found.ok()) return found.status();
    ServiceRecord service = std::move(*found);
    auto versions = store_->ServiceVersions(tx, service.id);
    if (!versions.ok() || versions->empty()) return absl::InternalError("service without versions");
    ServiceVersionRecord version = versions->front();
    auto spec = SpecFromJson(version.spec);
    if (!spec.ok()) return spec.status();
    domain::ServiceRequest& r = spec->request;
    for (const auto& item : patch->as_array()) {
      if (!item.is_object()) return Invalid("Every patch operation must be an object.");
      const auto& o = item.as_object();
      std::string op = json::GetString(o, "op");
      std::string path = json::GetString(o, "path");
      const bj::value* value = o.if_contains("value");
      if (op != "replace" && op != "add") return Invalid(absl::StrCat("Patch operation '", op, "' is not supported; use replace."));
      if (value == nullptr) return Invalid(absl::StrCat("Patch operation on ", path, " has no value."));
      if (path == "/deploymentConfig") {
        if (!value->is_object()) return Invalid("/deploymentConfig must be an object.");
        auto changes = domain::DeployConfigFromJson(value->as_object());
        if (!changes.ok()) return Invalid(changes.status().message());
        if (auto s = domain::ValidateDeployConfiguration(*changes); !s.ok()) return Invalid(s.message());
        r.config = domain::Overlay(r.config, *changes);
      } else if (path == "/models") {
        r.model_ids.clear();
        if (!value->is_array()) return Invalid("/models must be a list of model ids.");
        for (const auto& m : value->as_array()) {
          if (!m.is_string()) return Invalid("/models must be a list of model ids.");
          r.model_ids.emplace_back(json::Sv(m.as_string()));
        }
      } else if (path == "/environment") {
        if (!value->is_object()) return Invalid("/environment must be an object.");
        auto env = domain::EnvironmentFromJson(value->as_object());
        if (!env.ok()) return Invalid(env.status().message());
        r.environment = std::move(*env);
        r.has_environment = true;
      } else if (path == "/entryScript" || path == "/sourceDirectory" || path == "/snapshot" ||
                 path == "/description") {
        if (!value->is_string()) return Invalid(absl::StrCat(path, " must be a string."));
        std::string text(json::Sv(value->as_string()));
        if (path == "/entryScript") r.entry_script = text;
        if (path == "/sourceDirectory") r.source_directory = text;
        if (path == "/snapshot") r.snapshot = text;
        if (path == "/description") service.description = text;
      } else if (path == "/kvTags" || path == "/properties") {
        std::map<std::string, std::string> map;
        if (auto s = domain::ReadStringMap(value, path.substr(1), &map); !s.ok()) return Invalid(s.message());
        (path == "/kvTags" ? service.tags : service.properties) = map;
      } else {
        return Invalid(absl::StrCat("Cannot update ", path, "."));
      }
    }
    if (auto s = CheckRequest(r); !s.ok()) return s;
    if (!r.snapshot.empty() && !blobs_->Exists(r.snapshot)) {
      return Invalid(absl::StrCat("The source snapshot ", r.snapshot, " was not uploaded."));
    }
    if (auto s = RequireModels(*store_, tx, service.workspace_id, r.model_ids); !s.ok()) return s;
    auto revision = NextRevision(tx, service, SpecToJson(DeploymentSpec{r, "", ""}));
    if (!revision.ok()) return revision.status();
    OperationRecord op;
    op.type = kUpdate;
    op.payload = json::Serialize(bj::object{{"revision", *revision}});
    return Begin(tx, op, service, absl::StrCat("Updating service ", service.name, " to revision ", *revision), accepted);
  });
}

absl::StatusOr<WebserviceService::Accepted> WebserviceService::Delete(const WorkspaceKey& key, const std::string& name) {
  return operations_->Accept<Accepted>([&](Tx& tx, Accepted& accepted) -> absl::Status {
    auto found = RequireIdleService(tx, key, name);
    if (!found.ok()) return found.status();
    ServiceRecord service = std::move(*found);
    service.state = ServiceState::kDeleting;
    if (auto s = store_->UpdateService(tx, service); !s.ok()) return s;
    OperationRecord op;
    op.type = kDelete;
    return Begin(tx, op, service, absl::StrCat("Deleting service ", service.name), accepted);
  });
}

absl::StatusOr<json::bj::object> WebserviceService::Get(const WorkspaceKey& key, const std::string& name) {
  bj::object out;
  auto status = store_->db().Read([&](Tx& tx) -> absl::Status {
    auto found = RequireService(tx, key, name);
    if (!found.ok()) return found.status();
    auto described = Describe(tx, *found);
    if (!described.ok()) return described.status();
    out = std::move(*described);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<json::bj::array> WebserviceService::List(const WorkspaceKey& key, const ServiceQuery& query) {
  bj::array out;
  auto status = store_->db().Read([&](Tx& tx) -> absl::Status {
    auto ws = RequireWorkspace(*store_, tx, key);
    if (!ws.ok()) return ws.status();
    auto all = store_->ListServices(tx, ws->id);
    if (!all.ok()) return all.status();
    for (const auto& s : *all) {
      if (!query.compute_type.empty() && !absl::EqualsIgnoreCase(query.compute_type, "AKS")) continue;
      if (!MatchesFilters(s.tags, query.tags) || !MatchesFilters(s.properties, query.properties)) continue;
      auto described = Describe(tx, s);
      if (!described.ok()) return described.status();
      if (!query.model_name.empty()) {
        bool uses = false;
        if (const bj::value* models = described->if_contains("models"); models && models->is_array()) {
          for (const auto& m : models->as_array()) uses |= json::GetString(m.as_object(), "name") == query.model_name;
        }
        if (!uses) continue;
      }
      out.push_back(std::move(*described));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<json::bj::object> WebserviceService::ListKeys(const WorkspaceKey& key, const std::string& name) {
  bj::object out;
  auto status = store_->db().Read([&](Tx& tx) -> absl::Status {
    auto found = RequireService(tx, key, name);
    if (!found.ok()) return found.status();
    out = bj::object{{"primaryKey", found->primary_key}, {"secondaryKey", found->secondary_key}};
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<json::bj::object> WebserviceService::RegenerateKey(const WorkspaceKey& key, const std::string& name,
                                                                  absl::string_view body) {
  auto object = json::ParseObject(body, "Key regeneration");
  if (!object.ok()) return Invalid(object.status().message());
  json::ObjectReader reader(&*object, "");
  std::string type = reader.String("keyType").value_or("");
  std::string value = reader.String("keyValue").value_or("");
  if (auto s = reader.Finish(); !s.ok()) return Invalid(s.message());
  if (type != "Primary" && type != "Secondary") {
    return Invalid(absl::StrCat("Error, invalid key type '", type, "'. Valid key types are 'Primary' and 'Secondary'."));
  }
  if (!value.empty() && (value.size() < 8 || value.size() > 256)) {
    return Invalid("Error, a key set with set_key must be 8 to 256 characters long.");
  }
  int64_t cluster_id = 0;
  bj::object out;
  auto status = store_->db().Transaction([&](Tx& tx) -> absl::Status {
    auto found = RequireService(tx, key, name);
    if (!found.ok()) return found.status();
    ServiceRecord service = std::move(*found);
    (type == "Primary" ? service.primary_key : service.secondary_key) = value.empty() ? RandomHex(16) : value;
    cluster_id = service.cluster_id;
    out = bj::object{{"primaryKey", service.primary_key}, {"secondaryKey", service.secondary_key}};
    return store_->UpdateService(tx, service);
  });
  if (!status.ok()) return status;
  if (auto s = PushRoutes(cluster_id); !s.ok()) return s;
  return out;
}

absl::StatusOr<WebserviceService::Loaded> WebserviceService::Load(int64_t service_id) {
  Loaded loaded;
  auto status = store_->db().Read([&](Tx& tx) -> absl::Status {
    auto service = store_->GetService(tx, service_id);
    if (!service.ok()) return service.status();
    if (!service->has_value()) return absl::NotFoundError("The service no longer exists.");
    loaded.service = **service;
    auto versions = store_->ServiceVersions(tx, service_id);
    if (!versions.ok()) return versions.status();
    if (versions->empty()) return absl::InternalError("service without versions");
    loaded.version = versions->front();
    auto spec = SpecFromJson(loaded.version.spec);
    if (!spec.ok()) return spec.status();
    loaded.spec = std::move(*spec);
    auto cluster = store_->GetCluster(tx, loaded.service.cluster_id);
    if (!cluster.ok()) return cluster.status();
    if (!cluster->has_value()) return absl::NotFoundError("The service's cluster no longer exists.");
    loaded.cluster = **cluster;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return loaded;
}

absl::Status WebserviceService::PushRoutes(int64_t cluster_id) {
  domain::RouteTable table;
  ClusterRecord cluster;
  auto status = store_->db().Transaction([&](Tx& tx) -> absl::Status {
    auto found = store_->GetCluster(tx, cluster_id);
    if (!found.ok()) return found.status();
    if (!found->has_value()) return absl::NotFoundError("cluster gone");
    cluster = **found;
    cluster.route_generation++;
    if (auto s = store_->UpdateCluster(tx, cluster); !s.ok()) return s;
    table.generation = cluster.route_generation;
    auto services = store_->ServicesOnCluster(tx, cluster_id);
    if (!services.ok()) return services.status();
    for (const auto& s : *services) {
      if (s.state == ServiceState::kDeleting) continue;
      auto versions = store_->ServiceVersions(tx, s.id);
      if (!versions.ok()) return versions.status();
      domain::ServiceRoute route;
      route.name = s.name;
      for (const auto& v : *versions) {
        if (v.live_spec.empty()) continue;
        auto spec = SpecFromJson(v.live_spec);
        if (!spec.ok()) continue;
        const auto& r = spec->request;
        auto c = domain::Resolve(r.config);
        route.auth.mode = c.auth_enabled ? "key" : (c.token_auth_enabled ? "token" : "none");
        route.auth.keys = {s.primary_key, s.secondary_key};
        route.max_concurrent_requests_per_replica = static_cast<int>(c.replica_max_concurrent_requests);
        route.max_queue_wait_ms = static_cast<int>(c.max_request_wait_time);
        route.scoring_timeout_ms = static_cast<int>(c.scoring_timeout_ms);
        domain::VersionRoute version;
        version.name = v.name;
        version.traffic_percentile = 100;
        version.is_default = true;
        domain::ReplicaSpec& replicas = version.replicas;
        replicas.revision = v.live_revision;
        replicas.count = static_cast<int>(c.num_replicas);
        replicas.program = options_.scoring_program;
        replicas.bundle_directory = BundleDirectory(s.id, v.live_revision);
        replicas.entry_script = r.entry_script;
        replicas.source_directory = r.source_directory;
        if (r.model_ids.size() == 1) {
          auto parsed = ParseModelId(r.model_ids.front());
          replicas.model_directory = parsed.ok() ? absl::StrCat("azureml-models/", parsed->first, "/", parsed->second)
                                                 : "azureml-models";
        } else {
          replicas.model_directory = "azureml-models";
        }
        replicas.python = spec->python;
        replicas.python_path = options_.python_path;
        replicas.environment_variables = r.environment.environment_variables;
        replicas.cpu_cores = c.cpu_cores;
        replicas.memory_gb = c.memory_gb;
        replicas.memory_gb_limit = c.memory_gb_limit;
        replicas.scoring_timeout_ms = static_cast<int>(c.scoring_timeout_ms);
        replicas.liveness = {static_cast<int>(c.period_seconds), static_cast<int>(c.initial_delay_seconds),
                             static_cast<int>(c.timeout_seconds), static_cast<int>(c.success_threshold),
                             static_cast<int>(c.failure_threshold)};
        route.versions.push_back(std::move(version));
      }
      if (!route.versions.empty()) table.services.push_back(std::move(route));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return backend_->PushRoutes(
      backend::ClusterSpec{cluster.id, cluster.resource_id(), static_cast<uint16_t>(cluster.frontend_port)}, table);
}

void WebserviceService::SetState(int64_t service_id, const std::string& state, const std::string& phase,
                                 const std::string& reason, const std::string& error_json) {
  (void)store_->db().Transaction([&](Tx& tx) -> absl::Status {
    auto service = store_->GetService(tx, service_id);
    if (!service.ok() || !service->has_value()) return absl::OkStatus();
    ServiceRecord s = **service;
    s.state = state;
    s.phase = phase;
    s.reason = reason;
    s.error = error_json;
    return store_->UpdateService(tx, s);
  });
}

void WebserviceService::RunDeploy(const OperationRecord& op) {
  auto payload = json::ParseObject(op.payload, "payload");
  auto log = [&](const std::string& line) { (void)operations_->Log(op.id, line); };
  auto phase = [&](const char* name, const std::string& line) {
    SetState(op.target_id, ServiceState::kTransitioning, name, "");
    (void)operations_->Commit(op.id, [&](Tx& tx, OperationRecord& record) {
      record.phase = name;
      return store_->AppendOperationLog(tx, record.id, line);
    });
  };
  auto loaded = Load(op.target_id);
  std::string previous_live_spec;
  int64_t previous_live_revision = 0;
  if (loaded.ok()) {
    previous_live_spec = payload.ok() ? json::GetString(*payload, "previousLiveSpec", loaded->version.live_spec)
                                      : loaded->version.live_spec;
    previous_live_revision = payload.ok() ? json::GetInt(*payload, "previousLiveRevision", loaded->version.live_revision)
                                          : loaded->version.live_revision;
  }

  // Ends the operation Failed: a new service is Failed; an updated one goes back to what it ran before.
  auto fail = [&](const char* failed_phase, const std::string& reason, const std::string& message) {
    std::string full = absl::StrCat("Phase ", failed_phase, " failed: ", message);
    std::string error = ErrorJson(reason, full);
    bool rolled_back = false;
    if (!previous_live_spec.empty() && loaded.ok()) {
      (void)store_->db().Transaction([&](Tx& tx) -> absl::Status {
        auto versions = store_->ServiceVersions(tx, op.target_id);
        if (!versions.ok() || versions->empty()) return absl::OkStatus();
        ServiceVersionRecord v = versions->front();
        if (v.live_revision != previous_live_revision) {
          v.live_spec = previous_live_spec;
          v.live_revision = previous_live_revision;
          rolled_back = true;
        }
        return store_->UpdateServiceVersion(tx, v);
      });
      if (rolled_back) (void)PushRoutes(loaded->cluster.id);
      SetState(op.target_id, ServiceState::kHealthy, ServicePhase::kReady, reason, error);
    } else {
      SetState(op.target_id, ServiceState::kFailed, failed_phase, reason, error);
    }
    (void)operations_->Commit(op.id, [&](Tx& tx, OperationRecord& record) {
      return operations_->Finish(
          tx, record, OperationStatus::kFailed,
          absl::StrCat("Failed in phase ", failed_phase, ": ", reason,
                       previous_live_spec.empty() ? "" : "; the service keeps running its previous deployment"),
          MakeError(absl::StatusCode::kAborted, reason, full));
    });
  };
  if (!loaded.ok()) return fail(ServicePhase::kValidating, "ServiceNotFound", std::string(loaded.status().message()));
  if (payload.ok() && !payload->contains("previousLiveSpec")) {
    // Remember what ran before, so a restart mid-update can still roll back.
    (void)operations_->Commit(op.id, [&](Tx&, OperationRecord& record) {
      auto p = json::ParseObject(record.payload, "payload");
      bj::object next = p.ok() ? *p : bj::object{};
      next["previousLiveSpec"] = previous_live_spec;
      next["previousLiveRevision"] = previous_live_revision;
      record.payload = json::Serialize(next);
      return absl::OkStatus();
    });
  }
  Loaded& l = *loaded;
  const domain::ServiceRequest& request = l.spec.request;
  backend::ClusterSpec cluster_spec{l.cluster.id, l.cluster.resource_id(), static_cast<uint16_t>(l.cluster.frontend_port)};

  // Validating.
  phase(ServicePhase::kValidating,
        absl::StrCat("Validating: ", request.model_ids.empty() ? "no models" : absl::StrJoin(request.model_ids, ", "),
                     ", entry script ", request.entry_script, ", target ", l.service.compute_name));
  std::vector<ModelRecord> models;
  auto read = store_->db().Read([&](Tx& tx) -> absl::Status {
    for (const auto& id : request.model_ids) {
      auto parsed = ParseModelId(id);
      if (!parsed.ok()) return parsed.status();
      auto model = store_->FindModel(tx, l.service.workspace_id, parsed->first, parsed->second);
      if (!model.ok()) return model.status();
      if (!model->has_value()) return ModelNotFound(id);
      models.push_back(**model);
    }
    return absl::OkStatus();
  });
  if (!read.ok()) return fail(ServicePhase::kValidating, "ModelNotFound", std::string(read.message()));
  if (l.cluster.state != ProvisioningState::kSucceeded || !backend_->IsFrontEndHealthy(cluster_spec)) {
    return fail(ServicePhase::kValidating, "ComputeTargetNotReady",
                absl::StrCat("The front end of cluster ", l.cluster.name, " is not running."));
  }

  // BuildingEnvironment.
  Environment environment = request.has_environment ? request.environment : Environment{};
  std::string hash = domain::EnvironmentHash(environment);
  phase(ServicePhase::kBuildingEnvironment,
        absl::StrCat("Building environment ", environment.name.empty() ? "(the runtime's Python)" : environment.name,
                     " (hash ", hash.substr(0, 12), ")"));
  bool in_workspace_cache = false;
  (void)store_->db().Read([&](Tx& tx) -> absl::Status {
    auto known = store_->EnvironmentBuildKnown(tx, hash, l.service.workspace_id);
    in_workspace_cache = known.ok() && *known;
    return absl::OkStatus();
  });
  auto built = environments_->Build(environment, hash, in_workspace_cache, log);
  if (!built.ok()) {
    std::string code = ErrorCodeOf(built.status());
    return fail(ServicePhase::kBuildingEnvironment, code.empty() ? "EnvironmentBuildFailed" : code,
                std::string(built.status().message()));
  }
  (void)store_->db().Transaction(
      [&](Tx& tx) { return store_->RecordEnvironmentBuild(tx, hash, l.service.workspace_id); });
  l.spec.python = built->python;
  l.spec.environment_hash = hash;

  // Scheduling: the cluster's capacity, less what its other services ask for.
  auto size = domain::FindVmSize(l.cluster.vm_size);
  if (!size.ok()) return fail(ServicePhase::kScheduling, "InvalidCluster", std::string(size.status().message()));
  Demand want = DemandOf(request);
  double total_cpu = static_cast<double>(l.cluster.agent_count * size->vcpus);
  double total_memory = static_cast<double>(l.cluster.agent_count) * size->memory_gib;
  phase(ServicePhase::kScheduling, absl::StrCat("Scheduling ", want.cpu, " CPU and ", want.memory,
                                                 " GB on cluster ", l.cluster.name));
  for (bool reported = false;;) {
    Demand used;
    (void)store_->db().Read([&](Tx& tx) -> absl::Status {
      auto services = store_->ServicesOnCluster(tx, l.cluster.id);
      if (!services.ok()) return services.status();
      for (const auto& s : *services) {
        if (s.id == l.service.id) continue;
        auto versions = store_->ServiceVersions(tx, s.id);
        if (!versions.ok()) continue;
        for (const auto& v : *versions) {
          if (v.live_spec.empty()) continue;
          if (auto spec = SpecFromJson(v.live_spec); spec.ok()) {
            Demand d = DemandOf(spec->request);
            used.cpu += d.cpu;
            used.memory += d.memory;
          }
        }
      }
      return absl::OkStatus();
    });
    double free_cpu = total_cpu - used.cpu;
    double free_memory = total_memory - used.memory;
    if (want.cpu <= free_cpu + 1e-9 && want.memory <= free_memory + 1e-9) break;
    if (!reported) {
      std::string message = absl::StrCat("Insufficient capacity: the service requests ", want.cpu, " CPU and ",
                                         want.memory, " GB; cluster ", l.cluster.name, " has ", free_cpu, " CPU and ",
                                         free_memory, " GB free of ", total_cpu, " CPU and ", total_memory,
                                         " GB. It deploys when capacity frees up.");
      SetState(op.target_id, ServiceState::kUnschedulable, ServicePhase::kScheduling, "InsufficientCapacity",
               ErrorJson("InsufficientCapacity", message));
      log(message);
      reported = true;
    }
    if (!operations_->SleepUnlessStopping(500ms)) return;
    if (auto current = operations_->Get(op.id); current.ok() && current->done()) return;
  }

  // The bundle replicas start from: the source snapshot and the model files.
  std::string bundle = BundleDirectory(l.service.id, l.version.revision);
  if (!fs::exists(absl::StrCat(bundle, "/.complete"))) {
    std::error_code ec;
    fs::remove_all(bundle, ec);
    std::string app_source = request.source_directory.empty() ? bundle : absl::StrCat(bundle, "/", request.source_directory);
    if (!request.snapshot.empty()) {
      auto archive = blobs_->Read(request.snapshot);
      if (!archive.ok()) return fail(ServicePhase::kStartingReplicas, "SnapshotMissing", std::string(archive.status().message()));
      if (auto s = ExtractTar(*archive, app_source); !s.ok()) {
        return fail(ServicePhase::kStartingReplicas, "SnapshotInvalid", std::string(s.message()));
      }
    }
    for (const auto& m : models) {
      for (const auto& f : m.model.files) {
        fs::path target = fs::path(bundle) / "azureml-models" / m.model.name / std::to_string(m.model.version) / f.path;
        fs::create_directories(target.parent_path(), ec);
        fs::create_hard_link(blobs_->PathOf(f.sha256), target, ec);
        if (ec) {
          ec.clear();
          fs::copy_file(blobs_->PathOf(f.sha256), target, fs::copy_options::overwrite_existing, ec);
        }
        if (ec) return fail(ServicePhase::kStartingReplicas, "ModelFilesMissing", ec.message());
      }
    }
    (void)WriteFileAtomic(absl::StrCat(bundle, "/.complete"), "", 0644);
  }

  // StartingReplicas: the front end gets the new revision and replaces replicas one by one.
  auto resolved = domain::Resolve(request.config);
  phase(ServicePhase::kStartingReplicas,
        absl::StrCat("Starting ", resolved.num_replicas, " replica", resolved.num_replicas == 1 ? "" : "s",
                     " of revision ", l.version.revision));
  auto published = store_->db().Transaction([&](Tx& tx) -> absl::Status {
    auto versions = store_->ServiceVersions(tx, l.service.id);
    if (!versions.ok() || versions->empty()) return absl::InternalError("service without versions");
    ServiceVersionRecord v = versions->front();
    v.spec = SpecToJson(l.spec);
    v.live_spec = v.spec;
    v.live_revision = v.revision;
    return store_->UpdateServiceVersion(tx, v);
  });
  if (!published.ok()) return fail(ServicePhase::kStartingReplicas, "InternalError", std::string(published.message()));
  if (auto s = PushRoutes(l.cluster.id); !s.ok()) {
    return fail(ServicePhase::kStartingReplicas, "FrontEndUnavailable", std::string(s.message()));
  }

  // Initializing: wait for the replicas of this revision to be ready.
  std::map<std::string, std::string> seen;
  bool initializing = false;
  auto deadline = std::chrono::steady_clock::now() + 10min;
  while (true) {
    if (operations_->stopping()) return;
    auto status = backend_->ReplicaStatus(cluster_spec);
    if (status.ok()) {
      const domain::VersionStatus* version = nullptr;
      for (const auto& v : status->versions) {
        if (v.service == l.service.name && v.version == l.version.name) version = &v;
      }
      if (version != nullptr && version->revision == l.version.revision) {
        for (const auto& r : version->replicas) {
          if (r.revision != l.version.revision) continue;
          if (seen[r.id] != r.state) {
            seen[r.id] = r.state;
            if (r.state == domain::ReplicaState::kInitializing && !initializing) {
              initializing = true;
              phase(ServicePhase::kInitializing, absl::StrCat("Replica ", r.id, " is running init()"));
            } else if (r.state == domain::ReplicaState::kReady) {
              log(absl::StrCat("Replica ", r.id, " is ready"));
            } else if (r.state == domain::ReplicaState::kWaiting && !r.last_reason.empty()) {
              log(absl::StrCat("Replica ", r.id, " stopped: ", r.last_reason));
            }
          }
          if (Fatal(r.last_reason) || (r.last_reason == "Error" && r.restarts >= 2) ||
              (r.last_reason == "ScoringTimeout" && r.restarts >= 2)) {
            std::string reason = Fatal(r.last_reason) ? r.last_reason : "CrashLoopBackOff";
            // A replica whose process could not even be set up failed to start; anything later failed while
            // loading the script and running init().
            bool starting = reason == "ReplicaSetupFailed" || reason == "ReplicaStartFailed";
            return fail(starting ? ServicePhase::kStartingReplicas : ServicePhase::kInitializing, reason,
                        absl::StrCat("Replica ", r.id, ": ", r.last_message));
          }
        }
        if (version->ready >= version->desired) break;
      }
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return fail(ServicePhase::kInitializing, "DeploymentTimedOut",
                  "The replicas did not become ready within 10 minutes.");
    }
    if (!operations_->SleepUnlessStopping(100ms)) return;
  }

  // Ready once a request through the front end reaches a replica.
  bool probed = false;
  for (int attempt = 0; attempt < 50 && !probed; ++attempt) {
    http::Client client("127.0.0.1", static_cast<uint16_t>(l.cluster.frontend_port));
    auto response = client.Send(
        http::Request{.method = "GET", .target = absl::StrCat("/api/v1/service/", l.service.name, "/swagger.json")},
        {.timeout = 5s});
    probed = response.ok() && response->status == 200;
    if (!probed && !operations_->SleepUnlessStopping(100ms)) return;
  }
  if (!probed) {
    return fail(ServicePhase::kReady, "FrontEndProbeFailed",
                "The replicas are ready but a request through the front end did not reach them.");
  }
  SetState(op.target_id, ServiceState::kHealthy, ServicePhase::kReady, "");
  (void)operations_->Commit(op.id, [&](Tx& tx, OperationRecord& record) {
    return operations_->Finish(tx, record, OperationStatus::kSucceeded,
                               absl::StrCat(resolved.num_replicas, "/", resolved.num_replicas,
                                            " replicas ready; a probe through the front end succeeded"));
  });
}

void WebserviceService::RunDelete(const OperationRecord& op) {
  auto loaded = Load(op.target_id);
  if (loaded.ok()) {
    (void)PushRoutes(loaded->cluster.id);
    backend::ClusterSpec spec{loaded->cluster.id, loaded->cluster.resource_id(),
                              static_cast<uint16_t>(loaded->cluster.frontend_port)};
    // The front end stops the replicas; wait until none is left.
    for (auto deadline = std::chrono::steady_clock::now() + 30s; std::chrono::steady_clock::now() < deadline;) {
      auto status = backend_->ReplicaStatus(spec);
      if (!status.ok()) break;
      bool left = false;
      for (const auto& v : status->versions) left |= v.service == loaded->service.name;
      if (!left) break;
      if (!operations_->SleepUnlessStopping(100ms)) return;
    }
    std::error_code ec;
    fs::remove_all(absl::StrCat(options_.home, "/services/", op.target_id), ec);
  }
  (void)operations_->Commit(op.id, [&](Tx& tx, OperationRecord& record) -> absl::Status {
    if (auto s = store_->DeleteService(tx, record.target_id); !s.ok()) return s;
    return operations_->Finish(tx, record, OperationStatus::kSucceeded, "Service deleted");
  });
}

absl::StatusOr<std::string> WebserviceService::Logs(const WorkspaceKey& key, const std::string& name, int64_t tail,
                                                    bool init) {
  ServiceRecord service;
  std::optional<OperationRecord> last_deploy;
  std::vector<Store::LogLine> deploy_log;
  ClusterRecord cluster;
  auto status = store_->db().Read([&](Tx& tx) -> absl::Status {
    auto found = RequireService(tx, key, name);
    if (!found.ok()) return found.status();
    service = std::move(*found);
    auto c = store_->GetCluster(tx, service.cluster_id);
    if (!c.ok() || !c->has_value()) return absl::NotFoundError("The service's cluster no longer exists.");
    cluster = **c;
    auto op = store_->LatestOperationOn(tx, service.workspace_id, service.name, {kCreate, kUpdate});
    if (!op.ok()) return op.status();
    last_deploy = std::move(*op);
    if (last_deploy) {
      auto lines = store_->OperationLog(tx, last_deploy->id);
      if (!lines.ok()) return lines.status();
      deploy_log = std::move(*lines);
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;

  std::string replica_log;
  std::string replica_id;
  auto replicas = backend_->ReplicaStatus(
      backend::ClusterSpec{cluster.id, cluster.resource_id(), static_cast<uint16_t>(cluster.frontend_port)});
  if (replicas.ok()) {
    const domain::ReplicaStatus* chosen = nullptr;
    for (const auto& v : replicas->versions) {
      if (v.service != service.name) continue;
      for (const auto& r : v.replicas) {
        // Prefer a ready replica of the current revision; else any, so a crashed one's log is readable.
        bool better = chosen == nullptr || (r.revision == v.revision && chosen->revision != v.revision) ||
                      (r.state == domain::ReplicaState::kReady && chosen->state != domain::ReplicaState::kReady &&
                       r.revision == v.revision);
        if (better) chosen = &r;
      }
    }
    if (chosen != nullptr) {
      replica_id = chosen->id;
      auto current = ReadFile(chosen->log_path);
      bool use_previous = !current.ok() || current->empty() || chosen->state == domain::ReplicaState::kWaiting;
      if (use_previous) {
        auto previous = ReadFile(chosen->previous_log_path);
        if (previous.ok() && !previous->empty()) current = previous;
      }
      if (current.ok()) replica_log = *current;
    }
  }
  std::vector<absl::string_view> lines = absl::StrSplit(replica_log, '\n');
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  if (init) {
    std::string out = "Deployment log:\n";
    for (const auto& line : deploy_log) absl::StrAppend(&out, line.time, " ", line.message, "\n");
    if (!replica_id.empty()) {
      absl::StrAppend(&out, "\nStart-up of replica ", replica_id, ":\n");
      for (size_t i = 0; i < lines.size() && i < static_cast<size_t>(std::max<int64_t>(tail, 1)); ++i) {
        absl::StrAppend(&out, lines[i], "\n");
        if (absl::StrContains(lines[i], "amlcore-score: ready on")) break;
      }
    }
    return out;
  }
  if (replica_id.empty()) return absl::StrCat("No replica of service ", service.name, " has started yet.\n");
  size_t start = tail > 0 && lines.size() > static_cast<size_t>(tail) ? lines.size() - tail : 0;
  std::string out;
  for (size_t i = start; i < lines.size(); ++i) absl::StrAppend(&out, lines[i], "\n");
  return out;
}

absl::StatusOr<json::bj::object> WebserviceService::OperationDocument(const OperationRecord& op) {
  std::vector<Store::LogLine> lines;
  auto status = store_->db().Read([&](Tx& tx) -> absl::Status {
    auto log = store_->OperationLog(tx, op.id);
    if (!log.ok()) return log.status();
    lines = std::move(*log);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  std::string state = op.status == OperationStatus::kInProgress ? "Running"
                      : op.status == OperationStatus::kCanceled ? "Cancelled"
                                                                : op.status;
  bj::array log;
  for (const auto& l : lines) log.push_back(bj::object{{"time", l.time}, {"message", l.message}});
  bj::object out{{"id", op.id},
                 {"operationType", op.type},
                 {"state", state},
                 {"createdTime", op.created},
                 {"endTime", op.ended.empty() ? bj::value(nullptr) : bj::value(op.ended)},
                 {"operationDetails", bj::object{{"subOperationType", op.phase}, {"subOperationState", state}}},
                 {"resourceLocation", absl::StrCat("/services/", op.target_name)},
                 {"version", op.version},
                 {"operationLog", std::move(log)}};
  if (!op.error_code.empty() || !op.error_message.empty()) {
    out["error"] = bj::object{{"code", op.error_code}, {"message", op.error_message}};
  } else {
    out["error"] = nullptr;
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> WebserviceService::ServicesUsingModel(Tx& tx, int64_t workspace_id,
                                                                               const std::string& model_id) {
  std::vector<std::string> out;
  auto services = store_->ListServices(tx, workspace_id);
  if (!services.ok()) return services.status();
  for (const auto& s : *services) {
    auto versions = store_->ServiceVersions(tx, s.id);
    if (!versions.ok()) return versions.status();
    for (const auto& v : *versions) {
      for (const std::string* text : {&v.spec, &v.live_spec}) {
        if (text->empty()) continue;
        auto spec = SpecFromJson(*text);
        if (spec.ok() && std::find(spec->request.model_ids.begin(), spec->request.model_ids.end(), model_id) !=
                             spec->request.model_ids.end()) {
          out.push_back(absl::StrCat("service ", s.name));
        }
      }
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void WebserviceService::Reconcile() {
  std::vector<ClusterRecord> clusters;
  std::map<int64_t, std::vector<ServiceRecord>> services;
  (void)store_->db().Read([&](Tx& tx) -> absl::Status {
    auto all = store_->ListClusters(tx);
    if (!all.ok()) return all.status();
    for (const auto& c : *all) {
      if (c.state != ProvisioningState::kSucceeded) continue;
      auto on = store_->ServicesOnCluster(tx, c.id);
      if (!on.ok() || on->empty()) continue;
      clusters.push_back(c);
      services[c.id] = std::move(*on);
    }
    return absl::OkStatus();
  });
  for (const auto& c : clusters) {
    backend::ClusterSpec spec{c.id, c.resource_id(), static_cast<uint16_t>(c.frontend_port)};
    auto status = backend_->ReplicaStatus(spec);
    if (!status.ok()) continue;
    // A front end that lost track (restarted without its table, or missed a push) gets the table again.
    if (status->generation < c.route_generation) (void)PushRoutes(c.id);
    for (const auto& s : services[c.id]) {
      if (s.state != ServiceState::kHealthy && s.state != ServiceState::kUnhealthy) continue;
      bool running = false;
      (void)store_->db().Read([&](Tx& tx) -> absl::Status {
        auto op = store_->RunningOperationOn(tx, s.workspace_id, s.name);
        running = op.ok() && op->has_value();
        return absl::OkStatus();
      });
      if (running) continue;
      for (const auto& v : status->versions) {
        if (v.service != s.name) continue;
        std::string reason;
        for (const auto& r : v.replicas) {
          if (!r.last_reason.empty() && r.state != domain::ReplicaState::kReady) reason = r.last_reason;
        }
        bool healthy = v.ready >= v.desired;
        if (healthy && s.state == ServiceState::kUnhealthy) {
          SetState(s.id, ServiceState::kHealthy, ServicePhase::kReady, "", s.error);
        } else if (!healthy && s.state == ServiceState::kHealthy) {
          SetState(s.id, ServiceState::kUnhealthy, ServicePhase::kReady,
                   reason == "Error" ? "CrashLoopBackOff" : reason, s.error);
        }
      }
    }
  }
}

}  // namespace amlcore::server
