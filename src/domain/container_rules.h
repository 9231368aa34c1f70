// Rules of services that run in a container group of their own: ACI services (AciWebservice) and local ones
// (LocalWebservice). The SDK checks a deployment configuration with azureml's messages; the server checks the
// request it receives, whoever sent it.
#ifndef AMLCORE_DOMAIN_CONTAINER_RULES_H_
#define AMLCORE_DOMAIN_CONTAINER_RULES_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "amlcore/webservice.h"
#include "domain/service_wire.h"

namespace amlcore::domain {

// Azure Container Instances' limits of one container group (in most regions), which amlcore keeps.
inline constexpr double kContainerGroupMaxCpuCores = 4;
inline constexpr double kContainerGroupMaxMemoryGb = 16;
// The VM size whose capacity a container group has: 4 vCPUs and 16 GiB.
inline constexpr char kContainerGroupVmSize[] = "Standard_D4s_v3";

// Whether a request's computeType runs in a container group ("ACI" or "Local").
bool IsContainerGroupType(absl::string_view compute_type);

// AciWebservice.deploy_configuration's checks, in azureml's words (the certificate files must exist).
absl::Status ValidateAciConfiguration(const AciServiceDeploymentConfiguration& config);
// ACI's DNS name label: 5 to 63 lowercase letters, digits and hyphens, starting with a letter, ending with a
// letter or digit.
absl::Status ValidateDnsNameLabel(absl::string_view label);
// The server's checks of an ACI or local service's request (settings it cannot take, limits, SSL, port).
absl::Status ValidateContainerGroupRequest(const ServiceRequest& request);
// The settings the server applies to an ACI or local service that leaves them unset: one replica, no
// autoscaling, authentication off (ACI's default; a local service has none).
void ApplyContainerGroupDefaults(ServiceRequest& request);

}  // namespace amlcore::domain

#endif  // AMLCORE_DOMAIN_CONTAINER_RULES_H_
