// amlcore-score as a process: the inference server's routes, headers, errors and timeout; run_batch().
#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/http_client.h"
#include "common/http_upstream.h"
#include "common/json.h"
#include "common/process.h"
#include "cpp/test_support.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "common/utf8.h"
#include "score/scoring_runtime.h"

namespace amlcore {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

class ScoringRuntimeTest : public ::testing::Test {
 protected:
  // Starts a replica for `script`; returns its port (0 when it did not get ready). With `extra_args`
  // ("--socket", path) it listens there instead.
  uint16_t Start(const std::string& script, const std::string& timeout_ms = "1000",
                 const std::vector<std::string>& extra_args = {}) {
    fs::path app = fs::path(home_.path()) / "app";
    fs::create_directories(app / "src");
    std::ofstream(app / "src" / "score.py") << script;
    status_file_ = (fs::path(home_.path()) / "status.json").string();
    fs::remove(status_file_);
    std::vector<std::string> args = {"--status-file", status_file_};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    auto process = SpawnDaemon({.program = AMLCORE_SCORE_PATH,
                                .args = args,
                                .env = {{"AZUREML_ENTRY_SCRIPT", "score.py"},
                                        {"AML_APP_ROOT", app.string()},
                                        {"AZUREML_SOURCE_DIRECTORY", (app / "src").string()},
                                        {"AZUREML_MODEL_DIR", (app / "azureml-models").string()},
                                        {"SCORING_TIMEOUT_MS", timeout_ms}},
                                .log_path = (fs::path(home_.path()) / "replica.log").string(),
                                .working_directory = app.string()});
    EXPECT_TRUE(process.ok()) << process.status();
    process_ = *process;
    uint16_t port = 0;
    testing::Eventually([&] {
      auto status = Status();
      if (json::GetString(status, "phase") == "Ready") port = static_cast<uint16_t>(json::GetInt(status, "port"));
      return port != 0 || json::GetString(status, "phase") == "Failed" ||
             (!extra_args.empty() && json::GetString(status, "phase") == "Ready");
    });
    return port;
  }
  json::bj::object Status() {
    auto text = ReadFile(status_file_);
    if (!text.ok()) return {};
    auto object = json::ParseObject(*text, "status");
    return object.ok() ? *object : json::bj::object{};
  }
  std::string Log() { return ReadFile(home_.path() + "/replica.log").value_or(""); }
  void TearDown() override { (void)Terminate(process_, 5s); }

  testing::TempHome home_;
  std::string status_file_;
  ProcessId process_;
};

constexpr char kEcho[] = R"(
import json, time
def init():
    print("initialised")
def run(raw):
    data = json.loads(raw)
    print("got", data)
    if data.get("fail"):
        raise KeyError("boom")
    if data.get("sleep"):
        time.sleep(data["sleep"])
    return {"you_sent": data}
)";

