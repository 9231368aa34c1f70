// The Kubernetes objects amlcore writes and how it reads pods back. What the API server and its clients make
// of them is tested against the API server double (tests/python/test_kubernetes.py); these pin the rules.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

#include "backend/kubernetes/kubernetes_backend.h"
#include "backend/kubernetes/manifests.h"
#include "common/crypto.h"
#include "gtest/gtest.h"

namespace amlcore::kubernetes {
namespace {

namespace bj = json::bj;

domain::WorkloadSpec Spec() {
  domain::WorkloadSpec spec;
  spec.key = {"diabetes", "diabetes", "0a1b2c3d"};
  spec.revision = 3;
  spec.artifacts.entry_script = "score.py";
  spec.artifacts.snapshot = std::string(64, 'a');
  spec.artifacts.models = {{"diabetes", 1, {{"model.pkl", std::string(64, 'b'), 10}}}};
  spec.resources = {.cpu = 0.5, .memory_gb = 0.5, .cpu_limit = 1, .memory_gb_limit = 1.5, .gpu = 1};
  spec.replicas = 2;
  return spec;
}

bj::object Parse(const std::string& text) { return json::ParseObject(text, "test").value(); }

TEST(KubeManifestsTest, VersionNamesAreDnsLabelsThatReadLikeTheVersion) {
  EXPECT_EQ(VersionObjectName({"diabetes", "v1.2", "0a1b2c3d"}), "aml-diabetes-v1-2-0a1b2c3d");
  std::string name = VersionObjectName({std::string(40, 'e'), std::string(40, 'V'), "0a1b2c3d"});
  EXPECT_LE(name.size(), 63u);
  EXPECT_EQ(name, "aml-" + std::string(26, 'e') + "-" + std::string(20, 'v') + "-0a1b2c3d");
}

TEST(KubeManifestsTest, ADeploymentCarriesResourcesProbesRollingUpdatesAndTheInitContainer) {
  auto manifests = VersionManifests(Spec(), {"azureml", "amlcore/runtime:1", "/subscriptions/s/x"});
  ASSERT_EQ(manifests.size(), 2u);
  const bj::object& d = manifests[0];
  EXPECT_EQ(json::GetString(d, "kind"), "Deployment");
  const bj::object& spec = d.at("spec").as_object();
  EXPECT_EQ(spec.at("replicas").as_int64(), 2);
  EXPECT_EQ(spec.at("strategy").at("rollingUpdate").at("maxUnavailable").as_int64(), 0);
  const bj::object& pod = spec.at("template").at("spec").as_object();
  const bj::object& scoring = pod.at("containers").as_array()[0].as_object();
  EXPECT_EQ(json::Serialize(scoring.at("resources")),
            R"({"requests":{"cpu":"500m","memory":"512Mi","nvidia.com/gpu":"1"},)"
            R"("limits":{"cpu":"1000m","memory":"1536Mi","nvidia.com/gpu":"1"}})");
  EXPECT_EQ(scoring.at("livenessProbe").at("initialDelaySeconds").as_int64(), 310);
  const bj::object& fetch = pod.at("initContainers").as_array()[0].as_object();
  EXPECT_EQ(json::Serialize(fetch.at("command")), R"(["amlcore-score","--fetch-artifacts","/var/azureml-app"])");
  // One model: AZUREML_MODEL_DIR is its version's folder, as on Azure.
  EXPECT_NE(json::Serialize(scoring.at("env")).find(
                R"({"name":"AZUREML_MODEL_DIR","value":"/var/azureml-app/azureml-models/diabetes/1"})"),
            std::string::npos);
  EXPECT_EQ(json::GetString(pod, "serviceAccountName"), kReplicaAccount);
  // A new revision changes the pod template, so Kubernetes rolls.
  EXPECT_EQ(json::GetString(spec.at("template").at("metadata").at("annotations").as_object(), kRevisionAnnotation), "3");
  EXPECT_EQ(json::GetString(manifests[1], "kind"), "Service");
}

TEST(KubeManifestsTest, BlobsAreChunkedIntoConfigMapsNamedByTheirHash) {
  std::string data(kBlobChunkBytes * 2 + 5, 'x');
  std::string sha = Sha256Hex(data);
  auto maps = BlobConfigMaps("azureml", sha, data);
  ASSERT_EQ(maps.size(), 3u);
  EXPECT_EQ(json::GetString(maps[2].at("metadata").as_object(), "name"), BlobChunkName(sha, 2));
  EXPECT_EQ(json::GetString(maps[0].at("metadata").at("annotations").as_object(), kChunksAnnotation), "3");
  EXPECT_EQ(BlobConfigMaps("azureml", Sha256Hex(""), "").size(), 1u);
}

TEST(KubeManifestsTest, PodsShowTheReplicaStateAndWhyItStopped) {
  std::vector<std::string> asked;
  auto none = [&](absl::string_view container, int64_t restarts, bool previous) {
    asked.push_back(absl::StrCat(container, "/", restarts, previous ? "/previous" : ""));
    return std::string("last lines");
  };
  auto ready = ObserveScoringPod(Parse(R"({"metadata":{"name":"p","annotations":{"amlcore.io/revision":"2"}},
      "status":{"conditions":[{"type":"PodScheduled","status":"True"}],
      "initContainerStatuses":[{"name":"fetch-artifacts","state":{"terminated":{"exitCode":0}}}],
      "containerStatuses":[{"name":"scoring","ready":true,"restartCount":0,"state":{"running":{}}}]}})"),
                                 none);
  EXPECT_EQ(ready.state, domain::ReplicaState::kReady);
  EXPECT_EQ(ready.revision, 2);

