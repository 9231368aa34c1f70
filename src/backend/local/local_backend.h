// The local backend: clusters as processes on this machine. A cluster is an amlcore-fe process (its router) that
// also supervises the cluster's replica processes (amlcore-score); artifacts are staged as directories and
// environments built as virtual environments under the server's home. See layout.h for the files it owns.
//
//   LocalBackend local({.home = home, .frontend_program = fe, .scoring_program = score});
//   backend::Backend seams = local.seams();
#ifndef AMLCORE_BACKEND_LOCAL_LOCAL_BACKEND_H_
#define AMLCORE_BACKEND_LOCAL_LOCAL_BACKEND_H_

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "common/blob_store.h"
#include "common/process.h"

namespace amlcore::backend::local {

class EnvironmentBuilder;

// The admin interface of a front end (amlcore-fe, which both backends run) at host:port, with its admin token:
// the answer's body, or the error it answered.
absl::StatusOr<std::string> FrontEndAdmin(const std::string& host, uint16_t port, const std::string& token,
                                          const std::string& method, const std::string& path, const std::string& body,
                                          std::chrono::milliseconds timeout);
// Whether a request for `version` of `endpoint` through the front end at host:port reaches a ready replica.
absl::StatusOr<bool> ProbeFrontEnd(const std::string& host, uint16_t port, const std::string& token,
                                   absl::string_view endpoint, absl::string_view version);

struct LocalBackendOptions {
  std::string home;
  std::string frontend_program;          // amlcore-fe
  std::string scoring_program;           // amlcore-score
  std::string runtime_python;            // the Python replicas and environments build on
  bool offline_environments = false;     // use installed versions of requirements pip cannot install
  std::vector<std::string> python_path;  // import paths replicas get (amlcore and its azureml shims)
  BlobStore* blobs = nullptr;            // where artifacts are read from
};

class LocalBackend : public WorkloadBackend, public Router, public ArtifactStore {
 public:
  explicit LocalBackend(LocalBackendOptions options);
  ~LocalBackend() override;

  Backend seams() { return Backend{this, this, this}; }

  // WorkloadBackend
  absl::StatusOr<ClusterState> EnsureCluster(const ClusterRef& cluster) override;
  absl::StatusOr<bool> DeleteCluster(const ClusterRef& cluster) override;
  absl::Status ApplyVersion(const ClusterRef& cluster, const domain::WorkloadSpec& spec) override;
  absl::Status DeleteVersion(const ClusterRef& cluster, const domain::WorkloadKey& key) override;
  absl::StatusOr<std::vector<domain::VersionObservation>> ObserveVersions(const ClusterRef& cluster) override;
  absl::StatusOr<std::vector<LogContent>> ReadLogs(const ClusterRef& cluster, const domain::WorkloadKey& key,
                                                   const LogRequest& request) override;

  // Router
  absl::Status ApplyRoutes(const ClusterRef& cluster, const domain::RouteTable& table) override;
  absl::StatusOr<int64_t> RouteGeneration(const ClusterRef& cluster) override;
  absl::StatusOr<bool> Probe(const ClusterRef& cluster, absl::string_view endpoint,
                             absl::string_view version) override;

  // ArtifactStore
  EnvironmentBuild EnsureEnvironment(const Environment& environment, const std::string& hash) override;
  absl::StatusOr<std::string> StageBundle(const BundleRequest& request) override;
  void ReleaseBundles(const domain::WorkloadKey& key, const std::vector<int64_t>& keep_revisions) override;

 private:
  struct Address {
    uint16_t port = 0;
    std::string token;
  };
  // What this process did to a cluster's processes and when, so that later calls can tell a front end that is
  // still starting from one that failed, and escalate a stop that takes too long.
  struct ClusterProgress {
    ProcessId spawned;
    std::chrono::steady_clock::time_point spawned_at;
    std::chrono::steady_clock::time_point unresponsive_since{};
    std::chrono::steady_clock::time_point stop_deadline{};
  };
  struct Builds;

  // The running front end's port and admin token (kUnavailable when it is not running).
  absl::StatusOr<Address> FrontEndAddress(const ClusterRef& cluster) const;
  absl::StatusOr<std::string> Admin(const ClusterRef& cluster, const std::string& method, const std::string& path,
                                    const std::string& body, std::chrono::milliseconds timeout);
  // Sends SIGTERM until the deadline of `progress` (set by the first call), SIGKILL after it; true once the
  // process is gone.
  bool StopProcess(const ProcessId& process, ClusterProgress& progress);

  LocalBackendOptions options_;
  std::mutex mu_;
  std::map<int64_t, ClusterProgress> clusters_;
  std::shared_ptr<Builds> builds_;
};

// The running processes of a home's clusters, for operators (amlcored --processes) and tests.
struct LocalProcess {
  std::string kind;     // "frontend" or "replica"
  std::string name;     // the cluster's id, or the replica's id (<endpoint>.<version>.<uid>.r<revision>.<n>)
  std::string service;  // a replica's endpoint
  ProcessId process;
  int64_t port = 0;     // where a front end listens on 127.0.0.1 (0 for replicas)
  std::string socket;   // where a replica listens: its Unix socket, once it is ready ("" before)
};
// As JSON: {"processes": [{"kind", "name", "service", "pid", "port", "socket"}]}.
std::string LocalProcessesToJson(const std::vector<LocalProcess>& processes);
std::vector<LocalProcess> ListLocalProcesses(const std::string& home);
// Stops every front end (first, so they do not restart replicas) and then every replica of a home's clusters.
// Returns how many of each it stopped.
std::pair<int, int> StopLocalProcesses(const std::string& home);

}  // namespace amlcore::backend::local

#endif  // AMLCORE_BACKEND_LOCAL_LOCAL_BACKEND_H_
