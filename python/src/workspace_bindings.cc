#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "amlcore/compute.h"
#include "amlcore/workspace.h"
#include "python/src/status.h"
#include "python/src/wait.h"

namespace amlcore::python {
namespace py = pybind11;

void DefineWorkspace(py::module_& m) {
  py::class_<Workspace> workspace(m, "Workspace");
  workspace
      .def_static(
          "create",
          [](const std::string& name, const std::string& subscription_id, const std::string& resource_group,
             const std::string& location, bool create_resource_group, bool exist_ok, const std::string& friendly_name,
             const std::string& description, const std::map<std::string, std::string>& tags) {
            WorkspaceCreateOptions options{subscription_id, resource_group, location, create_resource_group,
                                           exist_ok,        friendly_name,  description, tags};
            return ValueOrThrow(WithoutGil([&] { return Workspace::Create(name, options); }));
          },
          py::arg("name"), py::arg("subscription_id") = "", py::arg("resource_group") = "", py::arg("location") = "",
          py::arg("create_resource_group") = true, py::arg("exist_ok") = false, py::arg("friendly_name") = "",
          py::arg("description") = "", py::arg("tags") = std::map<std::string, std::string>{})
      .def_static(
          "get",
          [](const std::string& name, const std::string& subscription_id, const std::string& resource_group) {
            WorkspaceGetOptions options{subscription_id, resource_group};
            return ValueOrThrow(WithoutGil([&] { return Workspace::Get(name, options); }));
          },
          py::arg("name"), py::arg("subscription_id") = "", py::arg("resource_group") = "")
      .def_static(
          "list",
          [](const std::string& subscription_id, const std::string& resource_group) {
            WorkspaceListOptions options{subscription_id, resource_group};
            return ValueOrThrow(WithoutGil([&] { return Workspace::List(options); }));
          },
          py::arg("subscription_id") = "", py::arg("resource_group") = "")
      .def_static(
          "from_config",
          [](const std::string& path, const std::string& file_name) {
            return ValueOrThrow(WithoutGil([&] { return Workspace::FromConfig(path, file_name); }));
          },
          py::arg("path") = "", py::arg("file_name") = "")
      .def_static(
          "find_config_file",
          [](const std::string& path, const std::string& file_name) {
            return ValueOrThrow(Workspace::FindConfigFile(path, file_name));
          },
          py::arg("path") = "", py::arg("file_name") = "")
      .def(
          "write_config",
          [](const Workspace& self, const std::string& path, const std::string& file_name) {
            return ValueOrThrow(self.WriteConfig(path, file_name));
          },
          py::arg("path") = "", py::arg("file_name") = "")
      .def("delete", [](const Workspace& self) { ThrowIfError(WithoutGil([&] { return self.Delete(); })); })
      .def("compute_targets",
           [](const Workspace& self) { return ValueOrThrow(WithoutGil([&] { return self.ComputeTargets(); })); })
      .def_property_readonly("name", &Workspace::name)
      .def_property_readonly("subscription_id", &Workspace::subscription_id)
      .def_property_readonly("resource_group", &Workspace::resource_group)
      .def_property_readonly("location", &Workspace::location)
      .def_property_readonly("friendly_name", &Workspace::friendly_name)
      .def_property_readonly("description", &Workspace::description)
      .def_property_readonly("tags", &Workspace::tags)
      .def_property_readonly("id", &Workspace::id);
  m.attr("DEFAULT_SUBSCRIPTION_ID") = Workspace::kDefaultSubscriptionId;
  m.attr("DEFAULT_RESOURCE_GROUP") = Workspace::kDefaultResourceGroup;
  m.attr("DEFAULT_LOCATION") = Workspace::kDefaultLocation;
}

}  // namespace amlcore::python