// What the front end starts replicas with: a Unix socket only its owner can open, in a directory deep enough
// that its path does not fit in a socket address (as under a long AMLCORE_HOME), and no TCP port at all.
TEST_F(ScoringRuntimeTest, ListensOnAPrivateUnixSocketOfAnyPathLength) {
  fs::path directory = fs::path(home_.path()) / std::string(100, 'd');
  fs::create_directories(directory);
  std::string socket = (directory / "replica.sock").string();
  ASSERT_GT(socket.size(), 108u);
  EXPECT_EQ(Start(kEcho, "1000", {"--socket", socket}), 0) << Log();
  ASSERT_EQ(json::GetString(Status(), "phase"), "Ready") << Log();
  EXPECT_EQ(json::GetString(Status(), "socket"), socket);
  EXPECT_EQ(fs::status(socket).type(), fs::file_type::socket);
  EXPECT_EQ(fs::status(socket).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  // Written after the status file, through the log's pipe.
  testing::Eventually([&] { return absl::StrContains(Log(), "amlcore-score: ready on unix:" + socket); });
  EXPECT_THAT(Log(), HasSubstr("amlcore-score: ready on unix:" + socket));

  http::UpstreamClient upstream(1);
  auto call = [&](http::Request request) {
    std::promise<absl::StatusOr<http::Response>> answer;
    upstream.Send(http::UpstreamAddress::Unix(socket), request, 10s,
                  [&](absl::StatusOr<http::Response> response) { answer.set_value(std::move(response)); });
    return answer.get_future().get();
  };
  auto health = call({.method = "GET", .target = "/"});
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(health->body, "Healthy");
  auto scored = call({.method = "POST", .target = "/score", .body = R"({"a": 1})"});
  ASSERT_TRUE(scored.ok()) << scored.status();
  EXPECT_EQ(scored->body, R"({"you_sent": {"a": 1}})");
  // A socket nobody listens on any more is unreachable: nothing was sent.
  (void)Terminate(process_, 5s);
  EXPECT_TRUE(absl::IsUnavailable(call({.method = "GET", .target = "/"}).status()));
}

TEST_F(ScoringRuntimeTest, RoutesHeadersAndErrorsOfTheInferenceServer) {
  uint16_t port = Start(kEcho);
  ASSERT_NE(port, 0) << Log();
  http::Client client("127.0.0.1", port);
  auto health = client.Send({.method = "GET", .target = "/"});
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "Healthy");

  http::Request score{.method = "POST", .target = "/score", .body = R"({"a": 1})"};
  score.headers.Set("x-request-id", "req-123");
  score.headers.Set("x-ms-client-request-id", "client-9");
  auto ok = client.Send(std::move(score));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, R"({"you_sent": {"a": 1}})");
  EXPECT_EQ(ok->headers.Get("Content-Type"), "application/json");
  EXPECT_EQ(ok->headers.Get("x-request-id"), "req-123");
  EXPECT_EQ(ok->headers.Get("x-ms-request-id"), "req-123");
  EXPECT_EQ(ok->headers.Get("x-ms-client-request-id"), "client-9");
  EXPECT_EQ(ok->headers.Get("x-ms-run-function-failed"), "False");
  EXPECT_TRUE(ok->headers.Get("x-ms-run-fn-exec-ms").has_value());
  EXPECT_THAT(Log(), HasSubstr("req-123 got {'a': 1}"));

  auto get = client.Send({.method = "GET", .target = "/score?x=1&y=two"});
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->body, R"({"you_sent": {"x": "1", "y": "two"}})");

  auto failed = client.Send({.method = "POST", .target = "/score", .body = R"({"fail": true})"});
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->status, 500);
  EXPECT_EQ(failed->body,
            R"({"message":"An unexpected error occurred in scoring script. Check the logs for more info."})");
  EXPECT_EQ(failed->headers.Get("x-ms-run-function-failed"), "True");
  EXPECT_THAT(Log(), HasSubstr("KeyError: 'boom'"));

  auto bad_utf8 = client.Send({.method = "POST", .target = "/score", .body = "\xc3\x28"});
  ASSERT_TRUE(bad_utf8.ok());
  EXPECT_EQ(bad_utf8->status, 400);
  auto put = client.Send({.method = "PUT", .target = "/score", .body = "{}"});
  EXPECT_EQ(put->status, 405);
  http::Request long_id{.method = "POST", .target = "/score", .body = "{}"};
  long_id.headers.Set("x-request-id", std::string(101, 'r'));
  EXPECT_EQ(client.Send(std::move(long_id))->status, 431);
  auto swagger = client.Send({.method = "GET", .target = "/swagger.json"});
  ASSERT_TRUE(swagger.ok());
  EXPECT_THAT(swagger->body, HasSubstr("\"swagger\":\"2.0\""));
  EXPECT_THAT(swagger->body, HasSubstr("ServiceInput"));
  EXPECT_EQ(client.Send({.method = "GET", .target = "/elsewhere"})->status, 404);

  auto slow = client.Send({.method = "POST", .target = "/score", .body = R"({"sleep": 0.2})"});
  EXPECT_EQ(slow->status, 200);
  auto too_slow = client.Send({.method = "POST", .target = "/score", .body = R"({"sleep": 1.5})"}, {.timeout = 10s});
  ASSERT_TRUE(too_slow.ok());
  EXPECT_EQ(too_slow->status, 500);
  EXPECT_EQ(too_slow->body, R"({"message":"Scoring timeout after 1000 ms"})");
  // The next request is not hit by the interruption meant for the slow one.
  auto after = client.Send({.method = "POST", .target = "/score", .body = R"({"b": 2})"}, {.timeout = 10s});
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->status, 200);
}

