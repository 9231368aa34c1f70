// The JSON documents of the compute REST API (ARM-shaped, as azureml sends and reads them), encoded and
// decoded in one place for the SDK and the server.
#ifndef AMLCORE_DOMAIN_COMPUTE_WIRE_H_
#define AMLCORE_DOMAIN_COMPUTE_WIRE_H_

#include "absl/strings/string_view.h"
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "amlcore/compute.h"
#include "common/json.h"

namespace amlcore::domain {

// properties.properties.aksNetworkingConfiguration
struct AksNetworking {
  std::string subnet_id;  // /subscriptions/../resourceGroups/{vnet rg}/providers/Microsoft.Network/
                          // virtualNetworks/{vnet}/subnets/{subnet}
  std::string service_cidr;
  std::string dns_service_ip;
  std::string docker_bridge_cidr;
};

std::string FormatSubnetId(absl::string_view subscription_id, absl::string_view vnet_resource_group,
                           absl::string_view vnet_name, absl::string_view subnet_name);

// amlcore: a Kubernetes cluster attached through a kubeconfig context (properties.properties.kubernetes). The
// server reads the kubeconfig again whenever it reaches the cluster, so rotated tokens and exec plugins work.
struct KubernetesTarget {
  std::string kubeconfig;  // a file; "" for KUBECONFIG or ~/.kube/config as amlcored sees them
  std::string context;     // "" for the cluster name of the attach request (az aks get-credentials names it so)
  std::string namespace_name;  // where amlcore's objects go; kDefaultKubernetesNamespace when empty
  std::string image;           // the runtime image pods run; kDefaultRuntimeImage when empty
};
constexpr char kDefaultKubernetesNamespace[] = "azureml";

// Body of PUT .../computes/{name}: a create when resource_id is empty, an attach otherwise, an update when
// the compute target already exists.
struct ComputePutRequest {
  std::string location;
  std::string description;
  std::map<std::string, std::string> tags;
  std::string compute_type;
  std::string resource_id;
  std::optional<int64_t> agent_count;
  std::string agent_vm_size;
  std::string cluster_purpose;
  std::optional<SslConfiguration> ssl;
  std::optional<AksNetworking> networking;
  std::string load_balancer_type;
  std::string load_balancer_subnet;
  std::optional<bool> access_log;  // amlcore: the router's access log on or off
  std::optional<KubernetesTarget> kubernetes;  // amlcore: attach this Kubernetes cluster
};

absl::StatusOr<ComputePutRequest> ParseComputePutRequest(absl::string_view body);
std::string SerializeComputePutRequest(const ComputePutRequest& request);

// GET .../computes/{name}
struct ComputeResource {
  std::string id;
  std::string name;
  std::string location;
  std::map<std::string, std::string> tags;
  std::string description;
  std::string compute_type = "AKS";
  std::string compute_location;
  std::string resource_id;
  bool is_attached = false;
  std::string provisioning_state;
  std::vector<ProvisioningError> provisioning_errors;
  std::string created_on;
  std::string modified_on;
  std::optional<int64_t> agent_count;
  std::string agent_vm_size;
  std::string cluster_purpose;
  std::string cluster_fqdn;
  std::optional<SslConfiguration> ssl;
  std::optional<AksNetworking> networking;
  std::string load_balancer_type;
  std::string load_balancer_subnet;
  std::string scoring_endpoint;
  bool access_log = false;  // amlcore: the cluster's router logs every request
  std::optional<KubernetesTarget> kubernetes;  // amlcore: the Kubernetes cluster it runs on, when attached so
};

json::bj::object ComputeResourceToJson(const ComputeResource& resource);
// Checks the shape azureml's deserialize checks, with its messages.
absl::StatusOr<ComputeResource> ComputeResourceFromJson(const json::bj::object& object);

// GET <Azure-AsyncOperation URL>
struct AsyncOperationStatus {
  std::string status;              // InProgress, Succeeded, Failed, Canceled
  std::string provisioning_state;  // of the compute target: Creating, Updating, Deleting, ...
  std::string error_code;
  std::string error_message;
  int64_t log_version = 0;         // changes whenever the status changes (for long polling)
};
json::bj::object AsyncOperationStatusToJson(const AsyncOperationStatus& status);
absl::StatusOr<AsyncOperationStatus> AsyncOperationStatusFromJson(absl::string_view body);

json::bj::object KubernetesTargetToJson(const KubernetesTarget& target);

json::bj::object SslConfigurationToJson(const SslConfiguration& ssl, bool include_key);

}  // namespace amlcore::domain

#endif  // AMLCORE_DOMAIN_COMPUTE_WIRE_H_
