// amlcore-score as a process: the inference server's routes, headers, errors and timeout.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
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