TEST_F(ScoringRuntimeTest, AnswersProbesWhileRunIsBusyAndQueuesConcurrentRequests) {
  uint16_t port = Start(kEcho, "5000");
  ASSERT_NE(port, 0) << Log();
  // Four requests at once: run() takes them one at a time, each answered with its own input.
  std::vector<std::thread> clients;
  std::vector<std::string> bodies(4);
  std::atomic<int> finished{0};
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&, i] {
      http::Client client("127.0.0.1", port);
      auto r = client.Send({.method = "POST", .target = "/score", .body = absl::StrCat(R"({"sleep": 0.5, "i": )", i, "}")},
                           {.timeout = 10s});
      if (r.ok() && r->status == 200) bodies[i] = r->body;
      ++finished;
    });
  }
  std::this_thread::sleep_for(100ms);
  // Meanwhile the liveness probe is answered, not kept waiting until the queue has drained (2 s of run()).
  http::Client probe("127.0.0.1", port);
  auto health = probe.Send({.method = "GET", .target = "/"}, {.timeout = 5s});
  int done_when_probed = finished.load();
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->status, 200);
  EXPECT_LT(done_when_probed, 4) << "the probe waited for every run()";
  for (auto& t : clients) t.join();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(bodies[i], absl::StrCat(R"({"you_sent": {"sleep": 0.5, "i": )", i, "}}"));
}

TEST_F(ScoringRuntimeTest, ARequestThatCannotStartInTimeIsAnsweredUnrun) {
  uint16_t port = Start(kEcho, "5000");
  ASSERT_NE(port, 0) << Log();
  // A run() of two seconds, then two requests delivered behind it: one may wait 100 ms to start, one 5 s.
  std::atomic<bool> busy_answered{false};
  std::thread busy([&] {
    http::Client client("127.0.0.1", port);
    (void)client.Send({.method = "POST", .target = "/score", .body = R"({"sleep": 2})"}, {.timeout = 10s});
    busy_answered = true;
  });
  ASSERT_TRUE(testing::Eventually([&] { return absl::StrContains(Log(), "got {'sleep': 2}"); }));
  auto send = [&](const std::string& within, const std::string& body) {
    http::Client client("127.0.0.1", port);
    http::Request request{.method = "POST", .target = "/score", .body = body};
    request.headers.Set(score::kStartWithinHeader, within);
    return client.Send(std::move(request), {.timeout = 10s});
  };
  absl::StatusOr<http::Response> waited_too_long;
  bool answered_while_busy = false;
  std::thread impatient([&] {
    waited_too_long = send("100", R"({"who": "impatient"})");
    answered_while_busy = !busy_answered;
  });
  auto patient = send("5000", R"({"who": "patient"})");
  impatient.join();
  busy.join();
  ASSERT_TRUE(waited_too_long.ok()) << waited_too_long.status();
  EXPECT_EQ(waited_too_long->status, 503);
  // Answered when its front end stopped waiting, not when the run() ahead of it was over.
  EXPECT_TRUE(answered_while_busy);
  EXPECT_TRUE(waited_too_long->headers.Get(score::kNotStartedHeader));
  EXPECT_FALSE(absl::StrContains(Log(), "impatient")) << "its run() never ran";
  ASSERT_TRUE(patient.ok()) << patient.status();
  EXPECT_EQ(patient->status, 200);
  EXPECT_EQ(patient->body, R"({"you_sent": {"who": "patient"}})");
}

// A run_batch() that says, for each request, which batch it was in and the largest batch so far. Its first batch
// takes a second, so that requests sent at once pile up behind it however slowly their clients start.
constexpr char kBatchEcho[] = R"(
import json, time
sizes = []
BATCH_MAX_SIZE = 8
BATCH_MAX_WAIT_MS = 500
def init():
    pass
def run(raw):
    return {"run": json.loads(raw)}
