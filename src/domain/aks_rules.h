// The rules of AKS compute configurations, defined once and applied by the SDK (before sending) and by the
// server (on every request). Messages follow azureml where azureml has one.
#ifndef AMLCORE_DOMAIN_AKS_RULES_H_
#define AMLCORE_DOMAIN_AKS_RULES_H_

#include <cstdint>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "domain/vm_sizes.h"

namespace amlcore::domain {

// Server-side defaults of a new cluster.
inline constexpr int64_t kDefaultAgentCount = 3;
inline constexpr char kDefaultVmSize[] = "Standard_D3_v2";
inline constexpr char kDefaultClusterPurpose[] = "FastProd";
inline constexpr char kDefaultLoadBalancerType[] = "PublicIp";
inline constexpr char kDefaultLoadBalancerSubnet[] = "aks-subnet";
inline constexpr int kFastProdMinimumVcpus = 12;

// Which SSL inputs were given (file names on the client, PEM text on the server).
struct SslInputs {
  bool cname = false;
  bool cert = false;
  bool key = false;
  bool leaf_domain_label = false;
  bool overwrite_existing_domain = false;
};

struct VnetInputs {
  absl::string_view vnet_resourcegroup_name;
  absl::string_view vnet_name;
  absl::string_view subnet_name;
  absl::string_view service_cidr;
  absl::string_view dns_service_ip;
  absl::string_view docker_bridge_cidr;
};

absl::Status CheckAgentCount(std::optional<int64_t> agent_count);
absl::Status CheckSslInputs(const SslInputs& ssl);
// A leaf domain label is one DNS label: 1 to 63 lowercase letters, digits and hyphens, a letter or digit at
// each end.
absl::Status ValidateLeafDomainLabel(absl::string_view label);
// Completeness (azureml) plus: CIDRs parse, the DNS service IP lies inside the service CIDR, and the Docker
// bridge CIDR does not overlap it.
absl::Status CheckVnetInputs(const VnetInputs& vnet);
// Empty means "default".
absl::Status CheckClusterPurpose(absl::string_view cluster_purpose);
// Provisioning and attach: type in {PublicIp, InternalLoadBalancer}; a subnet only with InternalLoadBalancer.
absl::Status CheckLoadBalancer(absl::string_view type, absl::string_view subnet);
// Update: a subnet may be given alone (it applies to an internal load balancer) but never with PublicIp.
absl::Status CheckLoadBalancerUpdate(absl::string_view type, absl::string_view subnet);
// FastProd needs agent_count x vCPUs >= 12. The message names the numbers.
// amlcore: the namespace of an attached Kubernetes cluster (an RFC 1123 label, as Kubernetes requires).
absl::Status CheckKubernetesNamespace(absl::string_view namespace_name);

absl::Status CheckPurposeCapacity(absl::string_view cluster_purpose, int64_t agent_count, const VmSize& size);

struct ClusterResourceId {
  std::string subscription_id;
  std::string resource_group;
  std::string cluster_name;
};
// "/subscriptions/{sub}/resourcegroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}"
std::string FormatClusterResourceId(const ClusterResourceId& id);
// azureml's checks (9 parts, provider Microsoft.ContainerService) plus the fixed segments and the names.
absl::StatusOr<ClusterResourceId> ParseClusterResourceId(absl::string_view resource_id);

// IPv4 CIDR arithmetic used by CheckVnetInputs.
struct Ipv4Range {
  uint32_t first = 0;
  uint32_t last = 0;
};
std::optional<uint32_t> ParseIpv4(absl::string_view text);
std::optional<Ipv4Range> ParseIpv4Cidr(absl::string_view text);

}  // namespace amlcore::domain

#endif  // AMLCORE_DOMAIN_AKS_RULES_H_
