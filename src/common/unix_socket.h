// Unix-domain stream sockets by path. A path longer than sockaddr_un holds (a deep AMLCORE_HOME) is reached
// through its directory: /proc/self/fd/<directory descriptor>/<name>, which the kernel resolves like any path.
//
//   auto listener = ListenUnixSocket(dir + "/replica.sock", 0600);
//   auto connection = ConnectUnixSocket(dir + "/replica.sock");
#ifndef AMLCORE_COMMON_UNIX_SOCKET_H_
#define AMLCORE_COMMON_UNIX_SOCKET_H_

#include <string>

#include "absl/status/statusor.h"

namespace amlcore {

// A listening socket (close-on-exec) at `path`, with permissions `mode`; a socket file left there by an
// earlier process is replaced. The caller owns the descriptor.
absl::StatusOr<int> ListenUnixSocket(const std::string& path, int mode, int backlog = 1024);
// A connected, non-blocking, close-on-exec socket to `path` (Unix sockets connect at once or not at all).
// kUnavailable when nobody listens there (or its backlog is full): nothing was sent.
absl::StatusOr<int> ConnectUnixSocket(const std::string& path);

}  // namespace amlcore

#endif  // AMLCORE_COMMON_UNIX_SOCKET_H_
