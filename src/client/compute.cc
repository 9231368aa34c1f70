#include "amlcore/compute.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/connection.h"
#include "client/polling.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/json.h"
#include "domain/aks_rules.h"
#include "domain/compute_wire.h"

namespace amlcore {
namespace {
namespace bj = json::bj;

absl::Status Compute(absl::Status status) { return WithErrorKind(std::move(status), "compute"); }

absl::Status Invalid(absl::Status rule) {
  return Compute(MakeError(absl::StatusCode::kInvalidArgument, "ValidationError", rule.message()));
}

absl::StatusOr<std::string> ReadPem(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) {
    return Compute(MakeError(absl::StatusCode::kInvalidArgument, "ValidationError",
                             absl::StrCat("Error while reading ssl information:\n", text.status().message())));
  }
  return text;
}

// The SSL block of a request from the file names of a configuration.
absl::StatusOr<std::optional<SslConfiguration>> SslFromFiles(const std::string& cname, const std::string& cert_file,
                                                             const std::string& key_file,
                                                             const std::string& leaf_domain_label,
                                                             bool overwrite_existing_domain) {
  if (!cname.empty()) {
    auto cert = ReadPem(cert_file);
    if (!cert.ok()) return cert.status();
    auto key = ReadPem(key_file);
    if (!key.ok()) return key.status();
    // Checked here, where the files have names, before anything is sent.
    TlsPart wrong = TlsPart::kNone;
    if (auto s = CheckCertificateAndKey(*cert, *key, &wrong); !s.ok()) {
      return Compute(MakeError(absl::StatusCode::kInvalidArgument, "ValidationError",
                               absl::StrCat("Error while reading ssl information:\n",
                                            wrong == TlsPart::kKey ? key_file : cert_file, ": ", s.message())));
    }
    return SslConfiguration{.status = "Enabled", .cert = *cert, .key = *key, .cname = cname};
  }
  if (!leaf_domain_label.empty()) {
    return SslConfiguration{.status = "Auto",
                            .leaf_domain_label = leaf_domain_label,
                            .overwrite_existing_domain = overwrite_existing_domain};
  }
  return std::optional<SslConfiguration>();
}

std::string ComputePath(const Workspace& ws, absl::string_view name) {
  return absl::StrCat(ws.resource_path(), "/computes/", name);
}

// azureml's message for a missing compute target, keeping the details of the reply that said so.
absl::Status NotFound(absl::string_view name, const absl::Status& reply) {
  return Compute(WithErrorCode(
      WithMessage(reply, absl::StrCat("ComputeTargetNotFound: Compute Target with name ", name,
                                      " not found in provided workspace")),
      "ComputeTargetNotFound"));
}

// A failed call about one compute target.
absl::Status CallFailed(absl::string_view name, const absl::Status& reply) {
  return absl::IsNotFound(reply) && ErrorCodeOf(reply) == "ComputeTargetNotFound" ? NotFound(name, reply)
                                                                                  : Compute(reply);
}

}  // namespace

// Moves compute documents in and out of the object model.
class ComputeCodec {
 public:
  static std::shared_ptr<AksCompute> Make(const Workspace& ws) {
    return std::shared_ptr<AksCompute>(new AksCompute(ws));
  }

  static void Fill(AksCompute& target, const domain::ComputeResource& r) {
    target.name_ = r.name;
    target.location_ = r.location;
    target.description_ = r.description;
    target.tags_ = r.tags;
    target.created_on_ = r.created_on;
    target.modified_on_ = r.modified_on;
    target.provisioning_state_ = r.provisioning_state;
    target.provisioning_errors_ = r.provisioning_errors;
    target.cluster_resource_id_ = r.resource_id;
    target.cluster_location_ = r.compute_location;
    target.is_attached_ = r.is_attached;
    target.agent_count_ = r.agent_count;
    target.access_log_ = r.access_log;
    target.agent_vm_size_ = r.agent_vm_size;
    target.cluster_purpose_ = r.cluster_purpose;
    target.cluster_fqdn_ = r.cluster_fqdn;
    target.ssl_configuration_ = r.ssl;
    target.load_balancer_type_ = r.load_balancer_type;
    target.load_balancer_subnet_ = r.load_balancer_subnet;
    target.scoring_endpoint_ = r.scoring_endpoint;
  }

