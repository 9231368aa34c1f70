// Shared pieces of the SDK's model management calls: the MMS path of a workspace, content uploads, and the
// error kinds of models and services.
#ifndef AMLCORE_CLIENT_MODEL_MANAGEMENT_H_
#define AMLCORE_CLIENT_MODEL_MANAGEMENT_H_

#include <string>

#include "absl/status/statusor.h"
#include "amlcore/workspace.h"
#include "client/connection.h"

namespace amlcore::internal {

// "/modelmanagement/v1.0/subscriptions/.../workspaces/<name>"
std::string ModelManagementPath(const Workspace& workspace);
// Uploads `data` unless the server has it already; returns its SHA-256.
absl::StatusOr<std::string> UploadBlob(Connection& connection, const std::string& data);
absl::StatusOr<std::string> DownloadBlob(Connection& connection, const std::string& sha256);

absl::Status AsWebserviceError(absl::Status status);
absl::Status AsUserError(absl::Status status);

}  // namespace amlcore::internal

#endif  // AMLCORE_CLIENT_MODEL_MANAGEMENT_H_
