// Rules and defaults of web services and models, shared by the SDK and the server.
#ifndef AMLCORE_DOMAIN_SERVICE_RULES_H_
#define AMLCORE_DOMAIN_SERVICE_RULES_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "amlcore/webservice.h"

namespace amlcore::domain {

absl::Status ValidateServiceName(absl::string_view name);
absl::Status ValidateModelName(absl::string_view name);
// Endpoint version names follow the service-name rule.
absl::Status ValidateVersionName(absl::string_view name);

// Every violated rule of a deployment configuration, one line each ("Invalid configuration, ...").
absl::Status ValidateDeployConfiguration(const AksServiceDeploymentConfiguration& config);

// A deployment configuration with the server's defaults applied.
struct ResolvedDeployConfig {
  bool autoscale_enabled = true;
  int64_t autoscale_min_replicas = 1;
  int64_t autoscale_max_replicas = 10;
  int64_t autoscale_refresh_seconds = 1;
  int64_t autoscale_target_utilization = 70;
  int64_t num_replicas = 1;  // the replica count to run (num_replicas, or autoscale_min_replicas)
  bool num_replicas_given = false;
  bool collect_model_data = false;
  bool auth_enabled = true;
  bool token_auth_enabled = false;
  double cpu_cores = 0.1;
  double memory_gb = 0.5;
  double cpu_cores_limit = 0;    // 0: none
  double memory_gb_limit = 0.5;  // defaults to memory_gb
  int64_t gpu_cores = 0;
  bool enable_app_insights = false;
  int64_t scoring_timeout_ms = 60000;
  int64_t replica_max_concurrent_requests = 1;
  int64_t max_request_wait_time = 500;
  int64_t period_seconds = 10;
  int64_t initial_delay_seconds = 310;
  int64_t timeout_seconds = 2;
  int64_t success_threshold = 1;
  int64_t failure_threshold = 3;
  std::string namespace_;
  bool blobfuse_enabled = false;
};

ResolvedDeployConfig Resolve(const AksServiceDeploymentConfiguration& config);
// `base` changed by the fields `update` sets (the update's own rules are checked before).
AksServiceDeploymentConfiguration Overlay(const AksServiceDeploymentConfiguration& base,
                                          const AksServiceDeploymentConfiguration& update);

}  // namespace amlcore::domain

#endif  // AMLCORE_DOMAIN_SERVICE_RULES_H_
