// The server's controllers against a backend in memory: what they decide and ask of the backend, with no
// process started. One controller worker, so that a step that waited would block everything else.
#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"
#include "amlcore/amlcore.h"
#include "cpp/fake_backend.h"
#include "cpp/test_support.h"
#include "domain/service_wire.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace amlcore {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::Eventually;
using testing::FakeBackend;

class ControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = std::make_unique<testing::TempHome>();
    auto server = server::WorkspaceServer::Start({.home = home_->path(),
                                                  .reconcile_interval = 50ms,
                                                  .operation_threads = 1,
                                                  .write_server_file = false,
                                                  .backend = fake_.seams()});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    auto ws = Workspace::Create("ctl-ws", {.connection = {.endpoint = server_->endpoint(),
                                                          .token = server_->admin_token()}});
    ASSERT_TRUE(ws.ok()) << ws.status();
    ws_.emplace(*ws);
    // One agent of 4 vCPUs and 14 GB.
    auto aks = AksCompute::Create(*ws_, "ctl-aks", {.agent_count = 1, .cluster_purpose = "DevTest"});
    ASSERT_TRUE(aks.ok()) << aks.status();
    AMLCORE_ASSERT_OK((*aks)->WaitForCompletion());
    aks_ = *aks;
    source_ = (fs::path(home_->path()) / "src").string();
    fs::create_directories(source_);
    std::ofstream(fs::path(source_) / "score.py") << "def init():\n    pass\ndef run(raw):\n    return raw\n";
  }
  void TearDown() override {
    server_.reset();
    home_.reset();
  }

  absl::StatusOr<std::shared_ptr<AksWebservice>> Deploy(const std::string& name, double cpu,
                                                        std::optional<Environment> environment = std::nullopt) {
    InferenceConfig inference{.entry_script = "score.py", .source_directory = source_};
    if (environment) inference.environment = *environment;
    AksServiceDeploymentConfiguration config;
    config.num_replicas = 1;
    config.cpu_cores = cpu;
    return AksWebservice::Deploy(*ws_, name, {}, inference, config, *aks_);
  }
  // Polls the service until it is in `state`.
  bool Reaches(Webservice& service, const std::string& state) {
    return Eventually([&] { return service.UpdateDeploymentState().ok() && service.state() == state; });
  }

  FakeBackend fake_;
  std::unique_ptr<testing::TempHome> home_;
  std::unique_ptr<server::WorkspaceServer> server_;
  std::optional<Workspace> ws_;
  std::shared_ptr<AksCompute> aks_;
  std::string source_;
};

TEST_F(ControllerTest, ADeploymentGoesThroughItsPhasesAndGivesTheBackendItsWorkloadAndRoute) {
  auto service = Deploy("first-svc", 0.5);
  ASSERT_TRUE(service.ok()) << service.status();
  std::string output;
  AMLCORE_ASSERT_OK((*service)->WaitForDeployment({.on_progress = [&](absl::string_view t) { absl::StrAppend(&output, t); }}));
  EXPECT_EQ((*service)->state(), "Healthy");
  for (const char* line : {"Validating: no models, entry script score.py, target ctl-aks", "Building environment",
                           "Scheduling 0.5 CPU and 0.5 GB on cluster", "Starting 1 replica of revision 1",
                           "1/1 replicas ready; a probe through the front end succeeded"}) {
    EXPECT_THAT(output, HasSubstr(line));
  }
  auto workloads = fake_.workloads();
  ASSERT_EQ(workloads.size(), 1u);
  const domain::WorkloadSpec& w = workloads.begin()->second;
  EXPECT_EQ(w.key.endpoint, "first-svc");
  EXPECT_EQ(w.revision, 1);
  EXPECT_EQ(w.replicas, 1);
  EXPECT_EQ(w.resources.cpu, 0.5);
  EXPECT_EQ(w.artifacts.entry_script, "score.py");
  EXPECT_EQ(w.bundle_ref, absl::StrCat("bundle:", w.key.Name(), ":r1"));
  EXPECT_EQ(w.environment_ref.rfind("python-", 0), 0u);
  auto routes = fake_.routes();
  ASSERT_EQ(routes.endpoints.size(), 1u);
  EXPECT_EQ(routes.endpoints[0].name, "first-svc");
  EXPECT_EQ(routes.endpoints[0].auth.mode, "key");
  EXPECT_EQ(routes.endpoints[0].auth.keys.size(), 2u);
  ASSERT_EQ(routes.endpoints[0].versions.size(), 1u);
  EXPECT_EQ(routes.endpoints[0].versions[0].workload, w.key.Name());
  EXPECT_EQ((*service)->scoring_uri(), absl::StrCat(aks_->scoring_endpoint(), "/api/v1/service/first-svc/score"));
}

