#include "common/environment_config.h"

#include <cstdlib>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"

namespace amlcore {
namespace {
std::string Get(const char* name, const std::string& fallback = "") {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

// The settings that need no parsing, and the provisioning delay when it is well formed.
EnvironmentConfig Read(std::optional<std::string>* malformed) {
  EnvironmentConfig c;
  c.home = Get("AMLCORE_HOME", absl::StrCat(UserHomeDirectory(), "/.amlcore"));
  c.endpoint = Get("AMLCORE_ENDPOINT");
  c.token = Get("AMLCORE_TOKEN");
  c.server_program = Get("AMLCORE_SERVER_PROGRAM");
  c.frontend_program = Get("AMLCORE_FE_PROGRAM");
  c.scoring_program = Get("AMLCORE_SCORE_PROGRAM");
  c.runtime_python = Get("AMLCORE_RUNTIME_PYTHON", "/usr/bin/python3");
  c.python_package = Get("AMLCORE_PYTHON_PACKAGE");
  // A number of seconds within [low, high], or a message naming the variable and what it allows.
  auto seconds = [&](const char* name, double low, double high) -> std::optional<double> {
    std::string text = Get(name);
    if (text.empty()) return std::nullopt;
    double value = 0;
    if (absl::SimpleAtod(text, &value) && value >= low && value <= high) return value;
    *malformed = absl::StrCat(name, " must be a number of seconds from ", low, " to ", high, ", not '", text, "'.");
    return std::nullopt;
  };
  if (auto delay = seconds("AMLCORE_SIMULATED_PROVISIONING_SECONDS", 0, 86400)) {
    c.simulated_provisioning = std::chrono::milliseconds(static_cast<int64_t>(*delay * 1000));
  }
  if (auto lifetime = seconds("AMLCORE_TOKEN_LIFETIME_SECONDS", 10, 86400)) {
    c.token_lifetime = std::chrono::seconds(static_cast<int64_t>(*lifetime));
  }
  if (auto window = seconds("AMLCORE_AUTOSCALE_STABILIZATION_SECONDS", 0, 3600)) {
    c.autoscale_stabilization = std::chrono::milliseconds(static_cast<int64_t>(*window * 1000));
  }
  if (auto idle = seconds("AMLCORE_SCALE_TO_ZERO_IDLE_SECONDS", 1, 86400)) {
    c.scale_to_zero_idle = std::chrono::milliseconds(static_cast<int64_t>(*idle * 1000));
  }
  std::string offline = absl::AsciiStrToLower(Get("AMLCORE_OFFLINE_ENVIRONMENTS"));
  if (offline == "1" || offline == "true") {
    c.offline_environments = true;
  } else if (!offline.empty() && offline != "0" && offline != "false") {
    *malformed = absl::StrCat("AMLCORE_OFFLINE_ENVIRONMENTS must be 1 (use installed versions when pip cannot "
                              "install a requirement) or 0, not '", Get("AMLCORE_OFFLINE_ENVIRONMENTS"), "'.");
  }
  return c;
}
}  // namespace

absl::StatusOr<EnvironmentConfig> EnvironmentConfig::LoadChecked() {
  std::optional<std::string> malformed;
  EnvironmentConfig c = Read(&malformed);
  if (malformed) return absl::InvalidArgumentError(*malformed);
  return c;
}

EnvironmentConfig EnvironmentConfig::Load() {
  std::optional<std::string> ignored;
  return Read(&ignored);
}

}  // namespace amlcore
