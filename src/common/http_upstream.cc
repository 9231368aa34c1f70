#include "common/http_upstream.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/event_loop_impl.h"
#include "common/string_views.h"
#include "common/unix_socket.h"

namespace amlcore::http {
namespace {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
// TCP or Unix, one type for both, so that pools and exchanges need not care which.
using Stream = beast::basic_stream<asio::generic::stream_protocol>;

using Clock = std::chrono::steady_clock;

// How long a connection may wait in the pool. Shorter than the idle timeout of amlcore's servers (60 s), so a
// pooled connection is not closed by its server in the instant between the check below and our write.
constexpr auto kMaxPooledIdle = std::chrono::seconds(20);

struct Connection {
  explicit Connection(asio::any_io_executor executor) : stream(executor) {}
  Stream stream;
  beast::flat_buffer buffer;
  Clock::time_point pooled_at;
};

// Whether a pooled connection can carry a request: its server has not closed it (no end of stream waiting to
// be read) and sent nothing unasked. Checked before writing, because once a byte is written the request may
// have been acted on and must not be sent again.
bool StillOpen(Connection& c) {
  if (Clock::now() - c.pooled_at > kMaxPooledIdle || c.buffer.size() != 0) return false;
  char byte;
  ssize_t n = recv(c.stream.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}
}  // namespace

struct UpstreamClient::Impl {
  explicit Impl(EventLoop* shared) : loop(shared) {}
  explicit Impl(int threads) : own_loop(std::make_unique<EventLoop>(threads)), loop(own_loop.get()) {}
  // First, so that it goes last: the idle connections below belong to its io_context.
  std::unique_ptr<EventLoop> own_loop;
  EventLoop* loop;
  asio::io_context& ioc = loop->impl().ioc;
  std::mutex mu;
  std::map<UpstreamAddress, std::vector<std::shared_ptr<Connection>>> idle;

  std::shared_ptr<Connection> TakeIdle(const UpstreamAddress& address) {
    std::lock_guard lock(mu);
    auto it = idle.find(address);
    if (it == idle.end() || it->second.empty()) return nullptr;
    auto c = std::move(it->second.back());
    it->second.pop_back();
    return c;
  }

  void GiveBack(const UpstreamAddress& address, std::shared_ptr<Connection> c) {
    c->pooled_at = Clock::now();
    std::lock_guard lock(mu);
    auto& list = idle[address];
    if (list.size() < 64) list.push_back(std::move(c));
  }

  // One request: over a pooled connection that is still open, else a fresh one. It is sent again only when
  // not a byte of it was written (a pooled connection that broke on the first write); once bytes are out,
  // the server may be acting on them, so a failure is reported, never retried. Runs on the connection's
  // strand.
  struct Exchange : std::enable_shared_from_this<Exchange> {
    Impl* impl;
    UpstreamAddress address;
    std::shared_ptr<Connection> connection;
    bool reused = false;
    bhttp::request<bhttp::string_body> request;
    std::optional<bhttp::response_parser<bhttp::string_body>> parser;
    std::chrono::steady_clock::time_point deadline;
    std::optional<asio::steady_timer> deadline_timer;  // while the response is awaited
    bool answered = false;                              // `done` has run
    Callback done;
    std::function<void()> settled;

    void Start() {
      while ((connection = impl->TakeIdle(address)) && !StillOpen(*connection)) {
        beast::error_code ignored;
        connection->stream.socket().close(ignored);
      }
      reused = connection != nullptr;
      if (!connection) return Connect();
      // On a loop thread (a front end's handler) the write starts right here, without a hand-off.
      asio::dispatch(connection->stream.get_executor(), [self = shared_from_this()] { self->Write(); });
    }

    // A fresh connection, then the request over it.
    void Connect() {
      connection = std::make_shared<Connection>(asio::make_strand(impl->ioc));
      connection->stream.expires_at(deadline);
      if (!address.unix_socket.empty()) {
        // A Unix socket connects at once or not at all; the request goes out on the connection's strand.
        auto fd = ConnectUnixSocket(address.unix_socket);
        beast::error_code ec;
        if (fd.ok()) {
          connection->stream.socket().assign(asio::generic::stream_protocol(AF_UNIX, 0), *fd, ec);
          if (ec) close(*fd);
        }
        auto self = shared_from_this();
        asio::dispatch(connection->stream.get_executor(), [self, ec, reachable = fd.ok()] {
          if (!reachable) return self->Finish(asio::error::connection_refused, false);
          if (ec) return self->Finish(ec, false);
          self->Write();
        });
        return;
      }
      beast::error_code bad_ip;
      asio::ip::address ip =
          address.ip.empty() ? asio::ip::address(asio::ip::address_v4::loopback()) : asio::ip::make_address(address.ip, bad_ip);
      if (bad_ip) {
        auto self = shared_from_this();
        asio::dispatch(connection->stream.get_executor(), [self, bad_ip] { self->Finish(bad_ip, false); });
        return;
      }
      connection->stream.async_connect(
          asio::generic::stream_protocol::endpoint(tcp::endpoint(ip, address.port)),
          [self = shared_from_this()](beast::error_code ec) {
            if (ec) return self->Finish(ec, false);
            beast::error_code ignored;
            self->connection->stream.socket().set_option(tcp::no_delay(true), ignored);
            self->Write();
          });
    }