TEST_F(ControllerTest, AFatalReplicaReasonFailsTheDeploymentInItsPhase) {
  fake_.SetBehaviour("init-fails", {.ready = false, .fail_reason = "UserScriptInitFailed"});
  auto service = Deploy("init-fails", 0.5);
  ASSERT_TRUE(service.ok());
  absl::Status failed = (*service)->WaitForDeployment();
  EXPECT_EQ(failed.code(), absl::StatusCode::kAborted);
  EXPECT_THAT(std::string(failed.message()), HasSubstr("Phase Initializing failed: Replica init-fails."));
  EXPECT_EQ((*service)->state(), "Failed");
  EXPECT_EQ((*service)->reason(), "UserScriptInitFailed");
}

TEST_F(ControllerTest, AFailedUpdateGoesBackToTheRevisionThatRan) {
  auto service = Deploy("rolls-back", 0.5);
  ASSERT_TRUE(service.ok());
  AMLCORE_ASSERT_OK((*service)->WaitForDeployment());
  fake_.SetBehaviour("rolls-back", {.ready = true, .fail_reason = "UserScriptImportFailed", .from_revision = 2});
  AksServiceUpdate update;
  update.config.num_replicas = 2;
  AMLCORE_ASSERT_OK((*service)->Update(update));
  absl::Status failed = (*service)->WaitForDeployment();
  EXPECT_THAT(std::string(failed.message()), HasSubstr("UserScriptImportFailed"));
  EXPECT_EQ((*service)->state(), "Healthy") << (*service)->document();
  auto workloads = fake_.workloads();
  ASSERT_EQ(workloads.size(), 1u);
  EXPECT_EQ(workloads.begin()->second.revision, 1);
  EXPECT_EQ(workloads.begin()->second.replicas, 1);
}

TEST_F(ControllerTest, ChangingAuthOrLabelsRepublishesRoutesWithoutNewReplicas) {
  auto service = Deploy("auth-svc", 0.5);
  ASSERT_TRUE(service.ok());
  AMLCORE_ASSERT_OK((*service)->WaitForDeployment());
  int applies = fake_.applies();
  int64_t generation = fake_.routes().generation;
  AksServiceUpdate update;
  update.config.auth_enabled = false;
  update.config.description = "open now";
  update.config.tags = {{"stage", "demo"}};
  AMLCORE_ASSERT_OK((*service)->Update(update));
  std::string output;
  AMLCORE_ASSERT_OK((*service)->WaitForDeployment({.on_progress = [&](absl::string_view t) { absl::StrAppend(&output, t); }}));
  EXPECT_THAT(output, HasSubstr("Updating the routes of service auth-svc (no new replicas)"));
  EXPECT_EQ(fake_.applies(), applies);
  EXPECT_EQ(fake_.workloads().begin()->second.revision, 1);
  ASSERT_EQ(fake_.routes().endpoints.size(), 1u);
  EXPECT_GT(fake_.routes().generation, generation);
  EXPECT_EQ(fake_.routes().endpoints[0].auth.mode, domain::AuthMode::kNone);
  EXPECT_FALSE((*service)->auth_enabled());
  EXPECT_EQ((*service)->description(), "open now");
  // Anything that runs still rolls out a new revision.
  AksServiceUpdate resize;
  resize.config.memory_gb = 1;
  AMLCORE_ASSERT_OK((*service)->Update(resize));
  AMLCORE_ASSERT_OK((*service)->WaitForDeployment());
  EXPECT_EQ(fake_.applies(), applies + 1);
  EXPECT_EQ(fake_.workloads().begin()->second.revision, 2);
  EXPECT_EQ(fake_.routes().endpoints[0].auth.mode, domain::AuthMode::kNone);
}

