#include "domain/compute_wire.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace amlcore::domain {
namespace {
namespace bj = json::bj;

bj::value StringOrNull(const std::string& s) { return s.empty() ? bj::value(nullptr) : bj::value(s); }

bj::object TagsToJson(const std::map<std::string, std::string>& tags) {
  bj::object out;
  for (const auto& [k, v] : tags) out[k] = v;
  return out;
}

absl::Status ReadTags(const bj::value* raw, absl::string_view path, std::map<std::string, std::string>* out) {
  if (raw == nullptr) return absl::OkStatus();
  if (!raw->is_object()) return absl::InvalidArgumentError(absl::StrCat("Field '", path, "' must be an object."));
  for (const auto& [k, v] : raw->as_object()) {
    if (!v.is_string()) {
      return absl::InvalidArgumentError(absl::StrCat("Tag '", json::Sv(k), "' must have a string value."));
    }
    (*out)[std::string(k)] = std::string(v.as_string());
  }
  return absl::OkStatus();
}

std::optional<SslConfiguration> ReadSsl(json::ObjectReader& reader) {
  if (!reader.present()) return std::nullopt;
  SslConfiguration ssl;
  ssl.status = reader.String("status").value_or("");
  ssl.cert = reader.String("cert").value_or("");
  ssl.key = reader.String("key").value_or("");
  ssl.cname = reader.String("cname").value_or("");
  ssl.leaf_domain_label = reader.String("leafDomainLabel").value_or("");
  ssl.overwrite_existing_domain = reader.Bool("overwriteExistingDomain").value_or(false);
  ssl.renew = reader.Bool("renew").value_or(false);
  ssl.certificate_authority_file = reader.String("certificateAuthorityFile").value_or("");
  return ssl;
}

std::optional<AksNetworking> ReadNetworking(json::ObjectReader& reader) {
  if (!reader.present()) return std::nullopt;
  AksNetworking n;
  n.subnet_id = reader.String("subnetId").value_or("");
  n.service_cidr = reader.String("serviceCidr").value_or("");
  n.dns_service_ip = reader.String("dnsServiceIP").value_or("");
  n.docker_bridge_cidr = reader.String("dockerBridgeCidr").value_or("");
  return n;
}

bj::value NetworkingToJson(const std::optional<AksNetworking>& n) {
  if (!n) return nullptr;
  return bj::object{{"subnetId", n->subnet_id},
                    {"serviceCidr", n->service_cidr},
                    {"dnsServiceIP", n->dns_service_ip},
                    {"dockerBridgeCidr", n->docker_bridge_cidr}};
}
}  // namespace

std::string FormatSubnetId(absl::string_view subscription_id, absl::string_view vnet_resource_group,
                           absl::string_view vnet_name, absl::string_view subnet_name) {
  return absl::StrCat("/subscriptions/", subscription_id, "/resourceGroups/", vnet_resource_group,
                      "/providers/Microsoft.Network/virtualNetworks/", vnet_name, "/subnets/", subnet_name);
}

json::bj::object SslConfigurationToJson(const SslConfiguration& ssl, bool include_key) {
  bj::object out{{"status", ssl.status},
                 {"cert", StringOrNull(ssl.cert)},
                 {"cname", StringOrNull(ssl.cname)},
                 {"leafDomainLabel", StringOrNull(ssl.leaf_domain_label)},
                 {"overwriteExistingDomain", ssl.overwrite_existing_domain}};
  if (include_key) out["key"] = StringOrNull(ssl.key);
  if (ssl.renew) out["renew"] = true;
  if (!ssl.certificate_authority_file.empty()) out["certificateAuthorityFile"] = ssl.certificate_authority_file;
  return out;
}

absl::StatusOr<ComputePutRequest> ParseComputePutRequest(absl::string_view body) {
  auto object = json::ParseObject(body, "Compute request body");
  if (!object.ok()) return object.status();
  ComputePutRequest out;
  json::ObjectReader top(&*object, "");
  for (auto key : {"id", "name", "type", "identity", "sku", "systemData"}) top.Ignore(key);
  out.location = top.String("location").value_or("");
  if (auto s = ReadTags(top.Raw("tags"), "tags", &out.tags); !s.ok()) return s;
  json::ObjectReader props = top.Object("properties");
  for (auto key : {"provisioningState", "provisioningErrors", "isAttachedCompute", "createdOn", "modifiedOn",
                   "disableLocalAuth"}) {
    props.Ignore(key);
  }
  out.compute_type = props.String("computeType").value_or("");
  if (auto loc = props.String("computeLocation")) out.location = *loc;
  out.description = props.String("description").value_or("");
  out.resource_id = props.String("resourceId").value_or("");
  json::ObjectReader aks = props.Object("properties");
  for (auto key : {"clusterFqdn", "systemServices", "scoringEndpoint"}) aks.Ignore(key);
  out.agent_count = aks.Int("agentCount");
  out.agent_vm_size = aks.String("agentVmSize").value_or("");
  out.cluster_purpose = aks.String("clusterPurpose").value_or("");
  json::ObjectReader ssl = aks.Object("sslConfiguration");
  out.ssl = ReadSsl(ssl);
  json::ObjectReader networking = aks.Object("aksNetworkingConfiguration");
  out.networking = ReadNetworking(networking);
  out.load_balancer_type = aks.String("loadBalancerType").value_or("");
  out.load_balancer_subnet = aks.String("loadBalancerSubnet").value_or("");
  out.access_log = aks.Bool("accessLog");
  json::ObjectReader kubernetes = aks.Object("kubernetes");
  if (kubernetes.present()) {
    KubernetesTarget& k = out.kubernetes.emplace();
    k.kubeconfig = kubernetes.String("kubeconfig").value_or("");
    k.context = kubernetes.String("context").value_or("");
    k.namespace_name = kubernetes.String("namespace").value_or("");
    k.image = kubernetes.String("image").value_or("");
  }
  for (json::ObjectReader* reader : {&ssl, &networking, &kubernetes, &aks, &props, &top}) {
    if (auto s = reader->Finish(); !s.ok()) return s;
  }
  if (!props.present()) return absl::InvalidArgumentError("Field 'properties' is required.");
  return out;
}

