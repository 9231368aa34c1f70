// Content-addressed files (model files, source snapshots) under <home>/blobs/<first two hex>/<sha256>.
#ifndef AMLCORE_SERVER_BLOB_STORE_H_
#define AMLCORE_SERVER_BLOB_STORE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace amlcore::server {

class BlobStore {
 public:
  explicit BlobStore(std::string directory) : directory_(std::move(directory)) {}

  static bool IsSha256(absl::string_view text);
  // Stores `data` if its SHA-256 is `sha256`; kInvalidArgument naming both hashes otherwise.
  absl::Status Put(absl::string_view sha256, absl::string_view data);
  bool Exists(absl::string_view sha256) const;
  std::string PathOf(absl::string_view sha256) const;
  absl::StatusOr<std::string> Read(absl::string_view sha256) const;

 private:
  std::string directory_;
};

}  // namespace amlcore::server

#endif  // AMLCORE_SERVER_BLOB_STORE_H_
