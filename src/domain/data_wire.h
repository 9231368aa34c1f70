// Datastores and datasets as the SDK and the server share them: the JSON documents of their REST
// API (one codec each), the rules for datastore paths, how a dataset path names files, and the
// checks of a dataset definition.
#ifndef AMLCORE_DOMAIN_DATA_WIRE_H_
#define AMLCORE_DOMAIN_DATA_WIRE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "amlcore/dataset.h"
#include "amlcore/datastore.h"
#include "common/json_fields.h"

namespace amlcore {

// The public structs' fields on the wire (found by argument-dependent lookup, so they live in their
// namespace).
constexpr auto JsonFields(const DatastoreFile*) {
  return json::Fields(json::Field("path", &DatastoreFile::path),
                      json::Field("sha256", &DatastoreFile::sha256),
                      json::Field("size", &DatastoreFile::size),
                      json::Field("modifiedTime", &DatastoreFile::modified_time));
}
constexpr auto JsonFields(const DatasetPath*) {
  return json::Fields(json::Field("datastoreName", &DatasetPath::datastore),
                      json::Field("path", &DatasetPath::path));
}
constexpr auto JsonFields(const DelimitedFilesOptions*) {
  return json::Fields(json::Field("separator", &DelimitedFilesOptions::separator),
                      json::Field("header", &DelimitedFilesOptions::header),
                      json::Field("encoding", &DelimitedFilesOptions::encoding),
                      json::Field("includePath", &DelimitedFilesOptions::include_path),
                      json::Field("inferColumnTypes", &DelimitedFilesOptions::infer_column_types),
                      json::Field("supportMultiLine", &DelimitedFilesOptions::support_multi_line),
                      json::Field("emptyAsString", &DelimitedFilesOptions::empty_as_string));
}
constexpr auto JsonFields(const DatasetDefinition*) {
  return json::Fields(json::Field("datasetType", &DatasetDefinition::dataset_type),
                      json::Field("paths", &DatasetDefinition::paths),
                      json::Field("delimitedFiles", &DatasetDefinition::delimited));
}

}  // namespace amlcore