TEST_F(ControllerTest, ABuildingEnvironmentHoldsNoWorker) {
  Environment slow;
  slow.name = "slow-env";
  slow.python.conda_dependencies = CondaDependencies::Create({"some-package"});
  fake_.HoldEnvironment(domain::EnvironmentHash(slow));
  auto building = Deploy("slow-build", 0.5, slow);
  ASSERT_TRUE(building.ok());
  ASSERT_TRUE(Eventually([&] { return (*building)->UpdateDeploymentState().ok() &&
                                      (*building)->phase() == "BuildingEnvironment"; }));
  // With the only worker free, another deployment completes meanwhile.
  auto other = Deploy("quick-svc", 0.5);
  ASSERT_TRUE(other.ok());
  AMLCORE_ASSERT_OK((*other)->WaitForDeployment({.timeout = 20s}));
  // Deleting the one still building cancels its deployment and completes.
  auto observer = Webservice::Get(*ws_, "slow-build");
  ASSERT_TRUE(observer.ok());
  AMLCORE_ASSERT_OK((*building)->Delete());
  EXPECT_EQ(GetErrorInfo((*observer)->WaitForDeployment({.timeout = 20s})).operation_state, "Cancelled");
  EXPECT_EQ(Webservice::Get(*ws_, "slow-build").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ControllerTest, WaitingVersionsAreScheduledInOrderWhenCapacityFreesUp) {
  auto big = Deploy("big-svc", 3.5);
  ASSERT_TRUE(big.ok());
  AMLCORE_ASSERT_OK((*big)->WaitForDeployment());
  std::vector<std::shared_ptr<AksWebservice>> waiting;
  for (auto [name, cpu] : std::vector<std::pair<std::string, double>>{{"wait-a", 2}, {"wait-b", 2}, {"wait-c", 1}}) {
    auto s = Deploy(name, cpu);
    ASSERT_TRUE(s.ok()) << s.status();
    ASSERT_TRUE(Reaches(**s, "Unschedulable")) << name;
    waiting.push_back(*s);
  }
  AMLCORE_ASSERT_OK((*big)->Delete());
  // 4 CPU free: wait-a (2) and wait-b (2) asked first and fit; wait-c (1) keeps waiting.
  AMLCORE_ASSERT_OK(waiting[0]->WaitForDeployment({.timeout = 20s}));
  AMLCORE_ASSERT_OK(waiting[1]->WaitForDeployment({.timeout = 20s}));
  ASSERT_TRUE(waiting[2]->UpdateDeploymentState().ok());
  EXPECT_EQ(waiting[2]->state(), "Unschedulable");
  EXPECT_THAT(waiting[2]->error(), HasSubstr("has 0 CPU and"));
  // Deleting wait-a gives wait-c its turn.
  AMLCORE_ASSERT_OK(waiting[0]->Delete());
  AMLCORE_ASSERT_OK(waiting[2]->WaitForDeployment({.timeout = 20s}));
}

TEST_F(ControllerTest, TheClusterControllerAppliesWhatTheBackendLostAndRemovesWhatNobodyWants) {
  auto service = Deploy("kept-svc", 0.5);
  ASSERT_TRUE(service.ok());
  AMLCORE_ASSERT_OK((*service)->WaitForDeployment());
  std::string name = fake_.workloads().begin()->first;
  domain::WorkloadKey stray{"gone-svc", "gone-svc", "0000"};
  fake_.AddStray(stray);
  fake_.LoseState();
  fake_.AddStray(stray);
  ASSERT_TRUE(Eventually([&] {
    auto w = fake_.workloads();
    return w.size() == 1 && w.count(name) && w.at(name).revision == 1 && !fake_.routes().endpoints.empty();
  }));
  EXPECT_THAT(fake_.deleted(), ElementsAre(stray.Name()));
  EXPECT_EQ(fake_.routes().endpoints[0].name, "kept-svc");
}

TEST_F(ControllerTest, DeletingAgainAnswersWithTheDeletionUnderWay) {
  auto service = Deploy("twice-svc", 0.5);
  ASSERT_TRUE(service.ok());
  AMLCORE_ASSERT_OK((*service)->WaitForDeployment());
  auto again = Webservice::Get(*ws_, "twice-svc");
  ASSERT_TRUE(again.ok());
  AMLCORE_ASSERT_OK((*service)->Delete());
  // The service is gone: a second deletion finds nothing to delete.
  EXPECT_EQ((*again)->Delete().code(), absl::StatusCode::kNotFound);
}

class EndpointControllerTest : public ControllerTest {
 protected:
  // Deploys endpoint "my-ep" with version "versiona" at 20 % and adds "versionb" at 10 %.
  std::shared_ptr<AksEndpoint> TwoVersions() {
    InferenceConfig inference{.entry_script = "score.py", .source_directory = source_};
    AksServiceDeploymentConfiguration config;
    config.num_replicas = 1;
    config.cpu_cores = 0.5;
    config.version_name = "versiona";
    config.traffic_percentile = 20;
    auto endpoint = AksEndpoint::Deploy(*ws_, "my-ep", {}, inference, config, *aks_);
    EXPECT_TRUE(endpoint.ok()) << endpoint.status();
    if (!endpoint.ok()) return nullptr;
    EXPECT_TRUE((*endpoint)->WaitForDeployment().ok());
    AksEndpointVersion b{.inference_config = inference};
    b.config.num_replicas = 1;
    b.config.cpu_cores = 0.5;
    b.config.traffic_percentile = 10;
    EXPECT_TRUE((*endpoint)->CreateVersion("versionb", b).ok());
    EXPECT_TRUE((*endpoint)->WaitForDeployment().ok()) << (*endpoint)->document();
    return *endpoint;
  }
  // The route of `version` in the router's table ("" fields when it has none).
  domain::VersionRoute RouteOf(const std::string& version) {
    for (const auto& e : fake_.routes().endpoints) {
      for (const auto& v : e.versions) {
        if (e.name == "my-ep" && v.name == version) return v;
      }
    }
    return {};
  }
  std::map<std::string, int64_t> Revisions() {
    std::map<std::string, int64_t> out;
    for (const auto& [name, w] : fake_.workloads()) out[w.key.version] = w.revision;
    return out;
  }
};

TEST_F(EndpointControllerTest, EachVersionIsAWorkloadOfItsOwnAndTrafficChangesOnlyTheRoute) {
  auto endpoint = TwoVersions();
  ASSERT_NE(endpoint, nullptr);
  EXPECT_EQ(Revisions(), (std::map<std::string, int64_t>{{"versiona", 1}, {"versionb", 1}}));
  EXPECT_EQ(RouteOf("versiona").traffic_percentile, 20);
  EXPECT_TRUE(RouteOf("versiona").is_default);
  EXPECT_EQ(RouteOf("versionb").traffic_percentile, 10);
  int applies = fake_.applies();

  // b becomes the default and the control at 40 %: the route changes, no workload is applied again.
  AksEndpointVersion change{.is_default = true, .is_control_version_type = true};
  change.config.traffic_percentile = 40;
  AMLCORE_ASSERT_OK(endpoint->UpdateVersion("versionb", change));
  AMLCORE_ASSERT_OK(endpoint->WaitForDeployment());
  EXPECT_EQ(fake_.applies(), applies);
  EXPECT_EQ(Revisions(), (std::map<std::string, int64_t>{{"versiona", 1}, {"versionb", 1}}));
  EXPECT_FALSE(RouteOf("versiona").is_default);
  EXPECT_TRUE(RouteOf("versionb").is_default);
  EXPECT_EQ(RouteOf("versionb").traffic_percentile, 40);
  ASSERT_EQ(endpoint->versions().count("versionb"), 1u);
  EXPECT_EQ(endpoint->versions().at("versionb")->version_type(), AksEndpoint::VersionType::kControl);

  // A new model for b applies b alone.
  AksEndpointVersion resized;
  resized.config.num_replicas = 2;
  AMLCORE_ASSERT_OK(endpoint->UpdateVersion("versionb", resized));
  AMLCORE_ASSERT_OK(endpoint->WaitForDeployment());
  EXPECT_EQ(fake_.applies(), applies + 1);
  EXPECT_EQ(Revisions(), (std::map<std::string, int64_t>{{"versiona", 1}, {"versionb", 2}}));

  // Deleting the default hands it to the control, and the operation log says so.
  AMLCORE_ASSERT_OK(endpoint->UpdateVersion("versiona", {.is_default = true}));
  AMLCORE_ASSERT_OK(endpoint->WaitForDeployment());
  std::string output;
  AMLCORE_ASSERT_OK(endpoint->DeleteVersion("versiona"));
  AMLCORE_ASSERT_OK(endpoint->WaitForDeployment({.on_progress = [&](absl::string_view t) { absl::StrAppend(&output, t); }}));
  EXPECT_THAT(output, HasSubstr("Version versiona was the default; version versionb (the control version) is the "
                                "default now"));
  EXPECT_EQ(Revisions(), (std::map<std::string, int64_t>{{"versionb", 2}}));
  EXPECT_TRUE(RouteOf("versionb").is_default);
  EXPECT_EQ(endpoint->version_order(), (std::vector<std::string>{"versionb"}));
}

TEST_F(EndpointControllerTest, ARefusedChangeChangesNothing) {
  auto endpoint = TwoVersions();
  ASSERT_NE(endpoint, nullptr);
  int applies = fake_.applies();
  domain::RouteTable before = fake_.routes();
  AksEndpointVersion greedy;
  greedy.config.traffic_percentile = 90;
  absl::Status refused = endpoint->UpdateVersion("versionb", greedy);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.message()),
              HasSubstr("Error, the traffic percentiles of endpoint my-ep would add up to 110 (versiona=20, "
                        "versionb=90); together they must be at most 100."));
  InferenceConfig inference{.entry_script = "score.py", .source_directory = source_};
  AksEndpointVersion again{.inference_config = inference};
  refused = endpoint->CreateVersion("versionb", again);
  EXPECT_THAT(std::string(refused.message()),
              HasSubstr("Error, endpoint my-ep already has a version versionb; change it with update_version."));
  refused = endpoint->DeleteVersion("versionz");
  EXPECT_THAT(std::string(refused.message()),
              HasSubstr("Error, endpoint my-ep has no version versionz; its versions are versiona, versionb."));
  EXPECT_EQ(fake_.applies(), applies);
  EXPECT_EQ(fake_.routes().generation, before.generation);
  AMLCORE_ASSERT_OK(endpoint->UpdateDeploymentState());
  EXPECT_EQ(endpoint->state(), "Healthy");
  EXPECT_EQ(endpoint->versions().at("versionb")->traffic_percentile(), 10);

  AMLCORE_ASSERT_OK(endpoint->DeleteVersion("versionb"));
  AMLCORE_ASSERT_OK(endpoint->WaitForDeployment());
  refused = endpoint->DeleteVersion("versiona");
  EXPECT_THAT(std::string(refused.message()),
              HasSubstr("Error, versiona is the last version of endpoint my-ep; delete the endpoint instead."));
  EXPECT_EQ(Revisions(), (std::map<std::string, int64_t>{{"versiona", 1}}));
}

