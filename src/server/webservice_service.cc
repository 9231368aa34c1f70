#include "server/webservice_service.h"

#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "common/http_types.h"
#include "domain/container_rules.h"
#include "domain/endpoint_rules.h"
#include "domain/service_rules.h"
#include "domain/vm_sizes.h"
#include "server/cluster_controller.h"
#include "server/model_service.h"

namespace amlcore::server {
namespace {
namespace bj = json::bj;

constexpr const char* kCreate = ServiceOperation::kCreate;
constexpr const char* kUpdate = ServiceOperation::kUpdate;
constexpr const char* kDelete = ServiceOperation::kDelete;

absl::Status ServiceNotFound(const std::string& name) {
  return MakeError(absl::StatusCode::kNotFound, "WebserviceNotFound",
                   absl::StrCat("WebserviceNotFound: Webservice with name ", name, " not found in provided workspace"));
}

constexpr char kAks[] = "AKS";
constexpr char kAksEndpoint[] = "AKSENDPOINT";

// Checks the request's own rules; state-dependent ones come later.
absl::Status CheckRequest(const domain::ServiceRequest& r) {
  if (auto s = domain::ValidateServiceName(r.name); !s.ok()) return Invalid(s.message());
  bool container = domain::IsContainerGroupType(r.compute_type);
  if (r.compute_type != kAks && r.compute_type != kAksEndpoint && !container) {
    return Invalid(absl::StrCat("computeType '", r.compute_type,
                                "' is not supported; amlcore deploys web services (AKS, ACI, Local) and endpoints "
                                "(AKSENDPOINT)."));
  }
  if (container) {
    if (auto s = domain::ValidateContainerGroupRequest(r); !s.ok()) return Invalid(s.message());
  }
  if (r.compute_type == kAks && (!r.config.version_name.empty() || r.config.traffic_percentile)) {
    return Invalid("Error, version_name and traffic_percentile are settings of AksEndpoint.deploy_configuration.");
  }
  if (r.compute_type == kAksEndpoint) {
    if (!r.config.version_name.empty()) {
      if (auto s = domain::ValidateVersionName(r.config.version_name); !s.ok()) return Invalid(s.message());
    }
    if (r.overwrite) {
      return Invalid("Error, overwrite=True replaces web services only; change an endpoint's versions with "
                     "create_version, update_version and delete_version, or delete it first.");
    }
  }
  if (r.compute_name.empty() && !container) {
    return Invalid("A deployment needs a deployment_target (an AKS compute target).");
  }
  if (r.entry_script.empty()) return Invalid("A deployment needs an entry script.");
  if (auto s = domain::ValidateSnapshotPath("entryScript", r.entry_script); !s.ok()) return Invalid(s.message());
  if (auto s = domain::ValidateSnapshotPath("sourceDirectory", r.source_directory); !s.ok()) {
    return Invalid(s.message());
  }
  if (!r.snapshot.empty() && !BlobStore::IsSha256(r.snapshot)) {
    return Invalid(absl::StrCat("snapshot '", r.snapshot, "' is not a SHA-256 (64 lowercase hex digits)."));
  }
  if (auto s = domain::ValidateDeployConfiguration(r.config); !s.ok()) return Invalid(s.message());
  return absl::OkStatus();
}
}  // namespace

WebserviceService::WebserviceService(Store* store, BlobStore* blobs, backend::Backend backend, Operations* operations,
                                     RoutePublisher* routes, ServiceController* controller, TokenAuthority* tokens)
    : store_(store),
      blobs_(blobs),
      backend_(backend),
      operations_(operations),
      routes_(routes),
      controller_(controller),
      tokens_(tokens) {}

absl::Status WebserviceService::Begin(Tx& tx, OperationRecord op, const ServiceRecord& service,
                                      const std::string& summary, Accepted& accepted) {
  op.workspace_id = service.workspace_id;
  op.resource_kind = ResourceKind::kService;
  op.resource_id = service.id;
  op.resource_name = service.name;
  if (auto s = operations_->Start(tx, op, summary); !s.ok()) return s;
  auto described = Describe(tx, service);
  if (!described.ok()) return described.status();
  accepted = {std::move(*described), op.id, {ResourceKind::kService, service.id}};
  return absl::OkStatus();
}

absl::StatusOr<json::bj::object> WebserviceService::RememberLive(Tx& tx, const ServiceRecord& service) {
  auto versions = store_->ServiceVersions(tx, service.id);
  if (!versions.ok()) return versions.status();
  if (versions->empty()) return absl::InternalError("service without versions");
  // What runs now, so that a failed update goes back to it, even after a restart.
  return bj::object{{"previousLiveSpec", versions->front().live_spec},
                    {"previousLiveRevision", versions->front().live_revision}};
}

absl::StatusOr<int64_t> WebserviceService::NextRevision(Tx& tx, ServiceRecord& service, const std::string& spec) {
  auto versions = store_->ServiceVersions(tx, service.id);
  if (!versions.ok() || versions->empty()) return absl::InternalError("service without versions");
  ServiceVersionRecord version = versions->front();
  version.spec = spec;
  ++version.revision;
  version.phase = ServicePhase::kValidating;
  version.phase_started = NowTimestamp();
  version.state = ServiceState::kTransitioning;
  version.reason.clear();
  version.error.clear();
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
  if (auto s = RequireNoRunningOperation(*store_, tx, ResourceKind::kService, found->id, "Service", found->name);
      !s.ok()) {
    return s;
  }
  return found;
}

namespace {
std::optional<domain::ServiceDocument::Error> ErrorOf(const std::string& error_json) {
  auto error = json::ParseObject(error_json, "error");
  if (error_json.empty() || !error.ok()) return std::nullopt;
  return domain::ServiceDocument::Error{json::GetString(*error, "code"), json::GetString(*error, "message")};
}

// What a version runs: models, script, environment and settings, into `d`.
void DescribeDeployment(const ServiceVersionRecord& version, domain::ServiceDocument& d) {
  auto spec = DeploymentSpecFromJson(version.spec);
  if (!spec.ok()) return;
  const auto& r = spec->request;
  for (const auto& id : r.model_ids) {
    auto parsed = ParseModelId(id);
    d.models.push_back({id, parsed.ok() ? parsed->first : id, parsed.ok() ? parsed->second : 0});
  }
  d.entry_script = r.entry_script;
  d.source_directory = r.source_directory;
  if (r.has_environment) d.environment = r.environment;
  d.config = domain::Resolve(r.config);
}

// What the backend last reported of a version's replicas, into `d`.
void DescribeReplicas(const ServiceController& controller, const ServiceRecord& service,
                      const ServiceVersionRecord& version, domain::ServiceDocument& d) {
  if (auto counts = controller.LastReplicaCounts(WorkloadKeyOf(service, version))) {
    d.replicas = domain::ServiceDocument::Replicas{counts->ready, counts->desired, counts->wanted};
  }
}
}  // namespace

absl::StatusOr<json::bj::object> WebserviceService::Describe(Tx& tx, const ServiceRecord& s) {
  auto versions = store_->ServiceVersions(tx, s.id);
  if (!versions.ok()) return versions.status();
  auto cluster = store_->GetCluster(tx, s.cluster_id);
  if (!cluster.ok()) return cluster.status();
  bool endpoint = s.kind == ServiceKind::kEndpoint;
  domain::ServiceDocument d;
  d.name = s.name;
  d.compute_type = ComputeTypeOfKind(s.kind);
  d.description = s.description;
  d.tags = s.tags;
  d.properties = s.properties;
  d.compute_name = s.compute_name;
  d.state = s.state;
  d.phase = s.phase;
  d.reason = s.reason;
  d.created_time = s.created;
  d.updated_time = s.updated;
  bool container = cluster->has_value() && (*cluster)->is_container_group();
  if (cluster->has_value() && !(*cluster)->scoring_endpoint.empty()) {
    // A container group serves its one service at its root, as ACI and azureml's local services do.
    std::string base = container ? (*cluster)->scoring_endpoint
                                 : absl::StrCat((*cluster)->scoring_endpoint, "/api/v1/service/", s.name);
    if (s.kind == ServiceKind::kLocalWebservice) absl::StrReplaceAll({{"//127.0.0.1:", "//localhost:"}}, &base);
    d.scoring_uri = absl::StrCat(base, "/score");
    d.swagger_uri = absl::StrCat(base, "/swagger.json");
  }
  if (container) {
    const ClusterRecord& group = **cluster;
    domain::ServiceDocument::ContainerGroup c;
    c.location = group.location;
    c.ssl_enabled = group.ssl.has_value();
    if (group.ssl) c.cname = group.ssl->cname;
    c.dns_name_label = group.dns_name_label;
    c.port = group.port;
    if (auto url = http::ParseUrl(group.scoring_endpoint)) {
      c.public_fqdn = url->host;
      c.port = url->port;
    }
    if (!versions->empty()) {
      if (auto spec = DeploymentSpecFromJson(versions->front().spec); spec.ok()) {
        c.client_entry_script = spec->request.container.client_entry_script;
        c.client_source_directory = spec->request.container.client_source_directory;
      }
    }
    d.container = std::move(c);
  }
  d.error = ErrorOf(s.error);
  if (!endpoint) {
    if (!versions->empty()) {
      DescribeDeployment(versions->front(), d);
      DescribeReplicas(*controller_, s, versions->front(), d);
    }
  } else {
    auto parsed = json::ParseObject(s.endpoint_config, "endpoint settings");
    auto own = parsed.ok() ? domain::DeployConfigFromJson(*parsed) : parsed.status();
    domain::ResolvedDeployConfig settings = domain::Resolve(own.ok() ? *own : AksServiceDeploymentConfiguration{});
    d.auth_enabled = settings.auth_enabled;
    d.token_auth_enabled = settings.token_auth_enabled;
    d.app_insights_enabled = settings.enable_app_insights;
    for (const auto& v : *versions) {
      domain::ServiceDocument vd;
      vd.name = v.name;
      vd.compute_name = s.compute_name;
      vd.state = v.state;
      vd.phase = v.phase;
      vd.reason = v.reason;
      vd.error = ErrorOf(v.error);
      vd.created_time = v.created;
      vd.updated_time = s.updated;
      vd.scoring_uri = d.scoring_uri;
      vd.swagger_uri = d.swagger_uri;
      vd.traffic_percentile = v.traffic_percentile;
      vd.is_default = v.is_default;
      vd.version_type = v.version_type;
      DescribeDeployment(v, vd);
      DescribeReplicas(*controller_, s, v, vd);
      if (auto spec = DeploymentSpecFromJson(v.spec); spec.ok()) {
        vd.description = spec->request.config.description;
        vd.tags = spec->request.config.tags;
        vd.properties = spec->request.config.properties;
      }
      // A version's auth is its endpoint's.
      if (vd.config) {
        vd.config->auth_enabled = settings.auth_enabled;
        vd.config->token_auth_enabled = settings.token_auth_enabled;
      }
      d.versions.push_back(std::move(vd));
    }
  }
  auto running = store_->RunningOperationOn(tx, ResourceKind::kService, s.id);
  if (!running.ok()) return running.status();
  if (running->has_value()) d.operation_id = (*running)->id;
  return domain::ServiceDocumentToJson(d);
}

absl::StatusOr<WebserviceService::Accepted> WebserviceService::Create(const WorkspaceKey& key, absl::string_view body) {
  auto request = domain::ServiceRequestFromJson(body);
  if (!request.ok()) return Invalid(request.status().message());
  bool container = domain::IsContainerGroupType(request->compute_type);
  if (container) domain::ApplyContainerGroupDefaults(*request);
  if (auto s = CheckRequest(*request); !s.ok()) return s;
  if (!request->snapshot.empty() && !blobs_->Exists(request->snapshot)) {
    return Invalid(absl::StrCat("The source snapshot ", request->snapshot, " was not uploaded."));
  }
  return operations_->Accept<Accepted>([&](Tx& tx, Accepted& accepted) -> absl::Status {
    auto ws = RequireWorkspace(*store_, tx, key);
    if (!ws.ok()) return ws.status();
    auto existing = store_->FindService(tx, ws->id, request->name);
    if (!existing.ok()) return existing.status();
    const char* kind = KindOfComputeType(request->compute_type);
    if (existing->has_value() && (!request->overwrite || (*existing)->kind != kind ||
                                  (*existing)->kind == ServiceKind::kEndpoint)) {
      std::string hint = (*existing)->kind != kind
                             ? absl::StrCat(" It is of type ", ComputeTypeOfKind((*existing)->kind),
                                            "; delete it first to deploy it as ", request->compute_type, ".")
                             : ". Pass overwrite=True to replace it (keeping its scoring URI and keys).";
      return MakeError(absl::StatusCode::kAlreadyExists, "ServiceAlreadyExists",
                       absl::StrCat("Error, there is already a service with name ", request->name,
                                    " found in workspace ", ws->name, hint.front() == '.' ? "" : ".", hint));
    }
    if (auto s = RequireModels(*store_, tx, ws->id, request->model_ids); !s.ok()) return s;
    std::optional<ClusterRecord> cluster;
    if (container) {
      auto group = ContainerGroupFor(tx, *ws, *request, existing->has_value() ? &**existing : nullptr);
      if (!group.ok()) return group.status();
      cluster = std::move(*group);
    } else {
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
      auto found = store_->GetCluster(tx, (*compute)->cluster_id);
      if (!found.ok() || !found->has_value()) return absl::InternalError("compute target without cluster");
      cluster = std::move(**found);
      if (auto s = CheckReplicaFits(request->config, *cluster); !s.ok()) return s;
      // The front end routes by name, so a name is taken on its cluster, whichever workspace uses it.
      auto on_cluster = store_->ServicesOnCluster(tx, cluster->id);
      if (!on_cluster.ok()) return on_cluster.status();
      for (const auto& other : *on_cluster) {
        if (other.workspace_id != ws->id && absl::EqualsIgnoreCase(other.name, request->name)) {
          return Conflict("ServiceNameTaken", absl::StrCat("Cluster ", cluster->name, " already serves a service named ",
                                                           request->name, " for another workspace; choose another name."));
        }
      }
    }
    OperationRecord op;
    DeploymentSpec spec{.request = *request};
    if (existing->has_value()) {
      ServiceRecord service = **existing;
      if (auto s = RequireNoRunningOperation(*store_, tx, ResourceKind::kService, service.id, "Service",
                                             request->name);
          !s.ok()) {
        return s;
      }
      if (service.cluster_id != cluster->id) {
        return Invalid(absl::StrCat("Service ", request->name, " runs on compute target ", service.compute_name,
                                    "; overwrite keeps a service on its target. Delete it to move it."));
      }
      service.description = request->config.description;
      service.tags = request->config.tags;
      service.properties = request->config.properties;
      if (!request->config.primary_key.empty()) service.primary_key = request->config.primary_key;
      if (!request->config.secondary_key.empty()) service.secondary_key = request->config.secondary_key;
      auto before = RememberLive(tx, service);
      if (!before.ok()) return before.status();
      auto revision = NextRevision(tx, service, DeploymentSpecToJson(spec));
      if (!revision.ok()) return revision.status();
      op.type = kUpdate;
      (*before)["revision"] = *revision;
      (*before)["overwrite"] = true;
      op.payload = json::Serialize(*before);
      return Begin(tx, op, service, absl::StrCat("Replacing service ", request->name, " (overwrite)"), accepted);
    }
    bool endpoint = request->compute_type == kAksEndpoint;
    ServiceRecord service;
    service.workspace_id = ws->id;
    service.name = request->name;
    service.kind = kind;
    if (endpoint) service.endpoint_config = json::Serialize(EndpointSettings(request->config));
    service.compute_name = request->compute_name;
    service.cluster_id = cluster->id;
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
    ServiceVersionRecord version;
    version.service_id = service.id;
    version.name = endpoint && !request->config.version_name.empty() ? request->config.version_name : service.name;
    version.spec = DeploymentSpecToJson(spec);
    version.revision = 1;
    // An endpoint's first version is its default; a version is a treatment until it is made the control.
    version.is_default = true;
    version.traffic_percentile = endpoint ? request->config.traffic_percentile.value_or(0) : 0;
    version.version_type = endpoint ? domain::VersionType::kTreatment : "";
    version.uid = RandomHex(4);
    version.phase = ServicePhase::kValidating;
    version.phase_started = NowTimestamp();
    version.state = ServiceState::kTransitioning;
    if (auto v = store_->InsertServiceVersion(tx, version); !v.ok()) return v.status();
    op.type = kCreate;
    op.payload = json::Serialize(bj::object{{"revision", 1}});
    std::string target = container ? absl::StrCat("container group ", cluster->name) : service.compute_name;
    return Begin(tx, op, service,
                 absl::StrCat("Deploying ", endpoint ? "endpoint " : "service ", service.name,
                              endpoint ? absl::StrCat(" (version ", version.name, ")") : "", " with ",
                              request->model_ids.size(), " model", request->model_ids.size() == 1 ? "" : "s", " to ",
                              target),
                 accepted);
  });
}

absl::StatusOr<ClusterRecord> WebserviceService::ContainerGroupFor(Tx& tx, const WorkspaceRecord& workspace,
                                                                   const domain::ServiceRequest& request,
                                                                   const ServiceRecord* existing) {
  const domain::ContainerGroupRequest& want = request.container;
  // A local service's port is its own among the container groups amlcore runs (whether the machine has it
  // free shows when its front end starts).
  if (want.port != 0) {
    auto clusters = store_->ListClusters(tx);
    if (!clusters.ok()) return clusters.status();
    for (const auto& other : *clusters) {
      if (other.port == want.port && (existing == nullptr || other.id != existing->cluster_id)) {
        return Conflict("PortInUse", absl::StrCat("Invalid configuration, port ", want.port,
                                                  " is in use by another local web service (container group ",
                                                  other.name, "); choose another port or delete that service."));
      }
    }
  }
  ClusterRecord group;
  if (existing != nullptr) {
    auto found = store_->GetCluster(tx, existing->cluster_id);
    if (!found.ok()) return found.status();
    if (!found->has_value()) return absl::InternalError("service without container group");
    group = **found;
  } else {
    group.subscription_id = workspace.subscription_id;
    group.resource_group = workspace.resource_group;
    group.name = absl::StrCat(request.name, "-", RandomHex(4));
    group.kind = ClusterKind::kContainerGroup;
    group.agent_count = 1;
    group.vm_size = domain::kContainerGroupVmSize;
    group.load_balancer_type = "PublicIp";
    group.state = ProvisioningState::kSucceeded;
    group.created_by_workspace = workspace.id;
    group.created = NowTimestamp();
  }
  group.location = want.location.empty() ? workspace.location : want.location;
  group.port = want.port;
  group.dns_name_label = want.dns_name_label;
  if (want.ssl_enabled) {
    group.ssl = SslConfiguration{.status = "Enabled", .cert = want.ssl_certificate, .key = want.ssl_key,
                                 .cname = want.ssl_cname};
  } else {
    group.ssl.reset();
  }
  if (existing != nullptr) {
    if (auto s = store_->UpdateCluster(tx, group); !s.ok()) return s;
    return group;
  }
  auto id = store_->InsertCluster(tx, group);
  if (!id.ok()) return id.status();
  group.id = *id;
  return group;
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
    if (service.kind == ServiceKind::kEndpoint) return UpdateEndpoint(tx, service, patch->as_array(), accepted);
    auto versions = store_->ServiceVersions(tx, service.id);
    if (!versions.ok() || versions->empty()) return absl::InternalError("service without versions");
    ServiceVersionRecord version = versions->front();
    auto spec = DeploymentSpecFromJson(version.spec);
    if (!spec.ok()) return spec.status();
    domain::ServiceRequest& r = spec->request;
    // Whether anything that runs changes; auth, labels and the like only change the routes.
    bool redeploy = false;
    bool container_changed = false;
    AksServiceDeploymentConfiguration routing_changes;
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
        auto now = domain::Resolve(r.config);
        if (auto s = domain::ValidateAuthChange(now.auth_enabled, now.token_auth_enabled, *changes); !s.ok()) {
          return Invalid(s.message());
        }
        r.config = domain::Overlay(r.config, *changes);
        routing_changes = domain::Overlay(routing_changes, *changes);
        redeploy |= domain::NeedsDeployment(*changes, now);
      } else if (path == "/models") {
        redeploy = true;
        r.model_ids.clear();
        if (!value->is_array()) return Invalid("/models must be a list of model ids.");
        for (const auto& m : value->as_array()) {
          if (!m.is_string()) return Invalid("/models must be a list of model ids.");
          r.model_ids.emplace_back(json::Sv(m.as_string()));
        }
      } else if (path == "/environment") {
        redeploy = true;
        if (!value->is_object()) return Invalid("/environment must be an object.");
        auto env = domain::EnvironmentFromJson(value->as_object());
        if (!env.ok()) return Invalid(env.status().message());
        r.environment = std::move(*env);
        r.has_environment = true;
      } else if (path == "/entryScript" || path == "/sourceDirectory" || path == "/snapshot" ||
                 path == "/description") {
        if (!value->is_string()) return Invalid(absl::StrCat(path, " must be a string."));
        std::string text(json::Sv(value->as_string()));
        redeploy |= path != "/description";
        if (path == "/entryScript") r.entry_script = text;
        if (path == "/sourceDirectory") r.source_directory = text;
        if (path == "/snapshot") r.snapshot = text;
        if (path == "/description") service.description = text;
      } else if (domain::IsContainerGroupType(r.compute_type) &&
                 (path == "/sslEnabled" || path == "/sslCertificate" || path == "/sslKey" || path == "/cname" ||
                  path == "/port")) {
        // The container group's own settings: its front end is set up again, its replicas stay.
        container_changed = true;
        domain::ContainerGroupRequest& g = r.container;
        if (path == "/sslEnabled") {
          if (!value->is_bool()) return Invalid("/sslEnabled must be true or false.");
          g.ssl_enabled = value->as_bool();
        } else if (path == "/port") {
          if (!value->is_int64()) return Invalid("/port must be an integer.");
          g.port = value->as_int64();
        } else {
          if (!value->is_string()) return Invalid(absl::StrCat(path, " must be a string."));
          std::string text(json::Sv(value->as_string()));
          (path == "/sslCertificate" ? g.ssl_certificate : path == "/sslKey" ? g.ssl_key : g.ssl_cname) = text;
        }
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
    if (container_changed) {
      auto ws = RequireWorkspace(*store_, tx, key);
      if (!ws.ok()) return ws.status();
      if (auto group = ContainerGroupFor(tx, *ws, r, &service); !group.ok()) return group.status();
      // The deployment's first step brings the container group's front end to its new settings.
      redeploy = true;
    }
    if (!redeploy) return UpdateRoutes(tx, service, version, r, routing_changes, accepted);
    auto before = RememberLive(tx, service);
    if (!before.ok()) return before.status();
    auto revision = NextRevision(tx, service, DeploymentSpecToJson(DeploymentSpec{.request = r}));
    if (!revision.ok()) return revision.status();
    OperationRecord op;
    op.type = kUpdate;
    (*before)["revision"] = *revision;
    op.payload = json::Serialize(*before);
    return Begin(tx, op, service, absl::StrCat("Updating service ", service.name, " to revision ", *revision), accepted);
  });
}

