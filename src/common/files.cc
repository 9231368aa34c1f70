#include "common/files.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/crypto.h"

namespace amlcore {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    std::string message = absl::StrCat("Cannot read ", path, ": ", std::strerror(err));
    return err == ENOENT ? absl::NotFoundError(message) : absl::PermissionDeniedError(message);
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

absl::StatusOr<std::string> ReadLastLines(const std::string& path, int lines, size_t max_bytes) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    std::string message = absl::StrCat("Cannot read ", path, ": ", std::strerror(err));
    return err == ENOENT ? absl::NotFoundError(message) : absl::PermissionDeniedError(message);
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return absl::PermissionDeniedError(absl::StrCat("Cannot read ", path, ": ", std::strerror(errno)));
  }
  // Reads blocks from the end until `lines` line breaks are seen (the first of them ends the line before the
  // tail), not counting those the file ends with.
  constexpr size_t kBlock = 64 * 1024;
  uint64_t end = static_cast<uint64_t>(st.st_size);
  uint64_t start = end;
  std::string tail;  // the file's bytes [start, end)
  size_t trailing = 0;  // line breaks at the very end
  bool counting_trailing = true;
  size_t breaks = 0;    // line breaks in `tail` before the trailing ones
  while (start > 0 && end - start < max_bytes && lines > 0 && breaks < static_cast<size_t>(lines)) {
    size_t size = static_cast<size_t>(std::min<uint64_t>({kBlock, start, max_bytes - (end - start)}));
    std::string block(size, '\0');
    ssize_t n = pread(fd, block.data(), size, static_cast<off_t>(start - size));
    if (n != static_cast<ssize_t>(size)) break;
    start -= size;
    for (size_t i = size; i-- > 0;) {
      if (block[i] != '\n') {
        counting_trailing = false;
      } else if (counting_trailing) {
        ++trailing;
      } else {
        ++breaks;
      }
    }
    tail.insert(0, block);
  }
  close(fd);
  tail.resize(tail.size() - trailing);
  if (lines <= 0) return std::string();
  // Keep what follows the (lines)-th break from the end; without that many, the whole read part, less a
  // first line the byte limit may have cut.
  size_t from = 0;
  size_t seen = 0;
  for (size_t i = tail.size(); i-- > 0;) {
    if (tail[i] == '\n' && ++seen == static_cast<size_t>(lines)) {
      from = i + 1;
      break;
    }
  }
  if (seen < static_cast<size_t>(lines) && start > 0) {
    size_t first_break = tail.find('\n');
    if (first_break != std::string::npos) from = first_break + 1;
  }
  return tail.substr(from);
}

absl::Status WriteFileAtomic(const std::string& path, absl::string_view content, int mode) {
  std::string temp = absl::StrCat(path, ".tmp-", RandomHex(6));
  int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return absl::PermissionDeniedError(absl::StrCat("Cannot write ", path, ": ", std::strerror(errno)));
  fchmod(fd, mode);  // not subject to the umask
  size_t written = 0;
  while (written < content.size()) {
    ssize_t n = write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      close(fd);
      unlink(temp.c_str());
      return absl::DataLossError(absl::StrCat("Cannot write ", path, ": ", std::strerror(err)));
    }
    written += static_cast<size_t>(n);
  }
  fsync(fd);
  close(fd);
  if (rename(temp.c_str(), path.c_str()) != 0) {
    int err = errno;
    unlink(temp.c_str());
    return absl::PermissionDeniedError(absl::StrCat("Cannot write ", path, ": ", std::strerror(err)));
  }
  return absl::OkStatus();
}

absl::Status CheckContainedPath(absl::string_view path) {
  if (path.empty() || path.front() == '/' || absl::StrContains(path, '\\') || absl::StrContains(path, '\0')) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", path, "' is not a relative path: use '/' between names, and no leading '/' or '\\'."));
  }
  for (absl::string_view segment : absl::StrSplit(path, '/')) {
    if (segment == "..") {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", path, "' escapes its directory: no part of a path may be '..' (names such as 'weights..bin' are "
          "fine)."));
    }
  }
  return absl::OkStatus();
}

absl::Status MakeDirectories(const std::string& path, int mode) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return absl::PermissionDeniedError(absl::StrCat("Cannot create directory ", path, ": ", ec.message()));
  chmod(path.c_str(), static_cast<mode_t>(mode));
  return absl::OkStatus();
}

absl::StatusOr<FileLock> FileLock::TryAcquire(const std::string& path) {
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return absl::PermissionDeniedError(absl::StrCat("Cannot open ", path, ": ", std::strerror(errno)));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    close(fd);
    if (err == EWOULDBLOCK) return absl::UnavailableError(absl::StrCat(path, " is locked by another process"));
    return absl::InternalError(absl::StrCat("flock ", path, ": ", std::strerror(err)));
  }
  return FileLock(fd);
}

bool FileLock::IsHeld(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool held = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  close(fd);  // also drops the shared lock we may have taken
  return held;
}

std::optional<pid_t> FileLock::Holder(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return std::nullopt;
  // Lines read "1: FLOCK  ADVISORY  WRITE 4909 fe:00:10952764 0 EOF"; "1: -> FLOCK ..." are waiters.
  std::string device = absl::StrFormat("%02x:%02x:%u", major(st.st_dev), minor(st.st_dev), st.st_ino);
  std::ifstream locks("/proc/locks");
  std::string line;
  while (std::getline(locks, line)) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (fields.size() < 6 || fields[1] != "FLOCK" || fields[5] != device) continue;
    pid_t pid = 0;
    if (absl::SimpleAtoi(fields[4], &pid) && pid > 0) return pid;
  }
  return std::nullopt;
}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

FileLock::~FileLock() {
  if (fd_ >= 0) close(fd_);
}

std::string UserHomeDirectory() {
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') return home;
  if (const passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_dir != nullptr) return pw->pw_dir;
  return "/tmp";
}

}  // namespace amlcore
