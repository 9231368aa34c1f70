#include "domain/aks_rules.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "domain/names.h"

namespace amlcore::domain {

absl::Status CheckAgentCount(std::optional<int64_t> agent_count) {
  if (agent_count && *agent_count <= 0) {
    return absl::InvalidArgumentError("Invalid configuration, agent count must be a positive integer.");
  }
  return absl::OkStatus();
}

absl::Status CheckSslInputs(const SslInputs& ssl) {
  if (ssl.cname || ssl.cert || ssl.key) {
    if (!ssl.cname || !ssl.cert || !ssl.key) {
      return absl::InvalidArgumentError(
          "Invalid configuration, not all ssl information provided. To enable SSL validation please provide "
          "the cname, cert pem file, and key pem file.");
    }
    if (ssl.leaf_domain_label) {
      return absl::InvalidArgumentError(
          "Invalid configuration. When cname, cert pem file, and key pem file is provided, leaf domain label "
          "should not be provided.");
    }
    if (ssl.overwrite_existing_domain) {
      return absl::InvalidArgumentError(
          "Invalid configuration. Overwrite existing domain only applies to leaf domain label. When cname, cert "
          "pem file, and key pem file is provided, Overwrite existing domain should not be provided.");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateLeafDomainLabel(absl::string_view label) {
  bool ok = !label.empty() && label.size() <= 63 && label.front() != '-' && label.back() != '-';
  for (char c : label) ok &= absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-';
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "Invalid configuration, leaf_domain_label '", label,
      "' must be 1 to 63 lowercase letters, digits or hyphens, starting and ending with a letter or digit."));
}

std::optional<uint32_t> ParseIpv4(absl::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, '.');
  if (parts.size() != 4) return std::nullopt;
  uint32_t address = 0;
  for (auto part : parts) {
    uint32_t octet;
    if (part.empty() || part.size() > 3 || !absl::SimpleAtoi(part, &octet) || octet > 255) return std::nullopt;
    for (char c : part) {
      if (!absl::ascii_isdigit(c)) return std::nullopt;
    }
    address = (address << 8) | octet;
  }
  return address;
}

std::optional<Ipv4Range> ParseIpv4Cidr(absl::string_view text) {
  size_t slash = text.find('/');
  if (slash == absl::string_view::npos) return std::nullopt;
  auto address = ParseIpv4(text.substr(0, slash));
  uint32_t prefix;
  absl::string_view prefix_text = text.substr(slash + 1);
  if (!address || prefix_text.empty() || !absl::SimpleAtoi(prefix_text, &prefix) || prefix > 32) {
    return std::nullopt;
  }
  uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
  return Ipv4Range{*address & mask, (*address & mask) | ~mask};
}

absl::Status CheckVnetInputs(const VnetInputs& v) {
  bool any = !v.vnet_name.empty() || !v.vnet_resourcegroup_name.empty() || !v.subnet_name.empty() ||
             !v.service_cidr.empty() || !v.dns_service_ip.empty() || !v.docker_bridge_cidr.empty();
  if (!any) return absl::OkStatus();
  bool all = !v.vnet_name.empty() && !v.vnet_resourcegroup_name.empty() && !v.subnet_name.empty() &&
             !v.service_cidr.empty() && !v.dns_service_ip.empty() && !v.docker_bridge_cidr.empty();
  if (!all) {
    return absl::InvalidArgumentError(
        "Invalid configuration, not all virtual net information provided. To use a custom virtual net with aks, "
        "please provide vnet name, vnet resource group, subnet name, service cidr, dns service ip and docker "
        "bridge cidr");
  }
  auto service = ParseIpv4Cidr(v.service_cidr);
  if (!service) {
    return absl::InvalidArgumentError(absl::StrCat("Invalid configuration, service_cidr '", v.service_cidr,
                                                   "' is not an IPv4 CIDR such as 10.0.0.0/16."));
  }
  auto bridge = ParseIpv4Cidr(v.docker_bridge_cidr);
  if (!bridge) {
    return absl::InvalidArgumentError(absl::StrCat("Invalid configuration, docker_bridge_cidr '",
                                                   v.docker_bridge_cidr,
                                                   "' is not an IPv4 CIDR such as 172.17.0.1/16."));
  }
  auto dns = ParseIpv4(v.dns_service_ip);
  if (!dns) {
    return absl::InvalidArgumentError(absl::StrCat("Invalid configuration, dns_service_ip '", v.dns_service_ip,
                                                   "' is not an IPv4 address such as 10.0.0.10."));
  }
  if (*dns < service->first || *dns > service->last) {
    return absl::InvalidArgumentError(absl::StrCat("Invalid configuration, dns_service_ip ", v.dns_service_ip,
                                                   " is not inside service_cidr ", v.service_cidr, "."));
  }
  if (bridge->first <= service->last && service->first <= bridge->last) {
    return absl::InvalidArgumentError(absl::StrCat("Invalid configuration, docker_bridge_cidr ",
                                                   v.docker_bridge_cidr, " overlaps service_cidr ",
                                                   v.service_cidr, "."));
  }
  return absl::OkStatus();
}

absl::Status CheckClusterPurpose(absl::string_view cluster_purpose) {
  if (cluster_purpose.empty() || cluster_purpose == "FastProd" || cluster_purpose == "DevTest") {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("Invalid configuration, cluster purpose '", cluster_purpose,
                                                 "' is not one of \"FastProd\" or \"DevTest\"."));
}

namespace {
absl::Status CheckLoadBalancerType(absl::string_view type) {
  if (type.empty() || type == "PublicIp" || type == "InternalLoadBalancer") return absl::OkStatus();
  return absl::InvalidArgumentError(
      "Invalid configuration. Load balancer type should be either \"PublicIp\" or \"InternalLoadBalancer\".");
}
}  // namespace

absl::Status CheckLoadBalancer(absl::string_view type, absl::string_view subnet) {
  if (auto s = CheckLoadBalancerType(type); !s.ok()) return s;
  if (!subnet.empty() && type != "InternalLoadBalancer") {
    return absl::InvalidArgumentError(
        "Invalid configuration, load balancer subnet can be changed from default when load balancer type is "
        "\"InternalLoadBalancer\".");
  }
  return absl::OkStatus();
}

absl::Status CheckLoadBalancerUpdate(absl::string_view type, absl::string_view subnet) {
  if (auto s = CheckLoadBalancerType(type); !s.ok()) return s;
  if (!subnet.empty() && type == "PublicIp") {
    return absl::InvalidArgumentError(
        "Invalid configuration, load balancer subnet cannot be used with a Public IP.");
  }
  return absl::OkStatus();
}

absl::Status CheckPurposeCapacity(absl::string_view cluster_purpose, int64_t agent_count, const VmSize& size) {
  if (cluster_purpose != "FastProd") return absl::OkStatus();
  int64_t total = agent_count * size.vcpus;
  if (total >= kFastProdMinimumVcpus) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "Invalid configuration, a FastProd cluster needs at least ", kFastProdMinimumVcpus,
      " vCPUs in total, but agent_count ", agent_count, " x ", size.name, " (", size.vcpus,
      " vCPUs each) gives ", total, ". Use more or larger agents, or cluster_purpose \"DevTest\"."));
}

