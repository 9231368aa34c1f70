// Content-addressed files (model files, source snapshots) under <directory>/<first two hex>/<sha256>. Blobs are
// immutable: they are written once, read-only, and checked against their hash whenever they are reused or
// copied, so a damaged blob is found and replaced instead of being handed out.
#ifndef AMLCORE_COMMON_BLOB_STORE_H_
#define AMLCORE_COMMON_BLOB_STORE_H_

#include <chrono>
#include <cstdint>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace amlcore {

class BlobStore {
 public:
  explicit BlobStore(std::string directory) : directory_(std::move(directory)) {}

  static bool IsSha256(absl::string_view text);
  // Stores `data` if its SHA-256 is `sha256`; kInvalidArgument naming both hashes otherwise. A stored blob whose
  // content no longer matches its hash is replaced.
  absl::Status Put(absl::string_view sha256, absl::string_view data);
  bool Exists(absl::string_view sha256) const;
  // The blob's content, checked against its hash (kDataLoss when damaged).
  absl::StatusOr<std::string> Read(absl::string_view sha256) const;
  // Writes a copy of the blob to `path` (mode `mode`), checked against its hash on the way.
  absl::Status CopyTo(absl::string_view sha256, const std::string& path, int mode) const;

  struct Collected {
    int64_t blobs = 0;
    int64_t bytes = 0;
  };
  // Removes every blob that is not in `referenced` and was not stored (or uploaded again) within `grace`, so an
  // upload that a request is about to reference is never taken away.
  Collected CollectGarbage(const std::set<std::string>& referenced, std::chrono::seconds grace) const;

 private:
  std::string PathOf(absl::string_view sha256) const;

  std::string directory_;
};

}  // namespace amlcore

#endif  // AMLCORE_COMMON_BLOB_STORE_H_
