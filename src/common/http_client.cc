#include "common/http_client.h"

#include <mutex>
#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/string_views.h"

namespace amlcore::http {
namespace {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

struct SessionFree {
  void operator()(SSL_SESSION* session) const { SSL_SESSION_free(session); }
};

bool IsIpAddress(const std::string& name) {
  beast::error_code ec;
  asio::ip::make_address(name, ec);
  return !ec;
}
}  // namespace

struct Client::Impl {
  std::string host;
  uint16_t port;
  std::optional<ClientTls> tls;
  std::mutex mu;
  asio::io_context ioc;
  // One of the two is set while connected.
  std::optional<beast::tcp_stream> plain;
  std::optional<TlsStream> secure;
  beast::flat_buffer buffer;
  // Made on first use, then kept: its trust store is loaded once.
  std::optional<asio::ssl::context> tls_context;
  absl::Status tls_setup;  // why tls_context could not be made
  // The last connection's session, offered when connecting again so that the handshake is
  // abbreviated.
  std::unique_ptr<SSL_SESSION, SessionFree> tls_session;

  std::string Where() const { return absl::StrCat(host, ":", port); }
  const std::string& ServerName() const {
    return tls->server_name.empty() ? host : tls->server_name;
  }
  bool connected() const { return plain.has_value() || secure.has_value(); }

