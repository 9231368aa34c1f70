#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "amlcore/config_files.h"
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
  py::class_<AksEndpointVersion> endpoint_version(m, "AksEndpointVersion");
  py::class_<AksEndpointUpdate> endpoint_update(m, "AksEndpointUpdate");
  py::class_<AksEndpoint, AksWebservice, std::shared_ptr<AksEndpoint>> endpoint(m, "AksEndpoint");
  py::class_<AciServiceDeploymentConfiguration> aci_config(m, "AciServiceDeploymentConfiguration");
  py::class_<AciWebservice, Webservice, std::shared_ptr<AciWebservice>> aci(m, "AciWebservice");
  py::class_<AciWebservice::Changes> aci_changes(aci, "Changes");
  py::class_<LocalWebserviceDeploymentConfiguration> local_config(m, "LocalWebserviceDeploymentConfiguration");
  py::class_<LocalWebservice, Webservice, std::shared_ptr<LocalWebservice>> local(m, "LocalWebservice");
  py::class_<LocalWebservice::Changes> local_changes(local, "Changes");

  // Settings by name: the table in src/domain/deploy_settings.cc decides which there are and their types.
  config.def(py::init<>())
      .def_static("settings",
                  [] {
                    std::vector<std::tuple<std::string, std::string, unsigned>> out;
                    for (const auto& s : Config::Settings()) out.emplace_back(s.name, s.kind, s.scopes);
                    return out;
                  })
      .def("get", [](const Config& self, const std::string& name) { return self.Get(name); }, py::arg("name"))
      .def(
          "set",
          [](Config& self, const std::string& name, const DeploySettingValue& value) {
            ThrowIfError(self.Set(name, value));
          },
          py::arg("name"), py::arg("value"))
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
          [](Webservice& self, int64_t num_lines, bool init, bool all_replicas) {
            return ValueOrThrow(WithoutGil([&] { return self.GetLogs(num_lines, init, all_replicas); }));
          },
          py::arg("num_lines"), py::arg("init"), py::arg("all_replicas"))
      .def("get_keys", [](Webservice& self) { return ValueOrThrow(WithoutGil([&] { return self.GetKeys(); })); })
      .def("get_access_token",
           [](Webservice& self) {
             auto token = ValueOrThrow(WithoutGil([&] { return self.GetAccessToken(); }));
             return py::make_tuple(token.access_token, token.token_type, token.refresh_after, token.expiry_on);
           })
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
      .def_property_readonly("endpoint_name", &Webservice::endpoint_name)
      .def_property_readonly("traffic_percentile", &Webservice::traffic_percentile)
      .def_property_readonly("is_default", &Webservice::is_default)
      .def_property_readonly("version_type", &Webservice::version_type)
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

  endpoint_version.def(py::init<>())
      .def_readwrite("config", &AksEndpointVersion::config)
      .def_readwrite("models", &AksEndpointVersion::models)
      .def_readwrite("inference_config", &AksEndpointVersion::inference_config)
      .def_readwrite("is_default", &AksEndpointVersion::is_default)
      .def_readwrite("is_control_version_type", &AksEndpointVersion::is_control_version_type);
  endpoint_update.def(py::init<>())
      .def_readwrite("auth_enabled", &AksEndpointUpdate::auth_enabled)
      .def_readwrite("token_auth_enabled", &AksEndpointUpdate::token_auth_enabled)
      .def_readwrite("enable_app_insights", &AksEndpointUpdate::enable_app_insights)
      .def_readwrite("description", &AksEndpointUpdate::description)
      .def_readwrite("tags", &AksEndpointUpdate::tags)
      .def_readwrite("properties", &AksEndpointUpdate::properties);
  endpoint
      .def_static(
          "deploy",
          [](const Workspace& ws, const std::string& name, const std::vector<Model>& models,
             const InferenceConfig& inference, const Config& config, const AksCompute& target) {
            return ValueOrThrow(WithoutGil([&] { return AksEndpoint::Deploy(ws, name, models, inference, config, target); }));
          },
          py::arg("workspace"), py::arg("name"), py::arg("models"), py::arg("inference_config"), py::arg("config"),
          py::arg("target"))
      .def(
          "create_version",
          [](AksEndpoint& self, const std::string& name, const AksEndpointVersion& v) {
            ThrowIfError(WithoutGil([&] { return self.CreateVersion(name, v); }));
          },
          py::arg("version_name"), py::arg("version"))
      .def(
          "update_version",
          [](AksEndpoint& self, const std::string& name, const AksEndpointVersion& v) {
            ThrowIfError(WithoutGil([&] { return self.UpdateVersion(name, v); }));
          },
          py::arg("version_name"), py::arg("changes"))
      .def(
          "delete_version",
          [](AksEndpoint& self, const std::string& name) {
            ThrowIfError(WithoutGil([&] { return self.DeleteVersion(name); }));
          },
          py::arg("version_name"))
      .def(
          "update_endpoint",
          [](AksEndpoint& self, const AksEndpointUpdate& u) {
            ThrowIfError(WithoutGil([&] { return self.UpdateEndpoint(u); }));
          },
          py::arg("update"))
      .def_property_readonly("versions", [](const AksEndpoint& self) {
        std::vector<std::pair<std::string, std::shared_ptr<AksWebservice>>> out;
        for (const auto& name : self.version_order()) out.emplace_back(name, self.versions().at(name));
        return out;
      });

  // deploymentconfig.json, read by the same parser as the command line's -dc.
  py::class_<DeploymentConfigFile>(m, "DeploymentConfigFile")
      .def_readonly("compute_type", &DeploymentConfigFile::compute_type)
      .def_readonly("aks", &DeploymentConfigFile::aks)
      .def_readonly("aci", &DeploymentConfigFile::aci)
      .def_readonly("local", &DeploymentConfigFile::local);
  m.def("load_deployment_config_file",
        [](const std::string& path) { return ValueOrThrow(LoadDeploymentConfigFile(path)); }, py::arg("path"));

  using AciConfig = AciServiceDeploymentConfiguration;
  aci_config.def(py::init<>())
      .def_readwrite("cpu_cores", &AciConfig::cpu_cores)
      .def_readwrite("memory_gb", &AciConfig::memory_gb)
      .def_readwrite("tags", &AciConfig::tags)
      .def_readwrite("properties", &AciConfig::properties)
      .def_readwrite("description", &AciConfig::description)
      .def_readwrite("location", &AciConfig::location)
      .def_readwrite("auth_enabled", &AciConfig::auth_enabled)
      .def_readwrite("ssl_enabled", &AciConfig::ssl_enabled)
      .def_readwrite("enable_app_insights", &AciConfig::enable_app_insights)
      .def_readwrite("ssl_cert_pem_file", &AciConfig::ssl_cert_pem_file)
      .def_readwrite("ssl_key_pem_file", &AciConfig::ssl_key_pem_file)
      .def_readwrite("ssl_cname", &AciConfig::ssl_cname)
      .def_readwrite("dns_name_label", &AciConfig::dns_name_label)
      .def_readwrite("primary_key", &AciConfig::primary_key)
      .def_readwrite("secondary_key", &AciConfig::secondary_key)
      .def_readwrite("collect_model_data", &AciConfig::collect_model_data)
      .def_readwrite("cmk_vault_base_url", &AciConfig::cmk_vault_base_url)
      .def_readwrite("cmk_key_name", &AciConfig::cmk_key_name)
      .def_readwrite("cmk_key_version", &AciConfig::cmk_key_version)
      .def_readwrite("vnet_name", &AciConfig::vnet_name)
      .def_readwrite("subnet_name", &AciConfig::subnet_name)
      .def("validate", [](const AciConfig& self) { ThrowIfError(self.Validate()); });
  aci_changes.def(py::init<>())
      .def_readwrite("tags", &AciWebservice::Changes::tags)
      .def_readwrite("properties", &AciWebservice::Changes::properties)
      .def_readwrite("description", &AciWebservice::Changes::description)
      .def_readwrite("auth_enabled", &AciWebservice::Changes::auth_enabled)
      .def_readwrite("ssl_enabled", &AciWebservice::Changes::ssl_enabled)
      .def_readwrite("ssl_cert_pem_file", &AciWebservice::Changes::ssl_cert_pem_file)
      .def_readwrite("ssl_key_pem_file", &AciWebservice::Changes::ssl_key_pem_file)
      .def_readwrite("ssl_cname", &AciWebservice::Changes::ssl_cname)
      .def_readwrite("enable_app_insights", &AciWebservice::Changes::enable_app_insights)
      .def_readwrite("models", &AciWebservice::Changes::models)
      .def_readwrite("inference_config", &AciWebservice::Changes::inference_config);
  aci.def_static(
         "deploy",
         [](const Workspace& ws, const std::string& name, const std::vector<Model>& models,
            const InferenceConfig& inference, const AciConfig& config, bool overwrite) {
           return ValueOrThrow(
               WithoutGil([&] { return AciWebservice::Deploy(ws, name, models, inference, config, overwrite); }));
         },
         py::arg("workspace"), py::arg("name"), py::arg("models"), py::arg("inference_config"), py::arg("config"),
         py::arg("overwrite"))
      .def("update",
           [](AciWebservice& self, const AciWebservice::Changes& c) {
             ThrowIfError(WithoutGil([&] { return self.Update(c); }));
           })
      .def_property_readonly("cpu_cores", &AciWebservice::cpu_cores)
      .def_property_readonly("memory_gb", &AciWebservice::memory_gb)
      .def_property_readonly("location", &AciWebservice::location)
      .def_property_readonly("ssl_enabled", &AciWebservice::ssl_enabled)
      .def_property_readonly("cname", &AciWebservice::cname)
      .def_property_readonly("dns_name_label", &AciWebservice::dns_name_label)
      .def_property_readonly("public_fqdn", &AciWebservice::public_fqdn)
      .def_property_readonly("enable_app_insights", &AciWebservice::enable_app_insights);

  local_config.def(py::init<>())
      .def_readwrite("port", &LocalWebserviceDeploymentConfiguration::port)
      .def("validate", [](const LocalWebserviceDeploymentConfiguration& self) { ThrowIfError(self.Validate()); });
  local_changes.def(py::init<>())
      .def_readwrite("models", &LocalWebservice::Changes::models)
      .def_readwrite("inference_config", &LocalWebservice::Changes::inference_config)
      .def_readwrite("deployment_config", &LocalWebservice::Changes::deployment_config);
  local
      .def_static(
          "deploy",
          [](const Workspace& ws, const std::string& name, const std::vector<Model>& models,
             const InferenceConfig& inference, const LocalWebserviceDeploymentConfiguration& config, bool overwrite) {
            return ValueOrThrow(
                WithoutGil([&] { return LocalWebservice::Deploy(ws, name, models, inference, config, overwrite); }));
          },
          py::arg("workspace"), py::arg("name"), py::arg("models"), py::arg("inference_config"), py::arg("config"),
          py::arg("overwrite"))
      .def("update",
           [](LocalWebservice& self, const LocalWebservice::Changes& c) {
             ThrowIfError(WithoutGil([&] { return self.Update(c); }));
           })
      .def("reload", [](LocalWebservice& self) { ThrowIfError(WithoutGil([&] { return self.Reload(); })); })
      .def_property_readonly("port", &LocalWebservice::port);
}

}  // namespace amlcore::python
