#include "domain/service_rules.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace amlcore::domain {
namespace {
bool Lower(char c) { return c >= 'a' && c <= 'z'; }
bool Digit(char c) { return c >= '0' && c <= '9'; }
}  // namespace

absl::Status ValidateServiceName(absl::string_view name) {
  bool ok = name.size() >= 3 && name.size() <= 32 && Lower(name.front()) &&
            (Lower(name.back()) || Digit(name.back()));
  for (char c : name) ok = ok && (Lower(c) || Digit(c) || c == '-');
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      "Error, provided service name is invalid. It must only consist of lowercase letters, numbers, or dashes, "
      "start with a letter, end with a letter or number, and be between 3 and 32 characters long.");
}

absl::Status ValidateVersionName(absl::string_view name) {
  if (ValidateServiceName(name).ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "Error, version name '", name,
      "' is invalid. It must only consist of lowercase letters, numbers, or dashes, start with a letter, end with "
      "a letter or number, and be between 3 and 32 characters long."));
}

absl::Status ValidateModelName(absl::string_view name) {
  bool ok = !name.empty() && name.size() <= 255 && absl::ascii_isalnum(name.front());
  for (char c : name) ok = ok && (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_');
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "Invalid model name '", name,
      "'. A model name starts with a letter or digit, continues with letters, digits, dashes, periods and "
      "underscores, and is at most 255 characters long (^[a-zA-Z0-9][a-zA-Z0-9\\-\\._]{0,254}$)."));
}