def run_batch(requests):
    sizes.append(len(requests))
    if len(sizes) == 1:
        time.sleep(1)
    print("batch of", len(requests))
    return [{"id": json.loads(raw).get("id"), "batch": len(requests), "largest": max(sizes)} for raw in requests]
)";

// Sends `bodies` at once, each over its own connection with the request id "req-<i>"; the replies in order.
std::vector<absl::StatusOr<http::Response>> SendAtOnce(uint16_t port, const std::vector<std::string>& bodies) {
  std::vector<absl::StatusOr<http::Response>> replies(bodies.size(), absl::UnknownError("not sent"));
  std::vector<std::thread> clients;
  for (size_t i = 0; i < bodies.size(); ++i) {
    clients.emplace_back([&, i] {
      http::Client client("127.0.0.1", port);
      http::Request request{.method = "POST", .target = "/score", .body = bodies[i]};
      request.headers.Set("x-request-id", absl::StrCat("req-", i));
      replies[i] = client.Send(std::move(request), {.timeout = 20s});
    });
  }
  for (auto& t : clients) t.join();
  return replies;
}

std::string MessageOf(const http::Response& response) {
  auto body = json::ParseObject(response.body, "reply");
  return body.ok() ? json::GetString(*body, "message") : response.body;
}

TEST_F(ScoringRuntimeTest, RunBatchGathersConcurrentRequestsAndAnswersEachWithItsOwnResult) {
  uint16_t port = Start(kBatchEcho, "10000");
  ASSERT_NE(port, 0) << Log();
  EXPECT_THAT(Log(), HasSubstr("run_batch() takes every request, up to 8 at once, waiting up to 500 ms"));
  // Where the supervisor can learn how many requests at once the replica puts to use.
  EXPECT_EQ(json::GetInt(Status(), "batch_max_size"), 8);
  std::vector<std::string> bodies;
  for (int i = 0; i < 64; ++i) bodies.push_back(absl::StrCat(R"({"id": )", i, "}"));
  auto replies = SendAtOnce(port, bodies);
  int64_t largest = 0;
  for (int i = 0; i < 64; ++i) {
    ASSERT_TRUE(replies[i].ok()) << i << ": " << replies[i].status();
    const http::Response& reply = *replies[i];
    ASSERT_EQ(reply.status, 200) << reply.body;
    auto body = json::ParseObject(reply.body, "reply");
    ASSERT_TRUE(body.ok()) << reply.body;
    EXPECT_EQ(json::GetInt(*body, "id"), i) << "a reply went to another request: " << reply.body;
    EXPECT_GE(json::GetInt(*body, "batch"), 1);
    EXPECT_LE(json::GetInt(*body, "batch"), 8);
    largest = std::max(largest, json::GetInt(*body, "largest"));
    EXPECT_EQ(reply.headers.Get("x-request-id"), absl::StrCat("req-", i));
    EXPECT_EQ(reply.headers.Get("x-ms-run-function-failed"), "False");
    EXPECT_TRUE(reply.headers.Get("x-ms-run-fn-exec-ms").has_value());
  }
  EXPECT_GT(largest, 1) << "64 requests at once never made a batch of more than one";

  // GET's query parameters reach run_batch() as run() would get them; the largest batch is remembered.
  http::Client client("127.0.0.1", port);
  auto get = client.Send({.method = "GET", .target = "/score?id=last"}, {.timeout = 10s});
  ASSERT_TRUE(get.ok()) << get.status();
  auto body = json::ParseObject(get->body, "reply");
  ASSERT_TRUE(body.ok()) << get->body;
  EXPECT_EQ(json::GetString(*body, "id"), "last");
  EXPECT_EQ(json::GetInt(*body, "batch"), 1);
  EXPECT_EQ(json::GetInt(*body, "largest"), largest);
  // What run_batch() printed is tagged with the ids of its batch's requests.
  EXPECT_THAT(Log(), ::testing::ContainsRegex("req-[0-9]+(,req-[0-9]+)+ batch of [2-8]\n"));
  // Invalid UTF-8 is refused before it reaches the script, as with run().
  EXPECT_EQ(client.Send({.method = "POST", .target = "/score", .body = "\xc3\x28"})->status, 400);
}

