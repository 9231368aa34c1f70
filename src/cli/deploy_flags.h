// The deployment settings flags of `model deploy`, `service update` and `endpoint realtime
// create-version / update-version` (az ml's --cc, --gb, --nr, --ae, ...), one row per
// AksServiceDeploymentConfiguration setting, and what the three commands share: models by id, the
// inference configuration from -ic or --es/--sd/-e.
#ifndef AMLCORE_CLI_DEPLOY_FLAGS_H_
#define AMLCORE_CLI_DEPLOY_FLAGS_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "amlcore/environment.h"
#include "amlcore/model.h"
#include "amlcore/webservice.h"
#include "cli/context.h"

namespace amlcore::cli {

class DeploySettingFlags {
 public:
  // Adds the flags of the settings in `scopes` (DeploySettingScope bits).
  void Add(CLI::App& app, unsigned scopes);
  // Sets the flags given on `config` (over what a -dc file set); kInvalidArgument naming a flag and
  // what it takes.
  absl::Status ApplyTo(AksServiceDeploymentConfiguration& config) const;
  // The settings given on the command line, by name ("tags" and "properties" included).
  std::vector<std::string> Given() const;

 private:
  std::map<std::string, std::string> values_;  // setting name -> the flag's text
  std::vector<std::string> tags_, properties_;
};

// -m, -ic, --es, --sd, --cf, --rt, -e, --ev: the models and the inference configuration.
class InferenceFlags {
 public:
  void Add(CLI::App& app);
  absl::StatusOr<std::vector<Model>> Models(const Workspace& ws) const;
  bool ModelsGiven() const { return !model_ids_.empty(); }
  // Reads the -ic file, so that a bad file is reported before anything is sent to the server.
  absl::Status ReadFile();
  // The inference configuration the flags describe (after ReadFile), or nullopt when none is given.
  absl::StatusOr<std::optional<InferenceConfig>> Config(const Workspace& ws) const;

 private:
  std::optional<InferenceConfig> from_file_;
  std::vector<std::string> model_ids_;
  std::string file_, entry_script_, source_directory_, conda_file_, runtime_, environment_name_;
  std::optional<int64_t> environment_version_;
};

}  // namespace amlcore::cli

#endif  // AMLCORE_CLI_DEPLOY_FLAGS_H_
