// The workload model every backend serves, independent of where it runs. An endpoint owns versions; an
// AksWebservice is an endpoint with one version named like the service. Each version has
//  - a workload spec: what runs (artifacts by content hash, environment, resources, probes, desired replicas);
//  - a route spec: how requests reach it (traffic weight, default/control, limits), under the endpoint's auth.
// Backends receive workload specs one version at a time and the route table of a cluster whole, with a
// generation number; they report what they observe of each version's replicas.
#ifndef AMLCORE_DOMAIN_WORKLOAD_H_
#define AMLCORE_DOMAIN_WORKLOAD_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "amlcore/model.h"
#include "common/json_fields.h"

namespace amlcore::domain {

// Names a version's workload on its cluster. `uid` is new for every version created, so a service deleted and
// created again under its old name is another workload.
struct WorkloadKey {
  std::string endpoint;
  std::string version;
  std::string uid;

  // "<endpoint>.<version>.<uid>": unique on a cluster, readable in logs.
  std::string Name() const;
  friend bool operator==(const WorkloadKey&, const WorkloadKey&) = default;
};
constexpr auto JsonFields(const WorkloadKey*) {
  return json::Fields(json::Field("endpoint", &WorkloadKey::endpoint), json::Field("version", &WorkloadKey::version),
                      json::Field("uid", &WorkloadKey::uid));
}

}  // namespace amlcore::domain

namespace amlcore {
constexpr auto JsonFields(const ModelFile*) {
  return json::Fields(json::Field("path", &ModelFile::path), json::Field("sha256", &ModelFile::sha256),
                      json::Field("size", &ModelFile::size));
}
}  // namespace amlcore

