// amlcore's settings from the environment, read in one place: every AMLCORE_* variable the SDK, amlcored and its
// tools look at, and what applies when one is unset.
//
//   EnvironmentConfig config = EnvironmentConfig::Load();
//   std::string home = config.home;  // $AMLCORE_HOME, else ~/.amlcore
#ifndef AMLCORE_COMMON_ENVIRONMENT_CONFIG_H_
#define AMLCORE_COMMON_ENVIRONMENT_CONFIG_H_

#include <chrono>
#include <string>

#include "absl/status/statusor.h"

namespace amlcore {

struct EnvironmentConfig {
  std::string home;              // AMLCORE_HOME, else ~/.amlcore: the local server's state
  std::string endpoint;          // AMLCORE_ENDPOINT: a server to use instead of the local one
  std::string token;             // AMLCORE_TOKEN: its admin token
  std::string server_program;    // AMLCORE_SERVER_PROGRAM: amlcored, when not next to the SDK
  std::string frontend_program;  // AMLCORE_FE_PROGRAM: amlcore-fe, when not next to amlcored
  std::string scoring_program;   // AMLCORE_SCORE_PROGRAM: amlcore-score, when not next to amlcored
  std::string runtime_python;    // AMLCORE_RUNTIME_PYTHON, else /usr/bin/python3: what replicas run on
  std::string python_package;    // AMLCORE_PYTHON_PACKAGE: the amlcore package replicas import
  // AMLCORE_SIMULATED_PROVISIONING_SECONDS: how long creating a cluster takes, to rehearse a slow cloud.
  std::chrono::milliseconds simulated_provisioning{0};
  // How long the tokens of services with token auth live (AMLCORE_TOKEN_LIFETIME_SECONDS; one hour as on Azure).
  std::chrono::seconds token_lifetime{3600};
  // AMLCORE_OFFLINE_ENVIRONMENTS=1: a requirement pip cannot install (no package index) while the runtime's
  // Python has another version of it is built with that version, with a warning, instead of failing.
  bool offline_environments = false;
  // How long an autoscaled service's load must stay low before its replicas are scaled down
  // (AMLCORE_AUTOSCALE_STABILIZATION_SECONDS, 60 by default as Kubernetes' HorizontalPodAutoscaler waits).
  std::chrono::milliseconds autoscale_stabilization{60000};
  // How long a service that may scale to zero stays idle before its last replica stops
  // (AMLCORE_SCALE_TO_ZERO_IDLE_SECONDS, 5 minutes by default).
  std::chrono::milliseconds scale_to_zero_idle{300000};

  static EnvironmentConfig Load();
  // Like Load, but a malformed value is an error naming the variable.
  static absl::StatusOr<EnvironmentConfig> LoadChecked();
};

}  // namespace amlcore

#endif  // AMLCORE_COMMON_ENVIRONMENT_CONFIG_H_
