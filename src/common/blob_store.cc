#include "common/blob_store.h"

#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "common/files.h"

namespace amlcore {
namespace {
absl::Status Damaged(absl::string_view sha256, absl::string_view actual) {
  return MakeError(absl::StatusCode::kDataLoss, "BlobDamaged",
                   absl::StrCat("The stored blob ", sha256, " was changed on disk (its content now has SHA-256 ",
                                actual, "); upload it again."));
}
}  // namespace

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
  // Reuse only a blob that still holds what its name says.
  if (Read(sha256).ok()) return absl::OkStatus();
  std::string path = PathOf(sha256);
  if (auto s = MakeDirectories(std::filesystem::path(path).parent_path().string()); !s.ok()) return s;
  return WriteFileAtomic(path, data, 0400);
}

absl::StatusOr<std::string> BlobStore::Read(absl::string_view sha256) const {
  if (!Exists(sha256)) {
    return MakeError(absl::StatusCode::kNotFound, "BlobNotFound", absl::StrCat("No blob with SHA-256 ", sha256, "."));
  }
  auto data = ReadFile(PathOf(sha256));
  if (!data.ok()) return data.status();
  if (std::string actual = Sha256Hex(*data); actual != sha256) return Damaged(sha256, actual);
  return data;
}

absl::Status BlobStore::CopyTo(absl::string_view sha256, const std::string& path, int mode) const {
  auto data = Read(sha256);
  if (!data.ok()) return data.status();
  if (auto s = MakeDirectories(std::filesystem::path(path).parent_path().string()); !s.ok()) return s;
  return WriteFileAtomic(path, *data, mode);
}

}  // namespace amlcore
