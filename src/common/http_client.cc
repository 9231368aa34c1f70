#include "common/http_client.h"

#include <mutex>
#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/string_views.h"
#include "common/errors.h"

namespace amlcore::http {
namespace {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
}  // namespace

struct Client::Impl {
  std::string host;
  uint16_t port;
  std::mutex mu;
  asio::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  std::string Where() const { return absl::StrCat(host, ":", port); }

  void Disconnect() {
    if (stream) {
      beast::error_code ignored;
      stream->socket().close(ignored);
      stream.reset();
    }
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
        ioc.restart();
        ioc.poll();  // lets the aborted handlers finish while their captures are alive
        return absl::DeadlineExceededError(absl::StrCat(what, " ", Where(), " timed out after ",
                                                        options.timeout.count(), " ms"));
      }
      if (options.cancelled && options.cancelled()) {
        Disconnect();
        ioc.restart();
        ioc.poll();
        return absl::CancelledError(absl::StrCat(what, " ", Where(), " was cancelled"));
      }
      auto slice = std::min<Clock::duration>(deadline - now, std::chrono::milliseconds(100));
      ioc.run_for(slice);
      if (ioc.stopped() && !done) ioc.restart();
    }
    return absl::OkStatus();
  }

  absl::Status Connect(Clock::time_point deadline, const CallOptions& options) {
    Disconnect();
    stream.emplace(ioc);
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
                             stream->async_connect(results, [&](beast::error_code ec2, auto) {
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
    stream->socket().set_option(tcp::no_delay(true), ignored);
    return absl::OkStatus();
  }
};

Client::Client(std::string host, uint16_t port) : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
}

Client::~Client() = default;

const std::string& Client::host() const { return impl_->host; }
uint16_t Client::port() const { return impl_->port; }

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
    bool reused = impl_->stream.has_value();
    if (!reused) {
      if (auto s = impl_->Connect(deadline, options); !s.ok()) return s;
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    beast::error_code result;
    bool done = false;
    bool wrote = false;
    bhttp::async_write(*impl_->stream, req, [&](beast::error_code ec, size_t) {
      if (ec) {
        result = ec;
        done = true;
        return;
      }
      wrote = true;
      bhttp::async_read(*impl_->stream, impl_->buffer, parser, [&](beast::error_code ec2, size_t) {
        result = ec2;
        done = true;
      });
    });
    if (auto s = impl_->RunUntil(done, deadline, options, "Request to"); !s.ok()) return s;
    if (result) {
      impl_->Disconnect();
      bool stale = result == bhttp::error::end_of_stream || result == asio::error::connection_reset ||
                   result == asio::error::broken_pipe || result == asio::error::eof;
      // A kept-alive connection the server had already closed: the request never reached it.
      if (reused && stale && attempt == 0 && !parser.got_some()) continue;
      return absl::UnavailableError(absl::StrCat(request.method, " ", request.target, " to ",
                                                 impl_->Where(), " failed",
                                                 wrote ? " while reading the response: " : ": ",
                                                 result.message()));
    }
    auto res = parser.release();
    Response out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& field : res) out.headers.Add(AsAbsl(field.name_string()), AsAbsl(field.value()));
    out.body = std::move(res.body());
    if (!res.keep_alive()) impl_->Disconnect();
    return out;
  }
}

}  // namespace amlcore::http
