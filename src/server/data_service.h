// Datastores and datasets on the server: a datastore is a named set of paths, each naming a blob of
// the blob store; a dataset is a saved definition (paths in datastores, and how to read them),
// registered under a name in versions.
#ifndef AMLCORE_SERVER_DATA_SERVICE_H_
#define AMLCORE_SERVER_DATA_SERVICE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/blob_store.h"
#include "domain/data_wire.h"
#include "server/request_checks.h"
#include "server/store.h"

namespace amlcore::server {

class DataService {
 public:
  DataService(Store* store, BlobStore* blobs) : store_(store), blobs_(blobs) {}

  absl::StatusOr<std::vector<domain::DatastoreDocument>> ListDatastores(
      const WorkspaceKey& workspace);
  absl::StatusOr<domain::DatastoreDocument> GetDatastore(const WorkspaceKey& workspace,
                                                         const std::string& name);
  absl::StatusOr<domain::DatastoreDocument> GetDefaultDatastore(const WorkspaceKey& workspace);
  absl::StatusOr<domain::DatastoreFileList> ListFiles(const WorkspaceKey& workspace,
                                                      const std::string& datastore,
                                                      const std::string& prefix);
  // Body: domain::DatastoreCommit. All files or none: every blob must be uploaded, every path
  // clean, and no path may be both a file and a folder.
  absl::StatusOr<domain::DatastoreCommitResult> CommitFiles(const WorkspaceKey& workspace,
                                                            const std::string& datastore,
                                                            absl::string_view body);

  // Body: a DatasetDefinition. Saving it again returns the same saved dataset.
  absl::StatusOr<domain::DatasetDocument> SaveDataset(const WorkspaceKey& workspace,
                                                      absl::string_view body);
  // With its newest registration, when it has one.
  absl::StatusOr<domain::DatasetDocument> GetSavedDataset(const WorkspaceKey& workspace,
                                                          const std::string& id);
  // Body: domain::DatasetRegisterRequest.
  absl::StatusOr<domain::DatasetDocument> RegisterDataset(const WorkspaceKey& workspace,
                                                          absl::string_view body);
  // `version` 0 is the latest.
  absl::StatusOr<domain::DatasetDocument> GetDataset(const WorkspaceKey& workspace,
                                                     const std::string& name, int64_t version);
  // The latest version of each name.
  absl::StatusOr<domain::DatasetList> ListDatasets(const WorkspaceKey& workspace);

 private:
  // The definition checked against the workspace's datastores, and saved.
  absl::StatusOr<SavedDatasetRecord> Save(Tx& tx, int64_t workspace_id,
                                          DatasetDefinition definition);

  Store* store_;
  BlobStore* blobs_;
};

// kNotFound ("DatasetNotFound") for the first id the workspace has no saved dataset of.
absl::Status RequireSavedDatasets(Store& store, Tx& tx, int64_t workspace_id,
                                  const std::vector<std::string>& ids);

}  // namespace amlcore::server

#endif  // AMLCORE_SERVER_DATA_SERVICE_H_
