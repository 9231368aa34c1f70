#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "amlcore/amlcore.h"
#include "cpp/test_support.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace amlcore {
namespace {
using namespace std::chrono_literals;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::Eventually;
using testing::ServerFixture;

class ComputeTest : public ServerFixture {};

TEST_F(ComputeTest, CreateAttachDetachDelete) {
  Workspace ws1 = MakeWorkspace("ws-one");
  Workspace ws2 = MakeWorkspace("ws-two");
  Workspace ws3 = MakeWorkspace("ws-three");

  auto aks = AksCompute::Create(ws1, "aks-main", AksProvisioningConfiguration{});
  ASSERT_TRUE(aks.ok()) << aks.status();
  EXPECT_EQ((*aks)->provisioning_state(), "Creating");
  std::string output;
  AMLCORE_ASSERT_OK((*aks)->WaitForCompletion({.on_progress = [&](absl::string_view t) { absl::StrAppend(&output, t); }}));
  EXPECT_THAT(output, StartsWith("Creating"));
  EXPECT_THAT(output, EndsWith("\nSucceeded\nProvisioning operation finished, operation \"Succeeded\"\n"));
  EXPECT_EQ((*aks)->provisioning_state(), "Succeeded");
  EXPECT_EQ((*aks)->agent_count(), 3);
  EXPECT_EQ((*aks)->agent_vm_size(), "Standard_D3_v2");
  EXPECT_EQ((*aks)->cluster_purpose(), "FastProd");
  EXPECT_EQ((*aks)->load_balancer_type(), "PublicIp");
  EXPECT_EQ((*aks)->load_balancer_subnet(), "aks-subnet");
  EXPECT_EQ((*aks)->type(), "AKS");
  EXPECT_FALSE((*aks)->is_attached());
  EXPECT_THAT((*aks)->cluster_resource_id(),
              StartsWith("/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/default/providers/"
                         "Microsoft.ContainerService/managedClusters/aks-main-"));
  EXPECT_EQ((*aks)->id(), absl::StrCat(ws1.resource_path(), "/computes/aks-main"));
  std::string endpoint = (*aks)->scoring_endpoint();
  ASSERT_FALSE(endpoint.empty());
  EXPECT_TRUE(testing::ProbeHealth(endpoint));
  ASSERT_EQ(home_->RunningFrontEnds().size(), 1u);

  // ComputeTarget(ws, name) returns the subclass.
  auto got = ComputeTarget::Get(ws1, "aks-main");
  ASSERT_TRUE(got.ok());
  EXPECT_NE(dynamic_cast<AksCompute*>(got->get()), nullptr);
  auto all = ws1.ComputeTargets();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 1u);
  EXPECT_TRUE(all->count("aks-main"));

  // Attach the cluster to a second workspace by resource id, and to a third by group and name.
  auto attached = AksCompute::Attach(ws2, "aks-att", {.resource_id = (*aks)->cluster_resource_id()});
  ASSERT_TRUE(attached.ok()) << attached.status();
  AMLCORE_ASSERT_OK((*attached)->WaitForCompletion());
  EXPECT_TRUE((*attached)->is_attached());
  EXPECT_EQ((*attached)->scoring_endpoint(), (*aks)->scoring_endpoint());
  EXPECT_EQ((*attached)->cluster_purpose(), "FastProd");
  std::string cluster_name = (*aks)->cluster_resource_id().substr((*aks)->cluster_resource_id().rfind('/') + 1);
  auto third = AksCompute::Attach(ws3, "aks-3", {.resource_group = "default", .cluster_name = cluster_name,
                                                  .cluster_purpose = "DevTest"});
  ASSERT_TRUE(third.ok()) << third.status();
  AMLCORE_ASSERT_OK((*third)->WaitForCompletion());

