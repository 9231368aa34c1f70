// Registered models: versioned files uploaded to the workspace server and stored content-addressed.
//
//   auto model = amlcore::Model::Register(ws, "outputs/model.pkl", "diabetes", {.tags = {{"area", "health"}}});
//   std::cout << model->id();  // "diabetes:1"
#ifndef AMLCORE_MODEL_H_
#define AMLCORE_MODEL_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "amlcore/workspace.h"

namespace amlcore {

// Model.Framework constants of azureml.
struct ModelFramework {
  static constexpr char kScikitLearn[] = "ScikitLearn";
  static constexpr char kOnnx[] = "Onnx";
  static constexpr char kTensorFlow[] = "TensorFlow";
  static constexpr char kPyTorch[] = "PyTorch";
  static constexpr char kCustom[] = "Custom";
};

// The resources a model needs to run (azureml's ResourceConfiguration), kept with the model.
struct ResourceConfiguration {
  std::optional<double> cpu;           // cores, > 0
  std::optional<double> memory_in_gb;  // > 0
  std::optional<double> gpu;           // a whole number > 0

  // Every rule it breaks, one "Invalid configuration, ..." line each (a WebserviceException).
  absl::Status Validate() const;
};

// A dataset a model is associated with, under the purpose it served ("training", "validation", ...).
struct ModelDatasetReference {
  std::string name;
  std::string id;  // a saved dataset's id (Dataset::id())
};

struct ModelRegisterOptions {
  std::map<std::string, std::string> tags;
  std::map<std::string, std::string> properties;
  std::string description;
  std::string model_framework;
  std::string model_framework_version;  // only with model_framework
  std::vector<ModelDatasetReference> datasets;
  std::string sample_input_dataset_id;   // saved datasets' ids
  std::string sample_output_dataset_id;
  std::optional<ResourceConfiguration> resource_configuration;
};

struct ModelListOptions {
  std::string name;                                 // only this name
  std::vector<std::string> tags;                    // "key" or "key=value"; all must match
  std::map<std::string, std::string> properties;    // all must match
  bool latest = false;                              // only the highest version of each name
};

struct ModelFile {
  std::string path;  // relative, starting with the model's root entry (file or folder name)
  std::string sha256;
  int64_t size = 0;
};

class Model {
 public:
  // Name rule: ^[a-zA-Z0-9][a-zA-Z0-9\-\._]{0,254}$.
  static absl::Status ValidateName(absl::string_view name);

  // Uploads the file or folder at `model_path` and registers it as the next version of `model_name`.
  static absl::StatusOr<Model> Register(const Workspace& workspace, absl::string_view model_path,
                                        absl::string_view model_name, const ModelRegisterOptions& options = {});
  // The model `name` at `version` (latest when unset); kNotFound (ModelNotFoundException) otherwise.
  static absl::StatusOr<Model> Get(const Workspace& workspace, absl::string_view name,
                                   std::optional<int64_t> version = std::nullopt);
  // By id "name:version" (or just "name" for the latest).
  static absl::StatusOr<Model> GetById(const Workspace& workspace, absl::string_view id);
  static absl::StatusOr<std::vector<Model>> List(const Workspace& workspace, const ModelListOptions& options = {});

  // Inside a scoring replica: the path of the model's root entry under AML_APP_ROOT/azureml-models.
  static absl::StatusOr<std::string> GetModelPath(absl::string_view model_name,
                                                  std::optional<int64_t> version = std::nullopt);

  // Writes the model's files under `target_dir`; returns the path of the root entry.
  absl::StatusOr<std::string> Download(absl::string_view target_dir = ".", bool exist_ok = false) const;
  // Refused while a web service uses the model.
  absl::Status Delete() const;

  const Workspace& workspace() const { return workspace_; }
  std::string id() const;
  const std::string& name() const { return name_; }
  int64_t version() const { return version_; }
  const std::map<std::string, std::string>& tags() const { return tags_; }
  const std::map<std::string, std::string>& properties() const { return properties_; }
  const std::string& description() const { return description_; }
  const std::string& created_time() const { return created_time_; }
  const std::string& model_framework() const { return model_framework_; }
  const std::string& model_framework_version() const { return model_framework_version_; }
  const std::vector<ModelFile>& files() const { return files_; }
  const std::vector<ModelDatasetReference>& datasets() const { return datasets_; }
  const std::string& sample_input_dataset_id() const { return sample_input_dataset_id_; }
  const std::string& sample_output_dataset_id() const { return sample_output_dataset_id_; }
  const std::optional<ResourceConfiguration>& resource_configuration() const { return resource_configuration_; }

 private:
  friend class ModelCodec;
  explicit Model(Workspace workspace) : workspace_(std::move(workspace)) {}

  Workspace workspace_;
  std::string name_;
  int64_t version_ = 0;
  std::map<std::string, std::string> tags_;
  std::map<std::string, std::string> properties_;
  std::string description_;
  std::string created_time_;
  std::string model_framework_;
  std::string model_framework_version_;
  std::vector<ModelFile> files_;
  std::vector<ModelDatasetReference> datasets_;
  std::string sample_input_dataset_id_;
  std::string sample_output_dataset_id_;
  std::optional<ResourceConfiguration> resource_configuration_;
};

}  // namespace amlcore

#endif  // AMLCORE_MODEL_H_
