// Datasets: file or tabular views of paths in a workspace's datastores, saved and registered
// (versioned per name) on the workspace server, as azureml's FileDataset and TabularDataset.
//
//   auto csv = amlcore::Dataset::FromDelimitedFiles(ws, {{"workspaceblobstore",
//   "diabetes/*.csv"}}); auto registered = csv->Register("diabetes", {.description = "the diabetes
//   data"}); auto latest = amlcore::Dataset::GetByName(ws, "diabetes");
#ifndef AMLCORE_DATASET_H_
#define AMLCORE_DATASET_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "amlcore/workspace.h"

namespace amlcore {

// A path in a datastore: a file, a folder (every file under it), or a glob ("*" and "?" within a
// folder name,
// "**" across folders).
struct DatasetPath {
  std::string datastore;
  std::string path;
};

// How a tabular dataset reads its delimited files (azureml's from_delimited_files parameters).
struct DelimitedFilesOptions {
  std::string separator = ",";
  // ALL_FILES_HAVE_SAME_HEADERS, NO_HEADERS, ONLY_FIRST_FILE_HAS_HEADERS or
  // COMBINE_ALL_FILES_HEADERS.
  std::string header = "ALL_FILES_HAVE_SAME_HEADERS";
  // utf8, iso88591, latin1, ascii, utf16, utf32, utf8bom or windows1252.
  std::string encoding = "utf8";
  bool include_path = false;
  bool infer_column_types = true;
  bool support_multi_line = false;
  bool empty_as_string = false;
};

// What a dataset is: its type, its paths and, for a tabular one, how its files are read. Saving the
// same definition twice gives the same id.
struct DatasetDefinition {
  std::string dataset_type;  // Dataset::kFile or Dataset::kTabular
  std::vector<DatasetPath> paths;
  std::optional<DelimitedFilesOptions> delimited;  // tabular datasets
};

// A file a dataset names, and where to_path() and Download() put it.
struct DatasetFile {
  std::string datastore;
  std::string path;           // in the datastore
  std::string relative_path;  // "/" + its path below the folder of the dataset path that named it
  std::string sha256;
  int64_t size = 0;
};

struct DatasetRegisterOptions {
  std::string description;
  std::map<std::string, std::string> tags;
  bool create_new_version = false;
};

class Dataset {
 public:
  static constexpr char kFile[] = "File";
  static constexpr char kTabular[] = "Tabular";
  // azureml's message for paths that are not (datastore, path) pairs.
  static constexpr char kInvalidPathMessage[] =
      "Invalid argument type for `path`. It can be single value or a list of: string starting with "
      "\"http://\" or "
      "\"https://\", `azureml.data.datapath.DataPath` object, or tuple of `azureml.core.Datastore` "
      "object and "
      "string for relative path in the datastore.";

  // With `validate`, the paths must name at least one file.
  static absl::StatusOr<Dataset> FromFiles(const Workspace& workspace,
                                           std::vector<DatasetPath> paths, bool validate = true);
  static absl::StatusOr<Dataset> FromDelimitedFiles(const Workspace& workspace,
                                                    std::vector<DatasetPath> paths,
                                                    const DelimitedFilesOptions& options = {},
                                                    bool validate = true);
  // The registered dataset `name` at `version` (the latest when unset).
  static absl::StatusOr<Dataset> GetByName(const Workspace& workspace, absl::string_view name,
                                           std::optional<int64_t> version = std::nullopt);
  // A saved dataset by its id; registered ones come with their (latest) registration.
  static absl::StatusOr<Dataset> GetById(const Workspace& workspace, absl::string_view id);
  // The latest version of every registered dataset, by name.
  static absl::StatusOr<std::vector<Dataset>> List(const Workspace& workspace);

  // Registers the definition under `name` in the dataset's workspace. An existing name needs
  // create_new_version (a new version, unless the latest has this very definition); the same
  // definition again returns the registration it has.
  absl::StatusOr<Dataset> Register(absl::string_view name,
                                   const DatasetRegisterOptions& options = {}) const;
  // Saves the definition on the server (what gives a dataset its id); a saved dataset is returned
  // as it is.
  absl::StatusOr<Dataset> Save() const;

  // The files the dataset names now, in path order.
  absl::StatusOr<std::vector<DatasetFile>> Files() const;
  // Their relative paths ("/a.csv"), as azureml's FileDataset.to_path().
  absl::StatusOr<std::vector<std::string>> ToPath() const;
  // Writes the files under `target_dir` at their relative paths; returns the paths written. An
  // existing file is an error unless `overwrite`.
  absl::StatusOr<std::vector<std::string>> Download(absl::string_view target_dir,
                                                    bool overwrite = false) const;

  const Workspace& workspace() const { return workspace_; }
  const std::string& id() const { return id_; }      // "" until saved
  const std::string& name() const { return name_; }  // "" unless registered
  int64_t version() const { return version_; }       // 0 unless registered
  const std::string& description() const { return description_; }
  const std::map<std::string, std::string>& tags() const { return tags_; }
  const std::string& dataset_type() const { return definition_.dataset_type; }
  const DatasetDefinition& definition() const { return definition_; }
  const std::string& created_time() const { return created_time_; }

 private:
  friend class DatasetCodec;
  explicit Dataset(Workspace workspace) : workspace_(std::move(workspace)) {}

  Workspace workspace_;
  DatasetDefinition definition_;
  std::string id_;
  std::string name_;
  int64_t version_ = 0;
  std::string description_;
  std::map<std::string, std::string> tags_;
  std::string created_time_;
};

}  // namespace amlcore

#endif  // AMLCORE_DATASET_H_