std::string FormatClusterResourceId(const ClusterResourceId& id) {
  return absl::StrCat("/subscriptions/", id.subscription_id, "/resourcegroups/", id.resource_group,
                      "/providers/Microsoft.ContainerService/managedClusters/", id.cluster_name);
}

absl::StatusOr<ClusterResourceId> ParseClusterResourceId(absl::string_view resource_id) {
  std::vector<absl::string_view> parts = absl::StrSplit(resource_id, '/');
  if (parts.size() != 9) {
    return absl::InvalidArgumentError(absl::StrCat("Invalid resource_id provided: ", resource_id));
  }
  if (parts[6] != "Microsoft.ContainerService") {
    return absl::InvalidArgumentError(absl::StrCat("Invalid resource_id provided, resource type ", parts[6],
                                                   " does not match for AKS"));
  }
  if (!parts[0].empty() || !absl::EqualsIgnoreCase(parts[1], "subscriptions") ||
      !absl::EqualsIgnoreCase(parts[3], "resourcegroups") || !absl::EqualsIgnoreCase(parts[5], "providers") ||
      !absl::EqualsIgnoreCase(parts[7], "managedClusters")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Invalid resource_id provided: ", resource_id,
        ". Expected /subscriptions/{subscription}/resourcegroups/{group}/providers/"
        "Microsoft.ContainerService/managedClusters/{cluster}"));
  }
  ClusterResourceId id{std::string(parts[2]), std::string(parts[4]), std::string(parts[8])};
  if (auto s = ValidateSubscriptionId(id.subscription_id); !s.ok()) return s;
  if (auto s = ValidateResourceGroupName(id.resource_group); !s.ok()) return s;
  if (auto s = ValidateClusterName(id.cluster_name); !s.ok()) return s;
  return id;
}

absl::Status CheckKubernetesNamespace(absl::string_view ns) {
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  bool ok = !ns.empty() && ns.size() <= 63 && alnum(ns.front()) && alnum(ns.back()) &&
            std::all_of(ns.begin(), ns.end(), [&](char c) { return alnum(c) || c == '-'; });
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "Invalid configuration, namespace '", ns,
      "' is not a Kubernetes namespace name: 1 to 63 lower-case letters, digits and '-', starting and ending with "
      "a letter or digit."));
}

}  // namespace amlcore::domain
