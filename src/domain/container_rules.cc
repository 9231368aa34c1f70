#include "domain/container_rules.h"

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/crypto.h"

namespace amlcore::domain {
namespace {
constexpr char kAci[] = "ACI";
constexpr char kLocal[] = "Local";

absl::Status Invalid(std::string message) { return absl::InvalidArgumentError(std::move(message)); }
}  // namespace

bool IsContainerGroupType(absl::string_view compute_type) { return compute_type == kAci || compute_type == kLocal; }

absl::Status ValidateAciConfiguration(const AciServiceDeploymentConfiguration& c) {
  if (c.cpu_cores && *c.cpu_cores <= 0) return Invalid("Invalid configuration, cpu_cores must be positive.");
  if (c.memory_gb && *c.memory_gb <= 0) return Invalid("Invalid configuration, memory_gb must be positive.");
  if (c.ssl_enabled.value_or(false)) {
    if (c.ssl_cert_pem_file.empty() || c.ssl_key_pem_file.empty() || c.ssl_cname.empty()) {
      return Invalid("SSL is enabled, you must provide a SSL certificate, key, and cname.");
    }
    if (!std::filesystem::exists(c.ssl_cert_pem_file)) {
      return Invalid(absl::StrCat("Error, unable to find SSL cert pem file provided paths:\n", c.ssl_cert_pem_file));
    }
    if (!std::filesystem::exists(c.ssl_key_pem_file)) {
      return Invalid(absl::StrCat("Error, unable to find SSL key pem file provided paths:\n", c.ssl_key_pem_file));
    }
  }
  bool any_cmk = !c.cmk_vault_base_url.empty() || !c.cmk_key_name.empty() || !c.cmk_key_version.empty();
  bool all_cmk = !c.cmk_vault_base_url.empty() && !c.cmk_key_name.empty() && !c.cmk_key_version.empty();
  if (any_cmk && !all_cmk) {
    return Invalid("customer managed key vault_base_url, key_name and key_version must all have values or all are "
                   "empty/null");
  }
  if (c.vnet_name.empty() != c.subnet_name.empty()) {
    return Invalid("vnet_name and subnet_name must all have values or both are empty/null");
  }
  // Beyond azureml: what a container group on this machine cannot be.
  if (any_cmk) {
    return Invalid("Invalid configuration, customer-managed keys (cmk_*) encrypt Azure's storage of a container "
                   "group; amlcore keeps its data under AMLCORE_HOME, readable by its owner only. Leave them unset.");
  }
  if (!c.vnet_name.empty()) {
    return Invalid("Invalid configuration, a container group on this machine joins no Azure virtual network "
                   "(vnet_name, subnet_name); it listens on 127.0.0.1. Leave them unset.");
  }
  if (!c.dns_name_label.empty()) {
    if (auto s = ValidateDnsNameLabel(c.dns_name_label); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ValidateDnsNameLabel(absl::string_view label) {
  bool ok = label.size() >= 5 && label.size() <= 63 && absl::ascii_islower(label.front()) &&
            (absl::ascii_islower(label.back()) || absl::ascii_isdigit(label.back()));
  for (char ch : label) ok &= absl::ascii_islower(ch) || absl::ascii_isdigit(ch) || ch == '-';
  if (ok) return absl::OkStatus();
  return Invalid(absl::StrCat("Invalid configuration, dns_name_label '", label,
                              "' must be 5 to 63 lowercase letters, digits and hyphens, start with a letter and end "
                              "with a letter or digit."));
}

absl::Status ValidateContainerGroupRequest(const ServiceRequest& r) {
  bool local = r.compute_type == kLocal;
  const char* kind = local ? "A local web service" : "An ACI web service";
  std::vector<std::string> errors;
  if (!r.compute_name.empty()) {
    errors.push_back(absl::StrCat(kind, " runs in a container group of its own; deploy it without a "
                                  "deployment_target (it was given ", r.compute_name, ")."));
  }
  const AksServiceDeploymentConfiguration& c = r.config;
  if (c.autoscale_enabled.value_or(false) || c.autoscale_min_replicas || c.autoscale_max_replicas) {
    errors.push_back(absl::StrCat(kind, " runs one container; autoscaling is a setting of AKS services."));
  }
  if (c.num_replicas && *c.num_replicas != 1) {
    errors.push_back(absl::StrCat(kind, " runs one container; num_replicas must be 1, not ", *c.num_replicas, "."));
  }
  if (c.token_auth_enabled.value_or(false)) {
    errors.push_back(absl::StrCat(kind, " takes keys (auth_enabled) only; token authentication is a setting of "
                                  "AKS services."));
  }
  if (c.cpu_cores && *c.cpu_cores > kContainerGroupMaxCpuCores) {
    errors.push_back(absl::StrCat("Invalid configuration, cpu_cores must be at most ", kContainerGroupMaxCpuCores,
                                  " for a container group (Azure Container Instances' limit), not ", *c.cpu_cores,
                                  "."));
  }
  if (c.memory_gb && *c.memory_gb > kContainerGroupMaxMemoryGb) {
    errors.push_back(absl::StrCat("Invalid configuration, memory_gb must be at most ", kContainerGroupMaxMemoryGb,
                                  " for a container group (Azure Container Instances' limit), not ", *c.memory_gb,
                                  "."));
  }
  const ContainerGroupRequest& g = r.container;
  if (local) {
    if (c.auth_enabled.value_or(false)) {
      errors.push_back("A local web service has no authentication; auth_enabled cannot be True.");
    }
    if (g.ssl_enabled || !g.ssl_certificate.empty() || !g.ssl_key.empty() || !g.ssl_cname.empty()) {
      errors.push_back("A local web service serves plain HTTP on localhost; SSL is a setting of ACI and AKS.");
    }
    if (g.port < 0 || g.port > 65535) {
      errors.push_back(absl::StrCat("Invalid configuration, port must be between 1 and 65535, not ", g.port, "."));
    }
  } else {
    if (g.port != 0) errors.push_back("An ACI web service gets its port from amlcore; port is a LocalWebservice setting.");
    if (!g.dns_name_label.empty()) {
      if (auto s = ValidateDnsNameLabel(g.dns_name_label); !s.ok()) errors.emplace_back(s.message());
    }
    if (g.ssl_enabled) {
      if (g.ssl_certificate.empty() || g.ssl_key.empty() || g.ssl_cname.empty()) {
        errors.push_back("SSL is enabled, you must provide a SSL certificate, key, and cname.");
      } else if (auto s = CheckCertificateAndKey(g.ssl_certificate, g.ssl_key); !s.ok()) {
        errors.push_back(absl::StrCat("Invalid configuration, the SSL certificate and key: ", s.message()));
      }
    }
  }
  if (errors.empty()) return absl::OkStatus();
  return Invalid(absl::StrJoin(errors, "\n"));
}

void ApplyContainerGroupDefaults(ServiceRequest& r) {
  AksServiceDeploymentConfiguration& c = r.config;
  if (!c.num_replicas) c.num_replicas = 1;
  if (!c.autoscale_enabled) c.autoscale_enabled = false;
  if (!c.auth_enabled) c.auth_enabled = false;
  if (!c.token_auth_enabled) c.token_auth_enabled = false;
}

}  // namespace amlcore::domain
