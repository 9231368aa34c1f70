#include "server/blob_store.h"

#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "common/files.h"

namespace amlcore::server {

bool BlobStore::IsSha256(absl::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!absl::ascii_isxdigit(c) || absl::ascii_isupper(c)) return false;
  }
  return true;
}

std::string BlobStore::PathOf(absl::string_view sha256) const {
  return absl::StrCat(directory_, "/", sha256.substr(0, 2), "/", sha256);
}

bool BlobStore::Exists(absl::string_view sha256) const {
  return IsSha256(sha256) && std::filesystem::exists(PathOf(sha256));
}

absl::Status BlobStore::Put(absl::string_view sha256, absl::string_view data) {
  if (!IsSha256(sha256)) {
    return MakeError(absl::StatusCode::kInvalidArgument, "ValidationError",
                     absl::StrCat("'", sha256, "' is not a SHA-256 (64 lowercase hex digits)."));
  }
  std::string actual = Sha256Hex(data);
  if (actual != sha256) {
    return MakeError(absl::StatusCode::kInvalidArgument, "HashMismatch",
                     absl::StrCat("The uploaded content has SHA-256 ", actual, ", not ", sha256, "."));
  }
  if (Exists(sha256)) return absl::OkStatus();
  std::string path = PathOf(sha256);
  if (auto s = MakeDirectories(std::filesystem::path(path).parent_path().string()); !s.ok()) return s;
  return WriteFileAtomic(path, data, 0600);
}

absl::StatusOr<std::string> BlobStore::Read(absl::string_view sha256) const {
  if (!Exists(sha256)) {
    return MakeError(absl::StatusCode::kNotFound, "BlobNotFound", absl::StrCat("No blob with SHA-256 ", sha256, "."));
  }
  return ReadFile(PathOf(sha256));
}

}  // namespace amlcore::server
