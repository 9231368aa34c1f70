// amlcored as a real process: the SDK finds or starts it from AMLCORE_HOME, and a SIGKILL in the middle of an
// operation loses nothing.
#include <signal.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "amlcore/amlcore.h"
#include "common/files.h"
#include "common/json.h"
#include "common/process.h"
#include "server/workspace_server.h"
#include "cpp/test_support.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace amlcore {
namespace {
using namespace std::chrono_literals;

ProcessId ServerProcess(const std::string& home) {
  auto text = ReadFile(home + "/server.json");
  if (!text.ok()) return {};
  auto object = json::ParseObject(*text, "server.json");
  if (!object.ok()) return {};
  return ProcessId{static_cast<pid_t>(json::GetInt(*object, "pid")),
                   static_cast<uint64_t>(json::GetInt(*object, "start_time"))};
}

class ServerRestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("AMLCORE_SERVER_PROGRAM", AMLCORE_SERVER_PATH, 1);
    setenv("AMLCORE_SIMULATED_PROVISIONING_SECONDS", "1.5", 1);
  }
  void TearDown() override { unsetenv("AMLCORE_SIMULATED_PROVISIONING_SECONDS"); }
  testing::TempHome home_;
};

TEST_F(ServerRestartTest, SdkStartsTheServerAndSurvivesItsSigkillMidOperation) {
  ConnectionOptions local{.home = home_.path()};
  auto ws = Workspace::Create("ws-restart", {.connection = local});
  ASSERT_TRUE(ws.ok()) << ws.status();
  ProcessId first = ServerProcess(home_.path());
  ASSERT_TRUE(IsRunning(first)) << "the SDK started amlcored";

  auto aks = AksCompute::Create(*ws, "aks-restart", {.agent_count = 1, .cluster_purpose = "DevTest"});
  ASSERT_TRUE(aks.ok()) << aks.status();
  ASSERT_EQ(kill(first.pid, SIGKILL), 0);
  ASSERT_TRUE(testing::Eventually([&] { return !IsRunning(first); }));

  // The next call finds no server, starts one, which resumes the create.
  AMLCORE_ASSERT_OK((*aks)->WaitForCompletion());
  EXPECT_EQ((*aks)->provisioning_state(), "Succeeded");
  ProcessId second = ServerProcess(home_.path());
  EXPECT_TRUE(IsRunning(second));
  EXPECT_NE(second.pid, first.pid);
  ASSERT_EQ(home_.RunningFrontEnds().size(), 1u);
  std::string endpoint = (*aks)->scoring_endpoint();
  EXPECT_TRUE(testing::ProbeHealth(endpoint));

  // The data plane outlives the control plane: killing the server leaves the front end answering, and the
  // next server adopts it instead of starting another.
  ProcessId frontend = home_.RunningFrontEnds().front();
  ASSERT_EQ(kill(second.pid, SIGKILL), 0);
  ASSERT_TRUE(testing::Eventually([&] { return !IsRunning(second); }));
  EXPECT_TRUE(testing::ProbeHealth(endpoint));
  auto again = ComputeTarget::Get(*ws, "aks-restart");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)->provisioning_state(), "Succeeded");
  auto frontends = home_.RunningFrontEnds();
  ASSERT_EQ(frontends.size(), 1u);
  EXPECT_EQ(frontends.front().pid, frontend.pid);
}

TEST_F(ServerRestartTest, ALostOrDamagedServerFileIsRecoveredAndStopStillWorks) {
  unsetenv("AMLCORE_SIMULATED_PROVISIONING_SECONDS");
  ConnectionOptions local{.home = home_.path()};
  std::string server_file = home_.path() + "/server.json";
  ASSERT_TRUE(Workspace::Create("ws-lost", {.connection = local}).ok());  // starts amlcored
  ProcessId server = ServerProcess(home_.path());
  ASSERT_TRUE(IsRunning(server));
  std::string original = *ReadFile(server_file);

  // Each time a new SDK session finds the server, which writes the file again when asked.
  for (const char* damage : {"deleted", "{not json", R"({"endpoint": "http://127.0.0.1:1", "token": "x"})"}) {
    if (std::string(damage) == "deleted") {
      ASSERT_EQ(unlink(server_file.c_str()), 0);
    } else {
      ASSERT_TRUE(WriteFileAtomic(server_file, damage).ok());
    }
    auto ws = Workspace::Get("ws-lost", {.connection = local});  // a new connection: the first ones are gone
    ASSERT_TRUE(ws.ok()) << damage << ": " << ws.status();
    EXPECT_EQ(ServerProcess(home_.path()).pid, server.pid) << "the running server was found, not replaced";
    EXPECT_EQ(*ReadFile(server_file), original);
  }

  // amlcored --stop finds the server by its lock when server.json is gone.
  ASSERT_EQ(unlink(server_file.c_str()), 0);
  auto stopped = server::StopHome(home_.path(), false);
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_THAT(*stopped, ::testing::HasSubstr(absl::StrCat("stopped the server of ", home_.path(), " (pid ",
                                                          server.pid, ", found by its lock")));
  EXPECT_FALSE(IsRunning(server));
}

TEST_F(ServerRestartTest, AHomeLockedByAnotherProgramIsExplained) {
  // This test process holds the lock, as a program embedding the server without server.json would.
  auto lock = FileLock::TryAcquire(home_.path() + "/amlcored.lock");
  ASSERT_TRUE(lock.ok()) << lock.status();
  auto ws = Workspace::Create("ws-locked", {.connection = {.home = home_.path()}});
  ASSERT_FALSE(ws.ok());
  EXPECT_THAT(std::string(ws.status().message()),
              ::testing::HasSubstr(absl::StrCat("Process ", getpid(), " (amlcore_integration_tests) holds ",
                                                home_.path(), "/amlcored.lock, so no amlcored can serve ",
                                                home_.path(), ", and ", home_.path(),
                                                "/server.json is missing. Stop that program, or use another "
                                                "AMLCORE_HOME.")));
  auto stopped = server::StopHome(home_.path(), false);
  ASSERT_FALSE(stopped.ok());
  EXPECT_THAT(std::string(stopped.status().message()),
              ::testing::HasSubstr("which is not an amlcored this command may stop; stop that program instead."));
}

TEST_F(ServerRestartTest, AKilledFrontEndIsRestartedOnItsPort) {
  ConnectionOptions local{.home = home_.path()};
  unsetenv("AMLCORE_SIMULATED_PROVISIONING_SECONDS");
  auto ws = Workspace::Create("ws-fe", {.connection = local});
  ASSERT_TRUE(ws.ok()) << ws.status();
  auto aks = AksCompute::Create(*ws, "aks-fe", {.agent_count = 1, .cluster_purpose = "DevTest"});
  ASSERT_TRUE(aks.ok());
  AMLCORE_ASSERT_OK((*aks)->WaitForCompletion());
  std::string endpoint = (*aks)->scoring_endpoint();
  ProcessId frontend = home_.RunningFrontEnds().front();
  ASSERT_EQ(kill(frontend.pid, SIGKILL), 0);
  EXPECT_TRUE(testing::Eventually(
      [&] {
        auto running = home_.RunningFrontEnds();
        return running.size() == 1 && running.front().pid != frontend.pid && testing::ProbeHealth(endpoint);
      },
      15s));
}

}  // namespace
}  // namespace amlcore
