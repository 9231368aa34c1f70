#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "amlcore/webservice.h"
#include "python/src/status.h"
#include "python/src/wait.h"

namespace amlcore::python {
namespace py = pybind11;

void DefineWebservice(py::module_& m) {
  using Config = AksServiceDeploymentConfiguration;
  py::class_<Config> config(m, "AksServiceDeploymentConfiguration");
  py::class_<AksServiceUpdate> update(m, "AksServiceUpdate");
  py::class_<Webservice, std::shared_ptr<Webservice>> service(m, "Webservice");
  py::class_<AksWebservice, Webservice, std::shared_ptr<AksWebservice>> aks(m, "AksWebservice");

  config.def(py::init<>())
      .def_readwrite("autoscale_enabled", &Config::autoscale_enabled)
      .def_readwrite("autoscale_min_replicas", &Config::autoscale_min_replicas)
      .def_readwrite("autoscale_max_replicas", &Config::autoscale_max_replicas)
      .def_readwrite("autoscale_refresh_seconds", &Config::autoscale_refresh_seconds)
      .def_readwrite("autoscale_target_utilization", &Config::autoscale_target_utilization)
      .def_readwrite("collect_model_data", &Config::collect_model_data)
      .def_readwrite("auth_enabled", &Config::auth_enabled)
      .def_readwrite("cpu_cores", &Config::cpu_cores)
      .def_readwrite("memory_gb", &Config::memory_gb)
      .def_readwrite("enable_app_insights", &Config::enable_app_insights)
      .def_readwrite("scoring_timeout_ms", &Config::scoring_timeout_ms)
      .def_readwrite("replica_max_concurrent_requests", &Config::replica_max_concurrent_requests)
      .def_readwrite("max_request_wait_time", &Config::max_request_wait_time)
      .def_readwrite("num_replicas", &Config::num_replicas)
      .def_readwrite("primary_key", &Config::primary_key)
      .def_readwrite("secondary_key", &Config::secondary_key)
      .def_readwrite("tags", &Config::tags)
      .def_readwrite("properties", &Config::properties)
      .def_readwrite("description", &Config::description)
      .def_readwrite("gpu_cores", &Config::gpu_cores)
      .def_readwrite("period_seconds", &Config::period_seconds)
      .def_readwrite("initial_delay_seconds", &Config::initial_delay_seconds)
      .def_readwrite("timeout_seconds", &Config::timeout_seconds)
      .def_readwrite("success_threshold", &Config::success_threshold)
      .def_readwrite("failure_threshold", &Config::failure_threshold)
      .def_readwrite("namespace", &Config::namespace_)
      .def_readwrite("token_auth_enabled", &Config::token_auth_enabled)
      .def_readwrite("compute_target_name", &Config::compute_target_name)
      .def_readwrite("cpu_cores_limit", &Config::cpu_cores_limit)
      .def_readwrite("memory_gb_limit", &Config::memory_gb_limit)
      .def_readwrite("blobfuse_enabled", &Config::blobfuse_enabled)
      .def("validate", [](const Config& self) { ThrowIfError(self.Validate()); });

  update.def(py::init<>())
      .def_readwrite("config", &AksServiceUpdate::config)
      .def_readwrite("models", &AksServiceUpdate::models)
      .def_readwrite("inference_config", &AksServiceUpdate::inference_config);

  service
      .def_static(
          "get",
          [](const Workspace& ws, const std::string& name) {
            return ValueOrThrow(WithoutGil([&] { return Webservice::Get(ws, name); }));
          },
          py::arg("workspace"), py::arg("name"))
      .def_static(
          "list",
          [](const Workspace& ws, const std::string& compute_type, const std::string& model_name,
             const std::vector<std::string>& tags, const std::map<std::string, std::string>& properties) {
            WebserviceListOptions options{compute_type, model_name, tags, properties};
            return ValueOrThrow(WithoutGil([&] { return Webservice::List(ws, options); }));
          },
          py::arg("workspace"), py::arg("compute_type"), py::arg("model_name"), py::arg("tags"), py::arg("properties"))
      .def_static("validate_name", [](const std::string& name) { ThrowIfError(Webservice::ValidateName(name)); })
      .def(
          "wait_for_deployment",
          [](Webservice& self, bool show_output, std::optional<double> timeout) {
            PollOptions options = MakePollOptions(show_output, timeout);
            ThrowIfError(WithoutGil([&] { return self.WaitForDeployment(options); }));
          },
          py::arg("show_output") = false, py::arg("timeout") = py::none())
      .def("update_deployment_state",
           [](Webservice& self) { ThrowIfError(WithoutGil([&] { return self.UpdateDeploymentState(); })); })
      .def(
          "get_logs",
          [](Webservice& self, int64_t num_lines, bool init) {
            return ValueOrThrow(WithoutGil([&] { return self.GetLogs(num_lines, init); }));
          },
          py::arg("num_lines"), py::arg("init"))
      .def("get_keys", [](Webservice& self) { return ValueOrThrow(WithoutGil([&] { return self.GetKeys(); })); })
      .def(
          "regen_key",
          [](Webservice& self, const std::string& key, const std::string& set_key) {
            ThrowIfError(WithoutGil([&] { return self.RegenKey(key, set_key); }));
          },
          py::arg("key"), py::arg("set_key"))
      .def(
          "run",
          [](Webservice& self, const std::string& input) {
            return py::bytes(ValueOrThrow(WithoutGil([&] { return self.Run(input); })));
          },
          py::arg("input_data"))
      .def("delete", [](Webservice& self) { ThrowIfError(WithoutGil([&] { return self.Delete(); })); })
      .def("serialize", &Webservice::Serialize)
      .def_property_readonly("workspace", &Webservice::workspace)
      .def_property_readonly("name", &Webservice::name)
      .def_property_readonly("compute_type", &Webservice::compute_type)
      .def_property_readonly("compute_name", &Webservice::compute_name)
      .def_property_readonly("state", &Webservice::state)
      .def_property_readonly("phase", &Webservice::phase)
      .def_property_readonly("reason", &Webservice::reason)
      .def_property_readonly("error", &Webservice::error)
      .def_property_readonly("scoring_uri", &Webservice::scoring_uri)
      .def_property_readonly("swagger_uri", &Webservice::swagger_uri)
      .def_property_readonly("auth_enabled", &Webservice::auth_enabled)
      .def_property_readonly("token_auth_enabled", &Webservice::token_auth_enabled)
      .def_property_readonly("tags", &Webservice::tags)
      .def_property_readonly("properties", &Webservice::properties)
      .def_property_readonly("description", &Webservice::description)
      .def_property_readonly("created_time", &Webservice::created_time)
      .def_property_readonly("updated_time", &Webservice::updated_time)
      .def_property_readonly("model_ids", &Webservice::model_ids)
      .def_property_readonly("operation_id", &Webservice::operation_id)
      .def_property_readonly("document", &Webservice::document);

  aks.def_static(
         "deploy",
         [](const Workspace& ws, const std::string& name, const std::vector<Model>& models,
            const InferenceConfig& inference, const Config& config, const AksCompute& target, bool overwrite) {
           return ValueOrThrow(
               WithoutGil([&] { return AksWebservice::Deploy(ws, name, models, inference, config, target, overwrite); }));
         },
         py::arg("workspace"), py::arg("name"), py::arg("models"), py::arg("inference_config"), py::arg("config"),
         py::arg("target"), py::arg("overwrite"))
      .def("update",
           [](AksWebservice& self, const AksServiceUpdate& u) { ThrowIfError(WithoutGil([&] { return self.Update(u); })); })
      .def_property_readonly("num_replicas", &AksWebservice::num_replicas)
      .def_property_readonly("autoscale_enabled", &AksWebservice::autoscale_enabled)
      .def_property_readonly("cpu_cores", &AksWebservice::cpu_cores)
      .def_property_readonly("memory_gb", &AksWebservice::memory_gb);
}

}  // namespace amlcore::python
