// Naming rules of workspaces, resource groups and compute targets: one definition each, used by the SDK and
// the server alike. Each check returns kInvalidArgument with a message that states the rule.
#ifndef AMLCORE_DOMAIN_NAMES_H_
#define AMLCORE_DOMAIN_NAMES_H_

#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace amlcore::domain {

absl::Status ValidateWorkspaceName(absl::string_view name);
absl::Status ValidateResourceGroupName(absl::string_view name);
absl::Status ValidateSubscriptionId(absl::string_view id);
// 3-24 letters, digits and hyphens, starting with a letter, ending with a letter or digit, not reserved.
absl::Status ValidateComputeName(absl::string_view name);
// Names of AKS clusters (the last part of a managedClusters resource id): 1-63 letters, digits, hyphens
// and underscores, starting and ending with a letter or digit.
absl::Status ValidateClusterName(absl::string_view name);
bool IsReservedComputeName(absl::string_view name);

}  // namespace amlcore::domain

#endif  // AMLCORE_DOMAIN_NAMES_H_
