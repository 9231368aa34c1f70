#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

#include "common/http_client.h"
#include "common/http_router.h"
#include "common/http_server.h"
#include "common/http_types.h"
#include "absl/strings/match.h"
#include "cpp/test_support.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace amlcore::http {
namespace {
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A client socket for what http::Client will not do: send part of a request, or hold a connection idle.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  }
  ~RawConnection() { Close(); }
  bool connected() const { return connected_; }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  bool Send(const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
      ssize_t n = send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }
  // What arrives until the peer closes or `limit` passes; `closed` tells which.
  std::string Receive(std::chrono::milliseconds limit, bool* closed = nullptr) {
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + limit;
    if (closed) *closed = false;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      char buffer[4096];
      ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) {
        if (closed) *closed = true;
        break;
      }
      out.append(buffer, static_cast<size_t>(n));
    }
    return out;
  }
  // Reads until a whole response head has arrived (or `limit` passes).
  std::string ReceiveHead(std::chrono::milliseconds limit = 10s) {
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (out.find("\r\n\r\n") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      char buffer[4096];
      ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) break;
      out.append(buffer, static_cast<size_t>(n));
    }
    return out;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

TEST(HttpTypesTest, QueryParametersAndUrls) {
  Request r{.method = "GET", .target = "/a/b?x=1&name=hello%20world&flag"};
  EXPECT_EQ(r.path(), "/a/b");
  EXPECT_EQ(r.QueryParam("name"), "hello world");
  EXPECT_EQ(r.QueryParam("flag"), "");
  EXPECT_EQ(r.QueryParam("missing"), std::nullopt);
  auto url = ParseUrl("http://127.0.0.1:8080/base/");
  ASSERT_TRUE(url.has_value());
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, 8080);
  EXPECT_EQ(url->path, "/base");
  auto v6 = ParseUrl("https://[::1]:9443");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_FALSE(ParseUrl("ftp://x").has_value());
}

TEST(HttpTypesTest, BearerSchemeIsCaseInsensitive) {
  for (const char* value : {"Bearer abc", "bearer abc", "BEARER abc", "BeArEr   abc", "Bearer\tabc"}) {
    Headers headers;
    headers.Set("Authorization", value);
    EXPECT_EQ(BearerCredential(headers), "abc") << value;
  }
  for (const char* value : {"Basic abc", "Bearerabc", "Bearer", "Bearer ", "abc"}) {
    Headers headers;
    headers.Set("Authorization", value);
    EXPECT_EQ(BearerCredential(headers), std::nullopt) << value;
  }
  EXPECT_EQ(BearerCredential(Headers()), std::nullopt);
}

TEST(HttpServerTest, AnswersKeepsAliveAndDefersReplies) {
  std::atomic<int> calls{0};
  // Joined before the server goes: a Responder must not outlive its server's loop (see http_server.h).
  std::thread replier;
  auto server = Server::Start({.port = 0}, [&](Request request, Responder reply) {
    ++calls;
    if (request.path() == "/later") {
      replier = std::thread([reply = std::move(reply)]() mutable {
        std::this_thread::sleep_for(20ms);
        std::move(reply)(Response::Text(200, "late"));
      });
      return;
    }
    if (request.path() == "/dropped") return;  // the Responder's destructor answers 500
    std::move(reply)(Response::Text(200, request.body));
  });
  ASSERT_TRUE(server.ok()) << server.status();
  Client client("127.0.0.1", (*server)->port());
  for (int i = 0; i < 3; ++i) {
    auto echo = client.Send({.method = "POST", .target = "/echo", .body = "hi"});
    ASSERT_TRUE(echo.ok()) << echo.status();
    EXPECT_EQ(echo->body, "hi");
  }
  auto later = client.Send({.method = "GET", .target = "/later"});
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->body, "late");
  auto dropped = client.Send({.method = "GET", .target = "/dropped"});
  ASSERT_TRUE(dropped.ok());
  EXPECT_EQ(dropped->status, 500);
  EXPECT_EQ(calls.load(), 5);
  replier.join();
}

TEST(HttpServerTest, RefusesOversizedBodies) {
  auto server = Server::Start({.port = 0, .max_body_bytes = 1000},
                              [](Request, Responder reply) { std::move(reply)(Response::Text(200, "ok")); });
  ASSERT_TRUE(server.ok());
  Client client("127.0.0.1", (*server)->port());
  auto response = client.Send({.method = "POST", .target = "/", .body = std::string(5000, 'x')});
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 413);
  EXPECT_THAT(response->body, HasSubstr("larger than the limit of 1000 bytes"));
}

