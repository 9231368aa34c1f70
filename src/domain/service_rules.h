// Name rules of web services, endpoint versions and models, shared by the SDK and the server.
#ifndef AMLCORE_DOMAIN_SERVICE_RULES_H_
#define AMLCORE_DOMAIN_SERVICE_RULES_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "amlcore/model.h"

namespace amlcore::domain {

absl::Status ValidateServiceName(absl::string_view name);
absl::Status ValidateModelName(absl::string_view name);
// A path inside a deployment's uploaded snapshot (its sourceDirectory or entryScript): relative, and never
// leaving it ("a/b.py" and "./b.py" are fine; "/etc/x", "../x" and "a/../../x" are not). `field` names it in
// the message.
absl::Status ValidateSnapshotPath(absl::string_view field, absl::string_view path);
// Endpoint version names follow the service-name rule.
absl::Status ValidateVersionName(absl::string_view name);
// azureml's ResourceConfiguration rules: cpu and memory_in_gb greater than zero, gpu a whole number greater than
// zero. Every broken rule is a line "Invalid configuration, ...".
absl::Status ValidateResourceConfiguration(const ResourceConfiguration& resources);
// A model framework version only comes with a framework.
absl::Status ValidateModelFramework(absl::string_view framework, absl::string_view framework_version);

}  // namespace amlcore::domain

#endif  // AMLCORE_DOMAIN_SERVICE_RULES_H_