  // A second attachment of the same cluster to a workspace is refused, naming the first.
  auto again = AksCompute::Attach(ws2, "aks-again", {.resource_id = (*aks)->cluster_resource_id()});
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(again.status().message()), HasSubstr("is already attached to workspace ws-two as compute target aks-att"));
  EXPECT_EQ(GetErrorInfo(again.status()).kind, ErrorKind::kComputeTarget);
  EXPECT_EQ(GetErrorInfo(again.status()).error_code, "ClusterAlreadyAttached");
  EXPECT_EQ(GetErrorInfo(again.status()).http_status, 409);

  // delete() of an attached compute target is refused; deleting a cluster still attached elsewhere too.
  absl::Status refused = (*attached)->Delete();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.message()), HasSubstr("delete() is refused. Use detach()"));
  absl::Status in_use = (*aks)->Delete();
  EXPECT_THAT(std::string(in_use.message()), HasSubstr("is still attached as compute target 'aks-att' of workspace 'ws-two'"));

  // detach() keeps the cluster running.
  AMLCORE_ASSERT_OK((*attached)->Detach());
  AMLCORE_ASSERT_OK((*attached)->WaitForCompletion({}, /*is_delete_operation=*/true));
  AMLCORE_ASSERT_OK((*third)->Detach());
  AMLCORE_ASSERT_OK((*third)->WaitForCompletion({}, true));
  EXPECT_TRUE(testing::ProbeHealth(endpoint));
  auto gone = ComputeTarget::Get(ws2, "aks-att");
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(gone.status().message(),
            "ComputeTargetNotFound: Compute Target with name aks-att not found in provided workspace");

  // delete() stops the front end.
  auto frontends = home_->RunningFrontEnds();
  AMLCORE_ASSERT_OK((*aks)->Delete());
  EXPECT_EQ((*aks)->provisioning_state(), "Deleting");
  AMLCORE_ASSERT_OK((*aks)->WaitForCompletion({}, true));
  EXPECT_FALSE(testing::ProbeHealth(endpoint));
  for (const auto& fe : frontends) EXPECT_FALSE(IsRunning(fe));
  EXPECT_TRUE(home_->RunningFrontEnds().empty());
  EXPECT_EQ(ComputeTarget::Get(ws1, "aks-main").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ComputeTest, ServerSideRulesStateTheRuleAndTheNumbers) {
  Workspace ws = MakeWorkspace("ws-rules");
  AksProvisioningConfiguration small;
  small.agent_count = 2;
  auto refused = AksCompute::Create(ws, "aks-small", small);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("a FastProd cluster needs at least 12 vCPUs in total, but agent_count 2 x Standard_D3_v2 "
                        "(4 vCPUs each) gives 8"));
  EXPECT_EQ(GetErrorInfo(refused.status()).http_status, 400);

  small.cluster_purpose = ClusterPurpose::kDevTest;
  small.agent_count = 1;
  auto dev = AksCompute::Create(ws, "aks-dev", small);
  ASSERT_TRUE(dev.ok()) << dev.status();
  AMLCORE_ASSERT_OK((*dev)->WaitForCompletion());

  AksProvisioningConfiguration unknown;
  unknown.vm_size = "Standard_Huge";
  EXPECT_THAT(std::string(AksCompute::Create(ws, "aks-huge", unknown).status().message()),
              HasSubstr("unknown vm_size 'Standard_Huge'. Known sizes:"));
  EXPECT_THAT(std::string(AksCompute::Create(ws, "local", {}).status().message()), HasSubstr("are reserved"));
  EXPECT_THAT(std::string(AksCompute::Create(ws, "9lives", {}).status().message()),
              HasSubstr("must be 3 to 24 characters long, contain only letters, digits and hyphens"));
  auto duplicate = AksCompute::Create(ws, "aks-dev", small);
  EXPECT_EQ(duplicate.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(duplicate.status().message()), HasSubstr("A compute target named aks-dev already exists in workspace "
                                                      "ws-rules"));
  auto missing = AksCompute::Attach(ws, "aks-x", {.resource_group = "default", .cluster_name = "no-such-cluster"});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("No AKS cluster with resource id"));
  // Refused requests changed nothing.
  auto list = ComputeTarget::List(ws);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 1u);
}

