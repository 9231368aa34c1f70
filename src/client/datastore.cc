#include "amlcore/datastore.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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

void Progress(const std::function<void(absl::string_view)>& on_progress, absl::string_view line) {
  if (on_progress) on_progress(line);
}

// The folder all `paths` are in (for one file, its own folder).
fs::path CommonFolder(const std::vector<fs::path>& paths) {
  if (paths.empty()) return fs::path();
  fs::path common = paths.front().parent_path();
  for (const fs::path& p : paths) {
    fs::path parent = p.parent_path();
    fs::path shared;
    auto a = common.begin(), b = parent.begin();
    for (; a != common.end() && b != parent.end() && *a == *b; ++a, ++b) shared /= *a;
    common = shared;
  }
  return common;
}

// Whether `path` lies under `folder` (both absolute and normal).
bool Inside(const fs::path& path, const fs::path& folder) {
  auto a = folder.begin(), b = path.begin();
  for (; a != folder.end(); ++a, ++b) {
    if (a->empty()) continue;  // a trailing separator
    if (b == path.end() || *a != *b) return false;
  }
  return true;
}

fs::path Absolute(absl::string_view path) {
  std::error_code ec;
  fs::path p = fs::absolute(fs::path(std::string(path)), ec).lexically_normal();
  if (!p.has_filename() && p.has_parent_path() && p != p.root_path()) p = p.parent_path();
  return p;
}

}  // namespace

class DatastoreCodec {
 public:
  static Datastore FromDocument(const Workspace& ws, const domain::DatastoreDocument& d) {
    Datastore s(ws);
    s.name_ = d.name;
    s.datastore_type_ = d.datastore_type;
    s.container_name_ = d.container_name;
    s.account_name_ = d.account_name;
    s.is_default_ = d.is_default;
    return s;
  }

  static absl::StatusOr<Datastore> Fetch(const Workspace& ws, const std::string& path) {
    auto reply = ws.connection()->Call("GET", absl::StrCat(internal::DatastorePath(ws), path));
    if (!reply.ok()) return AsUserError(reply.status());
    auto d = json::DecodeText<domain::DatastoreDocument>(reply->body, "Datastore reply");
    if (!d.ok()) return d.status();
    return FromDocument(ws, *d);
  }

  // Uploads each (local file, datastore path) pair's content, then makes the paths point at it in
  // one commit.
  static absl::StatusOr<int64_t> UploadPairs(
      const Datastore& store, const std::vector<std::pair<fs::path, std::string>>& pairs,
      const DatastoreUploadOptions& options) {
    const auto& progress = options.on_progress;
    int64_t total = static_cast<int64_t>(pairs.size());
    Progress(progress, absl::StrCat("Uploading an estimated of ", total, " files"));
    std::set<std::string> existing;
    if (!options.overwrite && !pairs.empty()) {
      // One listing of the smallest prefix the targets share.
      std::string prefix = pairs.front().second;
      for (const auto& [local, target] : pairs) {
        size_t n = 0;
        while (n < prefix.size() && n < target.size() && prefix[n] == target[n]) ++n;
        prefix.resize(n);
      }
      auto listed = store.ListFiles(prefix);
      if (!listed.ok()) return listed.status();
      for (const DatastoreFile& f : *listed) existing.insert(f.path);
    }
    domain::DatastoreCommit commit{.overwrite = options.overwrite};
    std::vector<std::string> sources;
    int64_t done = 0;
    for (const auto& [local, target] : pairs) {
      if (existing.count(target) > 0) {
        --total;
        Progress(progress, absl::StrCat("Target already exists. Skipping upload for ", target));
        continue;
      }
      Progress(progress, absl::StrCat("Uploading ", local.string()));
      auto data = ReadFile(local.string());
      if (!data.ok()) return AsUserError(data.status());
      auto sha = internal::UploadBlob(*store.workspace().connection(), *data);
      if (!sha.ok()) return AsUserError(sha.status());
      commit.files.push_back(DatastoreFile{target, *sha, static_cast<int64_t>(data->size()), ""});
      sources.push_back(local.string());
      ++done;
      Progress(progress, absl::StrCat("Uploaded ", local.string(), ", ", done,
                                      " files out of an estimated total of ", total));
    }
    int64_t uploaded = 0;
    if (!commit.files.empty()) {
      auto reply = store.workspace().connection()->Call(
          "POST",
          absl::StrCat(internal::DatastorePath(store.workspace()), "/datastores/",
                       http::UrlEncode(store.name()), "/files"),
          json::EncodeText(commit), {.timeout = std::chrono::minutes(5), .idempotent = false});
      if (!reply.ok()) return AsUserError(reply.status());
      auto result =
          json::DecodeText<domain::DatastoreCommitResult>(reply->body, "Datastore commit reply");
      if (!result.ok()) return result.status();
      // Files another client put there in the meantime are kept, as azureml keeps existing ones.
      for (const std::string& skipped : result->skipped) {
        Progress(progress, absl::StrCat("Target already exists. Skipping upload for ", skipped));
      }
      uploaded = static_cast<int64_t>(result->uploaded.size());
    }
    Progress(progress, absl::StrCat("Uploaded ", uploaded, " files"));
    return uploaded;
  }
};

