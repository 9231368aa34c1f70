// An asynchronous HTTP/1.1 client for talking to many local upstream servers (a front end to its replicas):
// a pool of kept-alive connections per port, a deadline per request, callbacks on the client's own threads.
//
//   http::UpstreamClient upstream(&loop);  // or upstream(threads): a loop of its own
//   upstream.Send(port, std::move(request), 60s, [](absl::StatusOr<http::Response> response) { ... });
#ifndef AMLCORE_COMMON_HTTP_UPSTREAM_H_
#define AMLCORE_COMMON_HTTP_UPSTREAM_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "common/event_loop.h"
#include "common/http_types.h"

namespace amlcore::http {

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

  // Sends a copy of `request` to 127.0.0.1:port. `done` runs exactly once: with the response;
  // kDeadlineExceeded after `timeout`; kUnavailable when not a byte of the request was written (no
  // connection), so it is safe to send elsewhere; kAborted when the connection broke after any of it was
  // written (the server may be acting on it: it must not be sent again). A pooled connection is checked
  // before writing, and one its server has closed is replaced transparently.
  //
  // Without `settled`, a timeout closes the connection. With it, the connection stays open after the timeout
  // until the server answers (the late answer is dropped) or closes it, and `settled` runs once then: it
  // tells when the server is really done with the request. It runs exactly once, right after `done` when
  // there was no timeout.
  void Send(uint16_t port, const Request& request, std::chrono::milliseconds timeout, Callback done,
            std::function<void()> settled = nullptr);
  // Drops the idle connections to `port` (its server went away).
  void Forget(uint16_t port);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace amlcore::http

#endif  // AMLCORE_COMMON_HTTP_UPSTREAM_H_
