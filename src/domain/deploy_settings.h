// The settings of AksWebservice.deploy_configuration, as one table: for each setting its azureml keyword (in
// azureml's order), where it lives in the deploymentConfig document, its type, its default and its allowed
// range. The table drives the checks, the defaults, the JSON of requests and of service documents, the SDK's
// update, and the Python bindings: adding a setting is one row here (and its member in the structs).
//
//   for (const DeploySetting& s : DeploySettings()) std::cout << s.name << " at " << s.wire;
#ifndef AMLCORE_DOMAIN_DEPLOY_SETTINGS_H_
#define AMLCORE_DOMAIN_DEPLOY_SETTINGS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "amlcore/webservice.h"
#include "common/json.h"

namespace amlcore::domain {

// A deployment configuration with the server's defaults applied.
struct ResolvedDeployConfig {
  bool autoscale_enabled = true;
  int64_t autoscale_min_replicas = 1;
  int64_t autoscale_max_replicas = 10;
  int64_t autoscale_refresh_seconds = 1;
  int64_t autoscale_target_utilization = 70;
  bool collect_model_data = false;
  bool auth_enabled = true;
  double cpu_cores = 0.1;
  double memory_gb = 0.5;
  bool enable_app_insights = false;
  int64_t scoring_timeout_ms = 60000;
  int64_t replica_max_concurrent_requests = 1;
  int64_t max_request_wait_time = 500;
  int64_t num_replicas = 1;  // the replica count to run (num_replicas, or autoscale_min_replicas)
  bool num_replicas_given = false;
  int64_t gpu_cores = 0;
  int64_t period_seconds = 10;
  int64_t initial_delay_seconds = 310;
  int64_t timeout_seconds = 2;
  int64_t success_threshold = 1;
  int64_t failure_threshold = 3;
  std::string namespace_;
  bool token_auth_enabled = false;
  int64_t traffic_percentile = 0;
  double cpu_cores_limit = 0;    // 0: none
  double memory_gb_limit = 0.5;  // defaults to memory_gb
  bool blobfuse_enabled = false;
};

using DeployConfig = AksServiceDeploymentConfiguration;

struct FlagSetting {
  std::optional<bool> DeployConfig::*request;
  bool ResolvedDeployConfig::*resolved;
};
struct CountSetting {
  std::optional<int64_t> DeployConfig::*request;
  int64_t ResolvedDeployConfig::*resolved;
  int64_t min;  // 1: "must be greater than zero"; 0: "must be greater than or equal to zero"
  int64_t max;
  const char* out_of_range = nullptr;  // azureml's own wording of the range rule, when it has one
};
struct AmountSetting {  // a positive number
  std::optional<double> DeployConfig::*request;
  double ResolvedDeployConfig::*resolved;
  double max;
};
struct TextSetting {
  std::string DeployConfig::*request;
  std::string ResolvedDeployConfig::*resolved;  // null: not part of the resolved configuration
};
struct MapSetting {
  std::map<std::string, std::string> DeployConfig::*request;
};

struct DeploySetting {
  const char* name;  // azureml's keyword argument
  const char* wire;  // path in deploymentConfig: "containerResourceRequirements.cpu"
  std::variant<FlagSetting, CountSetting, AmountSetting, TextSetting, MapSetting> field;
  unsigned scopes = 0;  // DeploySettingScope bits: the calls that take it
  // Changes how requests reach the service (auth, traffic) or only describes it, not what runs: a change of it
  // alone needs no new deployment, only new routes.
  bool routing_only = false;
  // Its key in deploymentconfig.json (az ml's file) where that differs from `wire`.
  const char* file = nullptr;
  const char* file_key() const { return file != nullptr ? file : wire; }
  // "bool", "int", "number", "str" or "dict", for the bindings.
  const char* kind() const;
  // Whether `config` sets it.
  bool IsSet(const DeployConfig& config) const;
};

// Every setting, in azureml's parameter order.
const std::vector<DeploySetting>& DeploySettings();

// Every violated rule, one "Invalid configuration, ..." line each.
absl::Status ValidateDeployConfiguration(const DeployConfig& config);
ResolvedDeployConfig Resolve(const DeployConfig& config);
// `base` changed by the settings `update` sets (the update's own rules are checked before).
DeployConfig Overlay(const DeployConfig& base, const DeployConfig& update);
// azureml's rules for switching a live service between key and token auth: `key_now` and `token_now` are the
// service's modes, `changes` what an update sets. One of the update's "Error, ..." messages, or OK.
absl::Status ValidateAuthChange(bool key_now, bool token_now, const DeployConfig& changes);
// Whether `config` sets anything at all.
bool AnySet(const DeployConfig& config);
// Whether the settings `changes` sets need a new deployment (some setting is not routing_only).
bool NeedsDeployment(const DeployConfig& changes);
// The same for a service that runs with `now`: its autoscaling policy (maximum, refresh period, target) changes in
// place while it autoscales, as does autoscale_enabled set to what it already is.
bool NeedsDeployment(const DeployConfig& changes, const ResolvedDeployConfig& now);

// deploymentConfig as azureml sends it (unset settings left out), and back (strict: wrong types and unknown
// fields name the field).
json::bj::object DeployConfigToJson(const DeployConfig& config);
absl::StatusOr<DeployConfig> DeployConfigFromJson(const json::bj::object& object);
// The resolved configuration in the same shape, every setting present (for service documents).
// The settings of a deploymentconfig.json document (az ml's keys, DeploySetting::file_key), those of `scopes` only;
// `extra_keys` are further top-level keys the caller reads itself. Strict: wrong types and unknown keys are errors
// naming the key (under `root`, e.g. "deploymentconfig.json") and what is allowed.
absl::StatusOr<DeployConfig> DeployConfigFromFileJson(const json::bj::object& object, absl::string_view root,
                                                      unsigned scopes, const std::vector<std::string>& extra_keys);
json::bj::object ResolvedToJson(const ResolvedDeployConfig& config);
absl::StatusOr<ResolvedDeployConfig> ResolvedFromJson(const json::bj::object& object);

}  // namespace amlcore::domain

#endif  // AMLCORE_DOMAIN_DEPLOY_SETTINGS_H_
