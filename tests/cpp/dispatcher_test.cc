// The front end's dispatcher against in-process replicas: which replica gets a request, and when.
#include <future>
#include <mutex>
#include <vector>

#include "common/http_server.h"
#include "common/http_upstream.h"
#include "cpp/test_support.h"
#include "frontend/dispatcher.h"
#include "gtest/gtest.h"

namespace amlcore::frontend {
namespace {
using namespace std::chrono_literals;

// Receives the dispatcher's reply to one request.
class CapturedReply : public http::ResponseSink {
 public:
  void Send(http::Response response) override { promise_.set_value(std::move(response)); }
  http::Response Wait() { return future_.get(); }

 private:
  std::promise<http::Response> promise_;
  std::future<http::Response> future_ = promise_.get_future();
};

http::Response Score(VersionDispatcher& dispatcher, const std::string& body) {
  auto sink = std::make_shared<CapturedReply>();
  dispatcher.Submit(http::Request{.method = "POST", .target = "/score", .body = body}, http::Responder(sink));
  return sink->Wait();
}

// A replica that answers with its name, except that it keeps "slow" requests until Release().
class FakeReplica {
 public:
  explicit FakeReplica(std::string name) : name_(std::move(name)) {
    auto server = http::Server::Start({.port = 0}, [this](http::Request request, http::Responder reply) {
      std::lock_guard lock(mu_);
      ++requests_;
      if (request.body == "slow") {
        parked_.push_back(std::move(reply));
        return;
      }
      std::move(reply)(http::Response::Text(200, name_));
    });
    EXPECT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
  ~FakeReplica() {
    Release();
    server_->Stop();
  }
  uint16_t port() const { return server_->port(); }
  int requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  int parked() {
    std::lock_guard lock(mu_);
    return static_cast<int>(parked_.size());
  }
  // Answers the requests it kept: its run() has finished.
  void Release() {
    std::vector<http::Responder> parked;
    {
      std::lock_guard lock(mu_);
      parked.swap(parked_);
    }
    for (auto& reply : parked) std::move(reply)(http::Response::Text(200, "late"));
  }

 private:
  std::string name_;
  std::mutex mu_;
  int requests_ = 0;
  std::vector<http::Responder> parked_;
  std::unique_ptr<http::Server> server_;
};

TEST(VersionDispatcherTest, AReplicaWhoseRequestTimedOutGetsNoWorkUntilItAnswers) {
  FakeReplica busy("busy");
  FakeReplica idle("idle");
  http::UpstreamClient upstream(1);
  VersionDispatcher dispatcher("svc", "v1", &upstream);
  dispatcher.SetLimits({.max_concurrent_per_replica = 1, .max_queue_wait = 10s, .scoring_timeout = 300ms});

  dispatcher.SetBackends({{"busy", http::UpstreamAddress::Tcp(busy.port())}});
  EXPECT_EQ(Score(dispatcher, "slow").status, 504);
  ASSERT_EQ(busy.parked(), 1);
  EXPECT_EQ(dispatcher.Inflight("busy"), 1) << "a timed-out replica still works on its request";

  // Both replicas are routed to now; the busy one must get nothing while its run() goes on.
  dispatcher.SetBackends(
      {{"busy", http::UpstreamAddress::Tcp(busy.port())}, {"idle", http::UpstreamAddress::Tcp(idle.port())}});
  for (int i = 0; i < 6; ++i) {
    http::Response response = Score(dispatcher, "quick");
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.body, "idle") << "request " << i << " went to the replica still running a timed-out run()";
  }
  EXPECT_EQ(busy.requests(), 1);

