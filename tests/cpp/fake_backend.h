// A backend in memory, for testing the server's controllers without processes: clusters are ready at once,
// workloads are recorded and observed as the test says, environments build when the test releases them.
#ifndef AMLCORE_TESTS_CPP_FAKE_BACKEND_H_
#define AMLCORE_TESTS_CPP_FAKE_BACKEND_H_

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "backend/backend.h"

namespace amlcore::testing {

class FakeBackend : public backend::WorkloadBackend, public backend::Router, public backend::ArtifactStore {
 public:
  // How the replicas of a workload behave once applied.
  struct Behaviour {
    bool ready = true;         // all replicas become ready at once
    std::string fail_reason;   // a replica stops with this reason (e.g. "UserScriptInitFailed")
    int64_t from_revision = 0;  // ... from this revision on (0: every revision)
  };

  backend::Backend seams() { return backend::Backend{this, this, this}; }

  // Test knobs. `endpoint` is an endpoint's name (all its versions) or "endpoint/version".
  void SetBehaviour(const std::string& endpoint, Behaviour behaviour) {
    std::lock_guard lock(mu_);
    behaviour_[endpoint] = behaviour;
  }
  void HoldEnvironment(const std::string& hash) {
    std::lock_guard lock(mu_);
    held_environments_.insert(hash);
  }
  void ReleaseEnvironments() {
    std::lock_guard lock(mu_);
    held_environments_.clear();
  }
  // Forgets every workload and route, as a router that restarted without its state would.
  void LoseState() {
    std::lock_guard lock(mu_);
    workloads_.clear();
    routes_ = {};
  }
  // A workload nobody asked for, as one left behind by an earlier server would be.
  void AddStray(const domain::WorkloadKey& key) {
    std::lock_guard lock(mu_);
    workloads_[key.Name()] = domain::WorkloadSpec{.key = key, .revision = 1};
  }

  // What the controllers did.
  std::map<std::string, domain::WorkloadSpec> workloads() {
    std::lock_guard lock(mu_);
    return workloads_;
  }
  domain::RouteTable routes() {
    std::lock_guard lock(mu_);
    return routes_;
  }
  int applies() {
    std::lock_guard lock(mu_);
    return applies_;
  }
  std::vector<std::string> deleted() {
    std::lock_guard lock(mu_);
    return deleted_;
  }
  std::vector<std::string> environments_asked() {
    std::lock_guard lock(mu_);
    return environments_asked_;
  }

  // WorkloadBackend
  absl::StatusOr<backend::ClusterState> EnsureCluster(const backend::ClusterRef& cluster) override {
    return backend::ClusterState{true, absl::StrCat("http://fake-cluster-", cluster.id, ".invalid:80"),
                                 "The fake cluster is ready"};
  }
  absl::StatusOr<bool> DeleteCluster(const backend::ClusterRef&) override { return true; }
  absl::Status ApplyVersion(const backend::ClusterRef&, const domain::WorkloadSpec& spec) override {
    std::lock_guard lock(mu_);
    workloads_[spec.key.Name()] = spec;
    ++applies_;
    return absl::OkStatus();
  }
  absl::Status DeleteVersion(const backend::ClusterRef&, const domain::WorkloadKey& key) override {
    std::lock_guard lock(mu_);
    workloads_.erase(key.Name());
    deleted_.push_back(key.Name());
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<domain::VersionObservation>> ObserveVersions(const backend::ClusterRef&) override {
    std::lock_guard lock(mu_);
    std::vector<domain::VersionObservation> out;
    for (const auto& [name, spec] : workloads_) {
      auto own = behaviour_.find(absl::StrCat(spec.key.endpoint, "/", spec.key.version));
      Behaviour b = own != behaviour_.end() ? own->second : behaviour_[spec.key.endpoint];
      bool failing = !b.fail_reason.empty() && spec.revision >= b.from_revision;
      domain::VersionObservation v{spec.key, spec.revision, spec.replicas, 0, {}};
      for (int64_t i = 0; i < spec.replicas; ++i) {
        domain::ReplicaObservation r{absl::StrCat(name, ".r", spec.revision, ".", i), spec.revision,
                                     domain::ReplicaState::kStarting, 0, "", ""};
        if (failing) {
          r.state = domain::ReplicaState::kWaiting;
          r.last_reason = b.fail_reason;
          r.last_message = "init() raised; last lines of the replica's log: boom";
        } else if (b.ready) {
          r.state = domain::ReplicaState::kReady;
          ++v.ready;
        }
        v.replicas.push_back(r);
      }
      out.push_back(std::move(v));
    }
    return out;
  }
  absl::StatusOr<std::vector<backend::LogContent>> ReadLogs(const backend::ClusterRef&, const domain::WorkloadKey& key,
                                                            const backend::LogRequest&) override {
    return std::vector<backend::LogContent>{{absl::StrCat(key.Name(), ".r1.0"), "Ready", "fake log line\n"}};
  }

  // Router
  absl::Status ApplyRoutes(const backend::ClusterRef&, const domain::RouteTable& table) override {
    std::lock_guard lock(mu_);
    if (table.generation < routes_.generation) return absl::AbortedError("older generation");
    routes_ = table;
    return absl::OkStatus();
  }
  absl::StatusOr<int64_t> RouteGeneration(const backend::ClusterRef&) override {
    std::lock_guard lock(mu_);
    return routes_.generation;
  }
  absl::StatusOr<bool> Probe(const backend::ClusterRef&, absl::string_view endpoint,
                             absl::string_view version) override {
    std::lock_guard lock(mu_);
    for (const auto& e : routes_.endpoints) {
      if (e.name != endpoint) continue;
      for (const auto& v : e.versions) {
        if (v.name == version) return true;
      }
    }
    return false;
  }

  // ArtifactStore
  backend::EnvironmentBuild EnsureEnvironment(const Environment&, const std::string& hash) override {
    std::lock_guard lock(mu_);
    environments_asked_.push_back(hash);
    if (held_environments_.contains(hash)) return backend::EnvironmentBuild{.log = {"building (held by the test)"}};
    return backend::EnvironmentBuild{.state = backend::EnvironmentBuild::State::kReady,
                                     .ref = absl::StrCat("python-", hash.substr(0, 8)),
                                     .log = {"built"}};
  }
  absl::StatusOr<std::string> StageBundle(const backend::BundleRequest& request) override {
    return absl::StrCat("bundle:", request.key.Name(), ":r", request.revision);
  }
  void ReleaseBundles(const domain::WorkloadKey&, const std::vector<int64_t>&) override {}

 private:
  std::mutex mu_;
  std::map<std::string, Behaviour> behaviour_;
  std::set<std::string> held_environments_;
  std::map<std::string, domain::WorkloadSpec> workloads_;
  domain::RouteTable routes_;
  int applies_ = 0;
  std::vector<std::string> deleted_;
  std::vector<std::string> environments_asked_;
};

}  // namespace amlcore::testing

#endif  // AMLCORE_TESTS_CPP_FAKE_BACKEND_H_
