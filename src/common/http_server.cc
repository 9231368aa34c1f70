#include "common/http_server.h"

#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <future>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/event_loop_impl.h"
#include "common/json.h"
#include "common/log.h"
#include "common/string_views.h"
#include "common/unix_socket.h"

namespace amlcore::http {
namespace {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using TlsContext = std::shared_ptr<asio::ssl::context>;
using local = asio::local::stream_protocol;
using LocalStream = beast::basic_stream<local>;

template <class Stream>
struct IsTls : std::false_type {};
template <class Next>
struct IsTls<beast::ssl_stream<Next>> : std::true_type {};
// What a session's stream is made from: the connection itself, or the one TLS runs over.
template <class Stream>
struct Lowest {
  using type = Stream;
};
template <class Next>
struct Lowest<beast::ssl_stream<Next>> {
  using type = Next;
};

Request ToRequest(bhttp::request<bhttp::string_body>&& in, std::string remote, bool tls) {
  Request out;
  out.method = std::string(AsAbsl(in.method_string()));
  out.target = std::string(AsAbsl(in.target()));
  for (const auto& field : in) out.headers.Add(AsAbsl(field.name_string()), AsAbsl(field.value()));
  out.body = std::move(in.body());
  out.remote_address = std::move(remote);
  out.tls = tls;
  return out;
}

// The request's head, for ServerOptions::check_head: everything but the body.
Request ToHead(const bhttp::request<bhttp::string_body>& in, const std::string& remote, bool tls) {
  Request out;
  out.method = std::string(AsAbsl(in.method_string()));
  out.target = std::string(AsAbsl(in.target()));
  for (const auto& field : in) out.headers.Add(AsAbsl(field.name_string()), AsAbsl(field.value()));
  out.remote_address = remote;
  out.tls = tls;
  return out;
}

bhttp::response<bhttp::string_body> ToBeast(Response&& in, unsigned version, bool keep_alive) {
  bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(in.status), version};
  auto reason = ReasonPhrase(in.status);
  out.reason({reason.data(), reason.size()});
  for (auto& [name, value] : in.headers.fields()) out.insert(name, value);
  out.body() = std::move(in.body);
  out.keep_alive(keep_alive);
  out.prepare_payload();
  return out;
}

// The oldest OpenSSL error queued on this thread, as text, and the queue cleared.
std::string TakeOpenSslError() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  // "error:0480006C:PEM routines::no start line" -> "no start line (PEM routines)"
  std::vector<absl::string_view> parts = absl::StrSplit(absl::string_view(text), ':');
  if (parts.size() >= 5) return absl::StrCat(parts[4], " (", parts[2], ")");
  return text;
}

