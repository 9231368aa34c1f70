#include "common/http_server.h"

#include <array>
#include <atomic>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/event_loop_impl.h"
#include "common/json.h"
#include "common/string_views.h"

namespace amlcore::http {
namespace {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

Request ToRequest(bhttp::request<bhttp::string_body>&& in, std::string remote) {
  Request out;
  out.method = std::string(AsAbsl(in.method_string()));
  out.target = std::string(AsAbsl(in.target()));
  for (const auto& field : in) out.headers.Add(AsAbsl(field.name_string()), AsAbsl(field.value()));
  out.body = std::move(in.body());
  out.remote_address = std::move(remote);
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

// One connection. Stream is beast::tcp_stream or beast::ssl_stream<beast::tcp_stream>.
template <class Stream>
class Session : public ResponseSink, public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(Stream stream, const ServerOptions& options, const Handler& handler)
      : stream_(std::move(stream)), options_(options), handler_(handler) {}

  void Run() {
    beast::error_code ignored;
    auto endpoint = beast::get_lowest_layer(stream_).socket().remote_endpoint(ignored);
    if (!ignored) remote_ = endpoint.address().to_string();
    auto self = this->shared_from_this();
    asio::dispatch(stream_.get_executor(), [self] {
      if constexpr (kTls) {
        beast::get_lowest_layer(self->stream_).expires_after(std::chrono::seconds(30));
        self->stream_.async_handshake(asio::ssl::stream_base::server,
                                      [self](beast::error_code ec) {
                                        if (!ec) self->DoRead();
                                      });
      } else {
        self->DoRead();
      }
    });
  }

  void Send(Response response) override {
    auto self = this->shared_from_this();
    asio::dispatch(stream_.get_executor(), [self, response = std::move(response)]() mutable {
      self->Write(std::move(response));
    });
  }

 private:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  void DoRead() {
    parser_.emplace();
    parser_->body_limit(options_.max_body_bytes);
    parser_->header_limit(static_cast<uint32_t>(options_.max_header_bytes));
    beast::get_lowest_layer(stream_).expires_after(options_.idle_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](beast::error_code ec, size_t) {
                        self->OnRead(ec);
                      });
  }

  void OnRead(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == beast::error::timeout) {
      return Close();
    }
    if (ec == bhttp::error::body_limit) {
      keep_alive_ = false;
      linger_ = true;  // the client is still sending; let it finish so that it reads the 413
      return Write(options_.make_error(
          413, absl::StrCat("Request body is larger than the limit of ", options_.max_body_bytes,
                            " bytes.")));
    }
    if (ec == bhttp::error::header_limit) {
      keep_alive_ = false;
      return Write(options_.make_error(431, "Request header fields are too large."));
    }
    if (ec) {
      // Malformed requests get a 400 when the peer is still there; transport errors just close.
      if (ec.category() == make_error_code(bhttp::error::bad_method).category()) {
        keep_alive_ = false;
        if (ec != bhttp::error::partial_message) {
          return Write(options_.make_error(400, absl::StrCat("Malformed HTTP request: ", ec.message())));
        }
      }
      return Close();
    }
    auto request = parser_->release();
    version_ = request.version();
    keep_alive_ = request.keep_alive();
    // No timeout while the application works on the request; the write sets its own.
    beast::get_lowest_layer(stream_).expires_never();
    handler_(ToRequest(std::move(request), remote_),
             Responder(std::static_pointer_cast<ResponseSink>(this->shared_from_this())));
  }

  void Write(Response&& response) {
    response_ = ToBeast(std::move(response), version_, keep_alive_);
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(60));
    bhttp::async_write(stream_, response_,
                       [self = this->shared_from_this()](beast::error_code ec, size_t) {
                         if (ec || !self->response_.keep_alive()) return self->Close();
                         self->DoRead();
                       });
  }

  // After refusing a request mid-body: stop sending, read and drop what the client still sends, then close.
  void Linger() {
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_send, ignored);
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(10));
    auto self = this->shared_from_this();
    beast::get_lowest_layer(stream_).async_read_some(
        asio::buffer(scratch_), [self](beast::error_code ec, size_t n) {
          self->lingered_ += n;
          if (ec || self->lingered_ > (1ull << 31)) {
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
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      stream_.socket().close(ignored);
    }
  }

  Stream stream_;
  const ServerOptions& options_;
  const Handler& handler_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::response<bhttp::string_body> response_;
  std::string remote_;  // the peer's address
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool linger_ = false;
  uint64_t lingered_ = 0;
  std::array<char, 64 * 1024> scratch_;
};

}  // namespace

struct Server::Impl {
  ServerOptions options;
  Handler handler;
  std::unique_ptr<EventLoop> own_loop;  // when the options name none
  EventLoop* loop = nullptr;
  std::optional<asio::ssl::context> tls;
  std::optional<tcp::acceptor> acceptor;
  std::once_flag stopped;
  uint16_t port = 0;

  void Accept() {
    acceptor->async_accept(asio::make_strand(loop->impl().ioc), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
      if (!ec) {
        socket.set_option(tcp::no_delay(true), ec);
        beast::tcp_stream stream(std::move(socket));
        if (tls) {
          std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
              beast::ssl_stream<beast::tcp_stream>(std::move(stream), *tls), options, handler)
              ->Run();
        } else {
          std::make_shared<Session<beast::tcp_stream>>(std::move(stream), options, handler)->Run();
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

absl::StatusOr<std::unique_ptr<Server>> Server::Start(ServerOptions options, Handler handler) {
  auto impl = std::make_unique<Impl>();
  if (!options.make_error) {
    options.make_error = [](int status, std::string message) {
      return JsonErrorResponse(status, status == 413 ? "PayloadTooLarge" : "BadRequest", message);
    };
  }
  impl->options = std::move(options);
  impl->handler = std::move(handler);
  beast::error_code ec;
  if (impl->options.tls) {
    impl->tls.emplace(asio::ssl::context::tls_server);
    impl->tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                           asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                           asio::ssl::context::no_tlsv1_1);
    const auto& pem = *impl->options.tls;
    impl->tls->use_certificate_chain(asio::buffer(pem.certificate_chain_pem), ec);
    if (!ec) impl->tls->use_private_key(asio::buffer(pem.private_key_pem), asio::ssl::context::pem, ec);
    if (ec) return absl::InvalidArgumentError(absl::StrCat("TLS configuration refused: ", ec.message()));
  }
  auto address = asio::ip::make_address(impl->options.host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("Bad listen address '", impl->options.host, "'"));
  tcp::endpoint endpoint(address, impl->options.port);
  impl->loop = impl->options.loop;
  if (impl->loop == nullptr) {
    impl->own_loop = std::make_unique<EventLoop>(impl->options.threads);
    impl->loop = impl->own_loop.get();
  }
  impl->acceptor.emplace(impl->loop->impl().ioc);
  auto& acceptor = *impl->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("Cannot listen on ", impl->options.host, ":",
                                               impl->options.port, ": ", ec.message()));
  }
  impl->port = acceptor.local_endpoint().port();
  impl->Accept();
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Stop(); }

uint16_t Server::port() const { return impl_->port; }

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
      impl_->acceptor->close(ignored);
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
