#include "amlcore/model.h"

#include <cstdlib>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/model_management.h"
#include "client/snapshot.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/json.h"
#include "domain/service_rules.h"
#include "domain/service_wire.h"

namespace amlcore {
namespace {
namespace bj = json::bj;
namespace fs = std::filesystem;
using internal::AsUserError;
using internal::AsWebserviceError;

absl::Status ModelError(absl::Status status) {
  if (absl::IsNotFound(status) && ErrorCodeOf(status) == "ModelNotFound") {
    return WithErrorKind(std::move(status), "model_not_found");
  }
  return AsWebserviceError(std::move(status));
}
}  // namespace

class ModelCodec {
 public:
  static Model FromDocument(const Workspace& ws, const domain::ModelDocument& d) {
    Model m(ws);
    m.name_ = d.name;
    m.version_ = d.version;
    m.tags_ = d.tags;
    m.properties_ = d.properties;
    m.description_ = d.description;
    m.created_time_ = d.created_time;
    m.model_framework_ = d.framework;
    m.model_framework_version_ = d.framework_version;
    m.files_ = d.files;
    m.datasets_ = d.datasets;
    // Written by the server itself; anything else reads as no sample dataset.
    m.sample_input_dataset_id_ = domain::DatasetIdOfUrl(d.sample_input_data).value_or("");
    m.sample_output_dataset_id_ = domain::DatasetIdOfUrl(d.sample_output_data).value_or("");
    m.resource_configuration_ = d.resource_requirements;
    return m;
  }