// Never prompts for a passphrase: encrypted keys are refused instead.
int NoPassphrase(char*, int, int, void*) { return -1; }

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* x509) const { X509_free(x509); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

std::unique_ptr<BIO, BioFree> ReadOnlyBio(const std::string& pem) {
  return std::unique_ptr<BIO, BioFree>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// TLS 1.2 suites: forward secrecy (ECDHE) and AEAD only. TLS 1.3 keeps OpenSSL's defaults, all of
// which are.
constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
// Names this server's sessions in its cache: a session is resumed only by the context kind that
// made it.
constexpr char kSessionIdContext[] = "amlcore-http";

// A server context for `config`, or InvalidArgument saying what is wrong with it.
absl::StatusOr<TlsContext> MakeTlsContext(const TlsConfig& config) {
  ERR_clear_error();
  auto refused = [](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("TLS configuration refused: ", what));
  };
  std::unique_ptr<X509, X509Free> leaf;
  if (auto bio = ReadOnlyBio(config.certificate_chain_pem)) {
    leaf.reset(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
  }
  if (!leaf) {
    return refused(
        absl::StrCat("the certificate chain is not a PEM certificate: ", TakeOpenSslError()));
  }
  std::unique_ptr<EVP_PKEY, PkeyFree> key;
  if (auto bio = ReadOnlyBio(config.private_key_pem)) {
    key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  }
  if (!key) {
    return refused(absl::StrCat("the private key is not an unencrypted PEM private key: ",
                                TakeOpenSslError()));
  }
  if (X509_check_private_key(leaf.get(), key.get()) != 1) {
    ERR_clear_error();
    char subject[256] = "";
    X509_NAME_oneline(X509_get_subject_name(leaf.get()), subject, sizeof(subject));
    return refused(absl::StrCat("the private key does not match the certificate ", subject,
                                "; give the key the certificate was issued for"));
  }

  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  SSL_CTX* ctx = context->native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // Unexpected EOF is an ordinary close: HTTP framing already tells a cut-short request, and a
  // fatal alert would evict the client's session from the cache.
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION |
                               SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
  SSL_CTX_set_session_id_context(ctx, reinterpret_cast<const unsigned char*>(kSessionIdContext),
                                 sizeof(kSessionIdContext) - 1);
  if (SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1) {
    return absl::InternalError(absl::StrCat("TLS cipher list refused: ", TakeOpenSslError()));
  }
  beast::error_code ec;
  context->use_certificate_chain(asio::buffer(config.certificate_chain_pem), ec);
  if (ec) return refused(absl::StrCat("the certificate chain cannot be used: ", ec.message()));
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    return refused(absl::StrCat("the private key cannot be used: ", TakeOpenSslError()));
  }
  if (!config.client_ca_pem.empty()) {
    context->add_certificate_authority(asio::buffer(config.client_ca_pem), ec);
    if (ec) return refused(absl::StrCat("the client CA is not a PEM certificate: ", ec.message()));
    context->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
  }
  return context;
}

// What the connections of one server share: options, handler, and the counts its limits apply to.
struct ServerState {
  ServerOptions options;
  Handler handler;
  std::atomic<size_t> connections{0};
  std::atomic<size_t> buffered_body_bytes{0};
  std::atomic<uint64_t> tls_handshakes{0};
  std::atomic<uint64_t> tls_resumed{0};
  std::atomic<uint64_t> tls_failed{0};

  // Counts `bytes` more of request bodies against the limit; false (and nothing counted) beyond it.
  bool ReserveBody(size_t bytes) {
    size_t current = buffered_body_bytes.load();
    do {
      if (bytes > options.max_buffered_body_bytes || current > options.max_buffered_body_bytes - bytes) {
        return false;
      }
    } while (!buffered_body_bytes.compare_exchange_weak(current, current + bytes));
    return true;
  }
  void ReleaseBody(size_t bytes) { buffered_body_bytes.fetch_sub(bytes); }

  void Log(const std::string& message) const {
    if (options.log) return options.log(message);
    logging::Warning(message);
  }
};

// Counts one open connection against max_connections for as long as it lives; moves from the
// protocol detector to the session.
class ConnectionSlot {
 public:
  explicit ConnectionSlot(ServerState& server) : server_(&server) {
    server_->connections.fetch_add(1);
  }
  ConnectionSlot(ConnectionSlot&& other) noexcept
      : server_(std::exchange(other.server_, nullptr)) {}
  ConnectionSlot& operator=(ConnectionSlot&&) = delete;
  ~ConnectionSlot() {
    if (server_) server_->connections.fetch_sub(1);
  }
  ServerState& server() const { return *server_; }

 private:
  ServerState* server_;
};

// One connection. Stream is beast::tcp_stream, beast::ssl_stream<beast::tcp_stream> or LocalStream.
//
// A request is read in steps: the header (parsed from what is buffered, else read), the head check and the
// body budget, then the body. A small request that arrives in one segment takes one read, as with a plain
// async_read.
template <class Stream>
class Session : public ResponseSink, public std::enable_shared_from_this<Session<Stream>> {
 public:
  // `buffer` holds what was read of the connection already (to tell TLS from plain); `opened` is
  // when it was accepted, which starts the clock for the first request's header (and, with TLS, the
  // handshake).
  Session(ConnectionSlot slot, typename Lowest<Stream>::type stream, TlsContext tls, beast::flat_buffer buffer,
          Clock::time_point opened)
      : slot_(std::move(slot)),
        server_(slot_.server()),
        tls_context_(std::move(tls)),
        stream_(MakeStream(std::move(stream), tls_context_.get())),
        buffer_(std::move(buffer)),
        opened_(opened) {}
  ~Session() override { ReleaseBody(); }

  void Run() {
    if constexpr (std::is_same_v<Stream, LocalStream>) {
      remote_ = "unix";
    } else {
      beast::error_code ignored;
      auto endpoint = beast::get_lowest_layer(stream_).socket().remote_endpoint(ignored);
      if (!ignored) remote_ = endpoint.address().to_string();
    }
    auto self = this->shared_from_this();
    asio::dispatch(stream_.get_executor(), [self] {
      if constexpr (kTls) {
        // The handshake counts against the first request's header time.
        beast::get_lowest_layer(self->stream_)
            .expires_at(self->opened_ + self->options().header_timeout);
        // Beast 1.81 checks this handler against void(error_code) but calls it with (error_code,
        // size_t): take the bytes used as an optional pack.
        self->stream_.async_handshake(asio::ssl::stream_base::server, self->buffer_.data(),
                                      [self](beast::error_code ec, auto... used) {
                                        self->buffer_.consume((size_t{0} + ... + used));
                                        self->OnHandshake(ec);
                                      });
      } else {
        self->DoRead();
      }
    });
  }

  // Answers 503 without reading a request: the server has as many connections as it may.
  void RefuseConnection() {
    auto self = this->shared_from_this();
    asio::dispatch(stream_.get_executor(), [self] {
      self->keep_alive_ = false;
      self->linger_ = true;  // the client may have sent its request already: let it read the reply
      self->linger_timeout_ = std::chrono::seconds(1);
      self->Write(self->server_.options.make_error(
          503,
          absl::StrCat("The server has reached its limit of ", self->server_.options.max_connections,
                       " open connections; retry later."),
          ""));
    });
  }

  void Send(Response response) override {
    auto self = this->shared_from_this();
    asio::dispatch(stream_.get_executor(), [self, response = std::move(response)]() mutable {
      self->Write(std::move(response));
    });
  }

 private:
  static constexpr bool kTls = IsTls<Stream>::value;
  const ServerOptions& options() const { return server_.options; }

  static Stream MakeStream(typename Lowest<Stream>::type stream, asio::ssl::context* tls) {
    if constexpr (kTls) {
      return Stream(std::move(stream), *tls);
    } else {
      return stream;
    }
  }

  void OnHandshake(beast::error_code ec) {
    if constexpr (kTls) {
      if (ec) {
        server_.tls_failed.fetch_add(1);
        // Nothing can be said to a peer without a session: the socket closes with this one.
        return;
      }
      server_.tls_handshakes.fetch_add(1);
      if (SSL_session_reused(stream_.native_handle())) server_.tls_resumed.fetch_add(1);
      DoRead();
    }
  }

  void DoRead() {
    parser_.emplace();
    parser_->body_limit(options().max_body_bytes);
    parser_->header_limit(static_cast<uint32_t>(options().max_header_bytes));
    if (first_request_) {
      // The first request's header clock starts with the connection.
      first_request_ = false;
      header_deadline_ = opened_ + options().header_timeout;
      return ReadHeader();
    }
    if (buffer_.size() > 0) {
      // A pipelined request is already here.
      header_deadline_ = std::chrono::steady_clock::now() + options().header_timeout;
      return ReadHeader();
    }
    // A kept-alive connection waits for its next request; the header clock starts at its first byte.
    beast::get_lowest_layer(stream_).expires_after(options().idle_timeout);
    stream_.async_read_some(buffer_.prepare(kReadSize),
                            [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) return self->Close();
                              self->buffer_.commit(n);
                              self->header_deadline_ = std::chrono::steady_clock::now() + self->options().header_timeout;
                              self->ReadHeader();
                            });
  }

  // Feeds buffered bytes to the parser; false (and the error handled) when the request is broken.
  bool ParseBuffered() {
    while (buffer_.size() > 0 && !parser_->is_done()) {
      beast::error_code ec;
      size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == bhttp::error::need_more) break;
      if (ec) {
        OnReadError(ec);
        return false;
      }
      if (used == 0 || !parser_->is_header_done()) break;
      if (!head_checked_) break;  // the head is checked before any of the body is parsed
      if (!GrowBodyReservation()) return false;
    }
    return true;
  }

  void ReadHeader() {
    head_checked_ = false;
    if (!ParseBuffered()) return;
    if (parser_->is_header_done()) return OnHeader();
    beast::get_lowest_layer(stream_).expires_at(header_deadline_);
    bhttp::async_read_header(stream_, buffer_, *parser_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->OnReadError(ec);
      self->OnHeader();
    });
  }

  void OnHeader() {
    const auto& header = parser_->get();
    version_ = header.version();
    keep_alive_ = header.keep_alive();
    if (options().check_head) {
      if (auto refusal = options().check_head(ToHead(header, remote_, kTls)))
        return Refuse(std::move(*refusal));
    }
    head_checked_ = true;
    if (auto length = parser_->content_length(); length && *length > 0) {
      if (!server_.ReserveBody(*length)) return RefuseForBudget();
      reserved_ = *length;
    }
    parser_->eager(true);  // from here on, parse as much of the body as has arrived
    if (!parser_->is_done() && version_ == 11 &&
        absl::EqualsIgnoreCase(AsAbsl(header[bhttp::field::expect]), "100-continue")) {
      // The client waits for this before sending its body.
      beast::get_lowest_layer(stream_).expires_after(options().body_read_timeout);
      static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(kContinue, sizeof(kContinue) - 1),
                        [self = this->shared_from_this()](beast::error_code ec, size_t) {
                          if (ec) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    if (!ParseBuffered()) return;
    if (parser_->is_done()) return OnRequest();
    beast::get_lowest_layer(stream_).expires_after(options().body_read_timeout);
    bhttp::async_read_some(stream_, buffer_, *parser_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->OnReadError(ec);
      if (!self->GrowBodyReservation()) return;
      self->ReadBody();
    });
  }

  // A body without a length (chunked) is counted as it grows.
  bool GrowBodyReservation() {
    size_t have = parser_->get().body().size();
    if (have <= reserved_) return true;
    if (!server_.ReserveBody(have - reserved_)) {
      RefuseForBudget();
      return false;
    }
    reserved_ = have;
    return true;
  }

  void RefuseForBudget() {
    Refuse(options().make_error(503,
                                absl::StrCat("The server is receiving too much request data at once (limit ",
                                             options().max_buffered_body_bytes, " bytes); retry later."),
                                HeadTarget()));
  }

  // The target of the request being read, once its request line is ("" before).
  std::string HeadTarget() const { return parser_ ? std::string(parser_->get().target()) : std::string(); }

  // Answers without reading (more of) the body, then closes.
  void Refuse(Response response) {
    keep_alive_ = false;
    linger_ = !parser_->is_done();
    Write(std::move(response));
  }

  void OnReadError(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == beast::error::timeout) {
      return Close();
    }
    if (ec == bhttp::error::body_limit) {
      keep_alive_ = false;
      linger_ = true;  // the client is still sending; let it finish so that it reads the 413
      return Write(options().make_error(
          413, absl::StrCat("Request body is larger than the limit of ", options().max_body_bytes, " bytes."),
          HeadTarget()));
    }
    if (ec == bhttp::error::header_limit) {
      keep_alive_ = false;
      return Write(options().make_error(431, "Request header fields are too large.", ""));
    }
    if (ec.category() == make_error_code(bhttp::error::bad_method).category()) {
      // Malformed requests get a 400 when the peer is still there; transport errors just close.
      keep_alive_ = false;
      if (ec != bhttp::error::partial_message) {
        return Write(options().make_error(400, absl::StrCat("Malformed HTTP request: ", ec.message()), ""));
      }
    }
    Close();
  }

  void OnRequest() {
    auto request = parser_->release();
    // No timeout while the application works on the request; the write sets its own.
    beast::get_lowest_layer(stream_).expires_never();
    server_.handler(ToRequest(std::move(request), remote_, kTls),
                    Responder(std::static_pointer_cast<ResponseSink>(this->shared_from_this())));
  }

  void ReleaseBody() {
    server_.ReleaseBody(reserved_);
    reserved_ = 0;
  }

  void Write(Response&& response) {
    ReleaseBody();  // the request is answered: its body no longer counts
    response_ = ToBeast(std::move(response), version_, keep_alive_);
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(60));
    bhttp::async_write(stream_, response_,
                       [self = this->shared_from_this()](beast::error_code ec, size_t) {
                         if (ec || !self->response_.keep_alive()) return self->Close();
                         self->DoRead();
                       });
  }

  // After refusing a request mid-body: stop sending, read and drop what the client still sends (at most a
  // body's worth), then close. Closing with unread data would reset the connection before the client reads
  // the reply.
  void Linger() {
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(asio::socket_base::shutdown_send, ignored);
    beast::get_lowest_layer(stream_).expires_after(linger_timeout_);
    auto self = this->shared_from_this();
    beast::get_lowest_layer(stream_).async_read_some(
        asio::buffer(scratch_), [self](beast::error_code ec, size_t n) {
          self->lingered_ += n;
          if (ec || self->lingered_ > self->options().max_body_bytes) {
            beast::error_code ignored2;
            beast::get_lowest_layer(self->stream_).socket().close(ignored2);
            return;
          }
          self->Linger();
        });
  }

  void Close() {
    if (linger_) return Linger();
    beast::error_code ignored;
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
        beast::error_code ignored2;
        beast::get_lowest_layer(self->stream_).socket().close(ignored2);
      });
    } else {
      stream_.socket().shutdown(asio::socket_base::shutdown_send, ignored);
      stream_.socket().close(ignored);
    }
  }

  static constexpr size_t kReadSize = 16 * 1024;

  ConnectionSlot slot_;
  ServerState& server_;
  // Held for the stream's whole life: SetTls may replace the server's context meanwhile.
  TlsContext tls_context_;
  Stream stream_;
  beast::flat_buffer buffer_;
  Clock::time_point opened_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::response<bhttp::string_body> response_;
  std::string remote_;  // the peer's address
  std::chrono::steady_clock::time_point header_deadline_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool first_request_ = true;
  bool head_checked_ = false;
  size_t reserved_ = 0;  // of the server's body budget, for the current request
  bool linger_ = false;
  std::chrono::steady_clock::duration linger_timeout_ = std::chrono::seconds(10);
  uint64_t lingered_ = 0;
  std::array<char, 16 * 1024> scratch_;
};

