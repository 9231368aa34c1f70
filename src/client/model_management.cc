#include "client/model_management.h"

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/errors.h"

namespace amlcore::internal {

std::string ModelManagementPath(const Workspace& workspace) {
  return absl::StrCat("/modelmanagement/v1.0", workspace.resource_path());
}

absl::StatusOr<std::string> UploadBlob(Connection& connection, const std::string& data) {
  std::string sha = Sha256Hex(data);
  auto exists = connection.Call("HEAD", absl::StrCat("/blobs/", sha));
  if (exists.ok()) return sha;
  if (!absl::IsNotFound(exists.status())) return exists.status();
  CallOptions call;
  call.timeout = std::chrono::minutes(10);
  call.headers = {{"Content-Type", "application/octet-stream"}};
  auto put = connection.Call("PUT", absl::StrCat("/blobs/", sha), data, call);
  if (!put.ok()) return put.status();
  return sha;
}

absl::StatusOr<std::string> DownloadBlob(Connection& connection, const std::string& sha256) {
  CallOptions call;
  call.timeout = std::chrono::minutes(10);
  auto reply = connection.Call("GET", absl::StrCat("/blobs/", sha256), "", call);
  if (!reply.ok()) return reply.status();
  if (Sha256Hex(reply->body) != sha256) {
    return absl::DataLossError(absl::StrCat("The download of ", sha256, " arrived damaged."));
  }
  return std::move(reply->body);
}

absl::Status AsWebserviceError(absl::Status status) { return WithErrorKind(std::move(status), "webservice"); }
absl::Status AsUserError(absl::Status status) { return WithErrorKind(std::move(status), "user"); }

}  // namespace amlcore::internal