constexpr char kBatchFailures[] = R"(
import json
BATCH_MAX_SIZE = 4
BATCH_MAX_WAIT_MS = 200
def init():
    pass
def run(raw):
    return raw
def run_batch(requests):
    data = [json.loads(r) for r in requests]
    if any(d.get("raise") for d in data):
        raise ValueError("refusing this batch")
    if any(d.get("short") for d in data):
        return [{"id": d["id"]} for d in data][:-1]
    if any(d.get("scalar") for d in data):
        return 42
    return [object() if d.get("object") else KeyError("no %d" % d["id"]) if d.get("missing") else
            {"id": d["id"], "batch": [x["id"] for x in data]} for d in data]
)";

TEST_F(ScoringRuntimeTest, RunBatchFailuresFailEachRequestOfTheirBatchWithTheirCause) {
  uint16_t port = Start(kBatchFailures, "10000");
  ASSERT_NE(port, 0) << Log();
  http::Client client("127.0.0.1", port);
  auto score = [&](const std::string& body) {
    http::Request request{.method = "POST", .target = "/score", .body = body};
    request.headers.Set("x-request-id", "one");
    return client.Send(std::move(request), {.timeout = 10s});
  };
  auto raised = score(R"({"id": 1, "raise": true})");
  ASSERT_TRUE(raised.ok()) << raised.status();
  EXPECT_EQ(raised->status, 500);
  EXPECT_EQ(MessageOf(*raised),
            "An unexpected error occurred in scoring script: run_batch() raised ValueError for a batch of 1 request. "
            "Check the logs for more info.");
  EXPECT_EQ(raised->headers.Get("x-ms-run-function-failed"), "True");
  EXPECT_THAT(Log(), HasSubstr("one run_batch() raised ValueError for a batch of 1 request:\n"));
  EXPECT_THAT(Log(), HasSubstr("one ValueError: refusing this batch"));
  EXPECT_EQ(MessageOf(*score(R"({"id": 2, "short": true})")),
            "An unexpected error occurred in scoring script: run_batch() returned 0 results for a batch of 1 "
            "request; it must return one result per request, in order. Check the logs for more info.");
  EXPECT_EQ(MessageOf(*score(R"({"id": 3, "scalar": true})")),
            "An unexpected error occurred in scoring script: run_batch() returned int, not a list of results; it "
            "must return one result per request, in order. Check the logs for more info.");
  EXPECT_EQ(MessageOf(*score(R"({"id": 4, "object": true})")),
            "An unexpected error occurred in scoring script: the result run_batch() returned for request one could "
            "not be sent (TypeError). Check the logs for more info.");
  auto fine = score(R"({"id": 5})");
  EXPECT_EQ(fine->status, 200);
  EXPECT_EQ(fine->body, R"({"id": 5, "batch": [5]})");

  // Concurrently, good and bad requests share batches: a batch with a bad one fails as a whole, the others
  // are answered.
  auto mixed = [](const std::string& flag, std::set<int> bad) {
    std::vector<std::string> bodies;
    for (int i = 0; i < 16; ++i) {
      bodies.push_back(bad.count(i) ? absl::StrCat(R"({"id": )", i, R"(, ")", flag, R"(": true})")
                                    : absl::StrCat(R"({"id": )", i, "}"));
    }
    return bodies;
  };
  auto replies = SendAtOnce(port, mixed("raise", {3, 11}));
  for (int i = 0; i < 16; ++i) {
    ASSERT_TRUE(replies[i].ok()) << replies[i].status();
    if (replies[i]->status == 200) {
      EXPECT_NE(i, 3);
      EXPECT_NE(i, 11);
      EXPECT_THAT(replies[i]->body, HasSubstr(absl::StrCat(R"({"id": )", i, ",")));
      EXPECT_THAT(replies[i]->body, Not(::testing::ContainsRegex("[^0-9](3|11)[],]"))) << "a bad request's batch";
    } else {
      EXPECT_EQ(replies[i]->status, 500);
      EXPECT_THAT(MessageOf(*replies[i]), ::testing::StartsWith("An unexpected error occurred in scoring script: "
                                                                "run_batch() raised ValueError for a batch of "));
    }
  }
  replies = SendAtOnce(port, mixed("short", {5}));
  ASSERT_TRUE(replies[5].ok()) << replies[5].status();
  EXPECT_EQ(replies[5]->status, 500);
  EXPECT_THAT(MessageOf(*replies[5]),
              ::testing::MatchesRegex("An unexpected error occurred in scoring script: run_batch\\(\\) returned "
                                      "([0-3]) results? for a batch of ([1-4]) requests?; it must return one result "
                                      "per request, in order. Check the logs for more info."));
  int failed = 0;
  for (auto& reply : replies) failed += reply.ok() && reply->status == 500;
  EXPECT_LE(failed, 4) << "more requests failed than a batch holds";
  // A result that cannot be sent fails its own request only.
  replies = SendAtOnce(port, mixed("object", {7}));
  for (int i = 0; i < 16; ++i) {
    ASSERT_TRUE(replies[i].ok()) << replies[i].status();
    EXPECT_EQ(replies[i]->status, i == 7 ? 500 : 200) << i << ": " << replies[i]->body;
  }
  EXPECT_THAT(MessageOf(*replies[7]), HasSubstr("returned for request req-7 could not be sent (TypeError)"));
  // So does an exception in place of a result: its request is answered as if run() had raised it.
  replies = SendAtOnce(port, mixed("missing", {9}));
  for (int i = 0; i < 16; ++i) {
    ASSERT_TRUE(replies[i].ok()) << replies[i].status();
    EXPECT_EQ(replies[i]->status, i == 9 ? 500 : 200) << i << ": " << replies[i]->body;
  }
  EXPECT_EQ(MessageOf(*replies[9]), "An unexpected error occurred in scoring script. Check the logs for more info.");
  EXPECT_EQ(replies[9]->headers.Get("x-ms-run-function-failed"), "True");
  EXPECT_THAT(Log(), HasSubstr(" ERROR amlcore-score: req-9 Exception in run_batch() for request req-9:\n"));
  EXPECT_THAT(Log(), HasSubstr(" ERROR amlcore-score: req-9 KeyError: 'no 9'\n"));
}