std::string SerializeComputePutRequest(const ComputePutRequest& r) {
  bj::object aks;
  if (r.agent_count) aks["agentCount"] = *r.agent_count;
  if (!r.agent_vm_size.empty()) aks["agentVmSize"] = r.agent_vm_size;
  if (!r.cluster_purpose.empty()) aks["clusterPurpose"] = r.cluster_purpose;
  if (r.ssl) aks["sslConfiguration"] = SslConfigurationToJson(*r.ssl, /*include_key=*/true);
  if (r.networking) aks["aksNetworkingConfiguration"] = NetworkingToJson(r.networking);
  if (!r.load_balancer_type.empty()) aks["loadBalancerType"] = r.load_balancer_type;
  if (!r.load_balancer_subnet.empty()) aks["loadBalancerSubnet"] = r.load_balancer_subnet;
  if (r.access_log) aks["accessLog"] = *r.access_log;
  if (r.kubernetes) aks["kubernetes"] = KubernetesTargetToJson(*r.kubernetes);
  bj::object props{{"computeType", r.compute_type}};
  if (!r.location.empty()) props["computeLocation"] = r.location;
  if (!r.description.empty()) props["description"] = r.description;
  if (!r.resource_id.empty()) props["resourceId"] = r.resource_id;
  if (!aks.empty()) props["properties"] = std::move(aks);
  bj::object top{{"properties", std::move(props)}};
  if (!r.location.empty()) top["location"] = r.location;
  if (!r.tags.empty()) top["tags"] = TagsToJson(r.tags);
  return json::Serialize(top);
}

json::bj::object ComputeResourceToJson(const ComputeResource& r) {
  bj::value errors = nullptr;
  if (!r.provisioning_errors.empty()) {
    bj::array list;
    for (const auto& e : r.provisioning_errors) {
      list.push_back(bj::object{{"error", bj::object{{"code", e.code}, {"message", e.message}}}});
    }
    errors = std::move(list);
  }
  bj::value agent_count = nullptr;
  if (r.agent_count) agent_count = *r.agent_count;
  bj::object aks{{"agentVmSize", StringOrNull(r.agent_vm_size)},
                 {"agentCount", agent_count},
                 {"clusterPurpose", StringOrNull(r.cluster_purpose)},
                 {"clusterFqdn", StringOrNull(r.cluster_fqdn)},
                 {"systemServices", nullptr},
                 {"sslConfiguration", r.ssl ? bj::value(SslConfigurationToJson(*r.ssl, false)) : nullptr},
                 {"aksNetworkingConfiguration", NetworkingToJson(r.networking)},
                 {"loadBalancerType", StringOrNull(r.load_balancer_type)},
                 {"loadBalancerSubnet", StringOrNull(r.load_balancer_subnet)},
                 {"scoringEndpoint", StringOrNull(r.scoring_endpoint)},
                 {"accessLog", r.access_log}};
  if (r.kubernetes) aks["kubernetes"] = KubernetesTargetToJson(*r.kubernetes);
  bj::object props{{"computeType", r.compute_type},
                   {"computeLocation", StringOrNull(r.compute_location)},
                   {"description", StringOrNull(r.description)},
                   {"resourceId", StringOrNull(r.resource_id)},
                   {"isAttachedCompute", r.is_attached},
                   {"provisioningState", r.provisioning_state},
                   {"provisioningErrors", std::move(errors)},
                   {"createdOn", StringOrNull(r.created_on)},
                   {"modifiedOn", StringOrNull(r.modified_on)},
                   {"properties", std::move(aks)}};
  return bj::object{{"id", r.id},
                    {"name", r.name},
                    {"type", "Microsoft.MachineLearningServices/workspaces/computes"},
                    {"location", r.location},
                    {"tags", TagsToJson(r.tags)},
                    {"properties", std::move(props)}};
}

