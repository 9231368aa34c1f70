#include "domain/deploy_settings.h"

#include <algorithm>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "domain/service_wire.h"

namespace amlcore::domain {
namespace {
namespace bj = json::bj;
using C = DeployConfig;
using R = ResolvedDeployConfig;

// Limits beyond azureml's (which only asks for positive values), so that no number is ever truncated or runs
// away: replicas per service, seconds and milliseconds up to an hour or a day, resources up to what one VM has.
constexpr int64_t kMaxReplicas = 100;
constexpr int64_t kMaxMilliseconds = 3'600'000;
constexpr int64_t kMaxProbeSeconds = 86'400;
constexpr int64_t kMaxThreshold = 1000;
constexpr double kMaxCpu = 1024;
constexpr double kMaxMemoryGb = 4096;

// Scopes: which of azureml's calls take the setting.
constexpr unsigned kWs = DeploySettingScope::kWebservice;
constexpr unsigned kEp = DeploySettingScope::kEndpoint;
constexpr unsigned kUp = DeploySettingScope::kServiceUpdate;
constexpr unsigned kVer = DeploySettingScope::kVersion;
constexpr unsigned kAll = kWs | kEp | kUp | kVer;
constexpr bool kRoutingOnly = true;

// In azureml's parameter order (that of deploy_configuration); each call takes the settings of its scope in
// this order.
const std::vector<DeploySetting> kSettings = {
    {"autoscale_enabled", "autoScaler.autoscaleEnabled", FlagSetting{&C::autoscale_enabled, &R::autoscale_enabled},
     kAll},
    {"autoscale_min_replicas", "autoScaler.minReplicas",
     // 0 (beyond azureml): the service scales to zero when idle.
     CountSetting{&C::autoscale_min_replicas, &R::autoscale_min_replicas, 0, kMaxReplicas}, kAll},
    {"autoscale_max_replicas", "autoScaler.maxReplicas",
     CountSetting{&C::autoscale_max_replicas, &R::autoscale_max_replicas, 1, kMaxReplicas}, kAll},
    {"autoscale_refresh_seconds", "autoScaler.refreshPeriodInSeconds",
     CountSetting{&C::autoscale_refresh_seconds, &R::autoscale_refresh_seconds, 1, 3600}, kAll},
    {"autoscale_target_utilization", "autoScaler.targetUtilization",
     CountSetting{&C::autoscale_target_utilization, &R::autoscale_target_utilization, 1, 100}, kAll},
    {"collect_model_data", "dataCollection.storageEnabled",
     FlagSetting{&C::collect_model_data, &R::collect_model_data}, kAll},
    {"auth_enabled", "authEnabled", FlagSetting{&C::auth_enabled, &R::auth_enabled}, kWs | kEp | kUp, kRoutingOnly},
    {"cpu_cores", "containerResourceRequirements.cpu", AmountSetting{&C::cpu_cores, &R::cpu_cores, kMaxCpu}, kAll},
    {"memory_gb", "containerResourceRequirements.memoryInGB",
     AmountSetting{&C::memory_gb, &R::memory_gb, kMaxMemoryGb}, kAll},
    {"enable_app_insights", "appInsightsEnabled", FlagSetting{&C::enable_app_insights, &R::enable_app_insights},
     kWs | kEp | kUp, kRoutingOnly},
    {"scoring_timeout_ms", "scoringTimeoutMs",
     CountSetting{&C::scoring_timeout_ms, &R::scoring_timeout_ms, 1, kMaxMilliseconds}, kAll},
    {"replica_max_concurrent_requests", "maxConcurrentRequestsPerContainer",
     CountSetting{&C::replica_max_concurrent_requests, &R::replica_max_concurrent_requests, 1, 1000}, kAll},
    {"max_request_wait_time", "maxQueueWaitMs",
     CountSetting{&C::max_request_wait_time, &R::max_request_wait_time, 1, kMaxMilliseconds}, kAll},
    {"num_replicas", "numReplicas", CountSetting{&C::num_replicas, &R::num_replicas, 1, kMaxReplicas}, kAll},
    {"primary_key", "keys.primaryKey", TextSetting{&C::primary_key, nullptr}, kWs | kEp},
    {"secondary_key", "keys.secondaryKey", TextSetting{&C::secondary_key, nullptr}, kWs | kEp},
    {"tags", "kvTags", MapSetting{&C::tags}, kAll, kRoutingOnly, "tags"},
    {"properties", "properties", MapSetting{&C::properties}, kAll, kRoutingOnly},
    {"description", "description", TextSetting{&C::description, nullptr}, kAll, kRoutingOnly},
    {"gpu_cores", "containerResourceRequirements.gpu", CountSetting{&C::gpu_cores, &R::gpu_cores, 0, 64}, kAll, false,
     "gpuCores"},
    {"period_seconds", "livenessProbeRequirements.periodSeconds",
     CountSetting{&C::period_seconds, &R::period_seconds, 1, kMaxProbeSeconds}, kAll},
    {"initial_delay_seconds", "livenessProbeRequirements.initialDelaySeconds",
     CountSetting{&C::initial_delay_seconds, &R::initial_delay_seconds, 1, kMaxProbeSeconds}, kAll},
    {"timeout_seconds", "livenessProbeRequirements.timeoutSeconds",
     CountSetting{&C::timeout_seconds, &R::timeout_seconds, 1, kMaxProbeSeconds}, kAll},
    {"success_threshold", "livenessProbeRequirements.successThreshold",
     CountSetting{&C::success_threshold, &R::success_threshold, 1, kMaxThreshold}, kAll},
    {"failure_threshold", "livenessProbeRequirements.failureThreshold",
     CountSetting{&C::failure_threshold, &R::failure_threshold, 1, kMaxThreshold}, kAll},
    {"namespace", "namespace", TextSetting{&C::namespace_, &R::namespace_}, kWs | kEp | kUp},
    {"token_auth_enabled", "aadAuthEnabled", FlagSetting{&C::token_auth_enabled, &R::token_auth_enabled},
     kWs | kEp | kUp, kRoutingOnly, "tokenAuthEnabled"},
    {"version_name", "versionName", TextSetting{&C::version_name, nullptr}, kEp},
    {"traffic_percentile", "trafficPercentile",
     CountSetting{&C::traffic_percentile, &R::traffic_percentile, 0, 100,
                  "Invalid configuration, traffic_percentile cannot be negative or greater than 100."},
     kEp | kVer, kRoutingOnly},
    {"compute_target_name", "computeName", TextSetting{&C::compute_target_name, nullptr}, kWs | kEp, false,
     "computeTargetName"},
    {"cpu_cores_limit", "containerResourceRequirements.cpuLimit",
     AmountSetting{&C::cpu_cores_limit, &R::cpu_cores_limit, kMaxCpu}, kAll},
    {"memory_gb_limit", "containerResourceRequirements.memoryInGBLimit",
     AmountSetting{&C::memory_gb_limit, &R::memory_gb_limit, kMaxMemoryGb}, kAll},
    {"blobfuse_enabled", "blobfuseEnabled", FlagSetting{&C::blobfuse_enabled, &R::blobfuse_enabled}, kWs},
};

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

bool IsAutoscaleBound(const DeploySetting& s) { return absl::StartsWith(s.name, "autoscale_") &&
                                                       std::string_view(s.name) != "autoscale_enabled"; }

// The range rule of one setting, if `config` breaks it.
std::optional<std::string> RangeError(const DeploySetting& s, const C& config) {
  return std::visit(
      Overloaded{
          [&](const CountSetting& f) -> std::optional<std::string> {
            const auto& value = config.*f.request;
            if (!value) return std::nullopt;
            if (f.out_of_range != nullptr && (*value < f.min || *value > f.max)) return std::string(f.out_of_range);
            if (*value < f.min) {
              return absl::StrCat("Invalid configuration, ", s.name, " must be greater than ",
                                  f.min == 0 ? "or equal to " : "", "zero.");
            }
            if (*value > f.max) return absl::StrCat("Invalid configuration, ", s.name, " must be at most ", f.max, ".");
            return std::nullopt;
          },
          [&](const AmountSetting& f) -> std::optional<std::string> {
            const auto& value = config.*f.request;
            if (!value) return std::nullopt;
            if (!(*value > 0)) return absl::StrCat("Invalid configuration, ", s.name, " must be greater than zero.");
            if (*value > f.max) return absl::StrCat("Invalid configuration, ", s.name, " must be at most ", f.max, ".");
            return std::nullopt;
          },
          [](const auto&) -> std::optional<std::string> { return std::nullopt; },
      },
      s.field);
}

bool Lower(char c) { return c >= 'a' && c <= 'z'; }
bool Digit(char c) { return c >= '0' && c <= '9'; }

// The object at a dotted path's parent, made on the way; returns it and the last key.
std::pair<bj::object*, std::string> Parent(bj::object& root, absl::string_view path) {
  std::vector<std::string> parts = absl::StrSplit(path, '.');
  bj::object* at = &root;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    bj::value& next = (*at)[parts[i]];
    if (!next.is_object()) next = bj::object{};
    at = &next.as_object();
  }
  return {at, parts.back()};
}

// Reads settings from a deploymentConfig object: one ObjectReader per nested object, so that wrong types and
// unknown fields are reported with their full path.
class WireReader {
 public:
  explicit WireReader(const bj::object& root, std::string name = "deploymentConfig") : root_(&root, std::move(name)) {}
  json::ObjectReader& At(absl::string_view path, std::string* key) {
    size_t dot = path.rfind('.');
    *key = std::string(dot == absl::string_view::npos ? path : path.substr(dot + 1));
    if (dot == absl::string_view::npos) return root_;
    std::string parent(path.substr(0, dot));
    auto found = children_.find(parent);
    if (found == children_.end()) found = children_.emplace(parent, root_.Object(parent)).first;
    return found->second;
  }
  absl::Status Finish() {
    for (auto& [path, reader] : children_) {
      if (auto s = reader.Finish(); !s.ok()) return s;
    }
    return root_.Finish();
  }