  static domain::ComputeResource ToResource(const AksCompute& t) {
    domain::ComputeResource r;
    r.id = t.id();
    r.name = t.name_;
    r.location = t.location_;
    r.tags = t.tags_;
    r.description = t.description_;
    r.compute_location = t.cluster_location_;
    r.resource_id = t.cluster_resource_id_;
    r.is_attached = t.is_attached_;
    r.provisioning_state = t.provisioning_state_;
    r.provisioning_errors = t.provisioning_errors_;
    r.created_on = t.created_on_;
    r.modified_on = t.modified_on_;
    r.agent_count = t.agent_count_;
    r.access_log = t.access_log_;
    r.agent_vm_size = t.agent_vm_size_;
    r.cluster_purpose = t.cluster_purpose_;
    r.cluster_fqdn = t.cluster_fqdn_;
    r.ssl = t.ssl_configuration_;
    r.load_balancer_type = t.load_balancer_type_;
    r.load_balancer_subnet = t.load_balancer_subnet_;
    r.scoring_endpoint = t.scoring_endpoint_;
    return r;
  }

  static absl::StatusOr<std::shared_ptr<AksCompute>> FromBody(const Workspace& ws, const std::string& body) {
    auto object = json::ParseObject(body, "Compute reply");
    if (!object.ok()) return Compute(object.status());
    auto resource = domain::ComputeResourceFromJson(*object);
    if (!resource.ok()) return Compute(resource.status());
    auto target = Make(ws);
    Fill(*target, *resource);
    return target;
  }

  static void SetOperation(ComputeTarget& target, std::string url) { target.operation_endpoint_ = std::move(url); }
  static void SetState(ComputeTarget& target, std::string state) { target.provisioning_state_ = std::move(state); }

};

// --- configurations ---------------------------------------------------------------------------------------

namespace {
// azureml's enable_ssl: sets what is given, keeps the rest, then validates.
template <class Config>
absl::Status EnableSslOn(Config& config, absl::string_view cname, absl::string_view cert_file,
                         absl::string_view key_file, absl::string_view leaf_label, bool overwrite) {
  if (!cname.empty()) config.ssl_cname = std::string(cname);
  if (!cert_file.empty()) config.ssl_cert_pem_file = std::string(cert_file);
  if (!key_file.empty()) config.ssl_key_pem_file = std::string(key_file);
  if (!leaf_label.empty()) config.leaf_domain_label = std::string(leaf_label);
  if (overwrite) config.overwrite_existing_domain = true;
  return config.Validate();
}
}  // namespace

absl::Status AksProvisioningConfiguration::Validate() const {
  if (auto s = domain::CheckAgentCount(agent_count); !s.ok()) return Invalid(s);
  domain::SslInputs ssl{!ssl_cname.empty(), !ssl_cert_pem_file.empty(), !ssl_key_pem_file.empty(),
                        !leaf_domain_label.empty(), overwrite_existing_domain};
  if (auto s = domain::CheckSslInputs(ssl); !s.ok()) return Invalid(s);
  if (auto s = domain::CheckVnetInputs({vnet_resourcegroup_name, vnet_name, subnet_name, service_cidr, dns_service_ip,
                                        docker_bridge_cidr});
      !s.ok()) {
    return Invalid(s);
  }
  if (auto s = domain::CheckClusterPurpose(cluster_purpose); !s.ok()) return Invalid(s);
  if (auto s = domain::CheckLoadBalancer(load_balancer_type, load_balancer_subnet); !s.ok()) return Invalid(s);
  return absl::OkStatus();
}

absl::Status AksProvisioningConfiguration::EnableSsl(absl::string_view cname, absl::string_view cert_file,
                                                     absl::string_view key_file, absl::string_view leaf_label,
                                                     bool overwrite) {
  return EnableSslOn(*this, cname, cert_file, key_file, leaf_label, overwrite);
}

