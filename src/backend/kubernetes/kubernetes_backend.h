// Runs a cluster's workloads on a Kubernetes cluster reached through a kubeconfig context: each version is a
// Deployment and a Service, the router is amlcore-fe as a Deployment behind a LoadBalancer Service, reading
// its route table (keys included) from a Secret and its replicas from the pods, so that scoring goes on while
// amlcored is down. Artifacts reach pods through the API server: ApplyVersion stores each blob a version needs
// as ConfigMaps named by its hash (once), and an init container in every pod fetches and checks them (see
// manifests.h, artifact_fetch.h). Kubernetes schedules: a pod that fits no node shows as Unschedulable with
// the scheduler's message. What replicas do comes from the pods' own status (restarts, OOMKilled, image pull
// errors, the runtime's exit codes) and their logs, the previous container's after a crash.
//
// Every call is a few API requests and returns; none waits for the cluster to change.
#ifndef AMLCORE_BACKEND_KUBERNETES_KUBERNETES_BACKEND_H_
#define AMLCORE_BACKEND_KUBERNETES_KUBERNETES_BACKEND_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/kubernetes/kube_client.h"
#include "common/blob_store.h"

namespace amlcore::kubernetes {

struct KubernetesBackendOptions {
  const BlobStore* blobs = nullptr;  // where ApplyVersion reads the artifacts it stores in the cluster
  std::string default_image;         // the runtime image when the attachment names none
  KubeClientOptions client;
};

// The last lines of the log of `container` of a pod, of the instance before the current one when `previous`.
using CrashLog = std::function<std::string(absl::string_view container, int64_t restarts, bool previous)>;
inline std::string NoCrashLog(absl::string_view, int64_t, bool) { return ""; }

// What a scoring pod shows of its replica (state, restarts, why it last stopped), with the log lines that
// explain a stop from `crash_log`.
domain::ReplicaObservation ObserveScoringPod(const json::bj::object& pod, const CrashLog& crash_log);

// The oldest Kubernetes amlcore attaches (server-side apply and the APIs it writes are GA there).
inline constexpr int kMinimumKubernetesMinor = 22;

class KubernetesBackend final : public backend::WorkloadBackend, public backend::Router {
 public:
  explicit KubernetesBackend(KubernetesBackendOptions options);
  ~KubernetesBackend() override;

  absl::StatusOr<backend::ClusterState> EnsureCluster(const backend::ClusterRef& cluster) override;
  absl::StatusOr<bool> DeleteCluster(const backend::ClusterRef& cluster) override;
  absl::Status ApplyVersion(const backend::ClusterRef& cluster, const domain::WorkloadSpec& spec) override;
  absl::Status DeleteVersion(const backend::ClusterRef& cluster, const domain::WorkloadKey& key) override;
  absl::StatusOr<std::vector<domain::VersionObservation>> ObserveVersions(const backend::ClusterRef& cluster) override;
  absl::StatusOr<std::vector<backend::LogContent>> ReadLogs(const backend::ClusterRef& cluster,
                                                            const domain::WorkloadKey& key,
                                                            const backend::LogRequest& request) override;

  absl::Status ApplyRoutes(const backend::ClusterRef& cluster, const domain::RouteTable& table) override;
  absl::StatusOr<int64_t> RouteGeneration(const backend::ClusterRef& cluster) override;
  absl::StatusOr<bool> Probe(const backend::ClusterRef& cluster, absl::string_view endpoint,
                             absl::string_view version) override;

  struct Connection;

 private:
  // The cluster's client and what is known of it, made on first use and again when its attachment changed.
  absl::StatusOr<std::shared_ptr<Connection>> Connect(const backend::ClusterRef& cluster);
  // The checks of an attach: the server's version, the namespace (made when missing), the permissions.
  absl::Status CheckAccess(Connection& connection);
  absl::Status UploadBlob(Connection& connection, const std::string& sha256);
  // Why the router's pods cannot start (an image that cannot be pulled, a crash loop), when they cannot.
  absl::Status RouterProblem(Connection& connection);

  KubernetesBackendOptions options_;
  std::mutex mu_;
  std::map<int64_t, std::shared_ptr<Connection>> connections_;
};

}  // namespace amlcore::kubernetes

#endif  // AMLCORE_BACKEND_KUBERNETES_KUBERNETES_BACKEND_H_
