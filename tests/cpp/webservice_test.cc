// Web services from C++ against an in-process amlcored: the whole flow, and failures with their causes.
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "amlcore/amlcore.h"
#include "cpp/test_support.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace amlcore {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kScript[] = R"(
import json, os
def init():
    global weights
    with open(os.path.join(os.getenv("AZUREML_MODEL_DIR"), "weights.json")) as f:
        weights = json.load(f)
    print("weights", weights)
def run(raw):
    rows = json.loads(raw)["data"]
    return [sum(w * x for w, x in zip(weights, row)) for row in rows]
)";

class WebserviceTest : public testing::ServerFixture {
 protected:
  void SetUp() override {
    ServerFixture::SetUp();
    ws_.emplace(MakeWorkspace("svc-ws"));
    auto aks = AksCompute::Create(*ws_, "svc-aks", {.agent_count = 1, .cluster_purpose = "DevTest"});
    ASSERT_TRUE(aks.ok()) << aks.status();
    AMLCORE_ASSERT_OK((*aks)->WaitForCompletion());
    aks_ = *aks;
  }
  std::string Source(const std::string& name, const std::string& script) {
    fs::path dir = fs::path(home_->path()) / name;
    fs::create_directories(dir);
    std::ofstream(dir / "score.py") << script;
    return dir.string();
  }
  Model RegisterWeights(const std::string& weights) {
    fs::path file = fs::path(home_->path()) / "weights.json";
    std::ofstream(file) << weights;
    auto model = Model::Register(*ws_, file.string(), "weights");
    EXPECT_TRUE(model.ok()) << model.status();
    return *model;
  }

  std::optional<Workspace> ws_;
  std::shared_ptr<AksCompute> aks_;
};

TEST_F(WebserviceTest, DeployScoreUpdateAndDelete) {
  Model model = RegisterWeights("[1, 2]");
  EXPECT_EQ(model.id(), "weights:1");
  InferenceConfig inference{.entry_script = "score.py", .source_directory = Source("src", kScript)};
  AksServiceDeploymentConfiguration config;
  config.num_replicas = 1;
  auto service = AksWebservice::Deploy(*ws_, "linear", {model}, inference, config, *aks_);
  ASSERT_TRUE(service.ok()) << service.status();
  std::string output;
  AMLCORE_ASSERT_OK((*service)->WaitForDeployment({.on_progress = [&](absl::string_view t) { absl::StrAppend(&output, t); }}));
  EXPECT_THAT(output, StartsWith("Running"));
  EXPECT_THAT(output, HasSubstr("Deploying service linear with 1 model to svc-aks"));
  EXPECT_THAT(output, HasSubstr("\nSucceeded\nAKS service creation operation finished, operation \"Succeeded\"\n"));
  EXPECT_EQ((*service)->state(), "Healthy");
  EXPECT_EQ((*service)->phase(), "Ready");
  EXPECT_THAT((*service)->scoring_uri(), HasSubstr("/api/v1/service/linear/score"));

  auto result = (*service)->Run(R"({"data": [[1, 1], [2, 3]]})");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "[3, 8]");
  auto keys = (*service)->GetKeys();
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->first.size(), 32u);
  auto logs = (*service)->GetLogs(50);
  ASSERT_TRUE(logs.ok());
  EXPECT_THAT(*logs, HasSubstr("weights [1, 2]"));

  // A new model version rolls out.
  Model second = RegisterWeights("[10, 20]");
  AMLCORE_ASSERT_OK((*service)->Update({.models = std::vector<Model>{second}}));
  AMLCORE_ASSERT_OK((*service)->WaitForDeployment());
  EXPECT_EQ(*(*service)->Run(R"({"data": [[1, 1]]})"), "[30]");
  EXPECT_EQ((*service)->model_ids(), std::vector<std::string>{"weights:2"});

  auto got = Webservice::Get(*ws_, "linear");
  ASSERT_TRUE(got.ok());
  EXPECT_NE(dynamic_cast<AksWebservice*>(got->get()), nullptr);
  auto missing = Webservice::Get(*ws_, "nope");
  EXPECT_EQ(missing.status().message(), "WebserviceNotFound: Webservice with name nope not found in provided workspace");
  EXPECT_EQ(GetErrorInfo(missing.status()).kind, ErrorKind::kWebservice);

  absl::Status in_use = second.Delete();
  EXPECT_THAT(std::string(in_use.message()), HasSubstr("is deployed by service linear"));
  AMLCORE_ASSERT_OK((*service)->Delete());
  AMLCORE_ASSERT_OK(second.Delete());
  EXPECT_EQ(GetErrorInfo(Model::Get(*ws_, "weights", 2).status()).kind, ErrorKind::kModelNotFound);
}

TEST_F(WebserviceTest, InitFailureNamesThePhaseAndShowsTheLog) {
  InferenceConfig inference{.entry_script = "score.py",
                            .source_directory = Source("bad", "def init():\n    raise IOError('model missing')\n"
                                                              "def run(d):\n    return d\n")};
  AksServiceDeploymentConfiguration config;
  config.num_replicas = 1;
  auto service = AksWebservice::Deploy(*ws_, "bad-init", {}, inference, config, *aks_);
  ASSERT_TRUE(service.ok()) << service.status();
  absl::Status failed = (*service)->WaitForDeployment();
  EXPECT_EQ(failed.code(), absl::StatusCode::kAborted);
  EXPECT_THAT(std::string(failed.message()),
              StartsWith("Service deployment polling reached non-successful terminal state, current service state: "
                         "Failed\nOperation ID: "));
  EXPECT_THAT(std::string(failed.message()), HasSubstr("\"code\": \"UserScriptInitFailed\""));
  EXPECT_THAT(std::string(failed.message()), HasSubstr("Phase Initializing failed"));
  EXPECT_THAT(std::string(failed.message()), HasSubstr("OSError: model missing"));
  EXPECT_EQ(GetErrorInfo(failed).operation_state, "Failed");
  EXPECT_EQ((*service)->reason(), "UserScriptInitFailed");
  auto logs = (*service)->GetLogs();
  ASSERT_TRUE(logs.ok());
  EXPECT_THAT(*logs, HasSubstr("OSError: model missing"));
}

TEST_F(WebserviceTest, ClientSideRules) {
  AksServiceDeploymentConfiguration config;
  config.autoscale_enabled = true;
  config.num_replicas = 2;
  InferenceConfig inference{.entry_script = "score.py", .source_directory = Source("src", kScript)};
  auto refused = AksWebservice::Deploy(*ws_, "rules", {}, inference, config, *aks_);
  EXPECT_EQ(refused.status().message(), "Invalid configuration, autoscale enabled and num_replicas provided.");
  EXPECT_THAT(std::string(AksWebservice::Deploy(*ws_, "Bad_Name", {}, inference, {}, *aks_).status().message()),
              HasSubstr("provided service name is invalid"));
  InferenceConfig missing{.entry_script = "nope.py", .source_directory = Source("src", kScript)};
  auto no_script = AksWebservice::Deploy(*ws_, "rules", {}, missing, {}, *aks_);
  EXPECT_THAT(std::string(no_script.status().message()), HasSubstr("Error, provided entry_script nope.py does not exist"));
  EXPECT_EQ(GetErrorInfo(no_script.status()).kind, ErrorKind::kUserError);
}

}  // namespace
}  // namespace amlcore