 private:
  json::ObjectReader root_;
  std::map<std::string, json::ObjectReader> children_;
};
}  // namespace

const char* DeploySetting::kind() const {
  return std::visit(Overloaded{[](const FlagSetting&) { return "bool"; }, [](const CountSetting&) { return "int"; },
                               [](const AmountSetting&) { return "number"; }, [](const TextSetting&) { return "str"; },
                               [](const MapSetting&) { return "dict"; }},
                    field);
}

bool DeploySetting::IsSet(const DeployConfig& config) const {
  return std::visit(Overloaded{[&](const FlagSetting& f) { return (config.*f.request).has_value(); },
                               [&](const CountSetting& f) { return (config.*f.request).has_value(); },
                               [&](const AmountSetting& f) { return (config.*f.request).has_value(); },
                               [&](const TextSetting& f) { return !(config.*f.request).empty(); },
                               [&](const MapSetting& f) { return !(config.*f.request).empty(); }},
                    field);
}

const std::vector<DeploySetting>& DeploySettings() { return kSettings; }

absl::Status ValidateDeployConfiguration(const DeployConfig& c) {
  std::vector<std::string> errors;
  for (const auto& s : kSettings) {
    if (IsAutoscaleBound(s)) continue;
    if (auto error = RangeError(s, c)) errors.push_back(*error);
  }
  for (const auto* key : {&c.primary_key, &c.secondary_key}) {
    if (!key->empty() && (key->size() < 8 || key->size() > 256)) {
      errors.push_back(absl::StrCat("Invalid configuration, ", key == &c.primary_key ? "primary_key" : "secondary_key",
                                    " must be 8 to 256 characters long."));
    }
  }
  if (!c.namespace_.empty()) {
    bool ok = c.namespace_.size() <= 63 && (Lower(c.namespace_.front()) || Digit(c.namespace_.front())) &&
              (Lower(c.namespace_.back()) || Digit(c.namespace_.back()));
    for (char ch : c.namespace_) ok = ok && (Lower(ch) || Digit(ch) || ch == '-');
    if (!ok) {
      errors.push_back(
          "Invalid configuration, namespace must be a valid Kubernetes namespace. Regex for valid namespaces is: "
          "^[a-z0-9]([a-z0-9-]{,61}[a-z0-9])?$");
    }
  }
  if (c.autoscale_enabled.value_or(false)) {
    if (c.num_replicas) errors.push_back("Invalid configuration, autoscale enabled and num_replicas provided.");
    for (const auto& s : kSettings) {
      if (!IsAutoscaleBound(s)) continue;
      if (auto error = RangeError(s, c)) errors.push_back(*error);
    }
    if (c.autoscale_min_replicas && c.autoscale_max_replicas &&
        *c.autoscale_min_replicas > *c.autoscale_max_replicas) {
      errors.push_back(
          "Invalid configuration, autoscale_min_replicas cannot be greater than autoscale_max_replicas.");
    }
  } else {
    if (c.autoscale_enabled.has_value() && !c.num_replicas) {
      errors.push_back("Invalid configuration, autoscale disabled but num_replicas not provided.");
    }
    for (const auto& s : kSettings) {
      if (IsAutoscaleBound(s) && s.IsSet(c)) {
        errors.push_back(absl::StrCat("Invalid configuration, ", s.name, " provided without enabling autoscaling."));
      }
    }
  }
  if (c.auth_enabled.value_or(false) && c.token_auth_enabled.value_or(false)) {
    errors.push_back("Invalid configuration, auth_enabled and token_auth_enabled cannot both be true.");
  }
  if (c.cpu_cores_limit && *c.cpu_cores_limit < c.cpu_cores.value_or(0.1)) {
    errors.push_back("Invalid configuration, cpu_cores_limit must be greater than or equal to cpu_cores.");
  }
  if (c.memory_gb_limit && *c.memory_gb_limit < c.memory_gb.value_or(0.5)) {
    errors.push_back("Invalid configuration, memory_gb_limit must be greater than or equal to memory_gb.");
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
}

ResolvedDeployConfig Resolve(const DeployConfig& c) {
  ResolvedDeployConfig r;
  for (const auto& s : kSettings) {
    std::visit(Overloaded{[&](const FlagSetting& f) {
                            if (c.*f.request) r.*f.resolved = *(c.*f.request);
                          },
                          [&](const CountSetting& f) {
                            if (c.*f.request) r.*f.resolved = *(c.*f.request);
                          },
                          [&](const AmountSetting& f) {
                            if (c.*f.request) r.*f.resolved = *(c.*f.request);
                          },
                          [&](const TextSetting& f) {
                            if (f.resolved != nullptr) r.*f.resolved = c.*f.request;
                          },
                          [](const MapSetting&) {}},
               s.field);
  }
  // Defaults that depend on other settings.
  r.num_replicas_given = c.num_replicas.has_value();
  r.autoscale_enabled = c.autoscale_enabled.value_or(!c.num_replicas.has_value());
  // A service that may scale to zero deploys with one replica (so that its deployment is checked end to end)
  // and holds capacity for one, so that waking never waits for capacity.
  r.num_replicas = c.num_replicas.value_or(std::max<int64_t>(1, r.autoscale_min_replicas));
  r.auth_enabled = c.auth_enabled.value_or(!r.token_auth_enabled);
  r.memory_gb_limit = c.memory_gb_limit.value_or(r.memory_gb);
  return r;
}

DeployConfig Overlay(const DeployConfig& base, const DeployConfig& u) {
  DeployConfig c = base;
  for (const auto& s : kSettings) {
    if (!s.IsSet(u)) continue;
    std::visit([&](const auto& f) { c.*f.request = u.*f.request; }, s.field);
  }
  // Switching autoscaling off or on drops the other mode's settings.
  if (u.num_replicas && !u.autoscale_enabled) c.autoscale_enabled = false;
  if (u.autoscale_enabled.value_or(false)) c.num_replicas.reset();
  return c;
}

absl::Status ValidateAuthChange(bool key_now, bool token_now, const DeployConfig& changes) {
  const std::optional<bool>& key = changes.auth_enabled;
  const std::optional<bool>& token = changes.token_auth_enabled;
  if (key.value_or(false) && token.value_or(false)) {
    return absl::InvalidArgumentError("Error, cannot set both token_auth_enabled and auth_enabled.");
  }
  // Turning one mode on while the other stays on; azureml words both directions alike.
  if ((token.value_or(false) && key_now && key != false) || (key.value_or(false) && token_now && token != false)) {
    return absl::InvalidArgumentError(
        "Error, cannot set token_auth_enabled without disabling key auth (set auth_enabled to False).");
  }
  return absl::OkStatus();
}

bool AnySet(const DeployConfig& config) {
  for (const auto& s : kSettings) {
    if (s.IsSet(config)) return true;
  }
  return false;
}

bool NeedsDeployment(const DeployConfig& changes, const ResolvedDeployConfig& now) {
  for (const auto& s : kSettings) {
    if (s.routing_only || !s.IsSet(changes)) continue;
    std::string_view name = s.name;
    bool policy = name == "autoscale_max_replicas" || name == "autoscale_refresh_seconds" ||
                  name == "autoscale_target_utilization";
    if (policy && now.autoscale_enabled && !now.num_replicas_given) continue;
    if (name == "autoscale_enabled" && *changes.autoscale_enabled == now.autoscale_enabled) continue;
    return true;
  }
  return false;
}

bool NeedsDeployment(const DeployConfig& changes) {
  for (const auto& s : kSettings) {
    if (!s.routing_only && s.IsSet(changes)) return true;
  }
  return false;
}

json::bj::object DeployConfigToJson(const DeployConfig& c) {
  bj::object out;
  for (const auto& s : kSettings) {
    if (!s.IsSet(c)) continue;
    auto [parent, key] = Parent(out, s.wire);
    bj::value& slot = (*parent)[key];
    std::visit(Overloaded{[&](const FlagSetting& f) { slot = *(c.*f.request); },
                          [&](const CountSetting& f) { slot = *(c.*f.request); },
                          [&](const AmountSetting& f) { slot = *(c.*f.request); },
                          [&](const TextSetting& f) { slot = json::Bj(c.*f.request); },
                          [&](const MapSetting& f) { slot = TagsToJson(c.*f.request); }},
               s.field);
  }
  return out;
}

namespace {
// Reads the settings of `scopes` from `object`, each at the key `key_of` gives.
template <class KeyOf>
absl::StatusOr<DeployConfig> ReadSettings(const json::bj::object& object, std::string root, unsigned scopes,
                                          const std::vector<std::string>& extra_keys, KeyOf key_of) {
  DeployConfig c;
  WireReader reader(object, std::move(root));
  for (const auto& s : kSettings) {
    if (!(s.scopes & scopes)) continue;
    std::string key;
    json::ObjectReader& at = reader.At(key_of(s), &key);
    absl::Status status = std::visit(
        Overloaded{[&](const FlagSetting& f) {
                     c.*f.request = at.Bool(key);
                     return absl::OkStatus();
                   },
                   [&](const CountSetting& f) {
                     c.*f.request = at.Int(key);
                     return absl::OkStatus();
                   },
                   [&](const AmountSetting& f) {
                     c.*f.request = at.Number(key);
                     return absl::OkStatus();
                   },
                   [&](const TextSetting& f) {
                     c.*f.request = at.String(key).value_or("");
                     return absl::OkStatus();
                   },
                   [&](const MapSetting& f) { return ReadStringMap(at.Raw(key), key_of(s), &(c.*f.request)); }},
        s.field);
    if (!status.ok()) return status;
  }
  std::string unused;
  for (const std::string& key : extra_keys) reader.At(key, &unused).Ignore(unused);
  if (auto s = reader.Finish(); !s.ok()) return s;
  return c;
}
}  // namespace

absl::StatusOr<DeployConfig> DeployConfigFromJson(const json::bj::object& object) {
  return ReadSettings(object, "deploymentConfig", ~0u, {}, [](const DeploySetting& s) { return s.wire; });
}

absl::StatusOr<DeployConfig> DeployConfigFromFileJson(const json::bj::object& object, absl::string_view root,
                                                      unsigned scopes, const std::vector<std::string>& extra_keys) {
  return ReadSettings(object, std::string(root), scopes, extra_keys,
                      [](const DeploySetting& s) { return s.file_key(); });
}

json::bj::object ResolvedToJson(const ResolvedDeployConfig& r) {
  bj::object out;
  for (const auto& s : kSettings) {
    // An endpoint's version settings are not part of a deployment's own configuration.
    if (!(s.scopes & (DeploySettingScope::kWebservice | DeploySettingScope::kServiceUpdate))) continue;
    std::visit(Overloaded{[&](const FlagSetting& f) {
                            auto [parent, key] = Parent(out, s.wire);
                            (*parent)[key] = r.*f.resolved;
                          },
                          [&](const CountSetting& f) {
                            auto [parent, key] = Parent(out, s.wire);
                            (*parent)[key] = r.*f.resolved;
                          },
                          [&](const AmountSetting& f) {
                            auto [parent, key] = Parent(out, s.wire);
                            (*parent)[key] = r.*f.resolved;
                          },
                          [&](const TextSetting& f) {
                            if (f.resolved == nullptr) return;
                            auto [parent, key] = Parent(out, s.wire);
                            const std::string& value = r.*f.resolved;
                            (*parent)[key] = value.empty() ? bj::value(nullptr) : bj::value(json::Bj(value));
                          },
                          [](const MapSetting&) {}},
               s.field);
  }
  // Unset in the request, unset in the document: no replica count under autoscaling, no CPU limit.
  if (!r.num_replicas_given) out["numReplicas"] = nullptr;
  if (r.cpu_cores_limit <= 0) out["containerResourceRequirements"].as_object()["cpuLimit"] = nullptr;
  return out;
}

absl::StatusOr<ResolvedDeployConfig> ResolvedFromJson(const json::bj::object& object) {
  // The settings' fields of a document that holds them among others (a service document), read as a request.
  bj::object request;
  for (const auto& s : kSettings) {
    if (std::holds_alternative<TextSetting>(s.field) && std::get<TextSetting>(s.field).resolved == nullptr) continue;
    if (std::holds_alternative<MapSetting>(s.field)) continue;
    std::string top(absl::string_view(s.wire).substr(0, absl::string_view(s.wire).find('.')));
    if (const bj::value* v = object.if_contains(top)) request[top] = *v;
  }
  auto config = DeployConfigFromJson(request);
  if (!config.ok()) return config.status();
  return Resolve(*config);
}

}  // namespace amlcore::domain