absl::Status ValidateDeployConfiguration(const AksServiceDeploymentConfiguration& c) {
  std::vector<std::string> errors;
  auto positive = [&](const auto& value, absl::string_view name) {
    if (value && *value <= 0) errors.push_back(absl::StrCat("Invalid configuration, ", name, " must be greater than zero."));
  };
  positive(c.cpu_cores, "cpu_cores");
  positive(c.memory_gb, "memory_gb");
  if (c.gpu_cores && *c.gpu_cores < 0) {
    errors.push_back("Invalid configuration, gpu_cores must be greater than or equal to zero.");
  }
  positive(c.period_seconds, "period_seconds");
  positive(c.initial_delay_seconds, "initial_delay_seconds");
  positive(c.timeout_seconds, "timeout_seconds");
  positive(c.success_threshold, "success_threshold");
  positive(c.failure_threshold, "failure_threshold");
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
  positive(c.scoring_timeout_ms, "scoring_timeout_ms");
  positive(c.replica_max_concurrent_requests, "replica_max_concurrent_requests");
  positive(c.max_request_wait_time, "max_request_wait_time");
  positive(c.num_replicas, "num_replicas");
  if (c.autoscale_enabled.value_or(false)) {
    if (c.num_replicas) errors.push_back("Invalid configuration, autoscale enabled and num_replicas provided.");
    positive(c.autoscale_min_replicas, "autoscale_min_replicas");
    positive(c.autoscale_max_replicas, "autoscale_max_replicas");
    if (c.autoscale_min_replicas && c.autoscale_max_replicas &&
        *c.autoscale_min_replicas > *c.autoscale_max_replicas) {
      errors.push_back(
          "Invalid configuration, autoscale_min_replicas cannot be greater than autoscale_max_replicas.");
    }
    positive(c.autoscale_refresh_seconds, "autoscale_refresh_seconds");
    positive(c.autoscale_target_utilization, "autoscale_target_utilization");
    if (c.autoscale_target_utilization && *c.autoscale_target_utilization > 100) {
      errors.push_back("Invalid configuration, autoscale_target_utilization must be at most 100.");
    }
  } else {
    if (c.autoscale_enabled.has_value() && !c.num_replicas) {
      errors.push_back("Invalid configuration, autoscale disabled but num_replicas not provided.");
    }
    if (c.autoscale_min_replicas) {
      errors.push_back("Invalid configuration, autoscale_min_replicas provided without enabling autoscaling.");
    }
    if (c.autoscale_max_replicas) {
      errors.push_back("Invalid configuration, autoscale_max_replicas provided without enabling autoscaling.");
    }
    if (c.autoscale_refresh_seconds) {
      errors.push_back("Invalid configuration, autoscale_refresh_seconds provided without enabling autoscaling.");
    }
    if (c.autoscale_target_utilization) {
      errors.push_back("Invalid configuration, autoscale_target_utilization provided without enabling autoscaling.");
    }
  }
  if (c.auth_enabled.value_or(false) && c.token_auth_enabled.value_or(false)) {
    errors.push_back("Invalid configuration, auth_enabled and token_auth_enabled cannot both be true.");
  }
  positive(c.cpu_cores_limit, "cpu_cores_limit");
  positive(c.memory_gb_limit, "memory_gb_limit");
  if (c.cpu_cores_limit && *c.cpu_cores_limit < c.cpu_cores.value_or(0.1)) {
    errors.push_back("Invalid configuration, cpu_cores_limit must be greater than or equal to cpu_cores.");
  }
  if (c.memory_gb_limit && *c.memory_gb_limit < c.memory_gb.value_or(0.5)) {
    errors.push_back("Invalid configuration, memory_gb_limit must be greater than or equal to memory_gb.");
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
}

ResolvedDeployConfig Resolve(const AksServiceDeploymentConfiguration& c) {
  ResolvedDeployConfig r;
  r.num_replicas_given = c.num_replicas.has_value();
  r.autoscale_enabled = c.autoscale_enabled.value_or(!c.num_replicas.has_value());
  r.autoscale_min_replicas = c.autoscale_min_replicas.value_or(1);
  r.autoscale_max_replicas = c.autoscale_max_replicas.value_or(10);
  r.autoscale_refresh_seconds = c.autoscale_refresh_seconds.value_or(1);
  r.autoscale_target_utilization = c.autoscale_target_utilization.value_or(70);
  r.num_replicas = c.num_replicas.value_or(r.autoscale_min_replicas);
  r.collect_model_data = c.collect_model_data.value_or(false);
  r.token_auth_enabled = c.token_auth_enabled.value_or(false);
  r.auth_enabled = c.auth_enabled.value_or(!r.token_auth_enabled);
  r.cpu_cores = c.cpu_cores.value_or(0.1);
  r.memory_gb = c.memory_gb.value_or(0.5);
  r.cpu_cores_limit = c.cpu_cores_limit.value_or(0);
  r.memory_gb_limit = c.memory_gb_limit.value_or(r.memory_gb);
  r.gpu_cores = c.gpu_cores.value_or(0);
  r.enable_app_insights = c.enable_app_insights.value_or(false);
  r.scoring_timeout_ms = c.scoring_timeout_ms.value_or(60000);
  r.replica_max_concurrent_requests = c.replica_max_concurrent_requests.value_or(1);
  r.max_request_wait_time = c.max_request_wait_time.value_or(500);
  r.period_seconds = c.period_seconds.value_or(10);
  r.initial_delay_seconds = c.initial_delay_seconds.value_or(310);
  r.timeout_seconds = c.timeout_seconds.value_or(2);
  r.success_threshold = c.success_threshold.value_or(1);
  r.failure_threshold = c.failure_threshold.value_or(3);
  r.namespace_ = c.namespace_;
  r.blobfuse_enabled = c.blobfuse_enabled.value_or(false);
  return r;
}

AksServiceDeploymentConfiguration Overlay(const AksServiceDeploymentConfiguration& base,
                                          const AksServiceDeploymentConfiguration& u) {
  AksServiceDeploymentConfiguration c = base;
  auto take = [](auto& field, const auto& value) {
    if (value) field = value;
  };
  take(c.autoscale_enabled, u.autoscale_enabled);
  take(c.autoscale_min_replicas, u.autoscale_min_replicas);
  take(c.autoscale_max_replicas, u.autoscale_max_replicas);
  take(c.autoscale_refresh_seconds, u.autoscale_refresh_seconds);
  take(c.autoscale_target_utilization, u.autoscale_target_utilization);
  take(c.collect_model_data, u.collect_model_data);
  take(c.auth_enabled, u.auth_enabled);
  take(c.cpu_cores, u.cpu_cores);
  take(c.memory_gb, u.memory_gb);
  take(c.enable_app_insights, u.enable_app_insights);
  take(c.scoring_timeout_ms, u.scoring_timeout_ms);
  take(c.replica_max_concurrent_requests, u.replica_max_concurrent_requests);
  take(c.max_request_wait_time, u.max_request_wait_time);
  take(c.num_replicas, u.num_replicas);
  take(c.gpu_cores, u.gpu_cores);
  take(c.period_seconds, u.period_seconds);
  take(c.initial_delay_seconds, u.initial_delay_seconds);
  take(c.timeout_seconds, u.timeout_seconds);
  take(c.success_threshold, u.success_threshold);
  take(c.failure_threshold, u.failure_threshold);
  take(c.token_auth_enabled, u.token_auth_enabled);
  take(c.cpu_cores_limit, u.cpu_cores_limit);
  take(c.memory_gb_limit, u.memory_gb_limit);
  take(c.blobfuse_enabled, u.blobfuse_enabled);
  if (!u.namespace_.empty()) c.namespace_ = u.namespace_;
  if (!u.description.empty()) c.description = u.description;
  if (!u.tags.empty()) c.tags = u.tags;
  if (!u.properties.empty()) c.properties = u.properties;
  // Switching autoscaling off or on drops the other mode's settings.
  if (u.num_replicas && !u.autoscale_enabled) c.autoscale_enabled = false;
  if (u.autoscale_enabled.value_or(false)) c.num_replicas.reset();
  return c;
}

}  // namespace amlcore::domain