TEST_F(EndpointControllerTest, AFailingVersionLeavesTheOthersServing) {
  auto endpoint = TwoVersions();
  ASSERT_NE(endpoint, nullptr);
  fake_.SetBehaviour("my-ep/broken", {.ready = false, .fail_reason = "UserScriptInitFailed"});
  InferenceConfig inference{.entry_script = "score.py", .source_directory = source_};
  AksEndpointVersion broken{.inference_config = inference};
  broken.config.num_replicas = 1;
  broken.config.cpu_cores = 0.5;
  broken.config.traffic_percentile = 30;
  AMLCORE_ASSERT_OK(endpoint->CreateVersion("broken", broken));
  absl::Status failed = endpoint->WaitForDeployment();
  EXPECT_THAT(std::string(failed.message()), HasSubstr("UserScriptInitFailed"));
  AMLCORE_ASSERT_OK(endpoint->UpdateDeploymentState());
  EXPECT_EQ(endpoint->state(), "Unhealthy");
  EXPECT_THAT(endpoint->error(), HasSubstr("Version broken: "));
  EXPECT_EQ(endpoint->versions().at("broken")->state(), "Failed");
  EXPECT_EQ(endpoint->versions().at("versiona")->state(), "Healthy");
  EXPECT_EQ(endpoint->versions().at("versionb")->state(), "Healthy");
  // The others were not touched.
  EXPECT_EQ(Revisions()["versiona"], 1);
  EXPECT_EQ(Revisions()["versionb"], 1);
  EXPECT_TRUE(RouteOf("versiona").is_default);
}

}  // namespace
}  // namespace amlcore