using PlainSession = Session<beast::tcp_stream>;
using TlsSession = Session<beast::ssl_stream<beast::tcp_stream>>;

// On a port that serves TLS and plain HTTP both: reads the connection's first bytes, then hands the
// connection with those bytes to a TLS or a plain session. Over the connection limit, a plain
// client gets its 503 and a TLS one is closed before any handshake work.
class ProtocolDetector : public std::enable_shared_from_this<ProtocolDetector> {
 public:
  ProtocolDetector(ConnectionSlot slot, beast::tcp_stream stream, TlsContext tls, bool over_limit,
                   Clock::time_point opened)
      : slot_(std::move(slot)),
        stream_(std::move(stream)),
        tls_(std::move(tls)),
        over_limit_(over_limit),
        opened_(opened) {}

  void Run() {
    // A refused client is not waited for long; others have the first request's header time.
    stream_.expires_at(
        opened_ + (over_limit_ ? std::chrono::seconds(1) : slot_.server().options.header_timeout));
    beast::async_detect_ssl(
        stream_, buffer_, [self = shared_from_this()](beast::error_code ec, bool is_tls) {
          if (ec) return;  // gone, or silent too long: the socket closes with the detector
          self->OnDetected(is_tls);
        });
  }

 private:
  void OnDetected(bool is_tls) {
    if (is_tls) {
      if (over_limit_) return;
      std::make_shared<TlsSession>(std::move(slot_), std::move(stream_), std::move(tls_),
                                   std::move(buffer_), opened_)
          ->Run();
      return;
    }
    auto session = std::make_shared<PlainSession>(std::move(slot_), std::move(stream_), nullptr,
                                                  std::move(buffer_), opened_);
    if (over_limit_) {
      session->RefuseConnection();
    } else {
      session->Run();
    }
  }