  // Once it answers (late, the answer is dropped), it takes requests again.
  busy.Release();
  ASSERT_TRUE(testing::Eventually([&] { return dispatcher.Inflight("busy") == 0; }));
  bool busy_served = false;
  for (int i = 0; i < 6 && !busy_served; ++i) busy_served = Score(dispatcher, "quick").body == "busy";
  EXPECT_TRUE(busy_served);
}

TEST(VersionDispatcherTest, AReplicaHoldsTheRequestItRunsNextButNoMore) {
  FakeReplica replica("r");
  http::UpstreamClient upstream(1);
  VersionDispatcher dispatcher("svc", "v1", &upstream);
  dispatcher.SetLimits({.max_concurrent_per_replica = 1, .max_queue_wait = 10s, .scoring_timeout = 10s});
  dispatcher.SetBackends({{"r", http::UpstreamAddress::Tcp(replica.port())}});

  std::vector<std::shared_ptr<CapturedReply>> replies;
  for (int i = 0; i < 5; ++i) {
    replies.push_back(std::make_shared<CapturedReply>());
    dispatcher.Submit(http::Request{.method = "POST", .target = "/score", .body = "slow"},
                      http::Responder(replies.back()));
  }
  // One request runs, the next one is already delivered, the rest wait in the front end's queue.
  EXPECT_EQ(dispatcher.Inflight("r"), 2);
  EXPECT_EQ(dispatcher.QueueDepth(), 3);
  ASSERT_TRUE(testing::Eventually([&] { return replica.parked() == 2; }));
  EXPECT_EQ(dispatcher.ReplicaCap(), 1) << "the cap on run() calls keeps its meaning";

  // As the replica finishes, queued requests follow, never more than two at a time.
  replica.Release();
  ASSERT_TRUE(testing::Eventually([&] { return replica.requests() == 4 && replica.parked() == 2; }));
  EXPECT_EQ(dispatcher.QueueDepth(), 1);
  replica.Release();
  ASSERT_TRUE(testing::Eventually([&] { return replica.requests() == 5 && replica.parked() == 1; }));
  replica.Release();
  for (auto& reply : replies) EXPECT_EQ(reply->Wait().status, 200);
  EXPECT_EQ(replica.requests(), 5);
}

TEST(VersionDispatcherTest, ABatchingReplicaHoldsItsNextBatchUnlessTheServiceSetsACap) {
  FakeReplica replica("r");
  http::UpstreamClient upstream(1);
  VersionDispatcher dispatcher("svc", "v1", &upstream);
  dispatcher.SetLimits(
      {.max_concurrent_per_replica = 1, .concurrency_given = false, .max_queue_wait = 10s, .scoring_timeout = 10s});
  dispatcher.SetBackends({{"r", http::UpstreamAddress::Tcp(replica.port()), /*batch_max_size=*/3}});

  std::vector<std::shared_ptr<CapturedReply>> replies;
  auto submit = [&](int n) {
    for (int i = 0; i < n; ++i) {
      replies.push_back(std::make_shared<CapturedReply>());
      dispatcher.Submit(http::Request{.method = "POST", .target = "/score", .body = "slow"},
                        http::Responder(replies.back()));
    }
  };
  submit(8);
  EXPECT_EQ(dispatcher.Inflight("r"), 6) << "a batch running and the next one delivered";
  EXPECT_EQ(dispatcher.QueueDepth(), 2);
  EXPECT_EQ(dispatcher.ReplicaCap(), 3);
  ASSERT_TRUE(testing::Eventually([&] { return replica.parked() == 6; }));
  replica.Release();
  ASSERT_TRUE(testing::Eventually([&] { return replica.parked() == 2; }));
  replica.Release();

  // With the cap set by the service, a batch never holds more than the cap.
  dispatcher.SetLimits(
      {.max_concurrent_per_replica = 2, .concurrency_given = true, .max_queue_wait = 10s, .scoring_timeout = 10s});
  for (auto& reply : replies) EXPECT_EQ(reply->Wait().status, 200);
  // A slot frees once the upstream settles the request, just after its reply.
  ASSERT_TRUE(testing::Eventually([&] { return dispatcher.Inflight("r") == 0; }));
  replies.clear();
  submit(3);
  EXPECT_EQ(dispatcher.Inflight("r"), 2);
  EXPECT_EQ(dispatcher.QueueDepth(), 1);
  ASSERT_TRUE(testing::Eventually([&] { return replica.parked() == 2; }));
  replica.Release();
  ASSERT_TRUE(testing::Eventually([&] { return replica.parked() == 1; }));
  replica.Release();
  for (auto& reply : replies) EXPECT_EQ(reply->Wait().status, 200);
}

}  // namespace
}  // namespace amlcore::frontend
