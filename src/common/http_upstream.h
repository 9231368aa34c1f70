// An asynchronous HTTP/1.1 client for talking to many local upstream servers (a front end to its replicas):
// a pool of kept-alive connections per address (a port on 127.0.0.1 or a Unix socket), a deadline per
// request, callbacks on the client's own threads.
//
//   http::UpstreamClient upstream(&loop);  // or upstream(threads): a loop of its own
//   upstream.Send(UpstreamAddress::Unix(path), std::move(request), 60s,
//                 [](absl::StatusOr<http::Response> response) { ... });
#ifndef AMLCORE_COMMON_HTTP_UPSTREAM_H_
#define AMLCORE_COMMON_HTTP_UPSTREAM_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/event_loop.h"
#include "common/http_types.h"

namespace amlcore::http {

// Where an upstream server listens: a port on 127.0.0.1, or a Unix socket.
struct UpstreamAddress {
  uint16_t port = 0;
  std::string unix_socket;  // when set, instead of the port
  std::string ip;           // an IPv4 or IPv6 address (a pod's); empty: 127.0.0.1

  static UpstreamAddress Tcp(uint16_t port) { return UpstreamAddress{port, "", ""}; }
  static UpstreamAddress Tcp(std::string ip, uint16_t port) { return UpstreamAddress{port, "", std::move(ip)}; }
  static UpstreamAddress Unix(std::string path) { return UpstreamAddress{0, std::move(path), ""}; }
  // "127.0.0.1:8080", "[fd00::1]:8080" or "unix:/path", for messages and Host headers.
  std::string ToString() const;
  friend bool operator==(const UpstreamAddress&, const UpstreamAddress&) = default;
  friend auto operator<=>(const UpstreamAddress&, const UpstreamAddress&) = default;
};

class UpstreamClient {
 public:
  using Callback = std::function<void(absl::StatusOr<Response>)>;

  // Runs on `threads` threads of its own.
  explicit UpstreamClient(int threads = 1);
  // Runs on `loop`, which its owner stops before destroying the client.
  explicit UpstreamClient(EventLoop* loop);
  ~UpstreamClient();
  UpstreamClient(const UpstreamClient&) = delete;
  UpstreamClient& operator=(const UpstreamClient&) = delete;

  // Sends a copy of `request` to `address`. `done` runs exactly once: with the response;
  // kDeadlineExceeded after `timeout`; kUnavailable when not a byte of the request was written (no
  // connection), so it is safe to send elsewhere; kAborted when the connection broke after any of it was
  // written (the server may be acting on it: it must not be sent again). A pooled connection is checked
  // before writing, and one its server has closed is replaced transparently.
  //
  // Without `settled`, a timeout closes the connection. With it, the connection stays open after the timeout
  // until the server answers (the late answer is dropped) or closes it, and `settled` runs once then: it
  // tells when the server is really done with the request. It runs exactly once, right after `done` when
  // there was no timeout.
  void Send(const UpstreamAddress& address, const Request& request, std::chrono::milliseconds timeout, Callback done,
            std::function<void()> settled = nullptr);
  // Drops the idle connections to `address` (its server went away).
  void Forget(const UpstreamAddress& address);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace amlcore::http

#endif  // AMLCORE_COMMON_HTTP_UPSTREAM_H_
