// The upstream client against a scripted server: which failures it retries, and which it must not.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/http_upstream.h"
#include "cpp/test_support.h"
#include "gtest/gtest.h"

namespace amlcore::http {
namespace {
using namespace std::chrono_literals;

// A one-connection-at-a-time HTTP server on a raw socket, so that a test can drop a connection without
// answering, as a process that dies in the middle of a request does. `decide` gets each request's body and
// says what to do with it.
class ScriptedServer {
 public:
  enum class Action { kAnswer, kAnswerThenClose, kCloseWithoutAnswer };

  explicit ScriptedServer(std::function<Action(const std::string& body)> decide) : decide_(std::move(decide)) {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    listen(listener_, 16);
    socklen_t length = sizeof(address);
    getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~ScriptedServer() {
    stop_ = true;
    thread_.join();
    close(listener_);
  }
  uint16_t port() const { return port_; }
  std::vector<std::string> bodies() {
    std::lock_guard lock(mu_);
    return bodies_;
  }
  int connections() const { return connections_; }
  int closed() const { return closed_; }

 private:
  // Waits up to 50 ms for `fd` to become readable; false when it did not.
  static bool Readable(int fd) {
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, 50) > 0;
  }

  void Serve() {
    while (!stop_) {
      if (!Readable(listener_)) continue;
      int fd = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      ++connections_;
      ServeConnection(fd);
      close(fd);
      ++closed_;
    }
  }

  void ServeConnection(int fd) {
    std::string data;
    while (!stop_) {
      size_t end = data.find("\r\n\r\n");
      if (end != std::string::npos) {
        size_t length = 0;
        size_t at = data.find("Content-Length: ");
        if (at != std::string::npos && at < end) {
          (void)absl::SimpleAtoi(data.substr(at + 16, data.find("\r\n", at) - at - 16), &length);
        }
        if (data.size() >= end + 4 + length) {
          std::string body = data.substr(end + 4, length);
          data.erase(0, end + 4 + length);
          {
            std::lock_guard lock(mu_);
            bodies_.push_back(body);
          }
          Action action = decide_(body);
          if (action == Action::kCloseWithoutAnswer) return;
          std::string reply = absl::StrCat("HTTP/1.1 200 OK\r\nContent-Length: ", body.size(), "\r\n\r\n", body);
          [[maybe_unused]] ssize_t n = send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
          if (action == Action::kAnswerThenClose) return;
          continue;
        }
      }
      if (!Readable(fd)) continue;
      char buffer[4096];
      ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) return;
      data.append(buffer, static_cast<size_t>(n));
    }
  }

  std::function<Action(const std::string&)> decide_;
  int listener_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> closed_{0};
  std::mutex mu_;
  std::vector<std::string> bodies_;
  std::thread thread_;
};

absl::StatusOr<Response> SendAndWait(UpstreamClient& client, uint16_t port, const std::string& body) {
  std::promise<absl::StatusOr<Response>> result;
  client.Send(UpstreamAddress::Tcp(port), Request{.method = "POST", .target = "/score", .body = body}, 10s,
              [&](absl::StatusOr<Response> response) { result.set_value(std::move(response)); });
  return result.get_future().get();
}

TEST(UpstreamClientTest, ARequestThatReachedTheServerIsNeverSentAgain) {
  // The server dies on "exit" the way a run() calling os._exit does: the connection closes, no answer.
  ScriptedServer server([](const std::string& body) {
    return body == "exit" ? ScriptedServer::Action::kCloseWithoutAnswer : ScriptedServer::Action::kAnswer;
  });
  UpstreamClient client(1);
  auto warm = SendAndWait(client, server.port(), "hello");  // leaves a kept-alive connection in the pool
  ASSERT_TRUE(warm.ok()) << warm.status();
  EXPECT_EQ(warm->body, "hello");

  auto fatal = SendAndWait(client, server.port(), "exit");
  EXPECT_EQ(fatal.status().code(), absl::StatusCode::kAborted) << fatal.status();
  EXPECT_EQ(server.bodies(), (std::vector<std::string>{"hello", "exit"})) << "the fatal request was sent again";
}

TEST(UpstreamClientTest, APooledConnectionItsServerClosedIsReplacedTransparently) {
  // The server closes each connection after answering, as an idle timeout or a restart would.
  ScriptedServer server([](const std::string&) { return ScriptedServer::Action::kAnswerThenClose; });
  UpstreamClient client(1);
  ASSERT_TRUE(SendAndWait(client, server.port(), "one").ok());
  // The client pooled the connection (the reply did not say close); wait until the server has dropped it.
  ASSERT_TRUE(testing::Eventually([&] { return server.closed() == 1; }));
  auto second = SendAndWait(client, server.port(), "two");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->body, "two");
  EXPECT_EQ(server.bodies(), (std::vector<std::string>{"one", "two"}));
}

TEST(UpstreamClientTest, NothingListeningIsUnavailable) {
  int probe = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(probe, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(probe, reinterpret_cast<sockaddr*>(&address), &length);
  close(probe);  // a port nobody listens on
  UpstreamClient client(1);
  auto response = SendAndWait(client, ntohs(address.sin_port), "x");
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable) << response.status();
}

}  // namespace
}  // namespace amlcore::http