  // Closes the connection. `clean`: it ended in good order (the server closed it between requests),
  // so its TLS session stays resumable; OpenSSL otherwise retires the session of a connection
  // dropped without close_notify.
  void Disconnect(bool clean = false) {
    beast::error_code ignored;
    if (secure) {
      if (clean)
        SSL_set_shutdown(secure->native_handle(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
      beast::get_lowest_layer(*secure).socket().close(ignored);
    }
    if (plain) plain->socket().close(ignored);
    // Operations still pending on the streams end now (operation_aborted), before the streams go.
    ioc.restart();
    ioc.poll();
    secure.reset();
    plain.reset();
    buffer.clear();
  }

  // Runs the io_context until *done, the deadline, or cancellation.
  absl::Status RunUntil(const bool& done, Clock::time_point deadline, const CallOptions& options,
                        absl::string_view what) {
    ioc.restart();
    while (!done) {
      auto now = Clock::now();
      if (now >= deadline) {
        Disconnect();
        return absl::DeadlineExceededError(absl::StrCat(what, " ", Where(), " timed out after ",
                                                        options.timeout.count(), " ms"));
      }
      if (options.cancelled && options.cancelled()) {
        Disconnect();
        return absl::CancelledError(absl::StrCat(what, " ", Where(), " was cancelled"));
      }
      auto slice = std::min<Clock::duration>(deadline - now, std::chrono::milliseconds(100));
      ioc.run_for(slice);
      if (ioc.stopped() && !done) ioc.restart();
    }
    return absl::OkStatus();
  }

  absl::Status MakeTlsContext() {
    if (tls_context || !tls_setup.ok()) return tls_setup;
    auto refuse = [&](absl::string_view why) {
      tls_setup = absl::InvalidArgumentError(absl::StrCat("TLS setup for ", Where(), ": ", why));
      return tls_setup;
    };
    if (!tls->skip_verification && !tls->system_trust && tls->ca_files.empty() &&
        tls->ca_pem.empty()) {
      return refuse(
          "no certificate authority is trusted; set ClientTls::ca_files, ca_pem or system_trust");
    }
    if (tls->client_certificate_pem.empty() != tls->client_key_pem.empty()) {
      return refuse(tls->client_key_pem.empty()
                        ? "a client certificate needs its private key (ClientTls::client_key_pem)"
                        : "a client key needs its certificate (ClientTls::client_certificate_pem)");
    }
    asio::ssl::context context(asio::ssl::context::tls_client);
    SSL_CTX* ctx = context.native_handle();
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    beast::error_code ec;
    if (tls->skip_verification) {
      context.set_verify_mode(asio::ssl::verify_none);
    } else {
      context.set_verify_mode(asio::ssl::verify_peer);
      if (tls->system_trust) {
        context.set_default_verify_paths(ec);
        if (ec)
          return refuse(
              absl::StrCat("cannot load the system's certificate authorities: ", ec.message()));
      }
      for (const auto& file : tls->ca_files) {
        context.load_verify_file(file, ec);
        if (ec) return refuse(absl::StrCat("cannot load CA file '", file, "': ", ec.message()));
      }
      if (!tls->ca_pem.empty()) {
        context.add_certificate_authority(asio::buffer(tls->ca_pem), ec);
        if (ec) {
          return refuse(
              absl::StrCat("the CA certificates given in memory are not PEM: ", ec.message()));
        }
      }
    }
    if (!tls->client_certificate_pem.empty()) {
      context.use_certificate_chain(asio::buffer(tls->client_certificate_pem), ec);
      if (ec) {
        return refuse(
            absl::StrCat("the client certificate is not a PEM certificate: ", ec.message()));
      }
      context.use_private_key(asio::buffer(tls->client_key_pem), asio::ssl::context::pem, ec);
      if (ec && ec.category() == asio::error::get_ssl_category() &&
          ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == X509_R_KEY_VALUES_MISMATCH) {
        return refuse("the client key does not match the client certificate");
      }
      if (ec) {
        return refuse(
            absl::StrCat("the client key is not an unencrypted PEM private key: ", ec.message()));
      }
      if (SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        return refuse("the client key does not match the client certificate");
      }
    }
    tls_context.emplace(std::move(context));
    return absl::OkStatus();
  }

  absl::Status Connect(Clock::time_point deadline, const CallOptions& options) {
    Disconnect();
    if (tls) {
      if (auto s = MakeTlsContext(); !s.ok()) return s;
    }
    plain.emplace(ioc);
    beast::error_code result;
    bool done = false;
    tcp::resolver resolver(ioc);
    resolver.async_resolve(host, std::to_string(port),
                           [&](beast::error_code ec, tcp::resolver::results_type results) {
                             if (ec) {
                               result = ec;
                               done = true;
                               return;
                             }
                             plain->async_connect(results, [&](beast::error_code ec2, auto) {
                               result = ec2;
                               done = true;
                             });
                           });
    if (auto s = RunUntil(done, deadline, options, "Connecting to"); !s.ok()) return s;
    if (result) {
      Disconnect();
      return WithErrorCode(
          absl::UnavailableError(absl::StrCat("Cannot connect to ", Where(), ": ", result.message())),
          kConnectFailed);
    }
    beast::error_code ignored;
    plain->socket().set_option(tcp::no_delay(true), ignored);
    if (!tls) return absl::OkStatus();
    secure.emplace(std::move(*plain), *tls_context);
    plain.reset();
    return Handshake(deadline, options);
  }

  absl::Status Handshake(Clock::time_point deadline, const CallOptions& options) {
    SSL* ssl = secure->native_handle();
    const std::string& name = ServerName();
    X509_VERIFY_PARAM* verify = SSL_get0_param(ssl);
    if (IsIpAddress(name)) {
      // No SNI: it carries host names only.
      if (!tls->skip_verification) X509_VERIFY_PARAM_set1_ip_asc(verify, name.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl, name.c_str());
      if (!tls->skip_verification) {
        X509_VERIFY_PARAM_set_hostflags(verify, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        X509_VERIFY_PARAM_set1_host(verify, name.c_str(), name.size());
      }
    }
    if (tls_session) SSL_set_session(ssl, tls_session.get());
    beast::error_code result;
    bool done = false;
    secure->async_handshake(asio::ssl::stream_base::client, [&](beast::error_code ec) {
      result = ec;
      done = true;
    });
    if (auto s = RunUntil(done, deadline, options, "TLS handshake with"); !s.ok()) return s;
    if (!result) return absl::OkStatus();
    long verified = tls->skip_verification ? X509_V_OK : SSL_get_verify_result(ssl);
    Disconnect();
    tls_session.reset();  // whatever went wrong, start afresh next time
    std::string prefix = absl::StrCat("TLS handshake with ", Where(), " failed: ");
    if (verified != X509_V_OK) {
      std::string hint;
      if (verified == X509_V_ERR_HOSTNAME_MISMATCH || verified == X509_V_ERR_IP_ADDRESS_MISMATCH) {
        hint = absl::StrCat(" (the certificate is not for '", name,
                            "'; connect by a name it holds, or set ClientTls::server_name)");
      } else if (verified == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
                 verified == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
                 verified == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
                 verified == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT) {
        hint = " (no trusted certificate authority issued it; add its CA to ClientTls::ca_files)";
      }
      return MakeError(absl::StatusCode::kFailedPrecondition, kTlsHandshakeFailed,
                       absl::StrCat(prefix, "certificate verify failed: ",
                                    X509_verify_cert_error_string(verified), hint));
    }
    std::string why = result.message();
    if (result == asio::ssl::error::stream_truncated || result == asio::error::eof ||
        result == asio::error::connection_reset) {
      why = "the server closed the connection (it may be at its connection limit)";
    } else if (result.category() == asio::error::get_ssl_category() &&
               ERR_GET_REASON(static_cast<unsigned long>(result.value())) ==
                   SSL_R_WRONG_VERSION_NUMBER) {
      why = absl::StrCat(why, "; the server does not seem to speak TLS on this port");
    }
    return MakeError(absl::StatusCode::kUnavailable, kTlsHandshakeFailed,
                     absl::StrCat(prefix, why));
  }

  // Keeps the connection's current session for the next connection; in TLS 1.3 it arrives after the
  // handshake, with the first response.
  void KeepTlsSession() {
    if (!secure) return;
    SSL_SESSION* session = SSL_get1_session(secure->native_handle());
    if (session && SSL_SESSION_is_resumable(session)) {
      tls_session.reset(session);
    } else if (session) {
      SSL_SESSION_free(session);
    }
  }
};

Client::Client(std::string host, uint16_t port) : Client(std::move(host), port, std::nullopt) {}

Client::Client(std::string host, uint16_t port, std::optional<ClientTls> tls)
    : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->tls = std::move(tls);
}

Client::~Client() = default;

const std::string& Client::host() const { return impl_->host; }
uint16_t Client::port() const { return impl_->port; }

absl::Status Client::CheckTls() {
  std::lock_guard lock(impl_->mu);
  if (!impl_->tls) return absl::OkStatus();
  return impl_->MakeTlsContext();
}

absl::StatusOr<Response> Client::Send(Request request, const CallOptions& options) {
  std::lock_guard lock(impl_->mu);
  auto deadline = Clock::now() + options.timeout;

  bhttp::request<bhttp::string_body> req;
  req.method_string(request.method);
  req.target(request.target);
  req.version(11);
  for (const auto& [name, value] : request.headers.fields()) req.set(name, value);
  if (!request.headers.Get("Host")) req.set(bhttp::field::host, impl_->Where());
  req.keep_alive(true);
  req.body() = std::move(request.body);
  req.prepare_payload();

  for (int attempt = 0;; ++attempt) {
    bool reused = impl_->connected();
    if (!reused) {
      if (auto s = impl_->Connect(deadline, options); !s.ok()) return s;
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    beast::error_code result;
    bool done = false;
    bool wrote = false;
    auto exchange = [&](auto& stream) {
      bhttp::async_write(stream, req, [&](beast::error_code ec, size_t) {
        if (ec) {
          result = ec;
          done = true;
          return;
        }
        wrote = true;
        bhttp::async_read(stream, impl_->buffer, parser, [&](beast::error_code ec2, size_t) {
          result = ec2;
          done = true;
        });
      });
    };
    if (impl_->secure) {
      exchange(*impl_->secure);
    } else {
      exchange(*impl_->plain);
    }
    if (auto s = impl_->RunUntil(done, deadline, options, "Request to"); !s.ok()) return s;
    if (result) {
      bool stale = result == bhttp::error::end_of_stream ||
                   result == asio::error::connection_reset || result == asio::error::broken_pipe ||
                   result == asio::error::eof || result == asio::ssl::error::stream_truncated;
      // A kept-alive connection the server had already closed: the request never reached it.
      bool retry = reused && stale && attempt == 0 && !parser.got_some();
      impl_->Disconnect(/*clean=*/retry);
      if (retry) continue;
      return absl::UnavailableError(absl::StrCat(request.method, " ", request.target, " to ",
                                                 impl_->Where(), " failed",
                                                 wrote ? " while reading the response: " : ": ",
                                                 result.message()));
    }
    impl_->KeepTlsSession();
    auto res = parser.release();
    Response out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& field : res) out.headers.Add(AsAbsl(field.name_string()), AsAbsl(field.value()));
    out.body = std::move(res.body());
    if (!res.keep_alive()) impl_->Disconnect(/*clean=*/true);
    return out;
  }
}

}  // namespace amlcore::http
