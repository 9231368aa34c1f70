// A blocking HTTP/1.1 client over one kept-alive connection (optionally HTTPS), with per-call
// deadlines and cancellation.
//
//   http::Client client("127.0.0.1", port);
//   http::Request req{.method = "GET", .target = "/"};
//   absl::StatusOr<http::Response> resp = client.Send(std::move(req), {.timeout = 5s});
//
//   http::ClientTls tls{.ca_files = {"/etc/amlcore/ca.pem"}};
//   http::Client secure("scoring.example.com", 443, tls);
//
// Errors: kUnavailable (cannot connect, connection lost), kDeadlineExceeded (no answer in time),
// kCancelled (the cancellation check returned true). HTTP error statuses are responses, not errors.
// A failure to connect carries the error code kConnectFailed: the request was certainly not sent.
// A failed TLS handshake carries kTlsHandshakeFailed, and the request was not sent either: it is
// kFailedPrecondition when the server's certificate is not trusted or not for the server name
// (retrying cannot help; the message says why), kUnavailable otherwise (the connection broke, no
// common protocol version). A client whose ClientTls cannot be used (a CA file that does not load)
// answers every call kInvalidArgument (so does a client certificate or key that does not load, or
// one without the other).
#ifndef AMLCORE_COMMON_HTTP_CLIENT_H_
#define AMLCORE_COMMON_HTTP_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/http_types.h"

namespace amlcore::http {

inline constexpr char kConnectFailed[] = "ConnectFailed";
inline constexpr char kTlsHandshakeFailed[] = "TlsHandshakeFailed";

// HTTPS for a Client: whom to expect at the other end, which certificate authorities vouch for
// it, and what the client proves about itself. Only TLS 1.2 and 1.3 are spoken; the server's chain
// and name are verified unless skip_verification says otherwise.
struct ClientTls {
  // Sent as SNI (unless it is an IP address) and checked against the certificate (DNS name, or IP
  // address). Empty: the host the Client connects to.
  std::string server_name;
  // PEM files of further trusted certificate authorities (a private CA, a self-signed server
  // certificate).
  std::vector<std::string> ca_files;
  // Further trusted certificate authorities given in memory, PEM (one or more certificates), as a
  // kubeconfig's certificate-authority-data carries them.
  std::string ca_pem;
  // Also trust the system's certificate authorities.
  bool system_trust = true;
  // A client certificate (leaf first, then intermediates) and its unencrypted private key, PEM,
  // presented when the server asks for one (mutual TLS). Both or neither.
  std::string client_certificate_pem;
  std::string client_key_pem;
  // Accepts whatever certificate the server presents, checking neither chain nor name: the
  // connection is encrypted, but to nobody verified. Only for test clusters whose configuration
  // asks for it explicitly (a kubeconfig's insecure-skip-tls-verify); trusted CAs are then not
  // consulted.
  bool skip_verification = false;
};

struct CallOptions {
  std::chrono::milliseconds timeout{30000};
  // Polled about every 100 ms while the call waits; returning true abandons the call with kCancelled.
  std::function<bool()> cancelled;
};

class Client {
 public:
  Client(std::string host, uint16_t port);
  // HTTPS when `tls` is set. The TLS session is resumed when the connection is replaced.
  Client(std::string host, uint16_t port, std::optional<ClientTls> tls);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Thread-safe; calls on one Client are serialized. A kept-alive connection that the server closed in the
  // meantime is replaced transparently once.
  absl::StatusOr<Response> Send(Request request, const CallOptions& options = {});

  // Loads the TLS material (CA files and PEM, client certificate and key) now instead of at the
  // first call, so that a caller can report bad material where it was configured. OK without TLS.
  absl::Status CheckTls();

  const std::string& host() const;
  uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace amlcore::http

#endif  // AMLCORE_COMMON_HTTP_CLIENT_H_