namespace internal {
std::string DatastorePath(const Workspace& workspace) {
  return absl::StrCat("/datastore/v1.0", workspace.resource_path());
}
}  // namespace internal

absl::StatusOr<Datastore> Datastore::Get(const Workspace& ws, absl::string_view name) {
  if (name.empty()) return GetDefault(ws);
  return DatastoreCodec::Fetch(ws, absl::StrCat("/datastores/", http::UrlEncode(name)));
}

absl::StatusOr<Datastore> Datastore::GetDefault(const Workspace& ws) {
  return DatastoreCodec::Fetch(ws, "/default");
}

absl::StatusOr<std::vector<Datastore>> Datastore::List(const Workspace& ws) {
  auto reply =
      ws.connection()->Call("GET", absl::StrCat(internal::DatastorePath(ws), "/datastores"));
  if (!reply.ok()) return AsUserError(reply.status());
  auto parsed = json::Parse(reply->body);
  if (!parsed.ok()) return parsed.status();
  std::vector<domain::DatastoreDocument> documents;
  if (const auto* value =
          parsed->is_object() ? parsed->as_object().if_contains("value") : nullptr) {
    if (auto s = json::Decode(*value, &documents, "value"); !s.ok()) return s;
  }
  std::vector<Datastore> out;
  for (const auto& d : documents) out.push_back(DatastoreCodec::FromDocument(ws, d));
  return out;
}

absl::StatusOr<int64_t> Datastore::Upload(absl::string_view src_dir,
                                          const DatastoreUploadOptions& options) const {
  fs::path root = Absolute(src_dir);
  std::error_code ec;
  if (!fs::is_directory(root, ec))
    return AsUserError(absl::InvalidArgumentError("src_path must be a directory."));
  auto target = domain::NormalizeDatastorePath(options.target_path);
  if (!target.ok()) return AsUserError(target.status());
  // Files only (folders are not kept), links to files as their content; links to folders are not
  // followed, as os.walk does not.
  std::vector<std::pair<fs::path, std::string>> pairs;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::string relative = fs::relative(it->path(), root, ec).generic_string();
    auto path = domain::NormalizeDatastorePath(
        target->empty() ? relative : absl::StrCat(*target, "/", relative));
    if (!path.ok()) return AsUserError(path.status());
    pairs.emplace_back(it->path(), *path);
  }
  if (ec)
    return AsUserError(
        absl::InternalError(absl::StrCat("Cannot read ", root.string(), ": ", ec.message())));
  std::sort(pairs.begin(), pairs.end(),
            [](const auto& a, const auto& b) { return a.second < b.second; });
  return DatastoreCodec::UploadPairs(*this, pairs, options);
}

