#include "common/environment_config.h"

#include <cstdlib>
#include <optional>

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
  if (std::string delay = Get("AMLCORE_SIMULATED_PROVISIONING_SECONDS"); !delay.empty()) {
    double seconds = 0;
    if (absl::SimpleAtod(delay, &seconds) && seconds >= 0 && seconds <= 86400) {
      c.simulated_provisioning = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
    } else {
      *malformed = absl::StrCat("AMLCORE_SIMULATED_PROVISIONING_SECONDS must be a number of seconds from 0 to 86400, "
                                "not '", delay, "'.");
    }
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