  ConnectionSlot slot_;
  beast::tcp_stream stream_;
  TlsContext tls_;
  bool over_limit_;
  Clock::time_point opened_;
  beast::flat_buffer buffer_;
};

// Errors of accept() that mean the process or system is out of something; retrying at once would spin.
bool OutOfResources(const beast::error_code& ec) {
  return ec == asio::error::no_descriptors || ec == boost::system::errc::too_many_files_open_in_system ||
         ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}

}  // namespace

struct Server::Impl {
  ServerState state;
  std::unique_ptr<EventLoop> own_loop;  // when the options name none
  EventLoop* loop = nullptr;
  mutable std::mutex tls_mu;
  TlsContext tls;  // for connections accepted from now on; null without TLS
  std::optional<tcp::acceptor> acceptor;
  std::optional<local::acceptor> local_acceptor;  // instead of `acceptor`, on a Unix socket
  std::optional<asio::steady_timer> accept_pause;
  uint64_t accept_failures = 0;  // in a row; touched by accept handlers only, which never overlap
  std::once_flag stopped;
  uint16_t port = 0;

  TlsContext CurrentTls() const {
    std::lock_guard lock(tls_mu);
    return tls;
  }

  bool Listening() const { return acceptor ? acceptor->is_open() : local_acceptor->is_open(); }

