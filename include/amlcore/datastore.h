// Datastores: named sets of files a workspace keeps. amlcore keeps them on the workspace server,
// content-addressed (each file is a path pointing at a SHA-256 blob), behind the default datastore
// azureml gives every workspace, "workspaceblobstore".
//
//   auto store = amlcore::Datastore::GetDefault(ws);
//   auto uploaded = store->Upload("data", {.target_path = "diabetes", .overwrite = true});
//   auto files = store->ListFiles("diabetes/");
#ifndef AMLCORE_DATASTORE_H_
#define AMLCORE_DATASTORE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "amlcore/workspace.h"

namespace amlcore {

// One file of a datastore.
struct DatastoreFile {
  std::string path;  // '/'-separated, relative to the datastore's root
  std::string sha256;
  int64_t size = 0;
  std::string modified_time;
};

struct DatastoreUploadOptions {
  // Where the files go in the datastore ("" is its root). Leading "./", "../" and "/" are dropped,
  // as azureml does; ".." anywhere else is refused.
  std::string target_path;
  // UploadFiles only: the local folder the files' datastore paths are relative to ("" is their
  // common folder).
  std::string relative_root;
  // Replace files that exist; without it they are skipped (and said so), as in azureml.
  bool overwrite = false;
  // Receives each line azureml prints with show_progress=True.
  std::function<void(absl::string_view line)> on_progress;
};

struct DatastoreDownloadOptions {
  std::string prefix;      // only files whose datastore path starts with it ("" is all)
  bool overwrite = false;  // without it existing local files are kept and skipped
  std::function<void(absl::string_view line)> on_progress;
};

class Datastore {
 public:
  static constexpr char kDefaultName[] = "workspaceblobstore";
  static constexpr char kAzureBlob[] = "AzureBlob";

  // kNotFound ("DatastoreNotFound", a UserErrorException) for a name the workspace does not have.
  static absl::StatusOr<Datastore> Get(const Workspace& workspace, absl::string_view name);
  static absl::StatusOr<Datastore> GetDefault(const Workspace& workspace);
  static absl::StatusOr<std::vector<Datastore>> List(const Workspace& workspace);

  // Uploads every file under the folder `src_dir` (folders themselves are not kept: an empty one
  // uploads nothing); returns how many files were uploaded.
  absl::StatusOr<int64_t> Upload(absl::string_view src_dir,
                                 const DatastoreUploadOptions& options = {}) const;
  // Uploads `files`, each to target_path + its path relative to relative_root.
  absl::StatusOr<int64_t> UploadFiles(const std::vector<std::string>& files,
                                      const DatastoreUploadOptions& options = {}) const;
  // The files whose path starts with `prefix`, by path.
  absl::StatusOr<std::vector<DatastoreFile>> ListFiles(absl::string_view prefix = "") const;
  // Writes the files under `target_path` (created when missing), each at its datastore path;
  // returns how many were written.
  absl::StatusOr<int64_t> Download(absl::string_view target_path,
                                   const DatastoreDownloadOptions& options = {}) const;

  const Workspace& workspace() const { return workspace_; }
  const std::string& name() const { return name_; }
  const std::string& datastore_type() const { return datastore_type_; }
  const std::string& container_name() const { return container_name_; }
  const std::string& account_name() const { return account_name_; }
  bool is_default() const { return is_default_; }

 private:
  friend class DatastoreCodec;
  explicit Datastore(Workspace workspace) : workspace_(std::move(workspace)) {}

  Workspace workspace_;
  std::string name_;
  std::string datastore_type_;
  std::string container_name_;
  std::string account_name_;
  bool is_default_ = false;
};

}  // namespace amlcore

#endif  // AMLCORE_DATASTORE_H_
