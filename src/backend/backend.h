// The seams between the workspace server and where workloads run: all a backend implements. The local backend
// runs a cluster as processes on this machine; a Kubernetes backend runs the same front end and replicas as
// Deployments. Nothing above these interfaces knows addresses, ports, paths or process ids.
//
// No call waits for something to happen: work that takes time (a front end starting, a cluster going away, an
// environment building) is started by the first call and reported as in progress; the caller's controller comes
// back later and calls again. Every call is idempotent.
#ifndef AMLCORE_BACKEND_BACKEND_H_
#define AMLCORE_BACKEND_BACKEND_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "amlcore/environment.h"
#include "domain/compute_wire.h"
#include "domain/workload.h"

namespace amlcore::backend {

// HTTPS for a cluster's router: the certificate chain and key (PEM) and the host name scoring URIs carry.
struct ClusterTls {
  std::string certificate_pem;
  std::string private_key_pem;
  std::string host;
};

// A cluster as the server knows it.
struct ClusterRef {
  int64_t id = 0;
  std::string resource_id;
  std::optional<ClusterTls> tls;  // what EnsureCluster makes the router serve; plain HTTP when unset
  // The port the router must listen on (a local web service's); 0: any, and the one it has once it runs.
  uint16_t port = 0;
  // A Kubernetes cluster attached through a kubeconfig context (the Kubernetes backend's); unset: local.
  std::optional<domain::KubernetesTarget> kubernetes;
  std::string load_balancer_type;  // PublicIp or InternalLoadBalancer
};

struct ClusterState {
  bool ready = false;
  std::string scoring_endpoint;  // base URL of the cluster's router once ready ("http://127.0.0.1:8123",
                                 // "https://<tls host>:8123" with TLS)
  std::string message;           // what happened or is happening, for the operation log
};

struct LogRequest {
  int64_t tail = 5000;    // last lines
  bool startup = false;   // the start-up of a replica (through init()) instead of the current tail
  bool all_replicas = false;  // every replica's, instead of the one that best shows the version
};

struct LogContent {
  std::string replica;  // the replica read
  std::string state;    // its state (ReplicaState)
  std::string text;
  int64_t version_replicas = 1;  // how many replicas the version has
};

// Where replicas run.
class WorkloadBackend {
 public:
  virtual ~WorkloadBackend() = default;
  // Brings the cluster up (or keeps it up, or adopts what already runs). Not ready yet: call again later.
  virtual absl::StatusOr<ClusterState> EnsureCluster(const ClusterRef& cluster) = 0;
  // Takes the cluster and everything on it down. Returns true once nothing of it is left.
  virtual absl::StatusOr<bool> DeleteCluster(const ClusterRef& cluster) = 0;
  // Runs `spec` (replaces its replicas by rolling when its revision changed).
  virtual absl::Status ApplyVersion(const ClusterRef& cluster, const domain::WorkloadSpec& spec) = 0;
  // Stops a version's replicas (in-flight requests finish first).
  virtual absl::Status DeleteVersion(const ClusterRef& cluster, const domain::WorkloadKey& key) = 0;
  // What runs on the cluster, version by version (versions being deleted until their last replica stopped).
  virtual absl::StatusOr<std::vector<domain::VersionObservation>> ObserveVersions(const ClusterRef& cluster) = 0;
  // The log of the version's replica that best shows it (ready, of the current revision), or of every one; none
  // when no replica has started. A crashed replica's previous log stays readable.
  virtual absl::StatusOr<std::vector<LogContent>> ReadLogs(const ClusterRef& cluster, const domain::WorkloadKey& key,
                                                           const LogRequest& request) = 0;
};

// What receives requests and sends them to ready replicas.
class Router {
 public:
  virtual ~Router() = default;
  // Replaces the cluster's route table (an older generation than the router has is refused).
  virtual absl::Status ApplyRoutes(const ClusterRef& cluster, const domain::RouteTable& table) = 0;
  // The generation of the table the router serves (0 when it has none).
  virtual absl::StatusOr<int64_t> RouteGeneration(const ClusterRef& cluster) = 0;
  // Whether a request for `version` of `endpoint` through the router reaches one of its ready replicas.
  virtual absl::StatusOr<bool> Probe(const ClusterRef& cluster, absl::string_view endpoint,
                                     absl::string_view version) = 0;
};

struct EnvironmentBuild {
  enum class State { kBuilding, kReady, kFailed };
  State state = State::kBuilding;
  std::string ref;                 // when ready: what workloads name in environment_ref
  absl::Status error;              // when failed
  std::vector<std::string> log;    // every line so far
  // When ready: what the environment does not honour (requirements substituted offline), one line each, which
  // every deployment of it logs, cached or not.
  std::vector<std::string> warnings;
};

struct BundleRequest {
  domain::WorkloadKey key;
  int64_t revision = 0;
  domain::Artifacts artifacts;
};

// Where artifacts become something replicas can run.
class ArtifactStore {
 public:
  virtual ~ArtifactStore() = default;
  // Starts building `environment` (identified by `hash`) unless it is built or building; returns where it is.
  virtual EnvironmentBuild EnsureEnvironment(const Environment& environment, const std::string& hash) = 0;
  // Makes the source snapshot and model files of a version's revision ready for its replicas; returns the ref
  // workloads carry in bundle_ref. Idempotent.
  virtual absl::StatusOr<std::string> StageBundle(const BundleRequest& request) = 0;
  // Drops every staged bundle of a workload but those of `keep_revisions`.
  virtual void ReleaseBundles(const domain::WorkloadKey& key, const std::vector<int64_t>& keep_revisions) = 0;
};

// The three seams of one backend.
struct Backend {
  WorkloadBackend* workloads = nullptr;
  Router* router = nullptr;
  ArtifactStore* artifacts = nullptr;
};

}  // namespace amlcore::backend

#endif  // AMLCORE_BACKEND_BACKEND_H_
