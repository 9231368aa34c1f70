#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "amlcore/environment.h"
#include "amlcore/model.h"
#include "python/src/status.h"
#include "python/src/wait.h"

namespace amlcore::python {
namespace py = pybind11;

void DefineModel(py::module_& m) {
  py::class_<ModelFile> file(m, "ModelFile");
  py::class_<Model> model(m, "Model");
  py::class_<CondaDependencies> conda(m, "CondaDependencies");
  py::class_<Environment> environment(m, "Environment");
  py::class_<Environment::PythonSection> python_section(environment, "PythonSection");
  py::class_<Environment::DockerSection> docker_section(environment, "DockerSection");
  py::class_<InferenceConfig> inference(m, "InferenceConfig");

  file.def_readonly("path", &ModelFile::path).def_readonly("sha256", &ModelFile::sha256).def_readonly("size", &ModelFile::size);

  model
      .def_static(
          "register",
          [](const Workspace& ws, const std::string& path, const std::string& name,
             const std::map<std::string, std::string>& tags, const std::map<std::string, std::string>& properties,
             const std::string& description, const std::string& framework, const std::string& framework_version) {
            ModelRegisterOptions options{tags, properties, description, framework, framework_version};
            return ValueOrThrow(WithoutGil([&] { return Model::Register(ws, path, name, options); }));
          },
          py::arg("workspace"), py::arg("model_path"), py::arg("model_name"), py::arg("tags"), py::arg("properties"),
          py::arg("description"), py::arg("framework"), py::arg("framework_version"))
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
      .def_property_readonly("files", &Model::files);

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
}

}  // namespace amlcore::python
