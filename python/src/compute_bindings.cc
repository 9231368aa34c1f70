#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "amlcore/compute.h"
#include "python/src/status.h"
#include "python/src/wait.h"

namespace amlcore::python {
namespace py = pybind11;

void DefineCompute(py::module_& m) {
  // Classes first, then their methods, so that signatures can name each other.
  py::class_<SslConfiguration> ssl(m, "SslConfiguration");
  py::class_<AksProvisioningConfiguration> provisioning(m, "AksProvisioningConfiguration");
  py::class_<AksAttachConfiguration> attach(m, "AksAttachConfiguration");
  py::class_<AksUpdateConfiguration> update(m, "AksUpdateConfiguration");
  py::class_<ProvisioningError> error(m, "ProvisioningError");
  py::class_<ComputeTarget, std::shared_ptr<ComputeTarget>> target(m, "ComputeTarget");
  py::class_<AksCompute, ComputeTarget, std::shared_ptr<AksCompute>> aks(m, "AksCompute");

  ssl.def(py::init<>())
      .def_readwrite("status", &SslConfiguration::status)
      .def_readwrite("cert", &SslConfiguration::cert)
      .def_readwrite("key", &SslConfiguration::key)
      .def_readwrite("cname", &SslConfiguration::cname)
      .def_readwrite("leaf_domain_label", &SslConfiguration::leaf_domain_label)
      .def_readwrite("certificate_authority_file", &SslConfiguration::certificate_authority_file)
      .def_readwrite("overwrite_existing_domain", &SslConfiguration::overwrite_existing_domain)
      .def_readwrite("renew", &SslConfiguration::renew);

  provisioning.def(py::init<>())
      .def_readwrite("agent_count", &AksProvisioningConfiguration::agent_count)
      .def_readwrite("vm_size", &AksProvisioningConfiguration::vm_size)
      .def_readwrite("ssl_cname", &AksProvisioningConfiguration::ssl_cname)
      .def_readwrite("ssl_cert_pem_file", &AksProvisioningConfiguration::ssl_cert_pem_file)
      .def_readwrite("ssl_key_pem_file", &AksProvisioningConfiguration::ssl_key_pem_file)
      .def_readwrite("location", &AksProvisioningConfiguration::location)
      .def_readwrite("vnet_resourcegroup_name", &AksProvisioningConfiguration::vnet_resourcegroup_name)
      .def_readwrite("vnet_name", &AksProvisioningConfiguration::vnet_name)
      .def_readwrite("subnet_name", &AksProvisioningConfiguration::subnet_name)
      .def_readwrite("service_cidr", &AksProvisioningConfiguration::service_cidr)
      .def_readwrite("dns_service_ip", &AksProvisioningConfiguration::dns_service_ip)
      .def_readwrite("docker_bridge_cidr", &AksProvisioningConfiguration::docker_bridge_cidr)
      .def_readwrite("cluster_purpose", &AksProvisioningConfiguration::cluster_purpose)
      .def_readwrite("load_balancer_type", &AksProvisioningConfiguration::load_balancer_type)
      .def_readwrite("load_balancer_subnet", &AksProvisioningConfiguration::load_balancer_subnet)
      .def_readwrite("leaf_domain_label", &AksProvisioningConfiguration::leaf_domain_label)
      .def_readwrite("overwrite_existing_domain", &AksProvisioningConfiguration::overwrite_existing_domain)
      .def("validate", [](const AksProvisioningConfiguration& self) { ThrowIfError(self.Validate()); });

  attach.def(py::init<>())
      .def_readwrite("resource_group", &AksAttachConfiguration::resource_group)
      .def_readwrite("cluster_name", &AksAttachConfiguration::cluster_name)
      .def_readwrite("resource_id", &AksAttachConfiguration::resource_id)
      .def_readwrite("cluster_purpose", &AksAttachConfiguration::cluster_purpose)
      .def_readwrite("load_balancer_type", &AksAttachConfiguration::load_balancer_type)
      .def_readwrite("load_balancer_subnet", &AksAttachConfiguration::load_balancer_subnet)
      .def_readwrite("kubeconfig", &AksAttachConfiguration::kubeconfig)
      .def_readwrite("context", &AksAttachConfiguration::context)
      .def_readwrite("namespace", &AksAttachConfiguration::namespace_name)
      .def_readwrite("image", &AksAttachConfiguration::image)
      .def_readwrite("ssl_cname", &AksAttachConfiguration::ssl_cname)
      .def_readwrite("ssl_cert_pem_file", &AksAttachConfiguration::ssl_cert_pem_file)
      .def_readwrite("ssl_key_pem_file", &AksAttachConfiguration::ssl_key_pem_file)
      .def_readwrite("leaf_domain_label", &AksAttachConfiguration::leaf_domain_label)
      .def_readwrite("overwrite_existing_domain", &AksAttachConfiguration::overwrite_existing_domain)
      .def("validate", [](const AksAttachConfiguration& self) { ThrowIfError(self.Validate()); });

  update.def(py::init<>())
      .def_readwrite("ssl_configuration", &AksUpdateConfiguration::ssl_configuration)
      .def_readwrite("load_balancer_type", &AksUpdateConfiguration::load_balancer_type)
      .def_readwrite("load_balancer_subnet", &AksUpdateConfiguration::load_balancer_subnet)
      .def_readwrite("agent_count", &AksUpdateConfiguration::agent_count)
      .def_readwrite("access_log", &AksUpdateConfiguration::access_log)
      .def("validate", [](const AksUpdateConfiguration& self) { ThrowIfError(self.Validate()); });

  error.def_readonly("code", &ProvisioningError::code).def_readonly("message", &ProvisioningError::message);

  target
      .def_static(
          "get",
          [](const Workspace& ws, const std::string& name) {
            return ValueOrThrow(WithoutGil([&] { return ComputeTarget::Get(ws, name); }));
          },
          py::arg("workspace"), py::arg("name"))
      .def_static(
          "list", [](const Workspace& ws) { return ValueOrThrow(WithoutGil([&] { return ComputeTarget::List(ws); })); },
          py::arg("workspace"))
      .def(
          "wait_for_completion",
          [](ComputeTarget& self, bool show_output, bool is_delete_operation, std::optional<double> timeout) {
            PollOptions options = MakePollOptions(show_output, timeout);
            ThrowIfError(WithoutGil([&] { return self.WaitForCompletion(options, is_delete_operation); }));
          },
          py::arg("show_output") = false, py::arg("is_delete_operation") = false, py::arg("timeout") = py::none())
      .def("refresh_state", [](ComputeTarget& self) { ThrowIfError(WithoutGil([&] { return self.RefreshState(); })); })
      .def("get_status", [](ComputeTarget& self) { return ValueOrThrow(WithoutGil([&] { return self.GetStatus(); })); })
      .def("delete", [](ComputeTarget& self) { ThrowIfError(WithoutGil([&] { return self.Delete(); })); })
      .def("detach", [](ComputeTarget& self) { ThrowIfError(WithoutGil([&] { return self.Detach(); })); })
      .def("serialize", &ComputeTarget::Serialize)
      .def_property_readonly("workspace", &ComputeTarget::workspace)
      .def_property_readonly("name", &ComputeTarget::name)
      .def_property_readonly("id", &ComputeTarget::id)
      .def_property_readonly("type", &ComputeTarget::type)
      .def_property_readonly("location", &ComputeTarget::location)
      .def_property_readonly("description", &ComputeTarget::description)
      .def_property_readonly("tags", &ComputeTarget::tags)
      .def_property_readonly("created_on", &ComputeTarget::created_on)
      .def_property_readonly("modified_on", &ComputeTarget::modified_on)
      .def_property_readonly("provisioning_state", &ComputeTarget::provisioning_state)
      .def_property_readonly("provisioning_errors", &ComputeTarget::provisioning_errors)
      .def_property_readonly("cluster_resource_id", &ComputeTarget::cluster_resource_id)
      .def_property_readonly("cluster_location", &ComputeTarget::cluster_location)
      .def_property_readonly("is_attached", &ComputeTarget::is_attached)
      .def_property_readonly("operation_endpoint", &ComputeTarget::operation_endpoint);

  aks.def_static(
         "create",
         [](const Workspace& ws, const std::string& name, const AksProvisioningConfiguration& config) {
           return ValueOrThrow(WithoutGil([&] { return AksCompute::Create(ws, name, config); }));
         },
         py::arg("workspace"), py::arg("name"), py::arg("config"))
      .def_static(
          "attach",
          [](const Workspace& ws, const std::string& name, const AksAttachConfiguration& config) {
            return ValueOrThrow(WithoutGil([&] { return AksCompute::Attach(ws, name, config); }));
          },
          py::arg("workspace"), py::arg("name"), py::arg("config"))
      .def_static(
          "deserialize",
          [](const Workspace& ws, const std::string& text) { return ValueOrThrow(AksCompute::Deserialize(ws, text)); },
          py::arg("workspace"), py::arg("text"))
      .def(
          "update",
          [](AksCompute& self, const AksUpdateConfiguration& config) {
            ThrowIfError(WithoutGil([&] { return self.Update(config); }));
          },
          py::arg("config"))
      .def("get_credentials",
           [](AksCompute& self) { return ValueOrThrow(WithoutGil([&] { return self.GetCredentials(); })); })
      .def_property_readonly("agent_count", &AksCompute::agent_count)
      .def_property_readonly("access_log", &AksCompute::access_log)
      .def_property_readonly("agent_vm_size", &AksCompute::agent_vm_size)
      .def_property_readonly("cluster_purpose", &AksCompute::cluster_purpose)
      .def_property_readonly("cluster_fqdn", &AksCompute::cluster_fqdn)
      .def_property_readonly("ssl_configuration", &AksCompute::ssl_configuration)
      .def_property_readonly("load_balancer_type", &AksCompute::load_balancer_type)
      .def_property_readonly("load_balancer_subnet", &AksCompute::load_balancer_subnet)
      .def_property_readonly("scoring_endpoint", &AksCompute::scoring_endpoint);
}

}  // namespace amlcore::python
