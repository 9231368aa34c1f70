#include <atomic>
#include <thread>

#include "common/http_client.h"
#include "common/http_router.h"
#include "common/http_server.h"
#include "common/http_types.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace amlcore::http {
namespace {
using namespace std::chrono_literals;
using ::testing::HasSubstr;

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

TEST(HttpServerTest, AnswersKeepsAliveAndDefersReplies) {
  std::atomic<int> calls{0};
  auto server = Server::Start({.port = 0}, [&](Request request, Responder reply) {
    ++calls;
    if (request.path() == "/later") {
      std::thread([reply = std::move(reply)]() mutable {
        std::this_thread::sleep_for(20ms);
        std::move(reply)(Response::Text(200, "late"));
      }).detach();
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
