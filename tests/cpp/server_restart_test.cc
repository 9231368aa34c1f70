// amlcored as a real process: the SDK finds or starts it from AMLCORE_HOME, and a SIGKILL in the middle of an
// operation loses nothing.
#include <signal.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "amlcore/amlcore.h"
#include "common/files.h"
#include "common/json.h"
#include "common/process.h"
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
