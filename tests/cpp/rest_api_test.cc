#include "absl/strings/str_cat.h"
#include "cpp/test_support.h"
#include "common/json.h"
#include "domain/service_rules.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace amlcore {
namespace {
using namespace std::chrono_literals;
using ::testing::HasSubstr;

constexpr char kWs[] =
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/default/providers/"
    "Microsoft.MachineLearningServices/workspaces/ws-rest";

class RestApiTest : public testing::ServerFixture {
 protected:
  void SetUp() override {
    ServerFixture::SetUp();
    MakeWorkspace("ws-rest");
  }
};

TEST_F(RestApiTest, EveryCallNeedsTheAdminToken) {
  for (const auto& [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/health"}, {"GET", kWs}, {"PUT", absl::StrCat(kWs, "/computes/aks")},
           {"DELETE", absl::StrCat(kWs, "/computes/aks?underlyingResourceAction=delete")}, {"GET", "/nowhere"}}) {
    for (std::optional<std::string> token : {std::optional<std::string>("wrong"), std::optional<std::string>("")}) {
      http::Response r = Rest(method, target, "{}", token);
      EXPECT_EQ(r.status, 401) << method << " " << target;
      EXPECT_THAT(r.body, HasSubstr("\"code\":\"Unauthorized\""));
      EXPECT_THAT(r.body, HasSubstr("Authorization: Bearer <token>"));
      EXPECT_TRUE(r.headers.Get("x-ms-request-id").has_value());
    }
  }
  // Nothing was created by the refused calls.
  http::Response list = Rest("GET", absl::StrCat(kWs, "/computes"));
  EXPECT_EQ(list.status, 200);
  EXPECT_EQ(list.body, R"({"value":[],"nextLink":null})");
}

TEST_F(RestApiTest, BadBodiesAreRefusedWithClearMessages) {
  std::string compute = absl::StrCat(kWs, "/computes/aks-bad");
  http::Response malformed = Rest("PUT", compute, "{\"properties\": ");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_THAT(malformed.body, HasSubstr("Malformed JSON at offset"));
  http::Response unknown = Rest("PUT", compute, R"({"properties": {"computeType": "AKS", "color": "blue"}})");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_THAT(unknown.body, HasSubstr("Unknown field 'properties.color'"));
  http::Response wrong_type = Rest("PUT", compute, R"({"properties": {"computeType": "AmlCompute"}})");
  EXPECT_EQ(wrong_type.status, 400);
  EXPECT_THAT(wrong_type.body, HasSubstr("computeType 'AmlCompute' is not supported"));
  http::Response typed =
      Rest("PUT", compute, R"({"properties": {"computeType": "AKS", "properties": {"agentCount": -2}}})");
  EXPECT_THAT(typed.body, HasSubstr("agent count must be a positive integer"));
  http::Response vnet = Rest("PUT", compute, R"({"properties": {"computeType": "AKS", "properties":
      {"aksNetworkingConfiguration": {"subnetId": "/subscriptions/0/resourceGroups/n/providers/Microsoft.Network/virtualNetworks/v/subnets/s",
       "serviceCidr": "10.0.0.0/16", "dnsServiceIP": "10.0.0.10", "dockerBridgeCidr": "10.0.0.0/24"}}}})");
  EXPECT_THAT(vnet.body, HasSubstr("docker_bridge_cidr 10.0.0.0/24 overlaps service_cidr 10.0.0.0/16"));
  http::Response no_action = Rest("DELETE", compute);
  EXPECT_EQ(no_action.status, 400);
  EXPECT_THAT(no_action.body, HasSubstr("underlyingResourceAction is required"));
  http::Response bad_action = Rest("DELETE", absl::StrCat(compute, "?underlyingResourceAction=destroy"));
  EXPECT_EQ(bad_action.status, 400);
  EXPECT_EQ(Rest("GET", absl::StrCat(kWs, "/computes")).body, R"({"value":[],"nextLink":null})");
}