TEST_F(ComputeTest, UpdateScalesAndConfiguresSsl) {
  Workspace ws = MakeWorkspace("ws-update");
  auto aks = AksCompute::Create(ws, "aks-up", {});
  ASSERT_TRUE(aks.ok());
  AMLCORE_ASSERT_OK((*aks)->WaitForCompletion());

  AMLCORE_ASSERT_OK((*aks)->Update({.agent_count = 5}));
  EXPECT_EQ((*aks)->provisioning_state(), "Updating");
  AMLCORE_ASSERT_OK((*aks)->WaitForCompletion());
  EXPECT_EQ((*aks)->agent_count(), 5);

  absl::Status too_small = (*aks)->Update({.agent_count = 1});
  EXPECT_THAT(std::string(too_small.message()), HasSubstr("agent_count 1 x Standard_D3_v2 (4 vCPUs each) gives 4"));

  auto [cert, key] = testing::MakeCertificate(home_->path(), "svc.contoso.com");
  auto [other_cert, other_key] = testing::MakeCertificate(home_->path(), "other.contoso.com");
  auto read = [](const std::string& path) { return *ReadFile(path); };
  SslConfiguration ssl{.status = "Enabled", .cert = read(cert), .key = read(key), .cname = "svc.contoso.com"};
  AMLCORE_ASSERT_OK((*aks)->Update({.ssl_configuration = ssl}));
  AMLCORE_ASSERT_OK((*aks)->WaitForCompletion());
  ASSERT_TRUE((*aks)->ssl_configuration().has_value());
  EXPECT_EQ((*aks)->ssl_configuration()->status, "Enabled");
  EXPECT_EQ((*aks)->ssl_configuration()->cname, "svc.contoso.com");
  EXPECT_TRUE((*aks)->ssl_configuration()->key.empty()) << "the key never leaves the server";

  SslConfiguration mismatched = ssl;
  mismatched.key = read(other_key);
  EXPECT_THAT(std::string((*aks)->Update({.ssl_configuration = mismatched}).message()),
              HasSubstr("The SSL key does not belong to the SSL certificate."));
  SslConfiguration garbage = ssl;
  garbage.cert = "not a certificate";
  EXPECT_THAT(std::string((*aks)->Update({.ssl_configuration = garbage}).message()),
              HasSubstr("not a PEM-encoded X.509 certificate"));

  AMLCORE_ASSERT_OK((*aks)->Update({.load_balancer_type = "InternalLoadBalancer", .load_balancer_subnet = "inner"}));
  AMLCORE_ASSERT_OK((*aks)->WaitForCompletion());
  EXPECT_EQ((*aks)->load_balancer_type(), "InternalLoadBalancer");
  EXPECT_EQ((*aks)->load_balancer_subnet(), "inner");

  // SSL from files at creation, with a missing file reported as azureml does.
  AksProvisioningConfiguration with_ssl;
  with_ssl.cluster_purpose = "DevTest";
  with_ssl.agent_count = 1;
  AMLCORE_ASSERT_OK(with_ssl.EnableSsl("svc.contoso.com", cert, key));
  auto secure = AksCompute::Create(ws, "aks-ssl", with_ssl);
  ASSERT_TRUE(secure.ok()) << secure.status();
  AMLCORE_ASSERT_OK((*secure)->WaitForCompletion());
  EXPECT_EQ((*secure)->ssl_configuration()->cname, "svc.contoso.com");
  AksProvisioningConfiguration missing_file = with_ssl;
  missing_file.ssl_key_pem_file = home_->path() + "/nope.pem";
  EXPECT_THAT(std::string(AksCompute::Create(ws, "aks-nofile", missing_file).status().message()),
              StartsWith("Error while reading ssl information:\nCannot read"));
}

