#include "domain/endpoint_rules.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/json.h"
#include "domain/service_rules.h"

namespace amlcore::domain {

absl::Status ValidateEndpointVersions(absl::string_view endpoint, const std::vector<VersionRouting>& versions) {
  std::vector<std::string> errors;
  if (versions.size() > static_cast<size_t>(kMaxEndpointVersions)) {
    errors.push_back(absl::StrCat("Error, endpoint ", endpoint, " would have ", versions.size(),
                                  " versions; an endpoint has at most ", kMaxEndpointVersions, "."));
  }
  std::set<std::string> names;
  int64_t sum = 0;
  std::vector<std::string> defaults;
  std::vector<std::string> controls;
  std::vector<std::string> shares;
  for (const auto& v : versions) {
    if (auto s = ValidateVersionName(v.name); !s.ok()) errors.push_back(std::string(s.message()));
    if (!names.insert(v.name).second) {
      errors.push_back(absl::StrCat("Error, version ", v.name, " appears twice in endpoint ", endpoint, "."));
    }
    if (v.traffic_percentile < 0 || v.traffic_percentile > 100) {
      errors.push_back(absl::StrCat("Error, traffic_percentile of version ", v.name, " is ", v.traffic_percentile,
                                    "; it must be from 0 to 100."));
    }
    sum += v.traffic_percentile;
    shares.push_back(absl::StrCat(v.name, "=", v.traffic_percentile));
    if (v.is_default) defaults.push_back(v.name);
    if (v.type == VersionType::kControl) controls.push_back(v.name);
    if (v.type != VersionType::kControl && v.type != VersionType::kTreatment) {
      errors.push_back(absl::StrCat("Error, version ", v.name, " has type '", v.type, "'; the types are ",
                                    VersionType::kControl, " and ", VersionType::kTreatment, "."));
    }
  }
  if (sum > 100) {
    errors.push_back(absl::StrCat("Error, the traffic percentiles of endpoint ", endpoint, " would add up to ", sum,
                                  " (", absl::StrJoin(shares, ", "), "); together they must be at most 100."));
  }
  if (!versions.empty() && defaults.size() != 1) {
    errors.push_back(absl::StrCat("Error, endpoint ", endpoint, " must have exactly one default version, not ",
                                  defaults.size(), defaults.empty() ? "" : absl::StrCat(" (", absl::StrJoin(defaults, ", "), ")"),
                                  "."));
  }
  if (controls.size() > 1) {
    errors.push_back(absl::StrCat("Error, endpoint ", endpoint, " would have ", controls.size(), " control versions (",
                                  absl::StrJoin(controls, ", "), "); at most one version is the control."));
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
}

absl::StatusOr<std::string> RemoveVersion(absl::string_view endpoint, absl::string_view name,
                                          std::vector<VersionRouting>& versions) {
  auto it = std::find_if(versions.begin(), versions.end(), [&](const auto& v) { return v.name == name; });
  if (it == versions.end()) {
    std::vector<std::string> names;
    for (const auto& v : versions) names.push_back(v.name);
    return absl::NotFoundError(absl::StrCat("Error, endpoint ", endpoint, " has no version ", name,
                                            "; its versions are ", absl::StrJoin(names, ", "), "."));
  }
  if (versions.size() == 1) {
    return absl::FailedPreconditionError(absl::StrCat("Error, ", name, " is the last version of endpoint ", endpoint,
                                                      "; delete the endpoint instead."));
  }
  bool was_default = it->is_default;
  versions.erase(it);
  if (!was_default) return std::string();
  auto control = std::find_if(versions.begin(), versions.end(),
                              [](const auto& v) { return v.type == VersionType::kControl; });
  VersionRouting& heir = control != versions.end() ? *control : versions.front();
  heir.is_default = true;
  return absl::StrCat("Version ", name, " was the default; version ", heir.name, " (",
                      control != versions.end() ? "the control version" : "the oldest remaining one",
                      ") is the default now");
}

void MakeDefault(absl::string_view name, std::vector<VersionRouting>& versions) {
  for (auto& v : versions) v.is_default = v.name == name;
}

void MakeControl(absl::string_view name, std::vector<VersionRouting>& versions) {
  for (auto& v : versions) {
    if (v.name == name) {
      v.type = VersionType::kControl;
    } else if (v.type == VersionType::kControl) {
      v.type = VersionType::kTreatment;
    }
  }
}

std::vector<double> EffectiveShares(const std::vector<VersionRouting>& versions, const std::vector<bool>& ready) {
  std::vector<double> shares(versions.size(), 0);
  double claimed = 0;
  for (size_t i = 0; i < versions.size(); ++i) {
    if (!versions[i].is_default && ready[i]) {
      shares[i] = static_cast<double>(versions[i].traffic_percentile);
      claimed += shares[i];
    }
  }
  for (size_t i = 0; i < versions.size(); ++i) {
    if (versions[i].is_default && ready[i]) shares[i] = std::max(0.0, 100 - claimed);
  }
  double total = 0;
  for (double s : shares) total += s;
  if (total <= 0) {
    // Only versions with no percentile are ready (and not the default): they share alike.
    double count = 0;
    for (bool r : ready) count += r ? 1 : 0;
    for (size_t i = 0; i < versions.size(); ++i) shares[i] = count > 0 && ready[i] ? 100 / count : 0;
    return shares;
  }
  // With the default not ready, what is left is shared in proportion.
  for (double& s : shares) s = s * 100 / total;
  return shares;
}

int PickVersion(const std::vector<double>& shares, double u) {
  int last = -1;
  for (size_t i = 0; i < shares.size(); ++i) {
    if (shares[i] <= 0) continue;
    if (u < shares[i]) return static_cast<int>(i);
    u -= shares[i];
    last = static_cast<int>(i);
  }
  return last;
}

bool InProgress(absl::string_view state) {
  return state == "Transitioning" || state == "Unschedulable" || state == "Deleting";
}

VersionCondition ServiceCondition(const std::vector<VersionCondition>& versions) {
  VersionCondition out{"", "Healthy", "Ready", "", ""};
  if (versions.empty()) return out;
  bool several = versions.size() > 1;
  auto speak = [&](const VersionCondition& v, const std::string& state) {
    VersionCondition c{"", state, v.phase, v.reason, v.error_json};
    if (several && !v.error_json.empty()) {
      // The message says which version it is about.
      auto parsed = json::ParseObject(v.error_json, "error");
      if (parsed.ok()) {
        std::string message = json::GetString(*parsed, "message");
        (*parsed)["message"] = json::Bj(absl::StrCat("Version ", v.name, ": ", message));
        c.error_json = json::Serialize(*parsed);
      }
    }
    return c;
  };
  for (const auto& v : versions) {
    if (InProgress(v.state) && v.state != "Deleting") return speak(v, v.state);
  }
  int failed = 0;
  const VersionCondition* first_bad = nullptr;
  const VersionCondition* first_note = nullptr;
  for (const auto& v : versions) {
    if (v.state == "Failed") ++failed;
    if ((v.state == "Failed" || v.state == "Unhealthy") && first_bad == nullptr) first_bad = &v;
    if (!v.error_json.empty() && first_note == nullptr) first_note = &v;
  }
  if (failed == static_cast<int>(versions.size())) return speak(*first_bad, "Failed");
  if (first_bad != nullptr) {
    VersionCondition c = speak(*first_bad, "Unhealthy");
    c.phase = "Ready";
    return c;
  }
  // Healthy; an update that failed and was rolled back still says why.
  if (first_note != nullptr) {
    VersionCondition c = speak(*first_note, "Healthy");
    c.phase = "Ready";
    return c;
  }
  return out;
}

}  // namespace amlcore::domain