  static absl::StatusOr<Model> FromBody(const Workspace& ws, const std::string& body) {
    auto object = json::ParseObject(body, "Model reply");
    if (!object.ok()) return object.status();
    auto d = domain::ModelFromJson(*object);
    if (!d.ok()) return d.status();
    return FromDocument(ws, *d);
  }
};

absl::Status Model::ValidateName(absl::string_view name) { return domain::ValidateModelName(name); }

absl::Status ResourceConfiguration::Validate() const {
  return AsWebserviceError(domain::ValidateResourceConfiguration(*this));
}

std::string Model::id() const { return absl::StrCat(name_, ":", version_); }

absl::StatusOr<Model> Model::Register(const Workspace& ws, absl::string_view model_path, absl::string_view model_name,
                                      const ModelRegisterOptions& options) {
  if (auto s = domain::ValidateModelName(model_name); !s.ok()) {
    return AsWebserviceError(MakeError(absl::StatusCode::kInvalidArgument, "ValidationError", s.message()));
  }
  if (auto s = domain::ValidateModelFramework(options.model_framework, options.model_framework_version); !s.ok()) {
    return AsWebserviceError(s);
  }
  if (options.resource_configuration) {
    if (auto s = options.resource_configuration->Validate(); !s.ok()) return s;
  }
  for (const ModelDatasetReference& d : options.datasets) {
    if (d.name.empty() || d.id.empty()) {
      return AsWebserviceError(absl::InvalidArgumentError(
          "A model's dataset reference needs a name (what the dataset was for) and a saved dataset's id."));
    }
  }
  std::error_code ec;
  fs::path root = fs::path(std::string(model_path)).lexically_normal();
  if (root.has_filename() == false) root = root.parent_path();
  if (!fs::exists(root, ec)) {
    return AsUserError(absl::InvalidArgumentError(
        absl::StrCat("Error, provided model path \"", model_path, "\" cannot be found.")));
  }
  std::string root_name = fs::absolute(root).filename().string();
  // The files, with paths that start at the root entry's own name.
  std::vector<std::pair<std::string, fs::path>> files;
  if (fs::is_directory(root, ec)) {
    auto found = internal::WalkForUpload(root.string(), {"model folder", "copy the file into the folder instead"},
                                         [](const std::string&, bool) { return false; });
    if (!found.ok()) return AsUserError(found.status());
    for (const internal::UploadEntry& entry : *found) {
      if (!entry.directory) files.emplace_back(absl::StrCat(root_name, "/", entry.relative), entry.path);
    }
    if (files.empty()) {
      return AsUserError(absl::InvalidArgumentError(absl::StrCat("The model folder ", model_path, " holds no files.")));
    }
  } else {
    files.emplace_back(root_name, root);
  }
  bj::array entries;
  for (const auto& [relative, path] : files) {
    auto data = ReadFile(path.string());
    if (!data.ok()) return AsUserError(data.status());
    auto sha = internal::UploadBlob(*ws.connection(), *data);
    if (!sha.ok()) return AsWebserviceError(sha.status());
    entries.push_back(bj::object{{"path", relative}, {"sha256", *sha}, {"size", static_cast<int64_t>(data->size())}});
  }
  bj::object body{{"name", json::Bj(model_name)},
                  {"description", options.description},
                  {"kvTags", domain::TagsToJson(options.tags)},
                  {"properties", domain::TagsToJson(options.properties)},
                  {"framework", options.model_framework},
                  {"frameworkVersion", options.model_framework_version},
                  {"files", std::move(entries)},
                  {"datasets", json::Encode(options.datasets)},
                  {"sampleInputData", domain::DatasetUrl(options.sample_input_dataset_id)},
                  {"sampleOutputData", domain::DatasetUrl(options.sample_output_dataset_id)},
                  {"resourceRequirements", json::Encode(options.resource_configuration)}};
  internal::CallOptions call;
  call.idempotent = false;
  auto reply = ws.connection()->Call("POST", absl::StrCat(internal::ModelManagementPath(ws), "/models"),
                                     json::Serialize(body), call);
  if (!reply.ok()) return ModelError(reply.status());
  return ModelCodec::FromBody(ws, reply->body);
}

absl::StatusOr<Model> Model::GetById(const Workspace& ws, absl::string_view id) {
  auto reply = ws.connection()->Call(
      "GET", absl::StrCat(internal::ModelManagementPath(ws), "/models/", http::UrlEncode(id)));
  if (!reply.ok()) return ModelError(reply.status());
  return ModelCodec::FromBody(ws, reply->body);
}

absl::StatusOr<Model> Model::Get(const Workspace& ws, absl::string_view name, std::optional<int64_t> version) {
  return GetById(ws, version ? absl::StrCat(name, ":", *version) : std::string(name));
}

absl::StatusOr<std::vector<Model>> Model::List(const Workspace& ws, const ModelListOptions& options) {
  std::vector<std::string> properties;
  for (const auto& [k, v] : options.properties) properties.push_back(absl::StrCat(k, "=", v));
  std::string query = absl::StrCat("?name=", http::UrlEncode(options.name),
                                   "&tags=", http::UrlEncode(absl::StrJoin(options.tags, ",")),
                                   "&properties=", http::UrlEncode(absl::StrJoin(properties, ",")),
                                   "&latestVersionOnly=", options.latest ? "true" : "false");
  auto reply = ws.connection()->Call("GET", absl::StrCat(internal::ModelManagementPath(ws), "/models", query));
  if (!reply.ok()) return ModelError(reply.status());
  auto object = json::ParseObject(reply->body, "Model list");
  if (!object.ok()) return object.status();
  std::vector<Model> out;
  if (const bj::value* value = object->if_contains("value"); value && value->is_array()) {
    for (const auto& item : value->as_array()) {
      auto model = ModelCodec::FromBody(ws, json::Serialize(item));
      if (!model.ok()) return model.status();
      out.push_back(std::move(*model));
    }
  }
  return out;
}

absl::StatusOr<std::string> Model::GetModelPath(absl::string_view model_name, std::optional<int64_t> version) {
  const char* app_root = std::getenv("AML_APP_ROOT");
  fs::path models = fs::path(app_root != nullptr && *app_root != '\0' ? app_root : ".") / "azureml-models" /
                    std::string(model_name);
  std::error_code ec;
  auto not_found = [&] {
    return WithErrorKind(MakeError(absl::StatusCode::kNotFound, "ModelNotFound",
                                   absl::StrCat("Model not found in cache or in root at ", models.string(), ".")),
                         "model_not_found");
  };
  fs::path dir;
  if (version) {
    dir = models / std::to_string(*version);
  } else {
    int64_t best = 0;
    for (const auto& entry : fs::directory_iterator(models, ec)) {
      int64_t v = 0;
      if (entry.is_directory() && absl::SimpleAtoi(entry.path().filename().string(), &v) && v > best) best = v;
    }
    if (best == 0) return not_found();
    dir = models / std::to_string(best);
  }
  std::vector<fs::path> entries;
  for (const auto& entry : fs::directory_iterator(dir, ec)) entries.push_back(entry.path());
  if (ec || entries.empty()) return not_found();
  if (entries.size() > 1) {
    return WithErrorKind(
        absl::FailedPreconditionError(absl::StrCat("The model directory ", dir.string(), " holds ", entries.size(),
                                                   " entries; a model has exactly one.")),
        "model_not_found");
  }
  return entries.front().string();
}

absl::StatusOr<std::string> Model::Download(absl::string_view target_dir, bool exist_ok) const {
  fs::path base(target_dir.empty() ? std::string(".") : std::string(target_dir));
  std::string root;
  for (const auto& f : files_) {
    fs::path target = base / f.path;
    if (root.empty()) root = (base / f.path.substr(0, f.path.find('/'))).string();
    if (fs::exists(target) && !exist_ok) {
      return AsWebserviceError(absl::AlreadyExistsError(
          absl::StrCat("File ", target.string(), " already exists. To overwrite, set exist_ok to True.")));
    }
  }
  for (const auto& f : files_) {
    auto data = internal::DownloadBlob(*workspace_.connection(), f.sha256);
    if (!data.ok()) return AsWebserviceError(data.status());
    fs::path target = base / f.path;
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    if (auto s = WriteFileAtomic(target.string(), *data, 0644); !s.ok()) return AsUserError(s);
  }
  return root;
}

absl::Status Model::Delete() const {
  auto reply = workspace_.connection()->Call(
      "DELETE", absl::StrCat(internal::ModelManagementPath(workspace_), "/models/", http::UrlEncode(id())), "",
      {.idempotent = false});
  return reply.ok() ? absl::OkStatus() : ModelError(reply.status());
}

}  // namespace amlcore