TEST_F(ScoringRuntimeTest, TheScoringTimeoutAppliesToABatchAsAWhole) {
  uint16_t port = Start(
      "import json, time\n"
      "BATCH_MAX_WAIT_MS = 100\n"
      "def init():\n  pass\n"
      "def run(raw):\n  return raw\n"
      "def run_batch(requests):\n"
      "  if any(json.loads(r).get('sleep') for r in requests):\n    time.sleep(1.5)\n"
      "  return [json.loads(r) for r in requests]\n",
      "500");
  ASSERT_NE(port, 0) << Log();
  auto replies = SendAtOnce(port, std::vector<std::string>(4, R"({"sleep": true})"));
  for (auto& reply : replies) {
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(reply->status, 500);
    EXPECT_EQ(MessageOf(*reply), "Scoring timeout after 500 ms");
    EXPECT_EQ(reply->headers.Get("x-ms-run-function-failed"), "True");
  }
  // The next batch is not hit by the interruption meant for the slow one.
  http::Client client("127.0.0.1", port);
  auto after = client.Send({.method = "POST", .target = "/score", .body = R"({"b": 2})"}, {.timeout = 10s});
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->status, 200);
  EXPECT_EQ(after->body, R"({"b": 2})");
}

TEST_F(ScoringRuntimeTest, BatchSettingsWithoutRunBatchAreIgnoredAndTheLogSaysSo) {
  uint16_t port = Start(absl::StrCat(kEcho, "BATCH_MAX_SIZE = 16\n"));
  ASSERT_NE(port, 0) << Log();
  EXPECT_EQ(json::GetInt(Status(), "batch_max_size"), 0);
  http::Client client("127.0.0.1", port);
  auto scored = client.Send({.method = "POST", .target = "/score", .body = R"({"a": 1})"});
  ASSERT_TRUE(scored.ok()) << scored.status();
  EXPECT_EQ(scored->body, R"({"you_sent": {"a": 1}})");
  EXPECT_THAT(Log(), HasSubstr("score.py sets BATCH_MAX_SIZE or BATCH_MAX_WAIT_MS but defines no run_batch()"));
}

