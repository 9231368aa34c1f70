// Small file-system helpers: atomic private writes, whole-file reads, and advisory locks that tell whether a
// process (ours or another) currently owns a directory.
#ifndef AMLCORE_COMMON_FILES_H_
#define AMLCORE_COMMON_FILES_H_

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace amlcore {

absl::StatusOr<std::string> ReadFile(const std::string& path);
// The last `lines` lines of a file, joined by '\n' without a final one (trailing empty lines do not count),
// read backwards from its end, so that a huge log is never loaded: at most `max_bytes` of the file's end are
// read, and a line cut by that limit is left out unless it is the only one.
absl::StatusOr<std::string> ReadLastLines(const std::string& path, int lines, size_t max_bytes = 1u << 20);
// Writes through a temporary file and rename, so readers never see half a file. `mode` applies from the
// start (0600 keeps secrets private at every moment).
absl::Status WriteFileAtomic(const std::string& path, absl::string_view content, int mode = 0600);
absl::Status MakeDirectories(const std::string& path, int mode = 0700);
// Checks that `path` is relative ('/'-separated, no leading '/', no '\\') and cannot leave the directory it
// is joined to: no segment may be "..". Dots inside a name ("weights..bin") are fine. The error names the
// path and says what is allowed; callers put what the path is in front ("Model file path ...").
absl::Status CheckContainedPath(absl::string_view path);

// An exclusive flock(2) on a file, held for the lifetime of this object (or of the process).
class FileLock {
 public:
  // kUnavailable when another holder has it.
  static absl::StatusOr<FileLock> TryAcquire(const std::string& path);
  // True when someone currently holds the lock on `path`.
  static bool IsHeld(const std::string& path);
  // The process holding the lock on `path`, from /proc/locks; nullopt when nobody holds it or the holder
  // cannot be seen (another pid namespace).
  static std::optional<pid_t> Holder(const std::string& path);

  FileLock(FileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FileLock& operator=(FileLock&& other) noexcept;
  ~FileLock();
  int fd() const { return fd_; }

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// $HOME, or the passwd entry's home directory.
std::string UserHomeDirectory();

}  // namespace amlcore

#endif  // AMLCORE_COMMON_FILES_H_
