#include "amlcore/dataset.h"

#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "amlcore/datastore.h"
#include "client/connection.h"
#include "client/data_paths.h"
#include "client/model_management.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/http_types.h"
#include "common/json_fields.h"
#include "domain/data_wire.h"

namespace amlcore {
namespace {
namespace fs = std::filesystem;
using internal::AsUserError;

// The folder two dataset bases share, segment by segment.
std::string CommonBase(const std::string& a, const std::string& b) {
  std::vector<absl::string_view> x = absl::StrSplit(a, '/', absl::SkipEmpty());
  std::vector<absl::string_view> y = absl::StrSplit(b, '/', absl::SkipEmpty());
  std::vector<absl::string_view> shared;
  for (size_t i = 0; i < x.size() && i < y.size() && x[i] == y[i]; ++i) shared.push_back(x[i]);
  return absl::StrJoin(shared, "/");
}

std::string Describe(const std::vector<DatasetPath>& paths) {
  std::vector<std::string> parts;
  for (const DatasetPath& p : paths)
    parts.push_back(absl::StrCat("('", p.datastore, "', '", p.path, "')"));
  return absl::StrJoin(parts, ", ");
}

}  // namespace

namespace internal {
std::string DatasetServicePath(const Workspace& workspace) {
  return absl::StrCat("/dataset/v1.0", workspace.resource_path());
}
}  // namespace internal

class DatasetCodec {
 public:
  static Dataset FromDocument(const Workspace& ws, const domain::DatasetDocument& d) {
    Dataset out(ws);
    out.definition_ = d.definition;
    out.id_ = d.id;
    out.name_ = d.name.value_or("");
    out.version_ = d.version.value_or(0);
    out.description_ = d.description.value_or("");
    out.tags_ = d.tags.value_or(std::map<std::string, std::string>{});
    out.created_time_ = d.created_time;
    return out;
  }

  static absl::StatusOr<Dataset> Call(const Workspace& ws, absl::string_view method,
                                      const std::string& path, const std::string& body = "") {
    internal::CallOptions options;
    options.idempotent = method == "GET";
    auto reply = ws.connection()->Call(method, absl::StrCat(internal::DatasetServicePath(ws), path),
                                       body, options);
    if (!reply.ok()) return AsUserError(reply.status());
    auto d = json::DecodeText<domain::DatasetDocument>(reply->body, "Dataset reply");
    if (!d.ok()) return d.status();
    return FromDocument(ws, *d);
  }

