// The configuration files of `az ml model deploy` (v1), in Azure's documented JSON schemas:
// inferenceconfig.json
// (-ic) and deploymentconfig.json (-dc). The amlcore command line and the Python package read them
// here, so both accept and refuse exactly the same files.
//
//   auto inference = amlcore::LoadInferenceConfigFile("inferenceconfig.json");
//   auto deployment = amlcore::LoadDeploymentConfigFile("deploymentconfig.json");
//   if (deployment.ok() && deployment->compute_type == amlcore::DeploymentConfigFile::kAks) { ...
//   deployment->aks ... }
#ifndef AMLCORE_CONFIG_FILES_H_
#define AMLCORE_CONFIG_FILES_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "amlcore/environment.h"
#include "amlcore/webservice.h"

namespace amlcore {

// inferenceconfig.json: entryScript (required), sourceDirectory, description, and either
// `environment` (an azureml Environment document, whose python.condaDependenciesFile is read too)
// or the older runtime, condaFile, extraDockerfileSteps, enableGpu, cudaVersion, baseImage,
// baseImageRegistry. Paths stay as written: relative ones are relative to the working directory, as
// az ml reads them. Unknown keys and wrong types are kInvalidArgument naming the file, the key and
// what is allowed.
absl::StatusOr<InferenceConfig> LoadInferenceConfigFile(absl::string_view path);
// The same from a file's text; `file_name` names it in messages.
absl::StatusOr<InferenceConfig> ParseInferenceConfig(absl::string_view text,
                                                     absl::string_view file_name);

// deploymentconfig.json: computeType picks the schema ("aks", "aksendpoint", "aci" or "local", in
// any case) and the other keys are that compute type's deploy_configuration parameters under
// Azure's names (autoScaler.minReplicas, containerResourceRequirements.cpu, tokenAuthEnabled,
// livenessProbeRequirements.periodSeconds, ...).
struct DeploymentConfigFile {
  static constexpr char kAks[] = "aks";
  static constexpr char kAksEndpoint[] = "aksendpoint";
  static constexpr char kAci[] = "aci";
  static constexpr char kLocal[] = "local";

  std::string compute_type;                      // one of the constants above, lowercase
  AksServiceDeploymentConfiguration aks;         // aks and aksendpoint
  AciServiceDeploymentConfiguration aci;         // aci
  LocalWebserviceDeploymentConfiguration local;  // local
};
absl::StatusOr<DeploymentConfigFile> LoadDeploymentConfigFile(absl::string_view path);
absl::StatusOr<DeploymentConfigFile> ParseDeploymentConfig(absl::string_view text,
                                                           absl::string_view file_name);

}  // namespace amlcore

#endif  // AMLCORE_CONFIG_FILES_H_