absl::StatusOr<int64_t> Datastore::UploadFiles(const std::vector<std::string>& files,
                                               const DatastoreUploadOptions& options) const {
  auto target = domain::NormalizeDatastorePath(options.target_path);
  if (!target.ok()) return AsUserError(target.status());
  std::vector<fs::path> absolute;
  for (const std::string& f : files) absolute.push_back(Absolute(f));
  fs::path root =
      options.relative_root.empty() ? CommonFolder(absolute) : Absolute(options.relative_root);
  std::vector<std::pair<fs::path, std::string>> pairs;
  for (size_t i = 0; i < files.size(); ++i) {
    if (!Inside(absolute[i], root)) {
      return AsUserError(absl::InvalidArgumentError(absl::StrCat(
          "relative_root: '", options.relative_root.empty() ? root.string() : options.relative_root,
          "' is not part of the file_path: '", files[i], "'.")));
    }
    std::error_code ec;
    if (!fs::is_regular_file(absolute[i], ec)) {
      return AsUserError(absl::InvalidArgumentError(absl::StrCat(
          "'", files[i],
          "' does not point to a file. Please upload the file to cloud first if running in a cloud "
          "notebook.")));
    }
    std::string relative = absolute[i].lexically_relative(root).generic_string();
    auto path = domain::NormalizeDatastorePath(
        target->empty() ? relative : absl::StrCat(*target, "/", relative));
    if (!path.ok()) return AsUserError(path.status());
    pairs.emplace_back(absolute[i], *path);
  }
  return DatastoreCodec::UploadPairs(*this, pairs, options);
}

absl::StatusOr<std::vector<DatastoreFile>> Datastore::ListFiles(absl::string_view prefix) const {
  auto reply = workspace_.connection()->Call(
      "GET", absl::StrCat(internal::DatastorePath(workspace_), "/datastores/",
                          http::UrlEncode(name_), "/files?prefix=", http::UrlEncode(prefix)));
  if (!reply.ok()) return AsUserError(reply.status());
  auto list = json::DecodeText<domain::DatastoreFileList>(reply->body, "Datastore files reply");
  if (!list.ok()) return list.status();
  return std::move(list->value);
}

absl::StatusOr<int64_t> Datastore::Download(absl::string_view target_path,
                                            const DatastoreDownloadOptions& options) const {
  fs::path target(std::string(target_path.empty() ? "." : target_path));
  std::error_code ec;
  fs::create_directories(target, ec);
  if (ec) {
    return AsUserError(absl::InvalidArgumentError(
        absl::StrCat("Cannot create the folder ", target.string(), ": ", ec.message())));
  }
  auto files = ListFiles(options.prefix);
  if (!files.ok()) return files.status();
  int64_t total = static_cast<int64_t>(files->size());
  int64_t done = 0;
  for (const DatastoreFile& f : *files) {
    if (auto s = CheckContainedPath(f.path); !s.ok()) return AsUserError(s);
    fs::path local = target / f.path;
    if (!options.overwrite && fs::exists(local, ec)) {
      --total;
      Progress(options.on_progress,
               absl::StrCat("Path already exists. Skipping download for ", local.string()));
      continue;
    }
    Progress(options.on_progress, absl::StrCat("Downloading ", f.path));
    auto data = internal::DownloadBlob(*workspace_.connection(), f.sha256);
    if (!data.ok()) return AsUserError(data.status());
    fs::create_directories(local.parent_path(), ec);
    if (auto s = WriteFileAtomic(local.string(), *data, 0644); !s.ok()) return AsUserError(s);
    ++done;
    Progress(options.on_progress, absl::StrCat("Downloaded ", f.path, ", ", done,
                                               " files out of an estimated total of ", total));
  }
  return done;
}

}  // namespace amlcore