TEST(HttpServerTest, ChecksTheHeadBeforeReadingTheBody) {
  std::atomic<int> handled{0};
  std::mutex mu;
  std::vector<std::string> heads;
  auto server = Server::Start(
      {.port = 0,
       .check_head =
           [&](const Request& head) -> std::optional<Response> {
             std::lock_guard lock(mu);
             heads.push_back(absl::StrCat(head.method, " ", head.target, " body:", head.body.size()));
             if (head.headers.Get("Authorization") == "let me in") return std::nullopt;
             return JsonErrorResponse(401, "Unauthorized", "Say the word.");
           }},
      [&](Request request, Responder reply) {
        ++handled;
        std::move(reply)(Response::Text(200, absl::StrCat(request.body.size())));
      });
  ASSERT_TRUE(server.ok()) << server.status();

  // Only the header of a 90 MB upload is sent: the refusal must come without waiting for the body.
  RawConnection refused((*server)->port());
  ASSERT_TRUE(refused.Send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 94371840\r\n\r\n"));
  std::string reply = refused.ReceiveHead();
  EXPECT_THAT(reply, StartsWith("HTTP/1.1 401 Unauthorized\r\n"));
  EXPECT_THAT(reply, HasSubstr("Connection: close"));
  // The client may go on sending; what it sends is dropped, then the connection closes.
  EXPECT_TRUE(refused.Send(std::string(1 << 20, 'x')));
  refused.Close();
  EXPECT_EQ(handled.load(), 0);

  Client client("127.0.0.1", (*server)->port());
  Request allowed{.method = "POST", .target = "/upload", .body = std::string(1000, 'y')};
  allowed.headers.Set("Authorization", "let me in");
  auto ok = client.Send(std::move(allowed));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, "1000");
  std::lock_guard lock(mu);
  EXPECT_EQ(heads, (std::vector<std::string>{"POST /upload body:0", "POST /upload body:0"}));
}

TEST(HttpServerTest, RefusesBodiesBeyondTheBufferedLimit) {
  std::mutex mu;
  std::vector<Responder> parked;
  auto server = Server::Start({.port = 0, .max_buffered_body_bytes = 1000000}, [&](Request request, Responder reply) {
    if (request.target == "/park") {
      std::lock_guard lock(mu);
      parked.push_back(std::move(reply));
      return;
    }
    std::move(reply)(Response::Text(200, absl::StrCat(request.body.size())));
  });
  ASSERT_TRUE(server.ok()) << server.status();
  // 600 kB held by a request that is not answered yet.
  std::thread holder([&] {
    Client client("127.0.0.1", (*server)->port());
    (void)client.Send({.method = "POST", .target = "/park", .body = std::string(600000, 'a')});
  });
  ASSERT_TRUE(testing::Eventually([&] {
    std::lock_guard lock(mu);
    return parked.size() == 1;
  }));
  Client client("127.0.0.1", (*server)->port());
  auto refused = client.Send({.method = "POST", .target = "/echo", .body = std::string(600000, 'b')});
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_EQ(refused->status, 503);
  EXPECT_THAT(refused->body, HasSubstr("receiving too much request data at once (limit 1000000 bytes)"));
  // A chunked body has no length to check up front; it is counted as it arrives.
  RawConnection chunked((*server)->port());
  ASSERT_TRUE(chunked.Send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
  bool sending = true;
  for (int i = 0; i < 10 && sending; ++i) sending = chunked.Send(absl::StrCat("186a0\r\n", std::string(100000, 'c'), "\r\n"));
  EXPECT_THAT(chunked.ReceiveHead(), StartsWith("HTTP/1.1 503 "));
  // Small bodies still fit.
  auto small = client.Send({.method = "POST", .target = "/echo", .body = std::string(1000, 'd')});
  ASSERT_TRUE(small.ok()) << small.status();
  EXPECT_EQ(small->status, 200);
  {
    std::lock_guard lock(mu);
    for (auto& reply : parked) std::move(reply)(Response::Text(200, "done"));
    parked.clear();
  }
  holder.join();
  // Answered, the held body no longer counts.
  auto after = client.Send({.method = "POST", .target = "/echo", .body = std::string(600000, 'e')});
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->status, 200);
  EXPECT_EQ(after->body, "600000");
}

TEST(HttpServerTest, CapsOpenConnections) {
  auto server = Server::Start({.port = 0, .max_connections = 3},
                              [](Request, Responder reply) { std::move(reply)(Response::Text(200, "ok")); });
  ASSERT_TRUE(server.ok()) << server.status();
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 3; ++i) {
    idle.push_back(std::make_unique<RawConnection>((*server)->port()));
    ASSERT_TRUE(idle.back()->Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    ASSERT_THAT(idle.back()->ReceiveHead(), StartsWith("HTTP/1.1 200 OK"));
  }
  RawConnection extra((*server)->port());
  ASSERT_TRUE(extra.connected());
  bool closed = false;
  std::string refused = extra.Receive(10s, &closed);
  EXPECT_THAT(refused, StartsWith("HTTP/1.1 503 "));
  EXPECT_THAT(refused, HasSubstr("Connection: close"));
  EXPECT_THAT(refused, HasSubstr("limit of 3 open connections"));
  EXPECT_TRUE(closed);
  // A connection that closes makes room.
  idle.pop_back();
  EXPECT_TRUE(testing::Eventually([&] {
    RawConnection next((*server)->port());
    next.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    return absl::StartsWith(next.ReceiveHead(), "HTTP/1.1 200 OK");
  }));
}

