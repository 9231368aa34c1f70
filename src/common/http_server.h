// An asynchronous HTTP/1.1 server (optionally HTTPS) with keep-alive and deferred replies.
//
// The handler receives each request together with a Responder; it may answer at once or keep the
// Responder and answer later from any thread (long polling, proxying). Beast and Asio stay inside
// http_server.cc.
//
//   auto server = http::Server::Start({.port = 0}, [](http::Request req, http::Responder reply) {
//     std::move(reply)(http::Response::Text(200, "Healthy"));
//   });
//
// Limits, so that no client can exhaust the process (defaults in ServerOptions):
// - check_head sees each request's head before its body is read; authentication belongs there, so
//   that an unauthenticated client never makes the server buffer a body.
// - At most max_connections connections are open; one more is answered 503 and closed (a TLS one is
//   closed without a handshake: nothing cheaper can be said to it).
// - Request bodies being received or served hold at most max_buffered_body_bytes together; a
//   request that would go beyond is answered 503 without its body being read.
// - A request's header must arrive within header_timeout (10 s) of its first byte, or of the
//   connection's opening for the first request (a TLS handshake included); a kept-alive connection
//   waits idle_timeout (60 s) for its next request; a body must keep arriving, body_read_timeout
//   (30 s) at most between two reads.
// - When the process runs out of file descriptors, accepting pauses 100 ms between attempts (and
//   says so once through `log`) instead of spinning, until descriptors free up.
#ifndef AMLCORE_COMMON_HTTP_SERVER_H_
#define AMLCORE_COMMON_HTTP_SERVER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/event_loop.h"
#include "common/http_types.h"

namespace amlcore::http {

// Where a reply goes; implemented by the server's connections.
class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  virtual void Send(Response response) = 0;
};

// Sends exactly one response. Movable, not copyable. A Responder destroyed without being called answers 500
// so that a client is never left hanging. It holds its connection, which lives on the server's event loop:
// call or drop it before that loop is destroyed (a server's own loop goes with the server; amlcore's services
// run their servers on a loop that outlives them and their queues).
class Responder {
 public:
  explicit Responder(std::shared_ptr<ResponseSink> sink) : sink_(std::move(sink)) {}
  Responder(Responder&&) = default;
  Responder& operator=(Responder&&) = default;
  ~Responder();
  void operator()(Response response) &&;

 private:
  std::shared_ptr<ResponseSink> sink_;
};

// A Responder whose response `observe` sees, and may amend, before `inner` sends it (request ids, metrics,
// access logs). Dropped without a reply, it passes the 500 it answers through `observe` too.
Responder Observed(Responder inner, std::function<void(Response&)> observe);

using Handler = std::function<void(Request, Responder)>;

// A certificate chain (leaf first, then intermediates) and the leaf's private key, both PEM.
// Encrypted keys are not accepted.
struct TlsConfig {
  std::string certificate_chain_pem;
  std::string private_key_pem;
  // When set (PEM CA certificates), every TLS client must present a certificate issued by one of
  // them, or its handshake fails (mutual TLS, as a Kubernetes API server asks of its clients).
  std::string client_ca_pem;
};

// What the server's TLS handshakes came to, since it started.
struct TlsCounters {
  uint64_t handshakes = 0;  // completed
  uint64_t resumed = 0;     // of those, resuming an earlier session (ticket or session id)
  uint64_t failed = 0;      // begun and failed (protocol version, no shared cipher, peer gone)
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0 picks a free port
  // Listens on this Unix socket (created with mode 0600) instead of host and port; no TLS there.
  std::string unix_socket;
  int threads = 2;
  size_t max_body_bytes = 100u * 1024 * 1024;
  size_t max_header_bytes = 64u * 1024;
  size_t max_connections = 1000;
  size_t max_buffered_body_bytes = 256u * 1024 * 1024;
  std::chrono::seconds header_timeout{10};
  std::chrono::seconds idle_timeout{60};
  std::chrono::seconds body_read_timeout{30};
  // With TLS, the port serves HTTPS and plain HTTP both: each connection is TLS when its first
  // bytes are a TLS handshake (Request::tls tells the handler which). TLS 1.2 and 1.3 only; ECDHE
  // with AES-GCM or ChaCha20-Poly1305 for 1.2; no compression, no renegotiation; sessions resume by
  // ticket or session id.
  std::optional<TlsConfig> tls;
  // Builds the reply for requests refused before the handler sees them (oversized body, bad framing,
  // limits reached); `target` is the request's target when its head was read, "" otherwise.
  std::function<Response(int status, std::string message, absl::string_view target)> make_error;
  // Called with each request's head (method, target, headers, remote address; the body is empty) once its
  // header is parsed and before its body is read. A response refuses the request: it is sent with
  // "Connection: close" and the connection closes without the body being read (what the client still sends
  // is discarded, up to max_body_bytes, so that it can read the reply). nullopt lets the request through.
  std::function<std::optional<Response>(const Request& head)> check_head;
  // Where the server reports trouble (descriptors exhausted); the process's log (logging::Warning) when empty.
  std::function<void(absl::string_view message)> log;
  // Runs on this loop (shared with the clients the handler calls) instead of `threads` threads of its own.
  // Its owner stops it after Stop() and before destroying the server: connections live as long as the loop.
  EventLoop* loop = nullptr;
};

class Server {
 public:
  static absl::StatusOr<std::unique_ptr<Server>> Start(ServerOptions options, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  uint16_t port() const;  // 0 on a Unix socket
  // Replaces the certificate and key (or turns TLS on, or off with nullopt) for connections
  // accepted from now on; open connections keep the configuration they started with. A chain or key
  // that is not valid PEM, or a key that does not match the certificate, is InvalidArgument and
  // changes nothing. Thread-safe.
  //
  //   absl::Status s = server->SetTls(
  //       http::TlsConfig{.certificate_chain_pem = chain, .private_key_pem = key});
  absl::Status SetTls(std::optional<TlsConfig> tls);
  TlsCounters tls_counters() const;
  // Stops accepting; on its own loop, also closes connections and joins the I/O threads. Idempotent.
  // Responders still held by the application must be released before Stop.
  void Stop();

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The JSON error body used by amlcored: {"error": {"code": ..., "message": ...}}.
Response JsonErrorResponse(int status, absl::string_view code, absl::string_view message);

}  // namespace amlcore::http

#endif  // AMLCORE_COMMON_HTTP_SERVER_H_
