// Environments (what a scoring replica's Python has installed) and the inference configuration of a
// deployment (entry script, source directory, environment).
//
//   amlcore::Environment env("sklearn-env");
//   env.python.conda_dependencies = amlcore::CondaDependencies::Create({"scikit-learn", "joblib"});
//   amlcore::InferenceConfig config{.entry_script = "score.py", .source_directory = "src", .environment = env};
#ifndef AMLCORE_ENVIRONMENT_H_
#define AMLCORE_ENVIRONMENT_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "amlcore/workspace.h"

namespace amlcore {

// A conda environment specification. There is no conda here: conda packages are installed like pip packages,
// and a pinned Python version other than the runtime's is only a warning.
struct CondaDependencies {
  std::string name = "project_environment";
  std::vector<std::string> channels;
  std::vector<std::string> conda_packages;  // without the python pin
  std::vector<std::string> pip_packages;
  std::string python_version;  // from "python=X.Y"

  static CondaDependencies Create(std::vector<std::string> pip_packages = {},
                                  std::vector<std::string> conda_packages = {}, std::string python_version = "");
  // Reads a conda environment file (name, channels, dependencies with an optional pip list).
  static absl::StatusOr<CondaDependencies> Parse(absl::string_view yaml);
  static absl::StatusOr<CondaDependencies> FromFile(const std::string& path);
  std::string Serialize() const;  // as a conda environment file
};

struct Environment {
  struct PythonSection {
    bool user_managed_dependencies = false;
    std::string interpreter_path = "python";
    std::optional<CondaDependencies> conda_dependencies;
  };
  struct DockerSection {
    std::string base_image;
    std::string base_dockerfile;
  };

  std::string name;
  std::string version;  // set by Register / Get
  PythonSection python;
  DockerSection docker;
  std::map<std::string, std::string> environment_variables;

  static absl::StatusOr<Environment> FromPipRequirements(absl::string_view name, const std::string& file_path);
  static absl::StatusOr<Environment> FromCondaSpecification(absl::string_view name, const std::string& file_path);
  // Registers this definition as the next version of `name` in the workspace.
  absl::StatusOr<Environment> Register(const Workspace& workspace) const;
  static absl::StatusOr<Environment> Get(const Workspace& workspace, absl::string_view name,
                                         std::optional<int64_t> version = std::nullopt);
  static absl::StatusOr<std::vector<Environment>> List(const Workspace& workspace);

  // The environment's identity for the build cache: a hash of what changes the runtime (base image, Docker
  // steps, Python version, packages in order), not of its name or version.
  std::string Hash() const;
  // The azureml JSON form of the definition.
  std::string Serialize() const;
  static absl::StatusOr<Environment> Deserialize(absl::string_view json);
};

struct InferenceConfig {
  std::string entry_script;
  std::string runtime;
  std::string conda_file;
  std::string extra_docker_file_steps;
  std::string source_directory;
  std::optional<bool> enable_gpu;
  std::string description;
  std::string base_image;
  std::string base_image_registry;
  std::string cuda_version;
  std::optional<Environment> environment;

  // azureml's checks: the entry script is given, exists (relative to source_directory), ends in .py and
  // parses as Python; an environment excludes runtime, conda_file, extra_docker_file_steps, enable_gpu,
  // cuda_version and base_image.
  absl::Status Validate() const;
  // The environment deployments use: `environment`, else one made from conda_file (or none: the runtime's
  // Python as it is).
  absl::StatusOr<Environment> EffectiveEnvironment() const;
};

}  // namespace amlcore

#endif  // AMLCORE_ENVIRONMENT_H_