TEST_F(ScoringRuntimeTest, BadBatchSettingsAreRefusedWhenTheScriptLoads) {
  struct Case {
    const char* setting;
    const char* says;
  };
  fs::path app = fs::path(home_.path()) / "child";
  fs::create_directories(app / "src");
  for (const Case& c : {
           Case{"BATCH_MAX_SIZE = 0", "BATCH_MAX_SIZE must be a whole number from 1 to 1024; it is 0."},
           Case{"BATCH_MAX_SIZE = 1025", "BATCH_MAX_SIZE must be a whole number from 1 to 1024; it is 1025."},
           Case{"BATCH_MAX_SIZE = 10**100", "BATCH_MAX_SIZE must be a whole number from 1 to 1024; it is 1000"},
           Case{"BATCH_MAX_SIZE = '32'", "BATCH_MAX_SIZE must be a whole number from 1 to 1024; it is '32'."},
           Case{"BATCH_MAX_SIZE = 2.5", "BATCH_MAX_SIZE must be a whole number from 1 to 1024; it is 2.5."},
           Case{"BATCH_MAX_SIZE = True", "BATCH_MAX_SIZE must be a whole number from 1 to 1024; it is True."},
           Case{"BATCH_MAX_WAIT_MS = -1",
                "BATCH_MAX_WAIT_MS must be a number of milliseconds from 0 to 1000; it is -1."},
           Case{"BATCH_MAX_WAIT_MS = float('nan')",
                "BATCH_MAX_WAIT_MS must be a number of milliseconds from 0 to 1000; it is nan."},
           Case{"BATCH_MAX_WAIT_MS = None",
                "BATCH_MAX_WAIT_MS must be a number of milliseconds from 0 to 1000; it is None."},
           Case{"run_batch = 3", "sets run_batch to 3; it must be a function taking a list of requests"},
           // What @rawhttp leaves on a function.
           Case{"run_batch._amlcore_rawhttp = True",
                "decorates run_batch() with @rawhttp but not run(); run_batch() takes what run() takes"},
       }) {
    std::string script = absl::StrCat("def init():\n  pass\ndef run(d):\n  return d\n",
                                      "def run_batch(requests):\n  return requests\n", c.setting, "\n");
    std::ofstream(app / "src" / "score.py") << script;
    auto result = RunCommand({AMLCORE_SCORE_PATH, "--status-file", (app / "status.json").string()}, 60s,
                             {{"AZUREML_ENTRY_SCRIPT", "score.py"},
                              {"AML_APP_ROOT", app.string()},
                              {"AZUREML_SOURCE_DIRECTORY", (app / "src").string()}});
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->exit_code, score::kExitImportFailed) << c.setting << "\n" << result->output;
    EXPECT_THAT(result->output, HasSubstr(absl::StrCat("UserScriptImportFailed: The entry script score.py")))
        << c.setting;
    EXPECT_THAT(result->output, HasSubstr(c.says)) << c.setting;
    auto status = json::ParseObject(ReadFile((app / "status.json").string()).value_or("{}"), "status");
    ASSERT_TRUE(status.ok());
    EXPECT_EQ(json::GetString(*status, "reason"), "UserScriptImportFailed");
    EXPECT_THAT(json::GetString(*status, "message"), HasSubstr(c.says));
  }
}

TEST_F(ScoringRuntimeTest, ATimedOutRunIsAnsweredOnlyOnceItHasStopped) {
  // run() leaves a mark when it stops (the timeout's interruption lands as it wakes up).
  std::string mark = home_.path() + "/run-stopped";
  uint16_t port = Start(absl::StrCat("import time\n"
                                     "def init():\n  pass\n"
                                     "def run(raw):\n"
                                     "  try:\n    time.sleep(1.5)\n"
                                     "  finally:\n    open('", mark, "', 'w').close()\n"),
                        "500");
  ASSERT_NE(port, 0) << Log();
  http::Client client("127.0.0.1", port);
  auto reply = client.Send({.method = "POST", .target = "/score", .body = "{}"}, {.timeout = 10s});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->status, 500);
  EXPECT_EQ(reply->body, R"({"message":"Scoring timeout after 500 ms"})");
  // Whoever waits for the reply (the front end) takes it to mean the replica is free again.
  EXPECT_TRUE(fs::exists(mark)) << "the timeout was answered while run() was still running";
}

