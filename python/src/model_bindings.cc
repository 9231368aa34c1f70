#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "amlcore/config_files.h"
#include "amlcore/environment.h"
#include "amlcore/model.h"
#include "amlcore/profile.h"
#include "python/src/status.h"
#include "python/src/wait.h"

namespace amlcore::python {
namespace py = pybind11;

void DefineModel(py::module_& m) {
  py::class_<ModelFile> file(m, "ModelFile");
  py::class_<ResourceConfiguration> resources(m, "ResourceConfiguration");
  py::class_<Model> model(m, "Model");
  py::class_<CondaDependencies> conda(m, "CondaDependencies");
  py::class_<Environment> environment(m, "Environment");
  py::class_<Environment::PythonSection> python_section(environment, "PythonSection");
  py::class_<Environment::DockerSection> docker_section(environment, "DockerSection");
  py::class_<InferenceConfig> inference(m, "InferenceConfig");
  py::class_<ModelProfileDetails> profile_details(m, "ModelProfileDetails");
  py::class_<ModelProfile, std::shared_ptr<ModelProfile>> profile(m, "ModelProfile");

  file.def_readonly("path", &ModelFile::path).def_readonly("sha256", &ModelFile::sha256).def_readonly("size", &ModelFile::size);

  resources.def(py::init<>())
      .def_readwrite("cpu", &ResourceConfiguration::cpu)
      .def_readwrite("memory_in_gb", &ResourceConfiguration::memory_in_gb)
      .def_readwrite("gpu", &ResourceConfiguration::gpu)
      .def("validate", [](const ResourceConfiguration& self) { ThrowIfError(self.Validate()); });

  model
      .def_static(
          "register",
          [](const Workspace& ws, const std::string& path, const std::string& name,
             const std::map<std::string, std::string>& tags, const std::map<std::string, std::string>& properties,
             const std::string& description, const std::string& framework, const std::string& framework_version,
             const std::vector<std::pair<std::string, std::string>>& datasets, const std::string& sample_input_id,
             const std::string& sample_output_id, const std::optional<ResourceConfiguration>& resources) {
            ModelRegisterOptions options{tags, properties, description, framework, framework_version};
            for (const auto& [purpose, id] : datasets) options.datasets.push_back(ModelDatasetReference{purpose, id});
            options.sample_input_dataset_id = sample_input_id;
            options.sample_output_dataset_id = sample_output_id;
            options.resource_configuration = resources;
            return ValueOrThrow(WithoutGil([&] { return Model::Register(ws, path, name, options); }));
          },
          py::arg("workspace"), py::arg("model_path"), py::arg("model_name"), py::arg("tags"), py::arg("properties"),
          py::arg("description"), py::arg("framework"), py::arg("framework_version"),
          py::arg("datasets") = std::vector<std::pair<std::string, std::string>>{}, py::arg("sample_input_id") = "",
          py::arg("sample_output_id") = "", py::arg("resource_configuration") = py::none())
      .def_static(
          "get",
          [](const Workspace& ws, const std::string& name, std::optional<int64_t> version) {
            return ValueOrThrow(WithoutGil([&] { return Model::Get(ws, name, version); }));
          },
          py::arg("workspace"), py::arg("name"), py::arg("version") = py::none())
      .def_static(
          "get_by_id",
          [](const Workspace& ws, const std::string& id) {
            return ValueOrThrow(WithoutGil([&] { return Model::GetById(ws, id); }));
          },
          py::arg("workspace"), py::arg("id"))
      .def_static(
          "list",
          [](const Workspace& ws, const std::string& name, const std::vector<std::string>& tags,
             const std::map<std::string, std::string>& properties, bool latest) {
            ModelListOptions options{name, tags, properties, latest};
            return ValueOrThrow(WithoutGil([&] { return Model::List(ws, options); }));
          },
          py::arg("workspace"), py::arg("name"), py::arg("tags"), py::arg("properties"), py::arg("latest"))
      .def_static(
          "get_model_path",
          [](const std::string& name, std::optional<int64_t> version) {
            return ValueOrThrow(Model::GetModelPath(name, version));
          },
          py::arg("model_name"), py::arg("version") = py::none())
      .def_static("validate_name", [](const std::string& name) { ThrowIfError(Model::ValidateName(name)); })
      .def(
          "download",
          [](const Model& self, const std::string& target_dir, bool exist_ok) {
            return ValueOrThrow(WithoutGil([&] { return self.Download(target_dir, exist_ok); }));
          },
          py::arg("target_dir"), py::arg("exist_ok"))
      .def("delete", [](const Model& self) { ThrowIfError(WithoutGil([&] { return self.Delete(); })); })
      .def_property_readonly("workspace", &Model::workspace)
      .def_property_readonly("id", &Model::id)
      .def_property_readonly("name", &Model::name)
      .def_property_readonly("version", &Model::version)
      .def_property_readonly("tags", &Model::tags)
      .def_property_readonly("properties", &Model::properties)
      .def_property_readonly("description", &Model::description)
      .def_property_readonly("created_time", &Model::created_time)
      .def_property_readonly("model_framework", &Model::model_framework)
      .def_property_readonly("model_framework_version", &Model::model_framework_version)
      .def_property_readonly("files", &Model::files)
      .def_property_readonly("datasets",
                             [](const Model& self) {
                               std::vector<std::pair<std::string, std::string>> out;
                               for (const auto& d : self.datasets()) out.emplace_back(d.name, d.id);
                               return out;
                             })
      .def_property_readonly("sample_input_dataset_id", &Model::sample_input_dataset_id)
      .def_property_readonly("sample_output_dataset_id", &Model::sample_output_dataset_id)
      .def_property_readonly("resource_configuration", &Model::resource_configuration);

  conda.def(py::init<>())
      .def_readwrite("name", &CondaDependencies::name)
      .def_readwrite("channels", &CondaDependencies::channels)
      .def_readwrite("conda_packages", &CondaDependencies::conda_packages)
      .def_readwrite("pip_packages", &CondaDependencies::pip_packages)
      .def_readwrite("python_version", &CondaDependencies::python_version)
      .def_static("parse", [](const std::string& yaml) { return ValueOrThrow(CondaDependencies::Parse(yaml)); })
      .def("serialize", &CondaDependencies::Serialize);

  python_section.def(py::init<>())
      .def_readwrite("user_managed_dependencies", &Environment::PythonSection::user_managed_dependencies)
      .def_readwrite("interpreter_path", &Environment::PythonSection::interpreter_path)
      .def_readwrite("conda_dependencies", &Environment::PythonSection::conda_dependencies);
  docker_section.def(py::init<>())
      .def_readwrite("base_image", &Environment::DockerSection::base_image)
      .def_readwrite("base_dockerfile", &Environment::DockerSection::base_dockerfile);
  environment.def(py::init<>())
      .def_readwrite("name", &Environment::name)
      .def_readwrite("version", &Environment::version)
      .def_readwrite("python", &Environment::python)
      .def_readwrite("docker", &Environment::docker)
      .def_readwrite("environment_variables", &Environment::environment_variables)
      .def("register",
           [](const Environment& self, const Workspace& ws) {
             return ValueOrThrow(WithoutGil([&] { return self.Register(ws); }));
           })
      .def_static(
          "get",
          [](const Workspace& ws, const std::string& name, std::optional<int64_t> version) {
            return ValueOrThrow(WithoutGil([&] { return Environment::Get(ws, name, version); }));
          },
          py::arg("workspace"), py::arg("name"), py::arg("version") = py::none())
      .def_static("list",
                  [](const Workspace& ws) { return ValueOrThrow(WithoutGil([&] { return Environment::List(ws); })); })
      .def("hash", &Environment::Hash)
      .def("serialize", &Environment::Serialize)
      .def_static("deserialize", [](const std::string& text) { return ValueOrThrow(Environment::Deserialize(text)); });

  inference.def(py::init<>())
      .def_readwrite("entry_script", &InferenceConfig::entry_script)
      .def_readwrite("runtime", &InferenceConfig::runtime)
      .def_readwrite("conda_file", &InferenceConfig::conda_file)
      .def_readwrite("extra_docker_file_steps", &InferenceConfig::extra_docker_file_steps)
      .def_readwrite("source_directory", &InferenceConfig::source_directory)
      .def_readwrite("enable_gpu", &InferenceConfig::enable_gpu)
      .def_readwrite("description", &InferenceConfig::description)
      .def_readwrite("base_image", &InferenceConfig::base_image)
      .def_readwrite("base_image_registry", &InferenceConfig::base_image_registry)
      .def_readwrite("cuda_version", &InferenceConfig::cuda_version)
      .def_readwrite("environment", &InferenceConfig::environment)
      .def("validate", [](const InferenceConfig& self) { ThrowIfError(WithoutGil([&] { return self.Validate(); })); });
  // inferenceconfig.json, read by the same parser as the command line's -ic.
  m.def("load_inference_config_file",
        [](const std::string& path) { return ValueOrThrow(LoadInferenceConfigFile(path)); }, py::arg("path"));

  profile_details
      .def_readonly("name", &ModelProfileDetails::name)
      .def_readonly("description", &ModelProfileDetails::description)
      .def_readonly("state", &ModelProfileDetails::state)
      .def_readonly("created_time", &ModelProfileDetails::created_time)
      .def_readonly("error", &ModelProfileDetails::error)
      .def_readonly("input_dataset_id", &ModelProfileDetails::input_dataset_id)
      .def_readonly("model_ids", &ModelProfileDetails::model_ids)
      .def_readonly("requested_cpu", &ModelProfileDetails::requested_cpu)
      .def_readonly("requested_memory_in_gb", &ModelProfileDetails::requested_memory_in_gb)
      .def_readonly("total_queries", &ModelProfileDetails::total_queries)
      .def_readonly("success_queries", &ModelProfileDetails::success_queries)
      .def_readonly("success_rate", &ModelProfileDetails::success_rate)
      .def_readonly("average_latency_ms", &ModelProfileDetails::average_latency_ms)
      .def_readonly("latency_p50_ms", &ModelProfileDetails::latency_p50_ms)
      .def_readonly("latency_p90_ms", &ModelProfileDetails::latency_p90_ms)
      .def_readonly("latency_p95_ms", &ModelProfileDetails::latency_p95_ms)
      .def_readonly("latency_p99_ms", &ModelProfileDetails::latency_p99_ms)
      .def_readonly("latency_p999_ms", &ModelProfileDetails::latency_p999_ms)
      .def_readonly("measured_queries_per_second", &ModelProfileDetails::measured_queries_per_second)
      .def_readonly("max_utilized_cpu", &ModelProfileDetails::max_utilized_cpu)
      .def_readonly("max_utilized_memory_gb", &ModelProfileDetails::max_utilized_memory_gb)
      .def_readonly("recommended_cpu", &ModelProfileDetails::recommended_cpu)
      .def_readonly("recommended_memory_gb", &ModelProfileDetails::recommended_memory_gb);

  profile
      .def_static(
          "validate_arguments",
          [](const std::string& name, std::optional<double> cpu, std::optional<double> memory_in_gb) {
            ThrowIfError(ModelProfile::ValidateArguments(name, {.cpu = cpu, .memory_in_gb = memory_in_gb}));
          },
          py::arg("name"), py::arg("cpu"), py::arg("memory_in_gb"))
      .def_static(
          "start",
          [](const Workspace& ws, const std::string& name, const std::vector<Model>& models,
             const InferenceConfig& inference, std::vector<std::string> inputs, std::optional<double> cpu,
             std::optional<double> memory_in_gb, const std::string& description, const std::string& dataset_id) {
            ModelProfileOptions options{.cpu = cpu, .memory_in_gb = memory_in_gb, .description = description,
                                        .input_dataset_id = dataset_id};
            return ValueOrThrow(
                WithoutGil([&] { return ModelProfile::Start(ws, name, models, inference, std::move(inputs), options); }));
          },
          py::arg("workspace"), py::arg("name"), py::arg("models"), py::arg("inference_config"), py::arg("inputs"),
          py::arg("cpu"), py::arg("memory_in_gb"), py::arg("description"), py::arg("input_dataset_id"))
      .def(
          "wait_for_completion",
          [](ModelProfile& self, bool show_output, std::optional<double> timeout) {
            PollOptions options = MakePollOptions(show_output, timeout);
            options.interval = std::chrono::seconds(5);
            ThrowIfError(WithoutGil([&] { return self.WaitForCompletion(options); }));
          },
          py::arg("show_output") = false, py::arg("timeout") = py::none())
      .def("details", &ModelProfile::details);
}

}  // namespace amlcore::python