  // After accept() failed for want of descriptors or memory. The pending connection stays in the backlog and
  // the listener stays readable: trying again at once would spin. Pause, and let descriptors free up
  // (connections close, idle ones time out); say so once.
  void PauseAccepting(const beast::error_code& ec, const std::string& where) {
    if (accept_failures++ == 0) {
      state.Log(absl::StrCat("Cannot accept connections on ", where, ": ", ec.message(), "; trying again every 100 ms"));
    }
    accept_pause->expires_after(std::chrono::milliseconds(100));
    accept_pause->async_wait([this](beast::error_code timer_ec) {
      if (!timer_ec && Listening()) Accept();
    });
  }

  void Accept() {
    if (local_acceptor) return AcceptLocal();
    acceptor->async_accept(asio::make_strand(loop->impl().ioc), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
      if (ec && OutOfResources(ec)) return PauseAccepting(ec, absl::StrCat("port ", port));
      if (!ec) {
        if (accept_failures > 0) {
          state.Log(absl::StrCat("Accepting connections on port ", port, " again after ", accept_failures,
                                 " failed attempts"));
          accept_failures = 0;
        }
        auto opened = Clock::now();
        bool over_limit = state.connections.load() >= state.options.max_connections;
        socket.set_option(tcp::no_delay(true), ec);
        ConnectionSlot slot(state);
        beast::tcp_stream stream(std::move(socket));
        if (TlsContext context = CurrentTls()) {
          std::make_shared<ProtocolDetector>(std::move(slot), std::move(stream), std::move(context),
                                             over_limit, opened)
              ->Run();
        } else if (over_limit) {
          std::make_shared<PlainSession>(std::move(slot), std::move(stream), nullptr,
                                         beast::flat_buffer(), opened)
              ->RefuseConnection();
        } else {
          std::make_shared<PlainSession>(std::move(slot), std::move(stream), nullptr,
                                         beast::flat_buffer(), opened)
              ->Run();
        }
      }
      Accept();
    });
  }

  // The same on a Unix socket: only processes that may open its path connect, so no TLS.
  void AcceptLocal() {
    local_acceptor->async_accept(asio::make_strand(loop->impl().ioc), [this](beast::error_code ec, local::socket socket) {
      if (ec == asio::error::operation_aborted || !local_acceptor->is_open()) return;
      if (ec && OutOfResources(ec)) return PauseAccepting(ec, state.options.unix_socket);
      if (!ec) {
        accept_failures = 0;
        bool over_limit = state.connections.load() >= state.options.max_connections;
        auto session = std::make_shared<Session<LocalStream>>(ConnectionSlot(state), LocalStream(std::move(socket)),
                                                              nullptr, beast::flat_buffer(), Clock::now());
        if (over_limit) {
          session->RefuseConnection();
        } else {
          session->Run();
        }
      }
      Accept();
    });
  }
};

