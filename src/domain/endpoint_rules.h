// The rules of an AksEndpoint's versions (controlled rollout), as pure functions over the versions' route
// attributes: at most six versions with unique names, traffic percentiles of 0 to 100 adding up to at most 100,
// exactly one default (which takes the traffic no percentile claims) and at most one control.
#ifndef AMLCORE_DOMAIN_ENDPOINT_RULES_H_
#define AMLCORE_DOMAIN_ENDPOINT_RULES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace amlcore::domain {

inline constexpr int kMaxEndpointVersions = 6;

// AksEndpoint.VersionType values.
struct VersionType {
  static constexpr char kControl[] = "Control";
  static constexpr char kTreatment[] = "Treatment";
};

struct VersionRouting {
  std::string name;
  int64_t traffic_percentile = 0;
  bool is_default = false;
  std::string type = VersionType::kTreatment;
};

// Every rule `versions` (an endpoint's after a change) breaks, one "Error, ..." line each.
absl::Status ValidateEndpointVersions(absl::string_view endpoint, const std::vector<VersionRouting>& versions);

// Removes `name` from `versions` (oldest first). When it was the default, the default passes to the control
// version, else to the oldest remaining one; the returned line says so ("" when the default stays). Refused
// for an unknown version and for the last one.
absl::StatusOr<std::string> RemoveVersion(absl::string_view endpoint, absl::string_view name,
                                          std::vector<VersionRouting>& versions);

// Makes `name` the default (the others lose it) or the control (the others become treatments).
void MakeDefault(absl::string_view name, std::vector<VersionRouting>& versions);
void MakeControl(absl::string_view name, std::vector<VersionRouting>& versions);

// The share of traffic each version gets (in the order given), in percent: its percentile when it is ready,
// the default the rest; versions that are not ready get nothing and their share goes to the default, or, when
// the default is not ready either, to the ready versions in proportion (alike when none of them has a
// percentile). All zero when none is ready.
std::vector<double> EffectiveShares(const std::vector<VersionRouting>& versions, const std::vector<bool>& ready);

// The version a uniform draw `u` in [0, 100) lands on, by `shares` (from EffectiveShares); the last version
// with a share when rounding leaves a sliver; -1 when no version has a share.
int PickVersion(const std::vector<double>& shares, double u);

// Where one version of a service is.
struct VersionCondition {
  std::string name;
  std::string state;  // Transitioning, Unschedulable, Healthy, Unhealthy, Failed, Deleting
  std::string phase;
  std::string reason;
  std::string error_json;  // {"code", "message"} or ""
};

// A service's condition from its versions': the version being deployed or deleted, if any, speaks for it;
// otherwise Failed when every version failed, Unhealthy when some failed or lack replicas, else Healthy. With
// several versions, the error names the version it comes from.
VersionCondition ServiceCondition(const std::vector<VersionCondition>& versions);

// Whether a version's state says a deployment or deletion of it is under way.
bool InProgress(absl::string_view state);

}  // namespace amlcore::domain

#endif  // AMLCORE_DOMAIN_ENDPOINT_RULES_H_
