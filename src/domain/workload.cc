#include "domain/workload.h"

#include "absl/strings/str_cat.h"

namespace amlcore::domain {

std::string WorkloadKey::Name() const { return absl::StrCat(endpoint, ".", version, ".", uid); }

bool IsFatalReplicaReason(absl::string_view reason) {
  return reason == "UserScriptImportFailed" || reason == "UserScriptInitFailed" || reason == "OOMKilled" ||
         reason == "LivenessProbeFailed" || reason == "ReplicaSetupFailed" || reason == "ReplicaStartFailed" ||
         // Kubernetes: an image that cannot be pulled or a container that cannot be made stays so.
         reason == "ErrImagePull" || reason == "ImagePullBackOff" || reason == "InvalidImageName" ||
         reason == "CreateContainerConfigError";
}

std::string DeploymentFailureReason(const ReplicaObservation& r) {
  if (IsFatalReplicaReason(r.last_reason)) return r.last_reason;
  if ((r.last_reason == "Error" || r.last_reason == "ScoringTimeout") && r.restarts >= 2) return "CrashLoopBackOff";
  return "";
}

}  // namespace amlcore::domain
