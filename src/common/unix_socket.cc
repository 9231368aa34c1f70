#include "common/unix_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace amlcore {
namespace {

// An address for `path`: the path itself when it fits, else /proc/self/fd/<fd>/<name> with `*directory_fd`
// opened on its directory (the caller closes it once the address has been used).
absl::StatusOr<sockaddr_un> AddressOf(const std::string& path, int* directory_fd) {
  *directory_fd = -1;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::string usable = path;
  if (path.size() >= sizeof(address.sun_path)) {
    size_t slash = path.rfind('/');
    if (slash == std::string::npos) return absl::InvalidArgumentError(absl::StrCat("Socket path too long: ", path));
    std::string directory = slash == 0 ? "/" : path.substr(0, slash);
    *directory_fd = open(directory.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (*directory_fd < 0) {
      return absl::UnavailableError(absl::StrCat("Cannot open ", directory, ": ", std::strerror(errno)));
    }
    usable = absl::StrCat("/proc/self/fd/", *directory_fd, "/", path.substr(slash + 1));
    if (usable.size() >= sizeof(address.sun_path)) {
      close(*directory_fd);
      *directory_fd = -1;
      return absl::InvalidArgumentError(absl::StrCat("Socket name too long: ", path));
    }
  }
  std::memcpy(address.sun_path, usable.c_str(), usable.size() + 1);
  return address;
}

}  // namespace

absl::StatusOr<int> ListenUnixSocket(const std::string& path, int mode, int backlog) {
  int directory_fd;
  auto address = AddressOf(path, &directory_fd);
  if (!address.ok()) return address.status();
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  absl::Status status;
  if (fd < 0) {
    status = absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  } else {
    unlink(address->sun_path);  // a socket file of an earlier process, which nobody can connect to any more
    // Created without permissions for anyone else, so there is no moment at which others could connect. The
    // mask is the process's: a file another thread creates meanwhile is private too, which does no harm.
    mode_t old = umask(0777 & ~mode);
    int bound = bind(fd, reinterpret_cast<const sockaddr*>(&*address), sizeof(*address));
    int bind_errno = errno;
    umask(old);
    if (bound != 0) {
      status = absl::UnavailableError(absl::StrCat("Cannot listen on ", path, ": ", std::strerror(bind_errno)));
    } else if (chmod(address->sun_path, mode) != 0 || listen(fd, backlog) != 0) {
      status = absl::UnavailableError(absl::StrCat("Cannot listen on ", path, ": ", std::strerror(errno)));
    }
  }
  if (directory_fd >= 0) close(directory_fd);
  if (!status.ok()) {
    if (fd >= 0) close(fd);
    return status;
  }
  return fd;
}

absl::StatusOr<int> ConnectUnixSocket(const std::string& path) {
  int directory_fd;
  auto address = AddressOf(path, &directory_fd);
  if (!address.ok()) return address.status();
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int connected = fd < 0 ? -1 : connect(fd, reinterpret_cast<const sockaddr*>(&*address), sizeof(*address));
  int connect_errno = errno;
  if (directory_fd >= 0) close(directory_fd);
  if (connected != 0) {
    if (fd >= 0) close(fd);
    return absl::UnavailableError(absl::StrCat("Cannot reach ", path, ": ", std::strerror(connect_errno)));
  }
  return fd;
}

}  // namespace amlcore