  auto init_failed = ObserveScoringPod(Parse(R"({"metadata":{"name":"p"},"status":{
      "initContainerStatuses":[{"name":"fetch-artifacts","state":{"terminated":{"exitCode":0}}}],
      "containerStatuses":[{"name":"scoring","ready":false,"restartCount":1,
        "state":{"waiting":{"reason":"CrashLoopBackOff"}},"lastState":{"terminated":{"exitCode":4}}}]}})"),
                                       none);
  EXPECT_EQ(init_failed.state, domain::ReplicaState::kWaiting);
  EXPECT_EQ(init_failed.last_reason, "UserScriptInitFailed");
  EXPECT_EQ(init_failed.last_message, "last lines");
  EXPECT_EQ(asked.back(), "scoring/1/previous");

  // Stopped and not restarted yet: the current log is the stopped container's.
  auto just_stopped = ObserveScoringPod(Parse(R"({"metadata":{"name":"p"},"status":{"containerStatuses":[
      {"name":"scoring","restartCount":0,"state":{"terminated":{"exitCode":3}}}]}})"),
                                        none);
  EXPECT_EQ(just_stopped.last_reason, "UserScriptImportFailed");
  EXPECT_EQ(asked.back(), "scoring/0");

  auto oom = ObserveScoringPod(Parse(R"({"metadata":{"name":"p"},"status":{"containerStatuses":[{"name":"scoring",
      "restartCount":2,"state":{"running":{}},"lastState":{"terminated":{"exitCode":137,"reason":"OOMKilled"}}}]}})"),
                               none);
  EXPECT_EQ(oom.last_reason, "OOMKilled");
  EXPECT_EQ(oom.state, domain::ReplicaState::kInitializing);

  auto unschedulable = ObserveScoringPod(Parse(R"({"metadata":{"name":"p"},"status":{"conditions":[
      {"type":"PodScheduled","status":"False","reason":"Unschedulable","message":"0/3 nodes are available"}]}})"),
                                         none);
  EXPECT_EQ(unschedulable.last_reason, "Unschedulable");
  EXPECT_EQ(unschedulable.last_message, "0/3 nodes are available");

  auto pull = ObserveScoringPod(Parse(R"({"metadata":{"name":"p"},"status":{"initContainerStatuses":[
      {"name":"fetch-artifacts","state":{"waiting":{"reason":"ImagePullBackOff","message":"Back-off pulling"}}}]}})"),
                                none);
  EXPECT_EQ(pull.last_reason, "ImagePullBackOff");
  EXPECT_TRUE(domain::IsFatalReplicaReason(pull.last_reason));

  auto fetch_failed = ObserveScoringPod(Parse(R"({"metadata":{"name":"p"},"status":{"initContainerStatuses":[
      {"name":"fetch-artifacts","restartCount":1,"state":{"waiting":{"reason":"CrashLoopBackOff"}},
       "lastState":{"terminated":{"exitCode":1}}}]}})"),
                                        none);
  EXPECT_EQ(fetch_failed.last_reason, "ReplicaSetupFailed");
  EXPECT_EQ(asked.back(), "fetch-artifacts/1/previous");

  auto leaving = ObserveScoringPod(Parse(R"({"metadata":{"name":"p","deletionTimestamp":"x"},"status":{}})"), none);
  EXPECT_EQ(leaving.state, domain::ReplicaState::kTerminating);
}

}  // namespace
}  // namespace amlcore::kubernetes