absl::Status AksAttachConfiguration::Validate() const {
  auto fail = [](absl::string_view message) { return Invalid(absl::InvalidArgumentError(message)); };
  if (!resource_id.empty()) {
    // azureml's shape checks first, with its messages; the full parse happens on the server.
    std::vector<absl::string_view> parts = absl::StrSplit(resource_id, '/');
    if (parts.size() != 9) return fail(absl::StrCat("Invalid resource_id provided: ", resource_id));
    if (parts[6] != "Microsoft.ContainerService") {
      return fail(absl::StrCat("Invalid resource_id provided, resource type ", parts[6], " does not match for AKS"));
    }
    if (!resource_group.empty()) return fail("Since resource_id is provided, please do not provide resource_group.");
    if (!cluster_name.empty()) return fail("Since resource_id is provided, please do not provide cluster_name.");
  } else if (!resource_group.empty() || !cluster_name.empty()) {
    if (resource_group.empty()) return fail("resource_group is not provided.");
    if (cluster_name.empty()) return fail("cluster_name is not provided.");
  } else {
    return fail(
        "Please provide resource_group and cluster_name for the AKS compute resource being attached. Or please "
        "provide resource_id for the resource being attached.");
  }
  domain::SslInputs ssl{!ssl_cname.empty(), !ssl_cert_pem_file.empty(), !ssl_key_pem_file.empty(),
                        !leaf_domain_label.empty(), overwrite_existing_domain};
  if (auto s = domain::CheckSslInputs(ssl); !s.ok()) return Invalid(s);
  if (auto s = domain::CheckClusterPurpose(cluster_purpose); !s.ok()) return Invalid(s);
  if (auto s = domain::CheckLoadBalancer(load_balancer_type, load_balancer_subnet); !s.ok()) return Invalid(s);
  if (!namespace_name.empty()) {
    if (auto s = domain::CheckKubernetesNamespace(namespace_name); !s.ok()) return Invalid(s);
  }
  if (!kubeconfig.empty() && kubeconfig.front() != '/') {
    return fail(absl::StrCat("Invalid configuration, the kubeconfig path ", kubeconfig,
                             " must be absolute: the workspace server reads it, from its own directory."));
  }
  return absl::OkStatus();
}

absl::Status AksAttachConfiguration::EnableSsl(absl::string_view cname, absl::string_view cert_file,
                                               absl::string_view key_file, absl::string_view leaf_label,
                                               bool overwrite) {
  return EnableSslOn(*this, cname, cert_file, key_file, leaf_label, overwrite);
}

absl::Status AksUpdateConfiguration::Validate() const {
  if (ssl_configuration) {
    const SslConfiguration& ssl = *ssl_configuration;
    if (ssl.status != "Disabled") {
      domain::SslInputs inputs{!ssl.cname.empty(), !ssl.cert.empty(), !ssl.key.empty(), !ssl.leaf_domain_label.empty(),
                               ssl.overwrite_existing_domain};
      if (auto s = domain::CheckSslInputs(inputs); !s.ok()) return Invalid(s);
    }
  }
  if (auto s = domain::CheckLoadBalancerUpdate(load_balancer_type, load_balancer_subnet); !s.ok()) return Invalid(s);
  if (auto s = domain::CheckAgentCount(agent_count); !s.ok()) return Invalid(s);
  return absl::OkStatus();
}

// --- ComputeTarget ----------------------------------------------------------------------------------------

ComputeTarget::~ComputeTarget() = default;

std::string ComputeTarget::id() const { return ComputePath(workspace_, name_); }

absl::StatusOr<std::shared_ptr<ComputeTarget>> ComputeTarget::Get(const Workspace& ws, absl::string_view name) {
  auto target = AksCompute::Get(ws, name);
  if (!target.ok()) return target.status();
  return std::shared_ptr<ComputeTarget>(std::move(*target));
}

absl::StatusOr<std::vector<std::shared_ptr<ComputeTarget>>> ComputeTarget::List(const Workspace& ws) {
  auto reply = ws.connection()->Call("GET", absl::StrCat(ws.resource_path(), "/computes"));
  if (!reply.ok()) return Compute(reply.status());
  auto object = json::ParseObject(reply->body, "Compute list");
  if (!object.ok()) return Compute(object.status());
  std::vector<std::shared_ptr<ComputeTarget>> out;
  if (const bj::value* value = object->if_contains("value"); value && value->is_array()) {
    for (const auto& item : value->as_array()) {
      if (!item.is_object()) continue;
      auto resource = domain::ComputeResourceFromJson(item.as_object());
      if (!resource.ok()) return Compute(resource.status());
      if (resource->compute_type != AksCompute::kComputeType) continue;
      auto target = ComputeCodec::Make(ws);
      ComputeCodec::Fill(*target, *resource);
      out.push_back(std::move(target));
    }
  }
  return out;
}

