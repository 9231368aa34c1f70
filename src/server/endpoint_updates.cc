// Changes to an AksEndpoint (a PATCH of its versions and settings): checked against the endpoint rules as a
// whole, then recorded with one operation that deploys, updates or removes at most one version.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "domain/endpoint_rules.h"
#include "domain/service_rules.h"
#include "domain/vm_sizes.h"
#include "server/model_service.h"
#include "server/webservice_service.h"

namespace amlcore::server {
namespace {
namespace bj = json::bj;
constexpr char kVersionsPrefix[] = "/versions/";

// The settings that change how requests reach a version, not what runs: they need no new deployment.
bool OnlyRoutingOrLabels(const domain::VersionPatch& p) {
  if (p.model_ids || p.entry_script || p.source_directory || p.snapshot || p.environment) return false;
  return !domain::NeedsDeployment(p.config);
}

std::vector<std::string> Names(const std::vector<domain::VersionRouting>& versions) {
  std::vector<std::string> out;
  for (const auto& v : versions) out.push_back(v.name);
  return out;
}
}  // namespace

json::bj::object EndpointSettings(const AksServiceDeploymentConfiguration& config) {
  AksServiceDeploymentConfiguration own;
  own.auth_enabled = config.auth_enabled;
  own.token_auth_enabled = config.token_auth_enabled;
  own.enable_app_insights = config.enable_app_insights;
  return domain::DeployConfigToJson(own);
}

absl::Status WebserviceService::UpdateEndpoint(Tx& tx, ServiceRecord& service, const json::bj::array& patch,
                                               Accepted& accepted) {
  auto versions = store_->ServiceVersions(tx, service.id);
  if (!versions.ok()) return versions.status();
  std::vector<domain::VersionRouting> routing;
  for (const auto& v : *versions) {
    routing.push_back({v.name, v.traffic_percentile, v.is_default,
                       v.version_type.empty() ? std::string(domain::VersionType::kTreatment) : v.version_type});
  }
  auto parsed_settings = json::ParseObject(service.endpoint_config, "endpoint settings");
  auto settings = parsed_settings.ok() ? domain::DeployConfigFromJson(*parsed_settings) : parsed_settings.status();
  if (!settings.ok()) return settings.status();
  const domain::ResolvedDeployConfig auth_before = domain::Resolve(*settings);
  AksServiceDeploymentConfiguration auth_changes;

  // What the patch asks, applied to copies; nothing is written before every rule holds.
  std::map<std::string, domain::VersionPatch> added;
  std::map<std::string, domain::VersionPatch> replaced;
  std::string removed;
  std::vector<std::string> notes;
  auto find = [&](const std::string& name) {
    return std::find_if(routing.begin(), routing.end(), [&](const auto& v) { return v.name == name; });
  };
  for (const auto& item : patch) {
    if (!item.is_object()) return Invalid("Every patch operation must be an object.");
    const auto& o = item.as_object();
    std::string op = json::GetString(o, "op");
    std::string path = json::GetString(o, "path");
    const bj::value* value = o.if_contains("value");
    if (absl::StartsWith(path, kVersionsPrefix)) {
      std::string name = path.substr(sizeof(kVersionsPrefix) - 1);
      if (op == "remove") {
        auto line = domain::RemoveVersion(service.name, name, routing);
        if (!line.ok()) return absl::IsNotFound(line.status()) ? MakeError(absl::StatusCode::kNotFound, "VersionNotFound",
                                                                           line.status().message())
                                                               : Invalid(line.status().message());
        if (!removed.empty()) return Invalid("Error, delete one version at a time.");
        removed = name;
        if (!line->empty()) notes.push_back(*line);
        continue;
      }
      if (value == nullptr) return Invalid(absl::StrCat("Patch operation on ", path, " has no value."));
      auto version = domain::VersionPatchFromJson(*value);
      if (!version.ok()) return Invalid(version.status().message());
      if (auto s = domain::ValidateDeployConfiguration(version->config); !s.ok()) return Invalid(s.message());
      if (op == "add") {
        if (auto s = domain::ValidateVersionName(name); !s.ok()) return Invalid(s.message());
        if (find(name) != routing.end()) {
          return Conflict("VersionExists", absl::StrCat("Error, endpoint ", service.name, " already has a version ",
                                                        name, "; change it with update_version."));
        }
        if (!version->entry_script) {
          return Invalid(absl::StrCat("Error, version ", name, " needs an inference_config with its entry script."));
        }
        routing.push_back({name, version->config.traffic_percentile.value_or(0), false,
                           domain::VersionType::kTreatment});
        added[name] = *version;
      } else if (op == "replace") {
        auto it = find(name);
        if (it == routing.end()) {
          return MakeError(absl::StatusCode::kNotFound, "VersionNotFound",
                           absl::StrCat("Error, endpoint ", service.name, " has no version ", name,
                                        "; its versions are ", absl::StrJoin(Names(routing), ", "), "."));
        }
        if (version->config.traffic_percentile) it->traffic_percentile = *version->config.traffic_percentile;
        if (version->is_default && !*version->is_default && it->is_default) {
          return Invalid(absl::StrCat("Error, version ", name, " is the default of endpoint ", service.name,
                                      "; make another version the default instead (is_default=True on it)."));
        }
        if (version->is_control && !*version->is_control) it->type = domain::VersionType::kTreatment;
        replaced[name] = *version;
      } else {
        return Invalid(absl::StrCat("Patch operation '", op, "' is not supported on a version; use add, replace or "
                                    "remove."));
      }
      if (version->is_default.value_or(false)) domain::MakeDefault(name, routing);
      if (version->is_control.value_or(false)) domain::MakeControl(name, routing);
      continue;
    }
    if (op != "replace" && op != "add") {
      return Invalid(absl::StrCat("Patch operation '", op, "' is not supported on ", path, "; use replace."));
    }
    if (value == nullptr) return Invalid(absl::StrCat("Patch operation on ", path, " has no value."));
    if (path == "/authEnabled" || path == "/aadAuthEnabled" || path == "/appInsightsEnabled") {
      if (!value->is_bool()) return Invalid(absl::StrCat(path, " must be true or false."));
      (path == "/authEnabled" ? settings->auth_enabled
       : path == "/aadAuthEnabled" ? settings->token_auth_enabled
                                   : settings->enable_app_insights) = value->as_bool();
      if (path == "/authEnabled") auth_changes.auth_enabled = value->as_bool();
      if (path == "/aadAuthEnabled") auth_changes.token_auth_enabled = value->as_bool();
    } else if (path == "/description") {
      if (!value->is_string()) return Invalid("/description must be a string.");
      service.description = std::string(json::Sv(value->as_string()));
    } else if (path == "/kvTags" || path == "/properties") {
      std::map<std::string, std::string> map;
      if (auto s = domain::ReadStringMap(value, path.substr(1), &map); !s.ok()) return Invalid(s.message());
      (path == "/kvTags" ? service.tags : service.properties) = map;
    } else {
      return Invalid(absl::StrCat("Cannot update ", path, " of endpoint ", service.name,
                                  "; update /versions/{name}, /authEnabled, /aadAuthEnabled, /appInsightsEnabled, "
                                  "/description, /kvTags or /properties."));
    }
  }
  // One deployment or removal per operation; any number of changes of traffic.
  std::vector<std::string> deployed;
  for (const auto& [name, v] : added) deployed.push_back(name);
  for (const auto& [name, v] : replaced) {
    if (!OnlyRoutingOrLabels(v)) deployed.push_back(name);
  }
  if (deployed.size() + (removed.empty() ? 0 : 1) > 1) {
    return Invalid(absl::StrCat("Error, change one version of endpoint ", service.name, " at a time, not ",
                                absl::StrJoin(deployed, ", "), removed.empty() ? "" : absl::StrCat(" and ", removed),
                                "."));
  }
  if (auto s = domain::ValidateEndpointVersions(service.name, routing); !s.ok()) return Invalid(s.message());
  if (auto s = domain::ValidateAuthChange(auth_before.auth_enabled, auth_before.token_auth_enabled, auth_changes);
      !s.ok()) {
    return Invalid(s.message());
  }
  service.endpoint_config = json::Serialize(EndpointSettings(*settings));

  auto cluster = store_->GetCluster(tx, service.cluster_id);
  if (!cluster.ok() || !cluster->has_value()) return absl::InternalError("endpoint without cluster");
  OperationRecord op;
  op.type = ServiceOperation::kUpdate;
  bj::object payload;
  std::string summary = absl::StrCat("Updating endpoint ", service.name);

  // New versions and changed ones, each a deployment spec of its own.
  for (auto& [name, p] : added) {
    domain::ServiceRequest r;
    r.name = service.name;
    r.compute_type = "AKSENDPOINT";
    r.compute_name = service.compute_name;
    r.model_ids = p.model_ids.value_or(std::vector<std::string>{});
    r.entry_script = *p.entry_script;
    r.source_directory = p.source_directory.value_or("");
    r.snapshot = p.snapshot.value_or("");
    if (p.environment) {
      r.environment = *p.environment;
      r.has_environment = true;
    }
    r.config = p.config;
    if (auto s = CheckVersionRequest(tx, service, **cluster, r); !s.ok()) return s;
    ServiceVersionRecord v;
    v.service_id = service.id;
    v.name = name;
    v.spec = DeploymentSpecToJson(DeploymentSpec{.request = r});
    v.revision = 1;
    v.uid = RandomHex(4);
    v.phase = ServicePhase::kValidating;
    v.phase_started = NowTimestamp();
    v.state = ServiceState::kTransitioning;
    v.reserved_cpu = v.reserved_memory_gb = 0;
    auto inserted = store_->InsertServiceVersion(tx, v);
    if (!inserted.ok()) return inserted.status();
    payload["version"] = name;
    summary = absl::StrCat("Creating version ", name, " of endpoint ", service.name);
  }
  auto all = store_->ServiceVersions(tx, service.id);
  if (!all.ok()) return all.status();
  for (ServiceVersionRecord& v : *all) {
    auto route = std::find_if(routing.begin(), routing.end(), [&](const auto& r) { return r.name == v.name; });
    if (route != routing.end()) {
      v.traffic_percentile = route->traffic_percentile;
      v.is_default = route->is_default;
      v.version_type = route->type;
    }
    if (auto it = replaced.find(v.name); it != replaced.end()) {
      const domain::VersionPatch& p = it->second;
      auto spec = DeploymentSpecFromJson(v.spec);
      if (!spec.ok()) return spec.status();
      domain::ServiceRequest& r = spec->request;
      if (p.model_ids) r.model_ids = *p.model_ids;
      if (p.entry_script) r.entry_script = *p.entry_script;
      if (p.source_directory) r.source_directory = *p.source_directory;
      if (p.snapshot) r.snapshot = *p.snapshot;
      if (p.environment) {
        r.environment = *p.environment;
        r.has_environment = true;
      }
      r.config = domain::Overlay(r.config, p.config);
      if (auto s = CheckVersionRequest(tx, service, **cluster, r); !s.ok()) return s;
      v.spec = DeploymentSpecToJson(DeploymentSpec{.request = r});
      if (!OnlyRoutingOrLabels(p)) {
        // What runs now, so that a failed update goes back to it.
        payload["version"] = v.name;
        payload["previousLiveSpec"] = v.live_spec;
        payload["previousLiveRevision"] = v.live_revision;
        ++v.revision;
        payload["revision"] = v.revision;
        v.phase = ServicePhase::kValidating;
        v.phase_started = NowTimestamp();
        v.state = ServiceState::kTransitioning;
        v.reason.clear();
        v.error.clear();
        summary = absl::StrCat("Updating version ", v.name, " of endpoint ", service.name, " to revision ", v.revision);
      }
    }
    if (v.name == removed) {
      v.state = kVersionDeleting;
      v.phase = kVersionDeleting;
      payload["version"] = v.name;
      summary = absl::StrCat("Deleting version ", v.name, " of endpoint ", service.name);
    }
    if (auto s = store_->UpdateServiceVersion(tx, v); !s.ok()) return s;
  }
  ServiceController::Summarize(service, *all);
  if (auto s = store_->UpdateService(tx, service); !s.ok()) return s;
  op.payload = json::Serialize(payload);
  if (auto s = Begin(tx, op, service, summary, accepted); !s.ok()) return s;
  for (const auto& note : notes) {
    if (auto s = store_->AppendOperationLog(tx, accepted.operation_id, note); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status WebserviceService::CheckVersionRequest(Tx& tx, const ServiceRecord& service, const ClusterRecord& cluster,
                                                    const domain::ServiceRequest& r) {
  if (auto s = domain::ValidateDeployConfiguration(r.config); !s.ok()) return Invalid(s.message());
  if (auto s = domain::ValidateSnapshotPath("entryScript", r.entry_script); !s.ok()) return Invalid(s.message());
  if (auto s = domain::ValidateSnapshotPath("sourceDirectory", r.source_directory); !s.ok()) {
    return Invalid(s.message());
  }
  if (!r.snapshot.empty() && !blobs_->Exists(r.snapshot)) {
    return Invalid(absl::StrCat("The source snapshot ", r.snapshot, " was not uploaded."));
  }
  if (auto s = CheckReplicaFits(r.config, cluster); !s.ok()) return s;
  return RequireModels(*store_, tx, service.workspace_id, r.model_ids);
}

absl::Status WebserviceService::CheckReplicaFits(const AksServiceDeploymentConfiguration& config,
                                                 const ClusterRecord& cluster) {
  if (cluster.is_kubernetes()) return absl::OkStatus();  // its nodes are Kubernetes' to fit replicas on
  auto size = domain::FindVmSize(cluster.vm_size);
  if (!size.ok()) return size.status();
  auto resolved = domain::Resolve(config);
  if (resolved.cpu_cores > size->vcpus || resolved.memory_gb > size->memory_gib) {
    return Invalid(absl::StrCat("Invalid configuration, one replica asks for ", resolved.cpu_cores, " CPU and ",
                                resolved.memory_gb, " GB but one agent of cluster ", cluster.name, " (", size->name,
                                ") has ", size->vcpus, " vCPUs and ", size->memory_gib, " GB."));
  }
  return absl::OkStatus();
}

}  // namespace amlcore::server