namespace amlcore::domain {

struct ModelArtifact {
  std::string name;
  int64_t version = 0;
  std::vector<ModelFile> files;
};
constexpr auto JsonFields(const ModelArtifact*) {
  return json::Fields(json::Field("name", &ModelArtifact::name), json::Field("version", &ModelArtifact::version),
                      json::Field("files", &ModelArtifact::files));
}

// What a version's replicas are made of, by content hash.
struct Artifacts {
  std::string snapshot;          // sha256 of the source snapshot (a tar); "" for none
  std::string source_directory;  // the snapshot's root folder ("" when it holds the script itself)
  std::string entry_script;      // relative to source_directory
  std::vector<ModelArtifact> models;
};
constexpr auto JsonFields(const Artifacts*) {
  return json::Fields(json::Field("snapshot", &Artifacts::snapshot),
                      json::Field("sourceDirectory", &Artifacts::source_directory),
                      json::Field("entryScript", &Artifacts::entry_script), json::Field("models", &Artifacts::models));
}

struct ResourceSpec {
  double cpu = 0.1;
  double memory_gb = 0.5;
  double cpu_limit = 0;  // 0: none
  double memory_gb_limit = 0.5;
  int64_t gpu = 0;
};
constexpr auto JsonFields(const ResourceSpec*) {
  return json::Fields(json::Field("cpu", &ResourceSpec::cpu), json::Field("memoryGb", &ResourceSpec::memory_gb),
                      json::Field("cpuLimit", &ResourceSpec::cpu_limit),
                      json::Field("memoryGbLimit", &ResourceSpec::memory_gb_limit),
                      json::Field("gpu", &ResourceSpec::gpu));
}

struct ProbeSpec {
  int64_t period_seconds = 10;
  int64_t initial_delay_seconds = 310;
  int64_t timeout_seconds = 2;
  int64_t success_threshold = 1;
  int64_t failure_threshold = 3;
};
constexpr auto JsonFields(const ProbeSpec*) {
  return json::Fields(json::Field("periodSeconds", &ProbeSpec::period_seconds),
                      json::Field("initialDelaySeconds", &ProbeSpec::initial_delay_seconds),
                      json::Field("timeoutSeconds", &ProbeSpec::timeout_seconds),
                      json::Field("successThreshold", &ProbeSpec::success_threshold),
                      json::Field("failureThreshold", &ProbeSpec::failure_threshold));
}

// How a version's replica count follows its load (domain/autoscaler.h decides; the backend's router runs it).
struct AutoscaleSpec {
  int64_t min_replicas = 1;
  int64_t max_replicas = 10;
  int64_t target_utilization = 70;  // percent
  int64_t refresh_seconds = 1;
};
constexpr auto JsonFields(const AutoscaleSpec*) {
  return json::Fields(json::Field("minReplicas", &AutoscaleSpec::min_replicas),
                      json::Field("maxReplicas", &AutoscaleSpec::max_replicas),
                      json::Field("targetUtilization", &AutoscaleSpec::target_utilization),
                      json::Field("refreshSeconds", &AutoscaleSpec::refresh_seconds));
}

// What runs for one version. Any change bumps `revision`; backends replace replicas by rolling (new ones ready
// before old ones stop). The autoscaling policy and the replicas allowed change without a new revision: the
// replicas stay.
struct WorkloadSpec {
  WorkloadKey key;
  int64_t revision = 0;
  Artifacts artifacts;
  std::string environment_hash;
  // What the artifact store made of the environment and the artifacts (opaque outside the backend).
  std::string environment_ref;
  std::string bundle_ref;
  std::map<std::string, std::string> environment_variables;
  ResourceSpec resources;
  ProbeSpec liveness;
  int64_t replicas = 1;  // what runs without autoscaling, and what an autoscaled version starts with
  int64_t scoring_timeout_ms = 60000;
  int64_t max_concurrent_requests = 1;  // run() calls at once in one replica
  std::optional<AutoscaleSpec> autoscale;
  // The most replicas the cluster holds capacity for (an autoscaled version never runs more); 0: `replicas`.
  int64_t replicas_allowed = 0;
};
constexpr auto JsonFields(const WorkloadSpec*) {
  return json::Fields(
      json::Field("key", &WorkloadSpec::key), json::Field("revision", &WorkloadSpec::revision),
      json::Field("artifacts", &WorkloadSpec::artifacts),
      json::Field("environmentHash", &WorkloadSpec::environment_hash),
      json::Field("environmentRef", &WorkloadSpec::environment_ref), json::Field("bundleRef", &WorkloadSpec::bundle_ref),
      json::Field("environmentVariables", &WorkloadSpec::environment_variables),
      json::Field("resources", &WorkloadSpec::resources), json::Field("liveness", &WorkloadSpec::liveness),
      json::Field("replicas", &WorkloadSpec::replicas),
      json::Field("scoringTimeoutMs", &WorkloadSpec::scoring_timeout_ms),
      json::Field("maxConcurrentRequests", &WorkloadSpec::max_concurrent_requests),
      json::Field("autoscale", &WorkloadSpec::autoscale), json::Field("replicasAllowed", &WorkloadSpec::replicas_allowed));
}

// Auth modes of an endpoint.
struct AuthMode {
  static constexpr char kKey[] = "key";
  static constexpr char kToken[] = "token";
  static constexpr char kNone[] = "none";
};

struct VersionRoute {
  std::string name;      // the version's name
  std::string workload;  // WorkloadKey::Name() of its workload
  int64_t traffic_percentile = 0;
  bool is_default = true;
  bool is_control = false;
  int64_t max_concurrent_requests_per_replica = 1;
  int64_t max_queue_wait_ms = 500;
  int64_t scoring_timeout_ms = 60000;
  // Whether the service set replica_max_concurrent_requests; if not, a replica whose score.py has run_batch()
  // is sent as many requests at once as its batches take.
  bool concurrency_given = true;
};
constexpr auto JsonFields(const VersionRoute*) {
  return json::Fields(json::Field("name", &VersionRoute::name), json::Field("workload", &VersionRoute::workload),
                      json::Field("trafficPercentile", &VersionRoute::traffic_percentile),
                      json::Field("isDefault", &VersionRoute::is_default),
                      json::Field("isControl", &VersionRoute::is_control),
                      json::Field("maxConcurrentRequestsPerReplica", &VersionRoute::max_concurrent_requests_per_replica),
                      json::Field("maxQueueWaitMs", &VersionRoute::max_queue_wait_ms),
                      json::Field("scoringTimeoutMs", &VersionRoute::scoring_timeout_ms),
                      json::Field("concurrencyGiven", &VersionRoute::concurrency_given));
}

struct EndpointAuth {
  std::string mode = AuthMode::kKey;
  std::vector<std::string> keys;
  std::string audience;  // with token auth: the "aud" its tokens carry
};
constexpr auto JsonFields(const EndpointAuth*) {
  return json::Fields(json::Field("mode", &EndpointAuth::mode), json::Field("keys", &EndpointAuth::keys),
                      json::Field("audience", &EndpointAuth::audience));
}

// A public key that verifies service tokens (ES256), by the key id tokens name.
struct TokenKey {
  std::string kid;
  std::string public_key_pem;
  int64_t not_after = 0;  // seconds since the epoch after which its tokens are refused (0: while published)
};
constexpr auto JsonFields(const TokenKey*) {
  return json::Fields(json::Field("kid", &TokenKey::kid), json::Field("publicKeyPem", &TokenKey::public_key_pem),
                      json::Field("notAfter", &TokenKey::not_after));
}

// What a router needs to verify tokens offline: who issues them and the keys that sign them.
struct TokenValidation {
  std::string issuer;
  std::vector<TokenKey> keys;
};
constexpr auto JsonFields(const TokenValidation*) {
  return json::Fields(json::Field("issuer", &TokenValidation::issuer), json::Field("keys", &TokenValidation::keys));
}

struct EndpointRoute {
  std::string name;
  EndpointAuth auth;
  std::vector<VersionRoute> versions;
};
constexpr auto JsonFields(const EndpointRoute*) {
  return json::Fields(json::Field("name", &EndpointRoute::name), json::Field("auth", &EndpointRoute::auth),
                      json::Field("versions", &EndpointRoute::versions));
}

// Every endpoint of a cluster, as its router serves them.
struct RouteTable {
  int64_t generation = 0;
  std::vector<EndpointRoute> endpoints;
  TokenValidation tokens;
  // The endpoint that also answers at /score and /swagger.json (an ACI or local service's container group,
  // which serves one service as ACI does); "" for none.
  std::string root_endpoint;
  // The router writes a line per request to its log (the cluster's access log switch).
  bool access_log = false;
};
constexpr auto JsonFields(const RouteTable*) {
  return json::Fields(json::Field("generation", &RouteTable::generation),
                      json::Field("endpoints", &RouteTable::endpoints), json::Field("tokens", &RouteTable::tokens),
                      json::Field("root_endpoint", &RouteTable::root_endpoint),
                      json::Field("access_log", &RouteTable::access_log));
}

// Replica states as backends report them.
struct ReplicaState {
  static constexpr char kStarting[] = "Starting";          // started, loading the script
  static constexpr char kInitializing[] = "Initializing";  // init() running
  static constexpr char kReady[] = "Ready";
  static constexpr char kWaiting[] = "Waiting";            // stopped, restarting after a back-off
  static constexpr char kTerminating[] = "Terminating";
};

struct ReplicaObservation {
  std::string id;
  int64_t revision = 0;
  std::string state;
  int64_t restarts = 0;
  std::string last_reason;   // UserScriptImportFailed, UserScriptInitFailed, OOMKilled, LivenessProbeFailed, ...
  std::string last_message;  // with the last lines of the stopped replica's log
};
constexpr auto JsonFields(const ReplicaObservation*) {
  return json::Fields(json::Field("id", &ReplicaObservation::id), json::Field("revision", &ReplicaObservation::revision),
                      json::Field("state", &ReplicaObservation::state),
                      json::Field("restarts", &ReplicaObservation::restarts),
                      json::Field("lastReason", &ReplicaObservation::last_reason),
                      json::Field("lastMessage", &ReplicaObservation::last_message));
}

struct VersionObservation {
  WorkloadKey key;
  int64_t revision = 0;  // the revision the backend runs
  int64_t desired = 0;   // what it runs now (an autoscaled version: what its autoscaler decided)
  int64_t ready = 0;     // ready replicas of that revision
  std::vector<ReplicaObservation> replicas;
  bool removed = false;  // being deleted: what is left drains
  // An autoscaled version: what its load asks for (more than `desired` when the cluster has no room for more),
  // and the fewest ready replicas that make it healthy (its minimum, or fewer while it is scaled below it).
  int64_t wanted = 0;
  int64_t required = 0;
};
constexpr auto JsonFields(const VersionObservation*) {
  return json::Fields(json::Field("key", &VersionObservation::key),
                      json::Field("revision", &VersionObservation::revision),
                      json::Field("desired", &VersionObservation::desired),
                      json::Field("ready", &VersionObservation::ready),
                      json::Field("replicas", &VersionObservation::replicas),
                      json::Field("removed", &VersionObservation::removed),
                      json::Field("wanted", &VersionObservation::wanted),
                      json::Field("required", &VersionObservation::required));
}

// How amlcore-score exits when the user's script fails, so that whoever runs it (the local front end, kubelet)
// can tell why a replica stopped.
inline constexpr int kReplicaExitImportFailed = 3;  // UserScriptImportFailed
inline constexpr int kReplicaExitInitFailed = 4;    // UserScriptInitFailed
inline constexpr int kReplicaExitStuck = 5;         // run() did not return after its timeout

// Replica failures that retrying does not cure: a deployment that meets one fails.
bool IsFatalReplicaReason(absl::string_view reason);
// The reason a deployment fails with, if `replica` shows one: fatal reasons as they are, and repeated crashes
// (two restarts) as CrashLoopBackOff.
std::string DeploymentFailureReason(const ReplicaObservation& replica);

}  // namespace amlcore::domain

#endif  // AMLCORE_DOMAIN_WORKLOAD_H_