absl::Status ComputeTarget::WaitForCompletion(const PollOptions& options, bool is_delete_operation) {
  if (operation_endpoint_.empty()) {
    if (auto s = RefreshState(); !s.ok()) return s;
    return Compute(MakeError(absl::StatusCode::kFailedPrecondition, "NoOperation",
                             absl::StrCat("Long running operation information not known, unable to poll. Current "
                                          "state is ",
                                          provisioning_state_)));
  }
  auto done = internal::WaitForAsyncOperation(*workspace_.connection(), operation_endpoint_, options);
  if (!done.ok()) return Compute(WithOperationState(done.status(), provisioning_state_));
  if (options.on_progress) {
    options.on_progress(absl::StrCat("Provisioning operation finished, operation \"", done->status, "\"\n"));
  }
  if (!is_delete_operation || done->status != "Succeeded") {
    if (auto s = RefreshState(); !s.ok() && !(is_delete_operation && absl::IsNotFound(s))) return s;
  }
  if (done->status == "Succeeded") return absl::OkStatus();
  std::string error = done->error_code.empty() && done->error_message.empty()
                          ? "None"
                          : absl::StrCat("Code: ", done->error_code, "\nMessage: ", done->error_message);
  absl::Status failed = MakeError(
      absl::StatusCode::kAborted, done->error_code.empty() ? "OperationFailed" : done->error_code,
      absl::StrCat("Compute object provisioning polling reached non-successful terminal state, current provisioning "
                   "state: ",
                   provisioning_state_, "\nProvisioning operation error:\n", error));
  return Compute(WithOperationState(std::move(failed), done->status));
}

absl::Status ComputeTarget::RefreshState() {
  auto reply = workspace_.connection()->Call("GET", ComputePath(workspace_, name_));
  if (!reply.ok()) return CallFailed(name_, reply.status());
  auto object = json::ParseObject(reply->body, "Compute reply");
  if (!object.ok()) return Compute(object.status());
  auto resource = domain::ComputeResourceFromJson(*object);
  if (!resource.ok()) return Compute(resource.status());
  if (auto* aks = dynamic_cast<AksCompute*>(this)) ComputeCodec::Fill(*aks, *resource);
  if (auto running = reply->headers.Get("Azure-AsyncOperation")) operation_endpoint_ = std::string(*running);
  return absl::OkStatus();
}

absl::StatusOr<std::string> ComputeTarget::GetStatus() {
  if (auto s = RefreshState(); !s.ok()) return s;
  return provisioning_state_;
}

absl::Status ComputeTarget::DeleteOrDetach(absl::string_view action) {
  auto reply = workspace_.connection()->Call(
      "DELETE", absl::StrCat(ComputePath(workspace_, name_), "?underlyingResourceAction=", action), "",
      {.idempotent = false});
  if (!reply.ok()) return CallFailed(name_, reply.status());
  operation_endpoint_ = std::string(reply->headers.Get("Azure-AsyncOperation").value_or(""));
  provisioning_state_ = ProvisioningState::kDeleting;
  return absl::OkStatus();
}

// --- AksCompute -------------------------------------------------------------------------------------------

namespace {
absl::StatusOr<std::shared_ptr<AksCompute>> Put(const Workspace& ws, absl::string_view name,
                                                const domain::ComputePutRequest& request, bool create_only) {
  internal::CallOptions call;
  call.idempotent = false;
  if (create_only) call.headers = {{"If-None-Match", "*"}};
  auto reply = ws.connection()->Call("PUT", ComputePath(ws, name), domain::SerializeComputePutRequest(request), call);
  if (!reply.ok()) return Compute(reply.status());
  auto target = ComputeCodec::FromBody(ws, reply->body);
  if (!target.ok()) return target.status();
  ComputeCodec::SetOperation(**target, std::string(reply->headers.Get("Azure-AsyncOperation").value_or("")));
  return target;
}
}  // namespace

absl::StatusOr<std::shared_ptr<AksCompute>> AksCompute::Create(const Workspace& ws, absl::string_view name,
                                                               const AksProvisioningConfiguration& config) {
  if (auto s = config.Validate(); !s.ok()) return s;
  domain::ComputePutRequest request;
  request.compute_type = kComputeType;
  request.location = config.location.empty() ? ws.location() : config.location;
  request.agent_count = config.agent_count;
  request.agent_vm_size = config.vm_size;
  request.cluster_purpose = config.cluster_purpose;
  auto ssl = SslFromFiles(config.ssl_cname, config.ssl_cert_pem_file, config.ssl_key_pem_file,
                          config.leaf_domain_label, config.overwrite_existing_domain);
  if (!ssl.ok()) return ssl.status();
  request.ssl = *ssl;
  if (!config.vnet_name.empty()) {
    request.networking = domain::AksNetworking{
        domain::FormatSubnetId(ws.subscription_id(), config.vnet_resourcegroup_name, config.vnet_name,
                               config.subnet_name),
        config.service_cidr, config.dns_service_ip, config.docker_bridge_cidr};
  }
  request.load_balancer_type = config.load_balancer_type;
  request.load_balancer_subnet = config.load_balancer_subnet;
  return Put(ws, name, request, /*create_only=*/true);
}

