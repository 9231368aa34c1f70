// A blocking HTTP/1.1 client over one kept-alive connection, with per-call deadlines and cancellation.
//
//   http::Client client("127.0.0.1", port);
//   http::Request req{.method = "GET", .target = "/"};
//   absl::StatusOr<http::Response> resp = client.Send(std::move(req), {.timeout = 5s});
//
// Errors: kUnavailable (cannot connect, connection lost), kDeadlineExceeded (no answer in time),
// kCancelled (the cancellation check returned true). HTTP error statuses are responses, not errors.
// A failure to connect carries the error code kConnectFailed: the request was certainly not sent.
#ifndef AMLCORE_COMMON_HTTP_CLIENT_H_
#define AMLCORE_COMMON_HTTP_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/http_types.h"

namespace amlcore::http {

inline constexpr char kConnectFailed[] = "ConnectFailed";

struct CallOptions {
  std::chrono::milliseconds timeout{30000};
  // Polled about every 100 ms while the call waits; returning true abandons the call with kCancelled.
  std::function<bool()> cancelled;
};

class Client {
 public:
  Client(std::string host, uint16_t port);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Thread-safe; calls on one Client are serialized. A kept-alive connection that the server closed in the
  // meantime is replaced transparently once.
  absl::StatusOr<Response> Send(Request request, const CallOptions& options = {});

  const std::string& host() const;
  uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace amlcore::http

#endif  // AMLCORE_COMMON_HTTP_CLIENT_H_