    void Write() {
      connection->stream.expires_at(deadline);
      auto self = shared_from_this();
      bhttp::async_write(connection->stream, request, [self](beast::error_code ec, size_t written) {
        if (ec) return self->Finish(ec, written > 0);
        self->parser.emplace();
        self->parser->body_limit(std::numeric_limits<std::uint64_t>::max());
        if (self->settled) {
          // The caller's deadline ends its wait, not the server's work: the read goes on until the server
          // answers or closes, and only then is the request settled.
          self->connection->stream.expires_never();
          self->deadline_timer.emplace(self->connection->stream.get_executor(), self->deadline);
          self->deadline_timer->async_wait([self](beast::error_code timer_ec) {
            if (!timer_ec) self->TimedOut();
          });
        }
        bhttp::async_read(self->connection->stream, self->connection->buffer, *self->parser,
                          [self](beast::error_code ec2, size_t) {
                            if (self->deadline_timer) self->deadline_timer->cancel();
                            self->Finish(ec2, true);
                          });
      });
    }

    void Answer(absl::StatusOr<Response> response) {
      answered = true;
      done(std::move(response));
    }

    void Settle() {
      if (auto s = std::move(settled)) s();
      settled = nullptr;
    }

    void TimedOut() {
      if (answered) return;
      Answer(absl::DeadlineExceededError(absl::StrCat("No answer from ", address.ToString(), " in time")));
    }

    // `wrote`: some of the request was written, so the server may have acted on it.
    void Finish(beast::error_code ec, bool wrote) {
      beast::error_code ignored;
      if (answered) {
        // The late end of a request that timed out: whatever came back, the server is done with it.
        connection->stream.socket().close(ignored);
        return Settle();
      }
      if (!ec) {
        auto res = parser->release();
        Response out;
        out.status = static_cast<int>(res.result_int());
        for (const auto& field : res) out.headers.Add(AsAbsl(field.name_string()), AsAbsl(field.value()));
        out.body = std::move(res.body());
        if (res.keep_alive()) impl->GiveBack(address, std::move(connection));
        Answer(std::move(out));
        return Settle();
      }
      connection->stream.socket().close(ignored);
      if (ec == beast::error::timeout) {
        Answer(absl::DeadlineExceededError(absl::StrCat("No answer from ", address.ToString(), " in time")));
      } else if (wrote) {
        Answer(absl::AbortedError(absl::StrCat("Connection to ", address.ToString(), " failed: ", ec.message())));
      } else if (reused && std::chrono::steady_clock::now() < deadline) {
        // The pooled connection broke before any of the request left: a fresh one may still deliver it.
        reused = false;
        return Connect();
      } else {
        Answer(absl::UnavailableError(absl::StrCat("Cannot reach ", address.ToString(), ": ", ec.message())));
      }
      Settle();
    }
  };
};

std::string UpstreamAddress::ToString() const {
  if (!unix_socket.empty()) return absl::StrCat("unix:", unix_socket);
  if (ip.empty()) return absl::StrCat("127.0.0.1:", port);
  return ip.find(':') == std::string::npos ? absl::StrCat(ip, ":", port) : absl::StrCat("[", ip, "]:", port);
}

UpstreamClient::UpstreamClient(int threads) : impl_(std::make_unique<Impl>(threads)) {}

UpstreamClient::UpstreamClient(EventLoop* loop) : impl_(std::make_unique<Impl>(loop)) {}

UpstreamClient::~UpstreamClient() {
  if (impl_->own_loop) impl_->own_loop->Stop();
}

void UpstreamClient::Send(const UpstreamAddress& address, const Request& request, std::chrono::milliseconds timeout,
                          Callback done, std::function<void()> settled) {
  auto exchange = std::make_shared<Impl::Exchange>();
  exchange->impl = impl_.get();
  exchange->address = address;
  exchange->deadline = std::chrono::steady_clock::now() + timeout;
  exchange->done = std::move(done);
  exchange->settled = std::move(settled);
  auto& req = exchange->request;
  req.method_string(request.method);
  req.target(request.target);
  req.version(11);
  for (const auto& [name, value] : request.headers.fields()) req.set(name, value);
  req.set(bhttp::field::host, address.unix_socket.empty() ? address.ToString() : "localhost");
  req.keep_alive(true);
  req.body() = request.body;
  req.prepare_payload();
  exchange->Start();
}

void UpstreamClient::Forget(const UpstreamAddress& address) {
  std::lock_guard lock(impl_->mu);
  impl_->idle.erase(address);
}

}  // namespace amlcore::http
