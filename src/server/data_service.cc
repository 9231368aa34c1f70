#include "server/data_service.h"

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/json_fields.h"

namespace amlcore::server {
namespace {

constexpr size_t kMaxFilesPerCommit = 100000;

absl::StatusOr<domain::DatastoreDocument> RequireDatastore(absl::string_view name) {
  auto found = domain::FindWorkspaceDatastore(name);
  if (!found) return domain::DatastoreNotFound(name);
  return *found;
}

absl::Status DatasetNotFound(absl::string_view message) {
  return MakeError(absl::StatusCode::kNotFound, "DatasetNotFound", message);
}

domain::DatasetDocument SavedDocument(const SavedDatasetRecord& saved) {
  return domain::DatasetDocument{
      .id = saved.id, .definition = saved.definition, .created_time = saved.created};
}

domain::DatasetDocument RegisteredDocument(const SavedDatasetRecord& saved,
                                           const DatasetRecord& r) {
  domain::DatasetDocument d = SavedDocument(saved);
  d.created_time = r.created;
  d.name = r.name;
  d.version = r.version;
  d.description = r.description;
  d.tags = r.tags;
  return d;
}

// Every ancestor folder of a path ("a/b/c" → "a", "a/b").
std::vector<std::string> Ancestors(const std::string& path) {
  std::vector<std::string> out;
  for (size_t slash = path.find('/'); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    out.push_back(path.substr(0, slash));
  }
  return out;
}

}  // namespace

absl::Status RequireSavedDatasets(Store& store, Tx& tx, int64_t workspace_id,
                                  const std::vector<std::string>& ids) {
  for (const std::string& id : ids) {
    auto found = store.FindSavedDataset(tx, workspace_id, id);
    if (!found.ok()) return found.status();
    if (!found->has_value()) {
      return DatasetNotFound(
          absl::StrCat("Dataset with id ", id, " is not saved in the workspace."));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<domain::DatastoreDocument>> DataService::ListDatastores(
    const WorkspaceKey& key) {
  auto status =
      store_->db().Read([&](Tx& tx) { return RequireWorkspace(*store_, tx, key).status(); });
  if (!status.ok()) return status;
  return domain::WorkspaceDatastores();
}

absl::StatusOr<domain::DatastoreDocument> DataService::GetDatastore(const WorkspaceKey& key,
                                                                    const std::string& name) {
  auto status =
      store_->db().Read([&](Tx& tx) { return RequireWorkspace(*store_, tx, key).status(); });
  if (!status.ok()) return status;
  return RequireDatastore(name);
}

absl::StatusOr<domain::DatastoreDocument> DataService::GetDefaultDatastore(
    const WorkspaceKey& key) {
  return GetDatastore(key, Datastore::kDefaultName);
}

absl::StatusOr<domain::DatastoreFileList> DataService::ListFiles(const WorkspaceKey& key,
                                                                 const std::string& datastore,
                                                                 const std::string& prefix) {
  auto store = RequireDatastore(datastore);
  if (!store.ok()) return store.status();
  domain::DatastoreFileList out;
  auto status = store_->db().Read([&](Tx& tx) -> absl::Status {
    auto ws = RequireWorkspace(*store_, tx, key);
    if (!ws.ok()) return ws.status();
    auto files = store_->ListDatastoreFiles(tx, ws->id, store->name, prefix);
    if (!files.ok()) return files.status();
    out.value = std::move(*files);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<domain::DatastoreCommitResult> DataService::CommitFiles(const WorkspaceKey& key,
                                                                       const std::string& datastore,
                                                                       absl::string_view body) {
  auto store = RequireDatastore(datastore);
  if (!store.ok()) return store.status();
  auto commit =
      json::DecodeText<domain::DatastoreCommit>(body, "Datastore files", {.reject_unknown = true});
  if (!commit.ok()) return Invalid(commit.status().message());
  if (commit->files.size() > kMaxFilesPerCommit) {
    return Invalid(
        absl::StrCat("At most ", kMaxFilesPerCommit, " files can be committed at once."));
  }
  std::set<std::string> paths;
  for (const DatastoreFile& f : commit->files) {
    if (auto s = domain::CheckDatastoreFilePath(f.path); !s.ok()) return Invalid(s.message());
    if (!paths.insert(f.path).second)
      return Invalid(absl::StrCat("The datastore path '", f.path, "' is given twice."));
    if (!BlobStore::IsSha256(f.sha256) || !blobs_->Exists(f.sha256)) {
      return Invalid(absl::StrCat("The content of '", f.path, "' (SHA-256 ", f.sha256,
                                  ") was not uploaded; PUT it to /blobs/<sha256> first."));
    }
    if (f.size < 0) return Invalid(absl::StrCat("The size of '", f.path, "' is negative."));
  }
  for (const std::string& path : paths) {
    for (const std::string& folder : Ancestors(path)) {
      if (paths.count(folder) > 0) {
        return Invalid(
            absl::StrCat("'", folder, "' cannot be both a file and the folder of '", path, "'."));
      }
    }
  }
  domain::DatastoreCommitResult result;
  std::string now = NowTimestamp();
  auto status = store_->db().Transaction([&](Tx& tx) -> absl::Status {
    auto ws = RequireWorkspace(*store_, tx, key);
    if (!ws.ok()) return ws.status();
    for (const DatastoreFile& f : commit->files) {
      // A file where a folder is, or under a file, would make the datastore unreadable as a file
      // tree.
      for (const std::string& folder : Ancestors(f.path)) {
        auto file = store_->FindDatastoreFile(tx, ws->id, store->name, folder);
        if (!file.ok()) return file.status();
        if (file->has_value()) {
          return Invalid(absl::StrCat("'", f.path,
                                      "' cannot be uploaded: the datastore has a file '", folder,
                                      "' where its folder would be."));
        }
      }
      auto under = store_->ListDatastoreFiles(tx, ws->id, store->name, absl::StrCat(f.path, "/"));
      if (!under.ok()) return under.status();
      if (!under->empty()) {
        return Invalid(absl::StrCat(
            "'", f.path, "' cannot be uploaded: it is a folder of the datastore (it holds '",
            under->front().path, "')."));
      }
      auto existing = store_->FindDatastoreFile(tx, ws->id, store->name, f.path);
      if (!existing.ok()) return existing.status();
      if (existing->has_value() && !commit->overwrite) {
        result.skipped.push_back(f.path);
        continue;
      }
      DatastoreFile stored = f;
      stored.modified_time = now;
      if (auto s = store_->PutDatastoreFile(tx, ws->id, store->name, stored); !s.ok()) return s;
      result.uploaded.push_back(f.path);
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

absl::StatusOr<SavedDatasetRecord> DataService::Save(Tx& tx, int64_t workspace_id,
                                                     DatasetDefinition definition) {
  auto checked = domain::CheckDatasetDefinition(std::move(definition));
  if (!checked.ok()) return Invalid(checked.status().message());
  for (DatasetPath& p : checked->paths) {
    auto store = RequireDatastore(p.datastore);
    if (!store.ok()) return store.status();
    p.datastore = store->name;  // as the workspace spells it
  }
  SavedDatasetRecord record{domain::SavedDatasetId(workspace_id, *checked), workspace_id, *checked,
                            NowTimestamp()};
  if (auto s = store_->PutSavedDataset(tx, record); !s.ok()) return s;
  auto saved = store_->FindSavedDataset(tx, workspace_id, record.id);
  if (!saved.ok()) return saved.status();
  if (!saved->has_value())
    return absl::InternalError("A saved dataset was not found right after saving it.");
  return **saved;
}

absl::StatusOr<domain::DatasetDocument> DataService::SaveDataset(const WorkspaceKey& key,
                                                                 absl::string_view body) {
  auto definition =
      json::DecodeText<DatasetDefinition>(body, "Dataset definition", {.reject_unknown = true});
  if (!definition.ok()) return Invalid(definition.status().message());
  domain::DatasetDocument out;
  auto status = store_->db().Transaction([&](Tx& tx) -> absl::Status {
    auto ws = RequireWorkspace(*store_, tx, key);
    if (!ws.ok()) return ws.status();
    auto saved = Save(tx, ws->id, std::move(*definition));
    if (!saved.ok()) return saved.status();
    out = SavedDocument(*saved);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<domain::DatasetDocument> DataService::GetSavedDataset(const WorkspaceKey& key,
                                                                     const std::string& id) {
  domain::DatasetDocument out;
  auto status = store_->db().Read([&](Tx& tx) -> absl::Status {
    auto ws = RequireWorkspace(*store_, tx, key);
    if (!ws.ok()) return ws.status();
    auto saved = store_->FindSavedDataset(tx, ws->id, id);
    if (!saved.ok()) return saved.status();
    if (!saved->has_value()) {
      return DatasetNotFound(
          absl::StrCat("Dataset with id ", id, " is not saved in the workspace."));
    }
    auto registration = store_->LatestRegistrationOf(tx, ws->id, id);
    if (!registration.ok()) return registration.status();
    out = registration->has_value() ? RegisteredDocument(**saved, **registration)
                                    : SavedDocument(**saved);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<domain::DatasetDocument> DataService::RegisterDataset(const WorkspaceKey& key,
                                                                     absl::string_view body) {
  auto request = json::DecodeText<domain::DatasetRegisterRequest>(body, "Dataset registration",
                                                                  {.reject_unknown = true});
  if (!request.ok()) return Invalid(request.status().message());
  if (auto s = domain::ValidateDatasetName(request->name); !s.ok()) return Invalid(s.message());
  domain::DatasetDocument out;
  auto status = store_->db().Transaction([&](Tx& tx) -> absl::Status {
    auto ws = RequireWorkspace(*store_, tx, key);
    if (!ws.ok()) return ws.status();
    auto saved = Save(tx, ws->id, request->definition);
    if (!saved.ok()) return saved.status();
    auto latest = store_->FindDataset(tx, ws->id, request->name, 0);
    if (!latest.ok()) return latest.status();
    int64_t version = 1;
    if (latest->has_value()) {
      const DatasetRecord& previous = **latest;
      // The same definition again is the registration it already has.
      if (previous.saved_id == saved->id) {
        out = RegisteredDocument(*saved, previous);
        return absl::OkStatus();
      }
      if (!request->create_new_version) {
        return Conflict("DatasetAlreadyExists", domain::DatasetNameTakenMessage(request->name));
      }
      auto previous_saved = store_->FindSavedDataset(tx, ws->id, previous.saved_id);
      if (!previous_saved.ok()) return previous_saved.status();
      if (previous_saved->has_value() &&
          (*previous_saved)->definition.dataset_type != saved->definition.dataset_type) {
        return Conflict("DatasetTypeConflict", domain::DatasetTypeTakenMessage(
                                                   (*previous_saved)->definition.dataset_type,
                                                   request->name, saved->definition.dataset_type));
      }
      version = previous.version + 1;
    }
    DatasetRecord record{0,
                         ws->id,
                         request->name,
                         version,
                         saved->id,
                         request->description,
                         request->tags,
                         NowTimestamp()};
    auto id = store_->InsertDataset(tx, record);
    if (!id.ok()) return id.status();
    record.id = *id;
    out = RegisteredDocument(*saved, record);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<domain::DatasetDocument> DataService::GetDataset(const WorkspaceKey& key,
                                                                const std::string& name,
                                                                int64_t version) {
  domain::DatasetDocument out;
  auto status = store_->db().Read([&](Tx& tx) -> absl::Status {
    auto ws = RequireWorkspace(*store_, tx, key);
    if (!ws.ok()) return ws.status();
    auto found = store_->FindDataset(tx, ws->id, name, version);
    if (!found.ok()) return found.status();
    if (!found->has_value()) {
      if (version > 0) {
        auto any = store_->FindDataset(tx, ws->id, name, 0);
        if (any.ok() && any->has_value()) {
          return DatasetNotFound(absl::StrCat("Dataset with name \"", name, "\" has no version ",
                                              version, " in the workspace; its latest version is ",
                                              (*any)->version, "."));
        }
      }
      return DatasetNotFound(domain::DatasetNotRegisteredMessage(name));
    }
    auto saved = store_->FindSavedDataset(tx, ws->id, (*found)->saved_id);
    if (!saved.ok()) return saved.status();
    if (!saved->has_value())
      return absl::InternalError(absl::StrCat("Dataset ", name, " lost its definition."));
    out = RegisteredDocument(**saved, **found);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<domain::DatasetList> DataService::ListDatasets(const WorkspaceKey& key) {
  domain::DatasetList out;
  auto status = store_->db().Read([&](Tx& tx) -> absl::Status {
    auto ws = RequireWorkspace(*store_, tx, key);
    if (!ws.ok()) return ws.status();
    auto all = store_->ListLatestDatasets(tx, ws->id);
    if (!all.ok()) return all.status();
    for (const DatasetRecord& r : *all) {
      auto saved = store_->FindSavedDataset(tx, ws->id, r.saved_id);
      if (!saved.ok()) return saved.status();
      if (saved->has_value()) out.value.push_back(RegisteredDocument(**saved, r));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return out;
}

}  // namespace amlcore::server
