#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "amlcore/dataset.h"
#include "amlcore/datastore.h"
#include "python/src/status.h"
#include "python/src/wait.h"

namespace amlcore::python {
namespace py = pybind11;

namespace {
using PathPairs = std::vector<std::pair<std::string, std::string>>;

std::vector<DatasetPath> ToDatasetPaths(const PathPairs& pairs) {
  std::vector<DatasetPath> out;
  for (const auto& [datastore, path] : pairs) out.push_back(DatasetPath{datastore, path});
  return out;
}
}  // namespace

void DefineData(py::module_& m) {
  py::class_<DatastoreFile> file(m, "DatastoreFile");
  py::class_<Datastore> datastore(m, "Datastore");
  py::class_<DelimitedFilesOptions> delimited(m, "DelimitedFilesOptions");
  py::class_<DatasetFile> dataset_file(m, "DatasetFile");
  py::class_<Dataset> dataset(m, "Dataset");

  m.attr("DEFAULT_DATASTORE_NAME") = Datastore::kDefaultName;
  m.attr("INVALID_DATASET_PATH_MESSAGE") = Dataset::kInvalidPathMessage;

  file.def_readonly("path", &DatastoreFile::path)
      .def_readonly("sha256", &DatastoreFile::sha256)
      .def_readonly("size", &DatastoreFile::size)
      .def_readonly("modified_time", &DatastoreFile::modified_time);

  datastore
      .def_static(
          "get",
          [](const Workspace& ws, const std::string& name) {
            return ValueOrThrow(WithoutGil([&] { return Datastore::Get(ws, name); }));
          },
          py::arg("workspace"), py::arg("name"))
      .def_static(
          "get_default",
          [](const Workspace& ws) {
            return ValueOrThrow(WithoutGil([&] { return Datastore::GetDefault(ws); }));
          },
          py::arg("workspace"))
      .def_static(
          "list",
          [](const Workspace& ws) {
            return ValueOrThrow(WithoutGil([&] { return Datastore::List(ws); }));
          },
          py::arg("workspace"))
      .def(
          "upload",
          [](const Datastore& self, const std::string& src_dir, const std::string& target_path,
             bool overwrite, bool show_progress) {
            DatastoreUploadOptions options{.target_path = target_path,
                                           .overwrite = overwrite,
                                           .on_progress = PrintLines(show_progress)};
            return ValueOrThrow(WithoutGil([&] { return self.Upload(src_dir, options); }));
          },
          py::arg("src_dir"), py::arg("target_path"), py::arg("overwrite"),
          py::arg("show_progress"))
      .def(
          "upload_files",
          [](const Datastore& self, const std::vector<std::string>& files,
             const std::string& relative_root, const std::string& target_path, bool overwrite,
             bool show_progress) {
            DatastoreUploadOptions options{.target_path = target_path,
                                           .relative_root = relative_root,
                                           .overwrite = overwrite,
                                           .on_progress = PrintLines(show_progress)};
            return ValueOrThrow(WithoutGil([&] { return self.UploadFiles(files, options); }));
          },
          py::arg("files"), py::arg("relative_root"), py::arg("target_path"), py::arg("overwrite"),
          py::arg("show_progress"))
      .def(
          "list_files",
          [](const Datastore& self, const std::string& prefix) {
            return ValueOrThrow(WithoutGil([&] { return self.ListFiles(prefix); }));
          },
          py::arg("prefix") = "")
      .def(
          "download",
          [](const Datastore& self, const std::string& target_path, const std::string& prefix,
             bool overwrite, bool show_progress) {
            DatastoreDownloadOptions options{prefix, overwrite, PrintLines(show_progress)};
            return ValueOrThrow(WithoutGil([&] { return self.Download(target_path, options); }));
          },
          py::arg("target_path"), py::arg("prefix"), py::arg("overwrite"), py::arg("show_progress"))
      .def_property_readonly("workspace", &Datastore::workspace)
      .def_property_readonly("name", &Datastore::name)
      .def_property_readonly("datastore_type", &Datastore::datastore_type)
      .def_property_readonly("container_name", &Datastore::container_name)
      .def_property_readonly("account_name", &Datastore::account_name)
      .def_property_readonly("is_default", &Datastore::is_default);

  delimited.def(py::init<>())
      .def_readwrite("separator", &DelimitedFilesOptions::separator)
      .def_readwrite("header", &DelimitedFilesOptions::header)
      .def_readwrite("encoding", &DelimitedFilesOptions::encoding)
      .def_readwrite("include_path", &DelimitedFilesOptions::include_path)
      .def_readwrite("infer_column_types", &DelimitedFilesOptions::infer_column_types)
      .def_readwrite("support_multi_line", &DelimitedFilesOptions::support_multi_line)
      .def_readwrite("empty_as_string", &DelimitedFilesOptions::empty_as_string);

  dataset_file.def_readonly("datastore", &DatasetFile::datastore)
      .def_readonly("path", &DatasetFile::path)
      .def_readonly("relative_path", &DatasetFile::relative_path)
      .def_readonly("sha256", &DatasetFile::sha256)
      .def_readonly("size", &DatasetFile::size);

  dataset
      .def_static(
          "from_files",
          [](const Workspace& ws, const PathPairs& paths, bool validate) {
            return ValueOrThrow(WithoutGil(
                [&] { return Dataset::FromFiles(ws, ToDatasetPaths(paths), validate); }));
          },
          py::arg("workspace"), py::arg("paths"), py::arg("validate"))
      .def_static(
          "from_delimited_files",
          [](const Workspace& ws, const PathPairs& paths, const DelimitedFilesOptions& options,
             bool validate) {
            return ValueOrThrow(WithoutGil([&] {
              return Dataset::FromDelimitedFiles(ws, ToDatasetPaths(paths), options, validate);
            }));
          },
          py::arg("workspace"), py::arg("paths"), py::arg("options"), py::arg("validate"))
      .def_static(
          "get_by_name",
          [](const Workspace& ws, const std::string& name, std::optional<int64_t> version) {
            return ValueOrThrow(WithoutGil([&] { return Dataset::GetByName(ws, name, version); }));
          },
          py::arg("workspace"), py::arg("name"), py::arg("version") = py::none())
      .def_static(
          "get_by_id",
          [](const Workspace& ws, const std::string& id) {
            return ValueOrThrow(WithoutGil([&] { return Dataset::GetById(ws, id); }));
          },
          py::arg("workspace"), py::arg("id"))
      .def_static(
          "list",
          [](const Workspace& ws) {
            return ValueOrThrow(WithoutGil([&] { return Dataset::List(ws); }));
          },
          py::arg("workspace"))
      .def(
          "register",
          [](const Dataset& self, const std::string& name, const std::string& description,
             const std::map<std::string, std::string>& tags, bool create_new_version) {
            DatasetRegisterOptions options{description, tags, create_new_version};
            return ValueOrThrow(WithoutGil([&] { return self.Register(name, options); }));
          },
          py::arg("name"), py::arg("description"), py::arg("tags"), py::arg("create_new_version"))
      .def(
          "save",
          [](const Dataset& self) { return ValueOrThrow(WithoutGil([&] { return self.Save(); })); })
      .def("files",
           [](const Dataset& self) {
             return ValueOrThrow(WithoutGil([&] { return self.Files(); }));
           })
      .def("to_path",
           [](const Dataset& self) {
             return ValueOrThrow(WithoutGil([&] { return self.ToPath(); }));
           })
      .def(
          "download",
          [](const Dataset& self, const std::string& target_dir, bool overwrite) {
            return ValueOrThrow(WithoutGil([&] { return self.Download(target_dir, overwrite); }));
          },
          py::arg("target_dir"), py::arg("overwrite"))
      .def_property_readonly("workspace", &Dataset::workspace)
      .def_property_readonly("id", &Dataset::id)
      .def_property_readonly("name", &Dataset::name)
      .def_property_readonly("version", &Dataset::version)
      .def_property_readonly("description", &Dataset::description)
      .def_property_readonly("tags", &Dataset::tags)
      .def_property_readonly("dataset_type", &Dataset::dataset_type)
      .def_property_readonly("created_time", &Dataset::created_time)
      .def_property_readonly("paths",
                             [](const Dataset& self) {
                               PathPairs out;
                               for (const DatasetPath& p : self.definition().paths)
                                 out.emplace_back(p.datastore, p.path);
                               return out;
                             })
      .def_property_readonly("delimited",
                             [](const Dataset& self) { return self.definition().delimited; });
}

}  // namespace amlcore::python