Responder::~Responder() {
  if (sink_) sink_->Send(JsonErrorResponse(500, "InternalError", "The request was dropped without a reply."));
}

void Responder::operator()(Response response) && {
  auto sink = std::move(sink_);
  if (sink) sink->Send(std::move(response));
}

namespace {
class ObservingSink : public ResponseSink {
 public:
  ObservingSink(Responder inner, std::function<void(Response&)> observe)
      : inner_(std::move(inner)), observe_(std::move(observe)) {}
  void Send(Response response) override {
    observe_(response);
    std::move(inner_)(std::move(response));
  }

 private:
  Responder inner_;
  std::function<void(Response&)> observe_;
};
}  // namespace

Responder Observed(Responder inner, std::function<void(Response&)> observe) {
  return Responder(std::make_shared<ObservingSink>(std::move(inner), std::move(observe)));
}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(ServerOptions options, Handler handler) {
  auto impl = std::make_unique<Impl>();
  if (!options.make_error) {
    options.make_error = [](int status, std::string message, absl::string_view) {
      absl::string_view code = status == 413 ? "PayloadTooLarge" : status == 503 ? "ServiceUnavailable" : "BadRequest";
      return JsonErrorResponse(status, code, message);
    };
  }
  impl->state.options = std::move(options);
  impl->state.handler = std::move(handler);
  const ServerOptions& opts = impl->state.options;
  beast::error_code ec;
  if (opts.tls) {
    auto context = MakeTlsContext(*opts.tls);
    if (!context.ok()) return context.status();
    impl->tls = *std::move(context);
  }
  impl->loop = opts.loop;
  if (impl->loop == nullptr) {
    impl->own_loop = std::make_unique<EventLoop>(opts.threads);
    impl->loop = impl->own_loop.get();
  }
  impl->accept_pause.emplace(impl->loop->impl().ioc);
  if (!opts.unix_socket.empty()) {
    if (opts.tls) return absl::InvalidArgumentError("TLS is not served on a Unix socket");
    auto fd = ListenUnixSocket(opts.unix_socket, 0600);
    if (!fd.ok()) return fd.status();
    impl->local_acceptor.emplace(impl->loop->impl().ioc);
    impl->local_acceptor->assign(local(), *fd, ec);
    if (ec) {
      close(*fd);
      return absl::InternalError(absl::StrCat("Cannot listen on ", opts.unix_socket, ": ", ec.message()));
    }
    impl->Accept();
    return std::unique_ptr<Server>(new Server(std::move(impl)));
  }
  auto address = asio::ip::make_address(opts.host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("Bad listen address '", opts.host, "'"));
  tcp::endpoint endpoint(address, opts.port);
  impl->acceptor.emplace(impl->loop->impl().ioc);
  auto& acceptor = *impl->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("Cannot listen on ", opts.host, ":", opts.port, ": ", ec.message()));
  }
  impl->port = acceptor.local_endpoint().port();
  impl->Accept();
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Stop(); }