absl::StatusOr<ComputeResource> ComputeResourceFromJson(const json::bj::object& object) {
  auto invalid = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("Invalid cluster payload", what, ":\n", json::Serialize(object)));
  };
  const bj::object* props = json::GetObject(object, "properties");
  if (props == nullptr || !props->contains("computeType")) return invalid("");
  if (json::GetString(*props, "computeType") != "AKS") return invalid(", not \"AKS\"");
  for (auto key : {"location", "id", "tags"}) {
    if (!object.contains(key)) return invalid(absl::StrCat(", missing [\"", key, "\"]"));
  }
  for (auto key : {"properties", "provisioningErrors", "description", "provisioningState", "resourceId"}) {
    if (!props->contains(key)) return invalid(absl::StrCat(", missing [\"properties\"][\"", key, "\"]"));
  }
  ComputeResource r;
  r.id = json::GetString(object, "id");
  r.name = json::GetString(object, "name");
  r.location = json::GetString(object, "location");
  if (auto s = ReadTags(object.if_contains("tags")->is_null() ? nullptr : object.if_contains("tags"), "tags",
                        &r.tags);
      !s.ok()) {
    return s;
  }
  r.compute_type = json::GetString(*props, "computeType");
  r.compute_location = json::GetString(*props, "computeLocation");
  r.description = json::GetString(*props, "description");
  r.resource_id = json::GetString(*props, "resourceId");
  r.is_attached = json::GetBool(*props, "isAttachedCompute");
  r.provisioning_state = json::GetString(*props, "provisioningState");
  r.created_on = json::GetString(*props, "createdOn");
  r.modified_on = json::GetString(*props, "modifiedOn");
  if (const bj::value* errors = props->if_contains("provisioningErrors"); errors && errors->is_array()) {
    for (const auto& e : errors->as_array()) {
      if (!e.is_object()) continue;
      const bj::object* inner = json::GetObject(e.as_object(), "error");
      const bj::object& source = inner ? *inner : e.as_object();
      r.provisioning_errors.push_back({json::GetString(source, "code"), json::GetString(source, "message")});
    }
  }
  if (const bj::object* aks = json::GetObject(*props, "properties")) {
    if (const bj::value* count = aks->if_contains("agentCount"); count && count->is_number()) {
      r.agent_count = json::GetInt(*aks, "agentCount");
    }
    r.agent_vm_size = json::GetString(*aks, "agentVmSize");
    r.cluster_purpose = json::GetString(*aks, "clusterPurpose");
    r.cluster_fqdn = json::GetString(*aks, "clusterFqdn");
    r.load_balancer_type = json::GetString(*aks, "loadBalancerType");
    r.load_balancer_subnet = json::GetString(*aks, "loadBalancerSubnet");
    r.scoring_endpoint = json::GetString(*aks, "scoringEndpoint");
    r.access_log = json::GetBool(*aks, "accessLog");
    if (const bj::object* k = json::GetObject(*aks, "kubernetes")) {
      r.kubernetes = KubernetesTarget{json::GetString(*k, "kubeconfig"), json::GetString(*k, "context"),
                                      json::GetString(*k, "namespace"), json::GetString(*k, "image")};
    }
    json::ObjectReader ssl(json::GetObject(*aks, "sslConfiguration"), "sslConfiguration");
    r.ssl = ReadSsl(ssl);
    json::ObjectReader networking(json::GetObject(*aks, "aksNetworkingConfiguration"), "aksNetworkingConfiguration");
    r.networking = ReadNetworking(networking);
  }
  return r;
}

json::bj::object KubernetesTargetToJson(const KubernetesTarget& k) {
  bj::object out;
  if (!k.kubeconfig.empty()) out["kubeconfig"] = k.kubeconfig;
  if (!k.context.empty()) out["context"] = k.context;
  if (!k.namespace_name.empty()) out["namespace"] = k.namespace_name;
  if (!k.image.empty()) out["image"] = k.image;
  return out;
}

json::bj::object AsyncOperationStatusToJson(const AsyncOperationStatus& s) {
  bj::object out{{"status", s.status}, {"provisioningState", s.provisioning_state}, {"version", s.log_version}};
  if (!s.error_code.empty() || !s.error_message.empty()) {
    out["error"] = bj::object{{"error", bj::object{{"code", s.error_code}, {"message", s.error_message}}}};
  }
  return out;
}

absl::StatusOr<AsyncOperationStatus> AsyncOperationStatusFromJson(absl::string_view body) {
  auto object = json::ParseObject(body, "Operation status");
  if (!object.ok()) return object.status();
  AsyncOperationStatus s;
  s.status = json::GetString(*object, "status");
  s.provisioning_state = json::GetString(*object, "provisioningState");
  s.log_version = json::GetInt(*object, "version");
  if (const bj::object* outer = json::GetObject(*object, "error")) {
    const bj::object* inner = json::GetObject(*outer, "error");
    const bj::object& e = inner ? *inner : *outer;
    s.error_code = json::GetString(e, "code");
    s.error_message = json::GetString(e, "message");
  }
  if (s.status.empty()) return absl::InvalidArgumentError("Operation status without a 'status' field");
  return s;
}

}  // namespace amlcore::domain