TEST(HttpServerTest, SlowHeadersTimeOutLongBeforeIdleConnections) {
  auto server = Server::Start({.port = 0, .header_timeout = 1s, .idle_timeout = 60s},
                              [](Request, Responder reply) { std::move(reply)(Response::Text(200, "ok")); });
  ASSERT_TRUE(server.ok()) << server.status();
  RawConnection kept((*server)->port());
  ASSERT_TRUE(kept.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_THAT(kept.ReceiveHead(), StartsWith("HTTP/1.1 200 OK"));
  // A header that never ends, and a connection that never says anything: both hold a connection for
  // nothing, and are closed after the header timeout.
  RawConnection slow((*server)->port());
  ASSERT_TRUE(slow.Send("GET / HTTP/1.1\r\nHost: x\r\n"));
  RawConnection silent((*server)->port());
  bool closed = false;
  slow.Receive(20s, &closed);
  EXPECT_TRUE(closed) << "a header that never completes must not hold a connection";
  closed = false;
  silent.Receive(20s, &closed);
  EXPECT_TRUE(closed) << "a connection that sends nothing must not be kept";
  // Meanwhile the kept-alive connection, idle but well within its idle timeout, still serves.
  ASSERT_TRUE(kept.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_THAT(kept.ReceiveHead(), StartsWith("HTTP/1.1 200 OK"));
}

TEST(HttpServerTest, IdleKeptAliveConnectionsClose) {
  auto server = Server::Start({.port = 0, .idle_timeout = 1s},
                              [](Request, Responder reply) { std::move(reply)(Response::Text(200, "ok")); });
  ASSERT_TRUE(server.ok()) << server.status();
  RawConnection idle((*server)->port());
  ASSERT_TRUE(idle.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_THAT(idle.ReceiveHead(), StartsWith("HTTP/1.1 200 OK"));
  bool closed = false;
  idle.Receive(20s, &closed);
  EXPECT_TRUE(closed);
}

// The highest file descriptor this process has open.
int HighestOpenDescriptor() {
  int highest = 0;
  DIR* dir = opendir("/proc/self/fd");
  while (dirent* entry = readdir(dir)) {
    int fd = 0;
    if (absl::SimpleAtoi(entry->d_name, &fd)) highest = std::max(highest, fd);
  }
  closedir(dir);
  return highest;
}

TEST(HttpServerTest, BacksOffWhileOutOfFileDescriptors) {
  std::mutex mu;
  std::vector<std::string> logged;
  auto log_has = [&](absl::string_view text) {
    std::lock_guard lock(mu);
    for (const auto& line : logged) {
      if (absl::StrContains(line, text)) return line;
    }
    return std::string();
  };
  auto server = Server::Start({.port = 0,
                               .log =
                                   [&](absl::string_view message) {
                                     std::lock_guard lock(mu);
                                     logged.emplace_back(message);
                                   }},
                              [](Request, Responder reply) { std::move(reply)(Response::Text(200, "ok")); });
  ASSERT_TRUE(server.ok()) << server.status();
  // Client sockets are made while descriptors remain and connected once they are gone: only the server's
  // accept() runs out.
  std::vector<int> clients;
  for (int i = 0; i < 4; ++i) clients.push_back(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  rlimit original;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &original), 0);
  rlimit lowered = original;
  lowered.rlim_cur = HighestOpenDescriptor() + 16;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);
  std::vector<int> filler;
  for (int fd; (fd = fcntl(clients[0], F_DUPFD_CLOEXEC, 0)) >= 0;) filler.push_back(fd);
  ASSERT_EQ(errno, EMFILE);

  auto exhausted_at = std::chrono::steady_clock::now();
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons((*server)->port());
  for (int fd : clients) ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  EXPECT_TRUE(testing::Eventually([&] { return !log_has("Cannot accept connections").empty(); }));
  EXPECT_THAT(log_has("Cannot accept connections"), HasSubstr("Too many open files"));
  // Held out of descriptors for a while, to see the server wait between attempts rather than spin.
  std::this_thread::sleep_for(500ms);

  for (int fd : filler) close(fd);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &original), 0);
  std::string recovered;
  EXPECT_TRUE(testing::Eventually([&] { return !(recovered = log_has("again after")).empty(); }));
  auto elapsed_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - exhausted_at).count();
  // One attempt per 100 ms pause at most (a spinning loop makes hundreds of thousands).
  size_t at = recovered.find("again after ") + 12;
  int attempts = 0;
  ASSERT_TRUE(absl::SimpleAtoi(recovered.substr(at, recovered.find(' ', at) - at), &attempts)) << recovered;
  EXPECT_LE(attempts, elapsed_ms / 100 + 2) << recovered;
  // Every connection that waited is served.
  for (int fd : clients) {
    std::string request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
    char buffer[256] = {};
    pollfd p{fd, POLLIN, 0};
    ASSERT_GT(poll(&p, 1, 10000), 0);
    ASSERT_GT(recv(fd, buffer, sizeof(buffer) - 1, 0), 0);
    EXPECT_THAT(std::string(buffer), StartsWith("HTTP/1.1 200 OK"));
    close(fd);
  }
}