namespace amlcore::domain {

// ---- Datastores ----

// GET .../datastores/{name}, in the shape of azureml's datastore documents.
struct DatastoreDocument {
  std::string name;
  std::string datastore_type = Datastore::kAzureBlob;
  std::string container_name;
  std::string account_name;
  bool is_default = false;
};
constexpr auto JsonFields(const DatastoreDocument*) {
  return json::Fields(json::Field("name", &DatastoreDocument::name),
                      json::Field("dataStoreType", &DatastoreDocument::datastore_type),
                      json::Field("containerName", &DatastoreDocument::container_name),
                      json::Field("accountName", &DatastoreDocument::account_name),
                      json::Field("isDefault", &DatastoreDocument::is_default));
}

// The datastores every workspace has: the blob store that is its default.
std::vector<DatastoreDocument> WorkspaceDatastores();
// One of them by name (case-insensitive, as Azure's).
std::optional<DatastoreDocument> FindWorkspaceDatastore(absl::string_view name);
// The error for a name that is not one of them.
absl::Status DatastoreNotFound(absl::string_view name);

// GET .../datastores/{name}/files?prefix=
struct DatastoreFileList {
  std::vector<DatastoreFile> value;
};
constexpr auto JsonFields(const DatastoreFileList*) {
  return json::Fields(json::Field("value", &DatastoreFileList::value));
}

// POST .../datastores/{name}/files: files whose content was PUT to /blobs/<sha256> become datastore
// paths, all or none. Existing paths are replaced with `overwrite` and skipped without it.
struct DatastoreCommit {
  std::vector<DatastoreFile> files;
  bool overwrite = false;
};
constexpr auto JsonFields(const DatastoreCommit*) {
  return json::Fields(json::Field("files", &DatastoreCommit::files),
                      json::Field("overwrite", &DatastoreCommit::overwrite));
}
struct DatastoreCommitResult {
  std::vector<std::string> uploaded;
  std::vector<std::string> skipped;
};
constexpr auto JsonFields(const DatastoreCommitResult*) {
  return json::Fields(json::Field("uploaded", &DatastoreCommitResult::uploaded),
                      json::Field("skipped", &DatastoreCommitResult::skipped));
}

// A target path as azureml cleans it: backslashes become '/', leading "./", "../" and "/" are
// dropped, "." segments and repeated or trailing '/' go. A ".." after the start is refused (it
// would leave the datastore). "" is the root.
absl::StatusOr<std::string> NormalizeDatastorePath(absl::string_view path);
// A file's path in a datastore: relative, non-empty, no "." or ".." segments, no empty segments.
absl::Status CheckDatastoreFilePath(absl::string_view path);

// ---- Datasets ----

// Messages azureml raises for dataset arguments.
inline constexpr const char* kInvalidDatasetPathMessage = Dataset::kInvalidPathMessage;
inline constexpr char kEncodings[] =
    "'utf8', 'iso88591', 'latin1', 'ascii', 'utf16', 'utf32', 'utf8bom' and 'windows1252'";

// The checks of a definition that need no server: type, at least one path, clean paths, a tabular
// dataset's header, encoding and separator. Returns the definition with its paths normalized.
absl::StatusOr<DatasetDefinition> CheckDatasetDefinition(DatasetDefinition definition);
// Registration names: 1 to 250 characters, no control characters.
absl::Status ValidateDatasetName(absl::string_view name);
// The id of a saved definition in a workspace: the same definition always gets the same id (a UUID
// made from a hash of the workspace and the definition's JSON).
std::string SavedDatasetId(int64_t workspace_id, const DatasetDefinition& definition);

// A saved dataset, and its registration when it has one (GET .../saveddatasets/{id},
// .../datasets/{name}).
struct DatasetDocument {
  std::string id;
  DatasetDefinition definition;
  std::string created_time;
  std::optional<std::string> name;
  std::optional<int64_t> version;
  std::optional<std::string> description;
  std::optional<std::map<std::string, std::string>> tags;
};
constexpr auto JsonFields(const DatasetDocument*) {
  return json::Fields(json::Field("id", &DatasetDocument::id),
                      json::Field("definition", &DatasetDocument::definition),
                      json::Field("createdTime", &DatasetDocument::created_time),
                      json::Field("name", &DatasetDocument::name),
                      json::Field("version", &DatasetDocument::version),
                      json::Field("description", &DatasetDocument::description),
                      json::Field("tags", &DatasetDocument::tags));
}
struct DatasetList {
  std::vector<DatasetDocument> value;
};
constexpr auto JsonFields(const DatasetList*) {
  return json::Fields(json::Field("value", &DatasetList::value));
}

// POST .../datasets
struct DatasetRegisterRequest {
  std::string name;
  std::string description;
  std::map<std::string, std::string> tags;
  DatasetDefinition definition;
  bool create_new_version = false;
};
constexpr auto JsonFields(const DatasetRegisterRequest*) {
  return json::Fields(json::Field("name", &DatasetRegisterRequest::name),
                      json::Field("description", &DatasetRegisterRequest::description),
                      json::Field("tags", &DatasetRegisterRequest::tags),
                      json::Field("definition", &DatasetRegisterRequest::definition),
                      json::Field("createNewVersion", &DatasetRegisterRequest::create_new_version));
}

// The messages of registration conflicts (azureml's).
std::string DatasetNameTakenMessage(absl::string_view name);
std::string DatasetTypeTakenMessage(absl::string_view existing_type, absl::string_view name,
                                    absl::string_view new_type);
std::string DatasetNotRegisteredMessage(absl::string_view name);

// Which files of a datastore a dataset path names (`files` sorted by path): a file, every file
// under a folder, or what a glob matches. `base` receives the folder the matches are relative to:
// the path's folder for a file, the folder itself, or what precedes a glob's first wildcard.
std::vector<DatastoreFile> MatchDatasetPath(absl::string_view pattern,
                                            const std::vector<DatastoreFile>& files,
                                            std::string* base);
// The part of a dataset path before its first wildcard, cut at a '/': what to list to find its
// matches.
std::string DatasetPathListingPrefix(absl::string_view pattern);

}  // namespace amlcore::domain

#endif  // AMLCORE_DOMAIN_DATA_WIRE_H_