  static absl::StatusOr<Dataset> Create(const Workspace& ws, DatasetDefinition definition,
                                        bool validate) {
    auto checked = domain::CheckDatasetDefinition(std::move(definition));
    if (!checked.ok()) return AsUserError(checked.status());
    Dataset out(ws);
    out.definition_ = std::move(*checked);
    if (validate) {
      auto files = out.Files();
      if (!files.ok()) return files.status();
      if (files->empty()) {
        return AsUserError(absl::InvalidArgumentError(absl::StrCat(
            "Failed to validate the data. No file was found at ", Describe(out.definition_.paths),
            "; upload the data first (datastore.upload), or pass validate=False.")));
      }
    }
    return out;
  }
};

absl::StatusOr<Dataset> Dataset::FromFiles(const Workspace& ws, std::vector<DatasetPath> paths,
                                           bool validate) {
  return DatasetCodec::Create(ws, DatasetDefinition{kFile, std::move(paths), std::nullopt},
                              validate);
}

absl::StatusOr<Dataset> Dataset::FromDelimitedFiles(const Workspace& ws,
                                                    std::vector<DatasetPath> paths,
                                                    const DelimitedFilesOptions& options,
                                                    bool validate) {
  return DatasetCodec::Create(ws, DatasetDefinition{kTabular, std::move(paths), options}, validate);
}

absl::StatusOr<Dataset> Dataset::GetByName(const Workspace& ws, absl::string_view name,
                                           std::optional<int64_t> version) {
  std::string path = absl::StrCat("/datasets/", http::UrlEncode(name));
  if (version) absl::StrAppend(&path, "?version=", *version);
  return DatasetCodec::Call(ws, "GET", path);
}

absl::StatusOr<Dataset> Dataset::GetById(const Workspace& ws, absl::string_view id) {
  return DatasetCodec::Call(ws, "GET", absl::StrCat("/saveddatasets/", http::UrlEncode(id)));
}

absl::StatusOr<std::vector<Dataset>> Dataset::List(const Workspace& ws) {
  auto reply =
      ws.connection()->Call("GET", absl::StrCat(internal::DatasetServicePath(ws), "/datasets"));
  if (!reply.ok()) return AsUserError(reply.status());
  auto list = json::DecodeText<domain::DatasetList>(reply->body, "Dataset list");
  if (!list.ok()) return list.status();
  std::vector<Dataset> out;
  for (const auto& d : list->value) out.push_back(DatasetCodec::FromDocument(ws, d));
  return out;
}

absl::StatusOr<Dataset> Dataset::Register(absl::string_view name,
                                          const DatasetRegisterOptions& options) const {
  if (auto s = domain::ValidateDatasetName(name); !s.ok()) return AsUserError(s);
  domain::DatasetRegisterRequest request{std::string(name), options.description, options.tags,
                                         definition_, options.create_new_version};
  return DatasetCodec::Call(workspace_, "POST", "/datasets", json::EncodeText(request));
}

absl::StatusOr<Dataset> Dataset::Save() const {
  if (!id_.empty()) return *this;
  auto saved =
      DatasetCodec::Call(workspace_, "POST", "/saveddatasets", json::EncodeText(definition_));
  if (!saved.ok()) return saved.status();
  // Saving leaves a registration as it is.
  Dataset out = *this;
  out.id_ = saved->id_;
  out.created_time_ = created_time_.empty() ? saved->created_time_ : created_time_;
  return out;
}

absl::StatusOr<std::vector<DatasetFile>> Dataset::Files() const {
  struct Matched {
    DatasetPath spec;
    std::string base;
    std::vector<DatastoreFile> files;
  };
  std::vector<Matched> matched;
  std::optional<std::string> common;
  for (const DatasetPath& spec : definition_.paths) {
    auto store = Datastore::Get(workspace_, spec.datastore);
    if (!store.ok()) return store.status();
    auto listed = store->ListFiles(domain::DatasetPathListingPrefix(spec.path));
    if (!listed.ok()) return listed.status();
    Matched m{spec, "", {}};
    m.files = domain::MatchDatasetPath(spec.path, *listed, &m.base);
    common = common ? CommonBase(*common, m.base) : m.base;
    matched.push_back(std::move(m));
  }
  // Paths are given relative to the folder every path's files are in, as azureml strips their
  // common prefix.
  std::vector<DatasetFile> out;
  std::set<std::pair<std::string, std::string>> seen;
  for (const Matched& m : matched) {
    for (const DatastoreFile& f : m.files) {
      if (!seen.emplace(m.spec.datastore, f.path).second) continue;
      std::string relative = common->empty() ? f.path : f.path.substr(common->size() + 1);
      out.push_back(
          DatasetFile{m.spec.datastore, f.path, absl::StrCat("/", relative), f.sha256, f.size});
    }
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> Dataset::ToPath() const {
  auto files = Files();
  if (!files.ok()) return files.status();
  std::vector<std::string> out;
  for (const DatasetFile& f : *files) out.push_back(f.relative_path);
  return out;
}

absl::StatusOr<std::vector<std::string>> Dataset::Download(absl::string_view target_dir,
                                                           bool overwrite) const {
  auto files = Files();
  if (!files.ok()) return files.status();
  std::error_code ec;
  fs::path base = fs::absolute(fs::path(std::string(target_dir.empty() ? "." : target_dir)), ec)
                      .lexically_normal();
  std::vector<std::string> out;
  // Every collision is found before anything is written.
  for (const DatasetFile& f : *files) {
    if (auto s = CheckContainedPath(f.relative_path.substr(1)); !s.ok()) return AsUserError(s);
    fs::path local = (base / f.relative_path.substr(1)).lexically_normal();
    if (!overwrite && fs::exists(local, ec)) {
      return AsUserError(
          absl::AlreadyExistsError(absl::StrCat("File \"", local.string(),
                                                "\" already exists. Set overwrite=True to "
                                                "overwrite it, or choose an empty target path.")));
    }
    out.push_back(local.string());
  }
  for (size_t i = 0; i < files->size(); ++i) {
    auto data = internal::DownloadBlob(*workspace_.connection(), (*files)[i].sha256);
    if (!data.ok()) return AsUserError(data.status());
    fs::create_directories(fs::path(out[i]).parent_path(), ec);
    if (auto s = WriteFileAtomic(out[i], *data, 0644); !s.ok()) return AsUserError(s);
  }
  return out;
}

}  // namespace amlcore