TEST(HttpClientTest, TimesOutAndCancels) {
  std::vector<Responder> parked;
  std::mutex mu;
  auto server = Server::Start({.port = 0}, [&](Request, Responder reply) {
    std::lock_guard lock(mu);
    parked.push_back(std::move(reply));
  });
  ASSERT_TRUE(server.ok());
  Client client("127.0.0.1", (*server)->port());
  auto slow = client.Send({.method = "GET", .target = "/"}, {.timeout = 100ms});
  EXPECT_EQ(slow.status().code(), absl::StatusCode::kDeadlineExceeded);
  auto start = std::chrono::steady_clock::now();
  auto cancelled = client.Send({.method = "GET", .target = "/"},
                               {.timeout = 10s, .cancelled = [&] {
                                  return std::chrono::steady_clock::now() - start > 150ms;
                                }});
  EXPECT_EQ(cancelled.status().code(), absl::StatusCode::kCancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  std::lock_guard lock(mu);
  for (auto& r : parked) std::move(r)(Response::Text(200, "bye"));
  parked.clear();
}

TEST(HttpClientTest, ConnectFailureIsUnavailable) {
  Client client("127.0.0.1", 1);
  auto response = client.Send({.method = "GET", .target = "/"}, {.timeout = 2s});
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(response.status().message()), HasSubstr("Cannot connect to 127.0.0.1:1"));
}

}  // namespace
}  // namespace amlcore::http

namespace amlcore::http {
namespace {

// A reply sink that keeps what it was sent.
class Captured : public ResponseSink {
 public:
  void Send(Response response) override { response_ = std::move(response); }
  Response response_;
};

Response Call(const Router& router, const std::string& method, const std::string& target,
              const std::string& auth = "") {
  auto sink = std::make_shared<Captured>();
  Request request{.method = method, .target = target};
  if (!auth.empty()) request.headers.Set("Authorization", auth);
  router.Dispatch(request, Responder(sink));
  return sink->response_;
}

TEST(RouterTest, PatternsCapturePoliciesAdmitAndMismatchesAnswer404Or405) {
  Router router;
  router.SetErrorResponse([](int status, std::string code, std::string message) {
    return JsonErrorResponse(status, code, message);
  });
  router.AddPolicy("key", [](const Request& r) -> std::optional<Response> {
    if (r.headers.Get("Authorization").value_or("") == "Bearer k") return std::nullopt;
    return Response::Text(401, "no");
  });
  router.SetUnmatchedPolicy("key");
  router.Add("GET", "workspaces/{ws}/computes/{name}", "key", [](const Request&, const PathParams& p, Responder reply) {
    std::move(reply)(Response::Text(200, p["ws"] + "|" + p["name"]));
  });
  router.Add("DELETE", "workspaces/{ws}/computes/{name}", "key", [](const Request&, const PathParams&, Responder reply) {
    std::move(reply)(Response::Text(202, ""));
  });
  EXPECT_EQ(Call(router, "GET", "/Workspaces/w%201/COMPUTES/c?x=1", "Bearer k").body, "w 1|c");
  EXPECT_EQ(Call(router, "GET", "/workspaces/w/computes/c").status, 401);
  // Unknown paths are refused by the policy too, before anyone learns they do not exist.
  EXPECT_EQ(Call(router, "GET", "/nowhere").status, 401);
  EXPECT_EQ(Call(router, "GET", "/nowhere", "Bearer k").status, 404);
  Response wrong = Call(router, "PUT", "/workspaces/w/computes/c", "Bearer k");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.headers.Get("Allow"), "GET, DELETE");
  EXPECT_EQ(router.Admit(Request{.method = "DELETE", .target = "/workspaces/w/computes/c"})->status, 401);
}

}  // namespace
}  // namespace amlcore::http