namespace amlcore {
namespace {

// The SHA-256 names of the blobs stored under a home.
std::set<std::string> StoredBlobs(const std::string& home) {
  std::set<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(fs::path(home) / "blobs", ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file()) out.insert(it->path().filename().string());
  }
  return out;
}

TEST(BlobCollectionTest, BlobsNothingRefersToAreRemoved) {
  testing::TempHome home;
  FakeBackend fake;
  auto server = server::WorkspaceServer::Start({.home = home.path(),
                                                .reconcile_interval = 50ms,
                                                // Long enough that an upload is referenced (by the model or
                                                // service that follows it) before it could be collected.
                                                .blob_grace = 2s,
                                                .blob_collection_interval = 50ms,
                                                .write_server_file = false,
                                                .backend = fake.seams()});
  ASSERT_TRUE(server.ok()) << server.status();
  auto ws = Workspace::Create("blob-ws", {.connection = {.endpoint = (*server)->endpoint(),
                                                         .token = (*server)->admin_token()}});
  ASSERT_TRUE(ws.ok());
  auto aks = AksCompute::Create(*ws, "blob-aks", {.agent_count = 1, .cluster_purpose = "DevTest"});
  ASSERT_TRUE(aks.ok());
  AMLCORE_ASSERT_OK((*aks)->WaitForCompletion());
  fs::path dir = fs::path(home.path()) / "src";
  fs::create_directories(dir);
  std::ofstream(dir / "score.py") << "def init():\n    pass\ndef run(raw):\n    return raw\n";
  std::ofstream(dir / "weights.json") << "[1, 2, 3]";

  auto kept = Model::Register(*ws, (dir / "weights.json").string(), "kept");
  ASSERT_TRUE(kept.ok());
  std::ofstream(dir / "other.json") << "[4]";
  auto dropped = Model::Register(*ws, (dir / "other.json").string(), "dropped");
  ASSERT_TRUE(dropped.ok());
  std::string dropped_sha = dropped->files().front().sha256;
  std::string kept_sha = kept->files().front().sha256;
  AksServiceDeploymentConfiguration config;
  config.num_replicas = 1;
  auto service = AksWebservice::Deploy(*ws, "blob-svc", {*kept}, {.entry_script = "score.py",
                                                                   .source_directory = dir.string()},
                                       config, **aks);
  ASSERT_TRUE(service.ok()) << service.status();
  AMLCORE_ASSERT_OK((*service)->WaitForDeployment());
  ASSERT_EQ(StoredBlobs(home.path()).size(), 3u);  // two model files and the source snapshot

  AMLCORE_ASSERT_OK(dropped->Delete());
  EXPECT_TRUE(Eventually([&] { return !StoredBlobs(home.path()).contains(dropped_sha); }, 30s));
  EXPECT_TRUE(StoredBlobs(home.path()).contains(kept_sha));
  // Once the service is gone, its snapshot goes too; the registered model stays.
  AMLCORE_ASSERT_OK((*service)->Delete());
  EXPECT_TRUE(Eventually([&] { return StoredBlobs(home.path()) == std::set<std::string>{kept_sha}; }, 30s));
}

}  // namespace
}  // namespace amlcore
