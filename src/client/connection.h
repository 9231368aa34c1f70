// How the SDK talks to amlcored: finds (or starts) the server, authenticates, retries while it restarts, and
// turns error replies into Status values with details.
#ifndef AMLCORE_CLIENT_CONNECTION_H_
#define AMLCORE_CLIENT_CONNECTION_H_

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "amlcore/workspace.h"
#include "common/http_client.h"

namespace amlcore::internal {

struct CallOptions {
  std::chrono::milliseconds timeout{60000};
  std::function<bool()> cancelled;
  std::vector<std::pair<std::string, std::string>> headers;
  // Idempotent calls are retried after any connection failure; others only when the request was not sent.
  bool idempotent = true;
};

struct Reply {
  int status = 0;
  http::Headers headers;
  std::string body;
  std::string request_id;
};

class Connection {
 public:
  // Shares one connection per (endpoint, token, home).
  static absl::StatusOr<std::shared_ptr<Connection>> Open(const ConnectionOptions& options);

  // Sends a request; a reply outside 2xx becomes an error Status carrying the server's code and message.
  absl::StatusOr<Reply> Call(absl::string_view method, absl::string_view target, absl::string_view body = "",
                             const CallOptions& options = {});

  std::string endpoint() const;
  const std::string& home() const { return home_; }

 private:
  Connection(std::string endpoint, std::string token, std::string home)
      : endpoint_(std::move(endpoint)), token_(std::move(token)), home_(std::move(home)) {}
  // Local mode: reads <home>/server.json, starting amlcored when nobody answers there.
  absl::Status Discover();
  std::unique_ptr<http::Client> TakeClient();
  void ReturnClient(std::unique_ptr<http::Client> client);

  mutable std::mutex mu_;
  std::string endpoint_;  // empty until discovered in local mode
  std::string token_;
  std::string home_;      // non-empty in local mode
  std::vector<std::unique_ptr<http::Client>> idle_;
};

// The amlcored executable the SDK starts for local workspaces ($AMLCORE_SERVER_PROGRAM, else found next to
// the SDK library).
std::string FindServerProgram();

}  // namespace amlcore::internal

#endif  // AMLCORE_CLIENT_CONNECTION_H_
