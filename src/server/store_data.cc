// Store methods for datastores' files, saved datasets and dataset registrations.
#include "absl/strings/str_cat.h"
#include "common/json.h"
#include "common/json_fields.h"
#include "server/store.h"

namespace amlcore::server {
namespace {

constexpr char kFileColumns[] = "path, sha256, size, modified";

DatastoreFile FileFromRow(const Row& r) {
  return DatastoreFile{r.Text(0), r.Text(1), r.Int(2), r.Text(3)};
}

SavedDatasetRecord SavedDatasetFromRow(const Row& r) {
  SavedDatasetRecord d{r.Text(0), r.Int(1), {}, r.Text(3)};
  if (auto parsed = json::Parse(r.Text(2)); parsed.ok()) (void)json::Decode(*parsed, &d.definition);
  return d;
}

constexpr char kDatasetColumns[] =
    "id, workspace_id, name, version, saved_id, description, tags, created";

DatasetRecord DatasetFromRow(const Row& r) {
  return DatasetRecord{
      r.Int(0), r.Int(1), r.Text(2), r.Int(3), r.Text(4), r.Text(5), MapFromText(r.Text(6)),
      r.Text(7)};
}

// LIKE with the prefix's own '%', '_' and '\' taken literally.
std::string LikePrefix(const std::string& prefix) {
  std::string out;
  for (char c : prefix) {
    if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return absl::StrCat(out, "%");
}

}  // namespace

absl::StatusOr<std::vector<DatastoreFile>> Store::ListDatastoreFiles(Tx& tx, int64_t workspace_id,
                                                                     const std::string& datastore,
                                                                     const std::string& prefix) {
  // LIKE ignores case for ASCII; the exact prefix check keeps paths case-sensitive, as blob names
  // are.
  auto all = QueryAll<DatastoreFile>(tx,
                                     absl::StrCat("SELECT ", kFileColumns,
                                                  " FROM datastore_files WHERE workspace_id = ? "
                                                  "AND datastore = ? AND path LIKE ? ESCAPE '\\' "
                                                  "ORDER BY path"),
                                     {workspace_id, datastore, LikePrefix(prefix)}, FileFromRow);
  if (!all.ok()) return all.status();
  std::erase_if(
      *all, [&](const DatastoreFile& f) { return f.path.compare(0, prefix.size(), prefix) != 0; });
  return all;
}

absl::StatusOr<std::optional<DatastoreFile>> Store::FindDatastoreFile(Tx& tx, int64_t workspace_id,
                                                                      const std::string& datastore,
                                                                      const std::string& path) {
  return QueryOne<DatastoreFile>(
      tx,
      absl::StrCat("SELECT ", kFileColumns,
                   " FROM datastore_files WHERE workspace_id = ? AND datastore = ? AND path = ?"),
      {workspace_id, datastore, path}, FileFromRow);
}

absl::Status Store::PutDatastoreFile(Tx& tx, int64_t workspace_id, const std::string& datastore,
                                     const DatastoreFile& f) {
  return tx
      .Execute(
          "INSERT INTO datastore_files (workspace_id, datastore, path, sha256, size, modified) "
          "VALUES (?, ?, ?, ?, ?, ?) "
          "ON CONFLICT (workspace_id, datastore, path) DO UPDATE SET sha256 = excluded.sha256, "
          "size = excluded.size, "
          "modified = excluded.modified",
          {workspace_id, datastore, f.path, f.sha256, f.size, f.modified_time})
      .status();
}

absl::Status Store::PutSavedDataset(Tx& tx, const SavedDatasetRecord& d) {
  return tx
      .Execute(
          "INSERT OR IGNORE INTO saved_datasets (id, workspace_id, definition, created) VALUES (?, "
          "?, ?, ?)",
          {d.id, d.workspace_id, json::EncodeText(d.definition), d.created})
      .status();
}

absl::StatusOr<std::optional<SavedDatasetRecord>> Store::FindSavedDataset(Tx& tx,
                                                                          int64_t workspace_id,
                                                                          const std::string& id) {
  return QueryOne<SavedDatasetRecord>(tx,
                                      "SELECT id, workspace_id, definition, created FROM "
                                      "saved_datasets WHERE workspace_id = ? AND id = ?",
                                      {workspace_id, id}, SavedDatasetFromRow);
}

absl::StatusOr<int64_t> Store::InsertDataset(Tx& tx, const DatasetRecord& d) {
  auto changed = tx.Execute(
      "INSERT INTO datasets (workspace_id, name, version, saved_id, description, tags, created) "
      "VALUES (?, ?, ?, ?, ?, ?, ?)",
      {d.workspace_id, d.name, d.version, d.saved_id, d.description, MapToText(d.tags), d.created});
  if (!changed.ok()) return changed.status();
  return tx.LastInsertId();
}

absl::StatusOr<std::optional<DatasetRecord>> Store::FindDataset(Tx& tx, int64_t workspace_id,
                                                                const std::string& name,
                                                                int64_t version) {
  if (version > 0) {
    return QueryOne<DatasetRecord>(
        tx,
        absl::StrCat("SELECT ", kDatasetColumns,
                     " FROM datasets WHERE workspace_id = ? AND name = ? AND version = ?"),
        {workspace_id, name, version}, DatasetFromRow);
  }
  return QueryOne<DatasetRecord>(
      tx,
      absl::StrCat(
          "SELECT ", kDatasetColumns,
          " FROM datasets WHERE workspace_id = ? AND name = ? ORDER BY version DESC LIMIT 1"),
      {workspace_id, name}, DatasetFromRow);
}

absl::StatusOr<std::vector<DatasetRecord>> Store::ListLatestDatasets(Tx& tx, int64_t workspace_id) {
  return QueryAll<DatasetRecord>(
      tx,
      absl::StrCat("SELECT ", kDatasetColumns,
                   " FROM datasets d WHERE workspace_id = ? AND version = (SELECT MAX(version) "
                   "FROM datasets e "
                   "WHERE e.workspace_id = d.workspace_id AND e.name = d.name) ORDER BY name"),
      {workspace_id}, DatasetFromRow);
}

absl::StatusOr<std::optional<DatasetRecord>> Store::LatestRegistrationOf(
    Tx& tx, int64_t workspace_id, const std::string& saved_id) {
  return QueryOne<DatasetRecord>(
      tx,
      absl::StrCat(
          "SELECT ", kDatasetColumns,
          " FROM datasets WHERE workspace_id = ? AND saved_id = ? ORDER BY id DESC LIMIT 1"),
      {workspace_id, saved_id}, DatasetFromRow);
}

}  // namespace amlcore::server