uint16_t Server::port() const { return impl_->port; }

absl::Status Server::SetTls(std::optional<TlsConfig> tls) {
  if (tls && impl_->local_acceptor) return absl::InvalidArgumentError("TLS is not served on a Unix socket");
  TlsContext context;
  if (tls) {
    auto made = MakeTlsContext(*tls);
    if (!made.ok()) return made.status();
    context = *std::move(made);
  }
  std::lock_guard lock(impl_->tls_mu);
  impl_->tls = std::move(context);  // sessions hold the one they started with
  return absl::OkStatus();
}

TlsCounters Server::tls_counters() const {
  return {.handshakes = impl_->state.tls_handshakes.load(),
          .resumed = impl_->state.tls_resumed.load(),
          .failed = impl_->state.tls_failed.load()};
}

void Server::Stop() {
  std::call_once(impl_->stopped, [this] {
    auto& ioc = impl_->loop->impl().ioc;
    if (impl_->own_loop) {
      // Stopping the loop ends every connection with it; the acceptor goes with the server.
      impl_->own_loop->Stop();
      return;
    }
    if (ioc.stopped()) return;
    // Closed on the loop, and waited for, so that no accept is started after Stop returns.
    std::promise<void> closed;
    asio::post(ioc, [this, &closed] {
      beast::error_code ignored;
      if (impl_->acceptor) impl_->acceptor->close(ignored);
      if (impl_->local_acceptor) impl_->local_acceptor->close(ignored);
      impl_->accept_pause->cancel();
      closed.set_value();
    });
    closed.get_future().wait();
  });
}

Response JsonErrorResponse(int status, absl::string_view code, absl::string_view message) {
  boost::json::object error{{"code", json::Bj(code)}, {"message", json::Bj(message)}};
  return Response::Json(status, boost::json::serialize(boost::json::object{{"error", std::move(error)}}));
}

}  // namespace amlcore::http
