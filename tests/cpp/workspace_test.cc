#include <filesystem>

#include "absl/strings/str_cat.h"
#include "amlcore/amlcore.h"
#include "cpp/test_support.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace amlcore {
namespace {
using ::testing::HasSubstr;
namespace fs = std::filesystem;

class WorkspaceTest : public testing::ServerFixture {};

TEST_F(WorkspaceTest, CreateGetListDelete) {
  auto ws = Workspace::Create("my-ws", {.description = "demo", .tags = {{"team", "ml"}}, .connection = connection()});
  ASSERT_TRUE(ws.ok()) << ws.status();
  EXPECT_EQ(ws->name(), "my-ws");
  EXPECT_EQ(ws->subscription_id(), "00000000-0000-0000-0000-000000000000");
  EXPECT_EQ(ws->resource_group(), "default");
  EXPECT_EQ(ws->location(), "local");
  EXPECT_EQ(ws->description(), "demo");
  EXPECT_EQ(ws->tags().at("team"), "ml");

  auto again = Workspace::Create("my-ws", {.connection = connection()});
  EXPECT_EQ(again.status().message(),
            "Workspace with name 'my-ws' already exists under resource group with name 'default'.");
  EXPECT_EQ(GetErrorInfo(again.status()).kind, ErrorKind::kUserError);
  auto existing = Workspace::Create("my-ws", {.exist_ok = true, .connection = connection()});
  ASSERT_TRUE(existing.ok());
  EXPECT_EQ(existing->description(), "demo");

  auto got = Workspace::Get("my-ws", {.connection = connection()});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->id(), ws->id());
  EXPECT_THAT(std::string(Workspace::Get("nope-ws", {.connection = connection()}).status().message()),
              HasSubstr("Workspace nope-ws not found"));

  auto other_group = Workspace::Create("my-ws", {.resource_group = "team-b", .connection = connection()});
  ASSERT_TRUE(other_group.ok()) << other_group.status();
  EXPECT_THAT(std::string(Workspace::Get("my-ws", {.connection = connection()}).status().message()),
              HasSubstr("Several workspaces are named my-ws"));
  auto in_b = Workspace::Get("my-ws", {.resource_group = "team-b", .connection = connection()});
  ASSERT_TRUE(in_b.ok());
  EXPECT_EQ(in_b->resource_group(), "team-b");

  auto listed = Workspace::List({.connection = connection()});
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 2u);
  auto in_group = Workspace::List({.resource_group = "team-b", .connection = connection()});
  ASSERT_TRUE(in_group.ok());
  EXPECT_EQ(in_group->size(), 1u);

  auto no_group = Workspace::Create("ws-x", {.resource_group = "absent", .create_resource_group = false,
                                             .connection = connection()});
  EXPECT_EQ(no_group.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(no_group.status().message()), HasSubstr("Resource group absent could not be found"));
  EXPECT_THAT(std::string(Workspace::Create("-bad", {.connection = connection()}).status().message()),
              HasSubstr("Invalid workspace name '-bad'"));

  AMLCORE_ASSERT_OK(in_b->Delete());
  EXPECT_EQ(Workspace::List({.connection = connection()})->size(), 1u);
}

TEST_F(WorkspaceTest, WriteConfigAndFromConfigSearchParents) {
  Workspace ws = MakeWorkspace("cfg-ws");
  fs::path project = fs::path(home_->path()) / "project";
  fs::create_directories(project / "notebooks" / "deep");
  auto written = ws.WriteConfig(project.string());
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(*written, (project / ".azureml" / "config.json").string());
  auto found = Workspace::FromConfig((project / "notebooks" / "deep").string(), "", connection());
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->name(), "cfg-ws");
  auto direct = Workspace::FromConfig(*written, "", connection());
  ASSERT_TRUE(direct.ok());
  auto missing = Workspace::FromConfig("/", "no-such-config.json", connection());
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("We could not find no-such-config.json in: / or in its parent directories."));
}

TEST_F(WorkspaceTest, DeletingAWorkspaceDeletesTheClustersItCreated) {
  Workspace ws = MakeWorkspace("del-ws");
  Workspace other = MakeWorkspace("keep-ws");
  auto aks = AksCompute::Create(ws, "aks-del", {.agent_count = 1, .cluster_purpose = "DevTest"});
  ASSERT_TRUE(aks.ok());
  AMLCORE_ASSERT_OK((*aks)->WaitForCompletion());
  auto attached = AksCompute::Attach(other, "aks-keep", {.resource_id = (*aks)->cluster_resource_id(),
                                                         .cluster_purpose = "DevTest"});
  ASSERT_TRUE(attached.ok());
  AMLCORE_ASSERT_OK((*attached)->WaitForCompletion());
  absl::Status refused = ws.Delete();
  EXPECT_THAT(std::string(refused.message()), HasSubstr("is still attached elsewhere"));
  EXPECT_TRUE(Workspace::Get("del-ws", {.connection = connection()}).ok());
  AMLCORE_ASSERT_OK((*attached)->Detach());
  AMLCORE_ASSERT_OK((*attached)->WaitForCompletion({}, true));
  AMLCORE_ASSERT_OK(ws.Delete());
  // The workspace is gone at once; the cluster it created is taken down by its controller right after.
  EXPECT_TRUE(testing::Eventually([&] { return home_->RunningFrontEnds().empty(); }));
  EXPECT_FALSE(Workspace::Get("del-ws", {.connection = connection()}).ok());
}

}  // namespace
}  // namespace amlcore
