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
  // Reuse only a blob that still holds what its name says, and mark it fresh for the garbage collector.
  if (Read(sha256).ok()) {
    std::error_code ec;
    std::filesystem::last_write_time(PathOf(sha256), std::filesystem::file_time_type::clock::now(), ec);
    return absl::OkStatus();
  }
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

BlobStore::Collected BlobStore::CollectGarbage(const std::set<std::string>& referenced,
                                               std::chrono::seconds grace) const {
  namespace fs = std::filesystem;
  Collected collected;
  auto cutoff = fs::file_time_type::clock::now() - grace;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(directory_, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    std::string name = it->path().filename().string();
    if (!IsSha256(name) || referenced.contains(name)) continue;
    std::error_code inner;
    if (fs::last_write_time(it->path(), inner) > cutoff || inner) continue;
    auto size = fs::file_size(it->path(), inner);
    if (fs::remove(it->path(), inner)) {
      ++collected.blobs;
      collected.bytes += static_cast<int64_t>(size);
    }
  }
  return collected;
}

}  // namespace amlcore