absl::StatusOr<std::shared_ptr<AksCompute>> AksCompute::Attach(const Workspace& ws, absl::string_view name,
                                                               const AksAttachConfiguration& config) {
  if (auto s = config.Validate(); !s.ok()) return s;
  domain::ComputePutRequest request;
  request.compute_type = kComputeType;
  request.resource_id = !config.resource_id.empty()
                            ? config.resource_id
                            : domain::FormatClusterResourceId({ws.subscription_id(), config.resource_group,
                                                               config.cluster_name});
  request.cluster_purpose = config.cluster_purpose;
  auto ssl = SslFromFiles(config.ssl_cname, config.ssl_cert_pem_file, config.ssl_key_pem_file,
                          config.leaf_domain_label, config.overwrite_existing_domain);
  if (!ssl.ok()) return ssl.status();
  request.ssl = *ssl;
  request.load_balancer_type = config.load_balancer_type;
  request.load_balancer_subnet = config.load_balancer_subnet;
  if (!config.kubeconfig.empty() || !config.context.empty() || !config.namespace_name.empty() ||
      !config.image.empty()) {
    request.kubernetes =
        domain::KubernetesTarget{config.kubeconfig, config.context, config.namespace_name, config.image};
  }
  return Put(ws, name, request, /*create_only=*/true);
}

absl::StatusOr<std::shared_ptr<AksCompute>> AksCompute::Get(const Workspace& ws, absl::string_view name) {
  auto reply = ws.connection()->Call("GET", ComputePath(ws, name));
  if (!reply.ok()) return CallFailed(name, reply.status());
  auto target = ComputeCodec::FromBody(ws, reply->body);
  if (!target.ok()) return target.status();
  // An operation in progress can be waited for by whoever looks the target up.
  ComputeCodec::SetOperation(**target, std::string(reply->headers.Get("Azure-AsyncOperation").value_or("")));
  return target;
}

absl::StatusOr<std::shared_ptr<AksCompute>> AksCompute::Deserialize(const Workspace& ws, absl::string_view text) {
  auto object = json::ParseObject(text, "AksCompute.deserialize");
  if (!object.ok()) return Compute(object.status());
  auto resource = domain::ComputeResourceFromJson(*object);
  if (!resource.ok()) return Compute(resource.status());
  std::string prefix = absl::StrCat(ws.resource_path(), "/computes/");
  if (!absl::StartsWithIgnoreCase(resource->id, prefix)) {
    return Compute(MakeError(absl::StatusCode::kInvalidArgument, "ValidationError",
                             absl::StrCat("Invalid compute payload: its id ", resource->id,
                                          " does not belong to workspace ", ws.name(), ".")));
  }
  auto target = ComputeCodec::Make(ws);
  ComputeCodec::Fill(*target, *resource);
  return target;
}

absl::Status AksCompute::Update(const AksUpdateConfiguration& config) {
  if (auto s = config.Validate(); !s.ok()) return s;
  domain::ComputePutRequest request;
  request.compute_type = kComputeType;
  request.agent_count = config.agent_count;
  request.access_log = config.access_log;
  request.ssl = config.ssl_configuration;
  request.load_balancer_type = config.load_balancer_type;
  request.load_balancer_subnet = config.load_balancer_subnet;
  auto updated = Put(workspace_, name_, request, /*create_only=*/false);
  if (!updated.ok()) return updated.status();
  std::string operation = (*updated)->operation_endpoint();
  ComputeCodec::Fill(*this, ComputeCodec::ToResource(**updated));
  operation_endpoint_ = std::move(operation);
  return absl::OkStatus();
}

absl::Status AksCompute::Delete() { return DeleteOrDetach("delete"); }
absl::Status AksCompute::Detach() { return DeleteOrDetach("detach"); }

absl::StatusOr<std::string> AksCompute::GetCredentials() {
  auto reply =
      workspace_.connection()->Call("POST", absl::StrCat(ComputePath(workspace_, name_), "/listKeys"), "");
  if (!reply.ok()) return CallFailed(name_, reply.status());
  return reply->body;
}

std::string AksCompute::Serialize() const {
  return json::Serialize(domain::ComputeResourceToJson(ComputeCodec::ToResource(*this)));
}

}  // namespace amlcore