TEST_F(RestApiTest, RoutesAndMethods) {
  EXPECT_EQ(Rest("GET", "/nowhere").status, 404);
  http::Response wrong = Rest("POST", absl::StrCat(kWs, "/computes/aks"));
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.headers.Get("Allow"), "GET, PUT, DELETE");
  http::Response missing = Rest("GET", absl::StrCat(kWs, "/computes/nope"));
  EXPECT_EQ(missing.status, 404);
  EXPECT_THAT(missing.body, HasSubstr("\"code\":\"ComputeTargetNotFound\""));
  http::Response no_ws = Rest("GET", "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/default/"
                                     "providers/Microsoft.MachineLearningServices/workspaces/none/computes");
  EXPECT_EQ(no_ws.status, 404);
  EXPECT_THAT(no_ws.body, HasSubstr("WorkspaceNotFound"));
}

TEST_F(RestApiTest, CreateAnswersWithAsyncOperationAndLongPollEndsEarly) {
  http::Response created = Rest("PUT", absl::StrCat(kWs, "/computes/aks-lp"),
                                R"({"properties": {"computeType": "AKS", "properties":
                                   {"agentCount": 1, "clusterPurpose": "DevTest"}}})");
  ASSERT_EQ(created.status, 201) << created.body;
  auto url = created.headers.Get("Azure-AsyncOperation");
  ASSERT_TRUE(url.has_value());
  std::string path(url->substr(url->find("/subscriptions/")));
  auto start = std::chrono::steady_clock::now();
  // Waiting up to 30 s returns as soon as the operation changes.
  int64_t version = -1;
  for (int i = 0; i < 10; ++i) {
    http::Response status = Rest("GET", absl::StrCat(path, "?waitSeconds=30&version=", version));
    ASSERT_EQ(status.status, 200);
    auto object = json::ParseObject(status.body, "status");
    ASSERT_TRUE(object.ok());
    if (json::GetString(*object, "status") == "Succeeded") break;
    EXPECT_NE(json::GetInt(*object, "version"), version) << "a long poll answers when something changed";
    version = json::GetInt(*object, "version");
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  http::Response done = Rest("GET", path);
  EXPECT_THAT(done.body, HasSubstr("\"status\":\"Succeeded\""));
  http::Response bad_wait = Rest("GET", absl::StrCat(path, "?waitSeconds=600"));
  EXPECT_EQ(bad_wait.status, 400);
  EXPECT_THAT(bad_wait.body, HasSubstr("waitSeconds must be an integer from 0 to 60"));
}

}  // namespace
}  // namespace amlcore

namespace amlcore {
namespace {

class ServicePathsTest : public testing::ServerFixture {};

TEST_F(ServicePathsTest, PathsOutsideTheSnapshotAreRefused) {
  // A compute target, so that only the paths are wrong.
  Workspace ws = MakeWorkspace("ws-paths");
  auto aks = AksCompute::Create(ws, "aks-paths", {.agent_count = 1, .cluster_purpose = "DevTest"});
  ASSERT_TRUE(aks.ok());
  AMLCORE_ASSERT_OK((*aks)->WaitForCompletion());
  std::string services = absl::StrCat(
      "/modelmanagement/v1.0/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/default/providers/"
      "Microsoft.MachineLearningServices/workspaces/ws-paths/services");
  auto body = [](const std::string& source, const std::string& script) {
    return absl::StrCat(R"({"name": "paths-svc", "computeName": "aks-paths", "entryScript": ")", script,
                        R"(", "sourceDirectory": ")", source, R"("})");
  };
  for (const auto& [source, script, field] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"../../outside", "score.py", "sourceDirectory '../../outside'"},
           {"src", "/etc/passwd", "entryScript '/etc/passwd'"},
           {"src", "a/../../score.py", "entryScript 'a/../../score.py'"},
           {"src\\\\..\\\\x", "score.py", "sourceDirectory 'src\\\\..\\\\x'"}}) {
    http::Response r = Rest("POST", services, body(source, script));
    EXPECT_EQ(r.status, 400) << source << " " << script;
    EXPECT_THAT(r.body, HasSubstr(field));
    EXPECT_THAT(r.body, HasSubstr("must be a relative path inside the uploaded source directory"));
  }
  // Nothing was created by the refused calls.
  EXPECT_EQ(Webservice::Get(ws, "paths-svc").status().code(), absl::StatusCode::kNotFound);
  // weights..bin-like names that only contain dots are fine.
  EXPECT_TRUE(domain::ValidateSnapshotPath("entryScript", "my..script.py").ok());
  EXPECT_TRUE(domain::ValidateSnapshotPath("entryScript", "./score.py").ok());
}

}  // namespace
}  // namespace amlcore