absl::Status WebserviceService::UpdateRoutes(Tx& tx, ServiceRecord& service, ServiceVersionRecord version,
                                            const domain::ServiceRequest& request,
                                            const AksServiceDeploymentConfiguration& changes, Accepted& accepted) {
  version.spec = DeploymentSpecToJson(DeploymentSpec{.request = request});
  // The running deployment takes the new routing settings as they are; its replicas stay.
  if (!version.live_spec.empty()) {
    auto live = DeploymentSpecFromJson(version.live_spec);
    if (!live.ok()) return live.status();
    live->request.config = domain::Overlay(live->request.config, changes);
    version.live_spec = DeploymentSpecToJson(*live);
  }
  if (auto s = store_->UpdateServiceVersion(tx, version); !s.ok()) return s;
  if (auto s = store_->UpdateService(tx, service); !s.ok()) return s;
  OperationRecord op;
  op.type = kUpdate;
  op.payload = json::Serialize(bj::object{{"routesOnly", true}});
  return Begin(tx, op, service, absl::StrCat("Updating the routes of service ", service.name, " (no new replicas)"),
               accepted);
}

absl::StatusOr<WebserviceService::Accepted> WebserviceService::Delete(const WorkspaceKey& key, const std::string& name) {
  int64_t cluster_id = 0;
  auto accepted = operations_->Accept<Accepted>([&](Tx& tx, Accepted& accepted) -> absl::Status {
    auto found = RequireService(tx, key, name);
    if (!found.ok()) return found.status();
    ServiceRecord service = std::move(*found);
    cluster_id = service.cluster_id;
    auto running = store_->RunningOperationOn(tx, ResourceKind::kService, service.id);
    if (!running.ok()) return running.status();
    if (running->has_value()) {
      OperationRecord op = **running;
      // Deleting again answers with the deletion under way.
      if (op.type == kDelete) {
        auto described = Describe(tx, service);
        if (!described.ok()) return described.status();
        accepted = {std::move(*described), op.id, {ResourceKind::kService, service.id}};
        return absl::OkStatus();
      }
      // Whatever the service was doing (waiting for capacity, building, starting) is canceled.
      if (auto s = operations_->Finish(tx, op, OperationStatus::kCanceled,
                                       absl::StrCat("Canceled: service ", service.name, " is being deleted"));
          !s.ok()) {
        return s;
      }
      if (auto s = store_->UpdateOperation(tx, op); !s.ok()) return s;
      accepted.canceled = op.id;
    }
    service.state = ServiceState::kDeleting;
    if (auto s = store_->UpdateService(tx, service); !s.ok()) return s;
    // A container group goes with its service (the service's controller takes it down), and is not kept up
    // meanwhile.
    if (auto group = store_->GetCluster(tx, service.cluster_id);
        group.ok() && group->has_value() && (*group)->is_container_group()) {
      ClusterRecord deleting = **group;
      deleting.state = ProvisioningState::kDeleting;
      if (auto s = store_->UpdateCluster(tx, deleting); !s.ok()) return s;
    }
    OperationRecord op;
    op.type = kDelete;
    return Begin(tx, op, service, absl::StrCat("Deleting service ", service.name), accepted);
  });
  if (!accepted.ok()) return accepted;
  if (!accepted->canceled.empty()) operations_->Notify(accepted->canceled);
  // What it held on its cluster is free for services waiting there.
  controller_->WakeWaiting(cluster_id);
  return accepted;
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
      std::string type = ComputeTypeOfKind(s.kind);
      if (!query.compute_type.empty() && !absl::EqualsIgnoreCase(query.compute_type, type)) continue;
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
    out = json::Encode(domain::ServiceKeys{found->primary_key, found->secondary_key}).as_object();
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<domain::ServiceToken> WebserviceService::IssueToken(const WorkspaceKey& key, const std::string& name) {
  std::string audience;
  std::string mode;
  std::string subject;
  auto status = store_->db().Read([&](Tx& tx) -> absl::Status {
    auto found = RequireService(tx, key, name);
    if (!found.ok()) return found.status();
    auto versions = store_->ServiceVersions(tx, found->id);
    if (!versions.ok()) return versions.status();
    if (versions->empty()) return absl::InternalError("service without versions");
    auto spec = DeploymentSpecFromJson(versions->front().spec);
    if (!spec.ok()) return spec.status();
    mode = AuthModeOf(*found, *spec);
    auto cluster = store_->GetCluster(tx, found->cluster_id);
    if (!cluster.ok()) return cluster.status();
    if (!cluster->has_value()) return absl::InternalError("service without cluster");
    audience = TokenAuthority::Audience((*cluster)->resource_id(), found->name);
    subject = absl::StrCat(key.subscription_id, "/", key.resource_group, "/", key.name);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (mode != domain::AuthMode::kToken || tokens_ == nullptr) {
    return MakeError(absl::StatusCode::kFailedPrecondition, "TokenAuthNotEnabled",
                     absl::StrCat("Token authentication is not enabled for service ", name, "; ",
                                  mode == domain::AuthMode::kKey ? "it uses key authentication (get_keys())"
                                                                 : "it needs no credential",
                                  ". Enable it with update(token_auth_enabled=True, auth_enabled=False)."));
  }
  auto issued = tokens_->Issue(audience, subject);
  if (!issued.ok()) return issued.status();
  return domain::ServiceToken{issued->access_token, issued->token_type, issued->refresh_after, issued->expiry_on};
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
    out = json::Encode(domain::ServiceKeys{service.primary_key, service.secondary_key}).as_object();
    return store_->UpdateService(tx, service);
  });
  if (!status.ok()) return status;
  if (auto s = routes_->Publish(cluster_id); !s.ok()) return s;
  return out;
}

absl::StatusOr<std::string> WebserviceService::Logs(const WorkspaceKey& key, const std::string& name, int64_t tail,
                                                    bool init, const std::string& version_name, bool all_replicas) {
  ServiceRecord service;
  ServiceVersionRecord version;
  std::optional<ClusterRecord> cluster;
  std::vector<Store::LogLine> deploy_log;
  auto status = store_->db().Read([&](Tx& tx) -> absl::Status {
    auto found = RequireService(tx, key, name);
    if (!found.ok()) return found.status();
    service = std::move(*found);
    auto versions = store_->ServiceVersions(tx, service.id);
    if (!versions.ok()) return versions.status();
    if (versions->empty()) return absl::InternalError("service without versions");
    // An endpoint's logs are its default version's unless a version is named.
    version = versions->front();
    std::vector<std::string> names;
    bool known = version_name.empty();
    for (const auto& v : *versions) {
      names.push_back(v.name);
      if (version_name.empty() ? v.is_default : v.name == version_name) {
        version = v;
        known = true;
      }
    }
    if (!known) {
      return MakeError(absl::StatusCode::kNotFound, "VersionNotFound",
                       absl::StrCat("Error, ", service.name, " has no version ", version_name, "; its versions are ",
                                    absl::StrJoin(names, ", "), "."));
    }
    auto c = store_->GetCluster(tx, service.cluster_id);
    if (!c.ok()) return c.status();
    cluster = std::move(*c);
    if (!init) return absl::OkStatus();
    auto op = store_->LatestOperationOn(tx, ResourceKind::kService, service.id, {kCreate, kUpdate});
    if (!op.ok()) return op.status();
    if (*op) {
      auto lines = store_->OperationLog(tx, (*op)->id);
      if (!lines.ok()) return lines.status();
      deploy_log = std::move(*lines);
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!cluster) return absl::NotFoundError("The service's cluster no longer exists.");

  std::vector<backend::LogContent> replicas;
  auto read = backend_.workloads->ReadLogs(
      ClusterRefOf(*cluster), WorkloadKeyOf(service, version),
      backend::LogRequest{.tail = tail, .startup = init, .all_replicas = all_replicas});
  if (read.ok()) replicas = std::move(*read);
  std::string out;
  if (init) {
    out = "Deployment log:\n";
    for (const auto& line : deploy_log) absl::StrAppend(&out, line.time, " ", line.message, "\n");
  } else if (replicas.empty()) {
    return absl::StrCat("No replica of service ", service.name, " has started yet.\n");
  }
  // A version with several replicas has each log under a line that names its replica (azureml shows one pod
  // without saying which); a lone replica's log is as it is, num_lines lines, unless all were asked for.
  bool named = init || all_replicas || (!replicas.empty() && replicas.front().version_replicas > 1);
  for (const auto& replica : replicas) {
    if (named) {
      absl::StrAppend(&out, out.empty() ? "" : "\n", init ? "Start-up of replica " : "Replica ", replica.replica,
                      " (", replica.state,
                      !all_replicas && replica.version_replicas > 1
                          ? absl::StrCat(", 1 of ", replica.version_replicas, "; all_replicas=True shows every one")
                          : "",
                      "):\n");
    }
    absl::StrAppend(&out, replica.text);
    if (!out.empty() && out.back() != '\n' && replicas.size() > 1) out.push_back('\n');
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
        auto spec = DeploymentSpecFromJson(*text);
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

}  // namespace amlcore::server