TEST_F(ComputeTest, SerializeAndDeserializeRoundTrip) {
  Workspace ws = MakeWorkspace("ws-serial");
  auto aks = AksCompute::Create(ws, "aks-ser", {.agent_count = 1, .cluster_purpose = "DevTest"});
  ASSERT_TRUE(aks.ok());
  AMLCORE_ASSERT_OK((*aks)->WaitForCompletion());
  std::string text = (*aks)->Serialize();
  auto back = AksCompute::Deserialize(ws, text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ((*back)->name(), "aks-ser");
  EXPECT_EQ((*back)->agent_count(), 1);
  EXPECT_EQ((*back)->Serialize(), text);
  Workspace other = MakeWorkspace("ws-other");
  EXPECT_THAT(std::string(AksCompute::Deserialize(other, text).status().message()), HasSubstr("does not belong to workspace"));
  EXPECT_THAT(std::string(AksCompute::Deserialize(ws, "{}").status().message()), HasSubstr("Invalid cluster payload"));
  auto credentials = (*aks)->GetCredentials();
  ASSERT_TRUE(credentials.ok());
  EXPECT_THAT(*credentials, HasSubstr("\"scoringEndpoint\":\"http://127.0.0.1:"));
}

TEST_F(ComputeTest, ConcurrentCreatesOfOneNameOneWins) {
  Workspace ws = MakeWorkspace("ws-race");
  std::vector<absl::Status> results(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      results[i] = AksCompute::Create(ws, "aks-race", {.agent_count = 1, .cluster_purpose = "DevTest"}).status();
    });
  }
  for (auto& t : threads) t.join();
  int won = 0;
  for (const auto& s : results) {
    if (s.ok()) {
      ++won;
    } else {
      EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
      EXPECT_THAT(std::string(s.message()), HasSubstr("A compute target named aks-race already exists"));
    }
  }
  EXPECT_EQ(won, 1);
  auto aks = AksCompute::Get(ws, "aks-race");
  ASSERT_TRUE(aks.ok());
  EXPECT_TRUE(Eventually([&] { return (*aks)->GetStatus().value_or("") == "Succeeded"; }));
  EXPECT_EQ(home_->RunningFrontEnds().size(), 1u);
}

// A server whose clusters take a while, to observe waits that end early.
class SlowComputeTest : public ServerFixture {
 protected:
  void SetUp() override {
    home_ = std::make_unique<testing::TempHome>();
    auto server = server::WorkspaceServer::Start({.home = home_->path(),
                                                  .frontend_program = AMLCORE_FE_PATH,
                                                  .scoring_program = AMLCORE_SCORE_PATH,
                                                  .simulated_provisioning = 1500ms});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
};

TEST_F(SlowComputeTest, TimeoutCancelAndConflictWhileRunning) {
  Workspace ws = MakeWorkspace("ws-slow");
  auto aks = AksCompute::Create(ws, "aks-slow", {.agent_count = 1, .cluster_purpose = "DevTest"});
  ASSERT_TRUE(aks.ok());

  // A second mutating operation while the first runs gets a conflict naming it.
  absl::Status busy = (*aks)->Delete();
  EXPECT_EQ(GetErrorInfo(busy).http_status, 409);
  EXPECT_THAT(std::string(busy.message()), HasSubstr("has a running ComputeProvision operation"));

  auto start = std::chrono::steady_clock::now();
  absl::Status timed_out = (*aks)->WaitForCompletion({.timeout = 300ms});
  EXPECT_EQ(timed_out.code(), absl::StatusCode::kDeadlineExceeded) << timed_out;
  EXPECT_THAT(std::string(timed_out.message()), HasSubstr("exceeded timeout override of 0.3s"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1200ms);

  start = std::chrono::steady_clock::now();
  absl::Status cancelled = (*aks)->WaitForCompletion(
      {.cancelled = [&] { return std::chrono::steady_clock::now() - start > 200ms; }});
  EXPECT_EQ(cancelled.code(), absl::StatusCode::kCancelled) << cancelled;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1000ms);

  // The operation carried on regardless; the next wait sees it finish.
  AMLCORE_ASSERT_OK((*aks)->WaitForCompletion());
  EXPECT_EQ((*aks)->provisioning_state(), "Succeeded");
}

}  // namespace
}  // namespace amlcore