TEST_F(ScoringRuntimeTest, ReportsImportAndInitFailures) {
  EXPECT_EQ(Start("def init(:\n  pass\n"), 0);
  EXPECT_EQ(json::GetString(Status(), "reason"), "UserScriptImportFailed");
  EXPECT_THAT(json::GetString(Status(), "message"), HasSubstr("SyntaxError"));
  (void)Terminate(process_, 1s);
  EXPECT_EQ(Start("def init():\n  raise ValueError('nope')\ndef run(d):\n  return d\n"), 0);
  EXPECT_EQ(json::GetString(Status(), "reason"), "UserScriptInitFailed");
  EXPECT_THAT(json::GetString(Status(), "message"), HasSubstr("ValueError: nope"));
  (void)Terminate(process_, 1s);
  EXPECT_EQ(Start("def init():\n  pass\n"), 0);
  EXPECT_EQ(json::GetString(Status(), "reason"), "UserScriptImportFailed");
  EXPECT_THAT(json::GetString(Status(), "message"), HasSubstr("defines no run() function"));
}

TEST_F(ScoringRuntimeTest, EveryWayOutEndsWithItsExitCodeAndNoPythonCrash) {
  // Run to completion as a child, so that the exit code is seen; a crash at exit would be a signal (-1).
  auto run = [&](const std::string& script) {
    fs::path app = fs::path(home_.path()) / "child";
    fs::create_directories(app / "src");
    std::ofstream(app / "src" / "score.py") << script;
    auto result = RunCommand({AMLCORE_SCORE_PATH, "--status-file", (app / "status.json").string()}, 60s,
                             {{"AZUREML_ENTRY_SCRIPT", "score.py"},
                              {"AML_APP_ROOT", app.string()},
                              {"AZUREML_SOURCE_DIRECTORY", (app / "src").string()}});
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : CommandResult{};
  };
  struct Case {
    const char* script;
    int exit_code;
    const char* says;
  };
  for (const Case& c : {Case{"def init(:\n  pass\n", score::kExitImportFailed, "SyntaxError"},
                        Case{"import no_such_module_here\n", score::kExitImportFailed, "ModuleNotFoundError"},
                        Case{"def init():\n  raise ValueError('nope')\ndef run(d):\n  return d\n",
                             score::kExitInitFailed, "ValueError: nope"},
                        Case{"def init():\n  pass\n", score::kExitImportFailed, "defines no run() function"},
                        Case{"run = 1\ndef init():\n  pass\n", score::kExitImportFailed, "defines no run()"},
                        // A thread that never ends would keep Python from finalizing.
                        Case{"import threading, time\n"
                             "def init():\n"
                             "  threading.Thread(target=time.sleep, args=(3600,)).start()\n"
                             "  raise ValueError('after starting a thread')\n"
                             "def run(d):\n  return d\n",
                             score::kExitInitFailed, "ValueError: after starting a thread"}}) {
    CommandResult result = run(c.script);
    EXPECT_EQ(result.exit_code, c.exit_code) << c.script << "\n" << result.output;
    EXPECT_THAT(result.output, HasSubstr(c.says));
    EXPECT_THAT(result.output, Not(HasSubstr("Fatal Python error"))) << c.script;
  }

  // SIGTERM: a replica that served stops cleanly too.
  uint16_t port = Start(kEcho);
  ASSERT_NE(port, 0) << Log();
  http::Client client("127.0.0.1", port);
  ASSERT_EQ(client.Send({.method = "POST", .target = "/score", .body = "{}"})->status, 200);
  AMLCORE_ASSERT_OK(Terminate(process_, 10s));
  EXPECT_THAT(Log(), HasSubstr("stopping on signal"));
  EXPECT_THAT(Log(), Not(HasSubstr("Fatal Python error")));
}

TEST(Utf8Test, Validation) {
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf")) << "overlong";
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80")) << "surrogate";
}

}  // namespace
}  // namespace amlcore
