#include "backend/kubernetes/kubernetes_backend.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <set>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "backend/kubernetes/manifests.h"
#include "backend/local/local_backend.h"
#include "backend/local/local_workload.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "common/json_fields.h"

namespace amlcore::kubernetes {
namespace {

namespace bj = json::bj;
using namespace std::chrono_literals;
using backend::ClusterRef;
using backend::ClusterState;

const bj::object kEmpty;

const bj::object& Obj(const bj::object& o, absl::string_view key) {
  const bj::object* found = json::GetObject(o, key);
  return found ? *found : kEmpty;
}

const bj::array& Arr(const bj::object& o, absl::string_view key) {
  static const bj::array empty;
  const bj::value* v = o.if_contains(json::Bj(key));
  return v && v->is_array() ? v->as_array() : empty;
}

std::string Annotation(const bj::object& object, absl::string_view key) {
  return json::GetString(Obj(Obj(object, "metadata"), "annotations"), key);
}

std::string Label(const bj::object& object, absl::string_view key) {
  return json::GetString(Obj(Obj(object, "metadata"), "labels"), key);
}

bool Deleting(const bj::object& object) { return Obj(object, "metadata").contains("deletionTimestamp"); }

std::string ScoringSelector() {
  return absl::StrCat(kManagedByLabel, "=", kManagedBy, ",", kComponentLabel, "=", kScoringComponent);
}

// The status of the named container in `statuses` (containerStatuses or initContainerStatuses).
const bj::object* ContainerStatus(const bj::array& statuses, absl::string_view name) {
  for (const auto& s : statuses) {
    if (s.is_object() && json::GetString(s.as_object(), "name") == name) return &s.as_object();
  }
  return nullptr;
}

// Why a scoring container stopped, in amlcore's words: the runtime's exit codes say what the script did.
std::string TerminationReason(const bj::object& terminated) {
  std::string reason = json::GetString(terminated, "reason");
  if (reason == "OOMKilled") return reason;
  switch (json::GetInt(terminated, "exitCode", -1)) {
    case domain::kReplicaExitImportFailed:
      return "UserScriptImportFailed";
    case domain::kReplicaExitInitFailed:
      return "UserScriptInitFailed";
    case domain::kReplicaExitStuck:
      return "ScoringTimeout";
    default:
      return reason.empty() ? "Error" : reason;
  }
}

bool PodCondition(const bj::object& pod, absl::string_view type, std::string* reason = nullptr,
                  std::string* message = nullptr) {
  for (const auto& c : Arr(Obj(pod, "status"), "conditions")) {
    if (!c.is_object() || json::GetString(c.as_object(), "type") != type) continue;
    if (reason) *reason = json::GetString(c.as_object(), "reason");
    if (message) *message = json::GetString(c.as_object(), "message");
    return json::GetString(c.as_object(), "status") == "True";
  }
  return false;
}

// Waiting reasons that will not go away by waiting longer.
bool IsImageProblem(absl::string_view reason) {
  return reason == "ErrImagePull" || reason == "ImagePullBackOff" || reason == "InvalidImageName" ||
         reason == "CreateContainerConfigError";
}

struct Endpoint {
  std::string host;
  uint16_t port = 80;
};

}  // namespace

struct KubernetesBackend::Connection {
  domain::KubernetesTarget target;
  std::string load_balancer_type;
  std::string cluster_id;
  std::unique_ptr<KubeClient> client;
  std::string namespace_name;
  std::string image;
  std::string who;  // "kubeconfig context myaks", for messages

  // The kubeconfig files read and when they were last changed: a change (new credentials from az aks
  // get-credentials, another context) makes a new client.
  std::map<std::string, std::filesystem::file_time_type> files;

  bool FilesChanged() const {
    for (const auto& [path, written] : files) {
      std::error_code ec;
      if (std::filesystem::last_write_time(path, ec) != written || ec) return true;
    }
    return false;
  }

  std::mutex mu;  // guards what follows
  bool checked = false;
  bool router_applied = false;
  std::string admin_token;
  std::optional<Endpoint> endpoint;
  std::set<std::string> blobs;  // hashes stored in the cluster
  // The last lines of a crashed container's previous log, by "<pod>/<restart count>": read once per crash.
  std::map<std::string, std::string> crash_logs;
};

KubernetesBackend::KubernetesBackend(KubernetesBackendOptions options) : options_(std::move(options)) {}
KubernetesBackend::~KubernetesBackend() = default;

absl::StatusOr<std::shared_ptr<KubernetesBackend::Connection>> KubernetesBackend::Connect(const ClusterRef& ref) {
  if (!ref.kubernetes) return absl::InternalError(absl::StrCat("Cluster ", ref.resource_id, " is not on Kubernetes."));
  const domain::KubernetesTarget& target = *ref.kubernetes;
  std::shared_ptr<Connection> previous;
  {
    std::lock_guard lock(mu_);
    auto found = connections_.find(ref.id);
    if (found != connections_.end()) previous = found->second;
  }
  bool same_target = previous && previous->target.kubeconfig == target.kubeconfig &&
                     previous->target.context == target.context &&
                     previous->target.namespace_name == target.namespace_name && previous->target.image == target.image &&
                     previous->load_balancer_type == ref.load_balancer_type;
  if (same_target && !previous->FilesChanged()) return previous;
  auto context = LoadKubeContext({.path = target.kubeconfig, .context = target.context});
  if (!context.ok()) return context.status();
  auto connection = std::make_shared<Connection>();
  for (const std::string& file : context->files) {
    std::error_code ec;
    connection->files[file] = std::filesystem::last_write_time(file, ec);
  }
  if (same_target) {
    // New credentials for the same cluster: what is known of it stays.
    std::lock_guard lock(previous->mu);
    connection->checked = previous->checked;
    connection->router_applied = previous->router_applied;
    connection->admin_token = previous->admin_token;
    connection->endpoint = previous->endpoint;
    connection->blobs = previous->blobs;
  }
  connection->target = target;
  connection->load_balancer_type = ref.load_balancer_type;
  connection->cluster_id = ref.resource_id;
  connection->who = absl::StrCat("kubeconfig context ", context->name, " (", context->file, ")");
  connection->namespace_name =
      target.namespace_name.empty() ? std::string(domain::kDefaultKubernetesNamespace) : target.namespace_name;
  connection->image = target.image.empty() ? options_.default_image : target.image;
  auto client = KubeClient::Create(std::move(*context), options_.client);
  if (!client.ok()) return client.status();
  connection->client = std::move(*client);
  std::lock_guard lock(mu_);
  connections_[ref.id] = connection;
  return connection;
}

absl::Status KubernetesBackend::CheckAccess(Connection& c) {
  KubeClient& client = *c.client;
  auto version = client.ServerVersion();
  if (!version.ok()) {
    return absl::UnavailableError(absl::StrCat("The Kubernetes API server of ", c.who, " at ",
                                               client.context().cluster.server,
                                               " did not answer: ", version.status().message()));
  }
  int major = 0;
  int minor = 0;
  std::string minor_digits;
  for (char ch : version->minor) {
    if (ch >= '0' && ch <= '9') minor_digits.push_back(ch);  // "27+" on some managed clusters
  }
  if (!absl::SimpleAtoi(version->major, &major) || !absl::SimpleAtoi(minor_digits, &minor) ||
      (major == 1 && minor < kMinimumKubernetesMinor)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "The cluster of ", c.who, " runs Kubernetes ", version->git_version, "; amlcore needs 1.",
        kMinimumKubernetesMinor, " or later."));
  }
  const std::string& ns = c.namespace_name;
  auto found = client.Get("Namespace", "", ns);
  if (!found.ok() && absl::IsNotFound(found.status())) {
    auto may = client.CanI("create", "", "namespaces", "");
    if (may.ok() && !*may) {
      return absl::PermissionDeniedError(absl::StrCat(
          "Namespace ", ns, " does not exist and the user of ", c.who,
          " may not create namespaces. Create it (kubectl create namespace ", ns,
          "), or attach with a namespace that exists."));
    }
    auto made = client.Apply(bj::object{{"apiVersion", "v1"},
                                        {"kind", "Namespace"},
                                        {"metadata", {{"name", json::Bj(ns)}, {"labels", {{kManagedByLabel, kManagedBy}}}}}});
    if (!made.ok()) return made.status();
  } else if (!found.ok()) {
    return found.status();
  }
  // What amlcore writes and reads in its namespace.
  struct Need {
    const char* group;
    const char* resource;
    std::vector<const char*> verbs;
  };
  const Need needs[] = {
      {"apps", "deployments", {"get", "list", "create", "patch", "delete"}},
      {"", "services", {"get", "list", "create", "patch", "delete"}},
      {"", "secrets", {"get", "create", "patch"}},
      {"", "configmaps", {"get", "create", "delete"}},
      {"", "serviceaccounts", {"get", "create", "patch"}},
      {"", "pods", {"get", "list"}},
      {"rbac.authorization.k8s.io", "roles", {"get", "create", "patch"}},
      {"rbac.authorization.k8s.io", "rolebindings", {"get", "create", "patch"}},
  };
  std::vector<std::string> missing;
  for (const Need& need : needs) {
    for (const char* verb : need.verbs) {
      auto allowed = client.CanI(verb, need.group, need.resource, ns);
      if (!allowed.ok()) return allowed.status();
      if (!*allowed) {
        missing.push_back(absl::StrCat(verb, " ", need.resource, *need.group ? "." : "", need.group));
      }
    }
  }
  if (!missing.empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "The user of ", c.who, " may not ", absl::StrJoin(missing, ", "), " in namespace ", ns,
        ". amlcore needs these to run services there: grant them (for example kubectl create rolebinding "
        "amlcore --clusterrole=admin --user=<user> -n ", ns, ") and attach again."));
  }
  return absl::OkStatus();
}

absl::StatusOr<ClusterState> KubernetesBackend::EnsureCluster(const ClusterRef& ref) {
  auto connection = Connect(ref);
  if (!connection.ok()) return connection.status();
  Connection& c = **connection;
  KubeClient& client = *c.client;
  const std::string& ns = c.namespace_name;
  std::unique_lock lock(c.mu);
  if (!c.checked) {
    lock.unlock();
    if (auto s = CheckAccess(c); !s.ok()) return s;
    lock.lock();
    c.checked = true;
  }
  if (c.admin_token.empty()) {
    lock.unlock();
    auto secret = client.Get("Secret", ns, kRouterAdminSecret);
    std::string token;
    if (secret.ok()) {
      absl::Base64Unescape(json::GetString(Obj(*secret, "data"), "token"), &token);
    } else if (absl::IsNotFound(secret.status())) {
      token = RandomHex(32);
      if (auto made = client.Create(RouterAdminSecret(ns, token)); !made.ok() && !absl::IsAlreadyExists(made.status())) {
        return made.status();
      }
      // Whoever made it first wins: read it back.
      auto again = client.Get("Secret", ns, kRouterAdminSecret);
      if (!again.ok()) return again.status();
      absl::Base64Unescape(json::GetString(Obj(*again, "data"), "token"), &token);
    } else {
      return secret.status();
    }
    lock.lock();
    c.admin_token = token;
  }
  bool applied = c.router_applied;
  lock.unlock();
  if (!applied) {
    for (const auto& manifest :
         RouterManifests({ns, c.image, c.cluster_id, c.load_balancer_type})) {
      if (auto s = client.Apply(manifest, {.force = true}); !s.ok()) return s.status();
    }
    lock.lock();
    c.router_applied = true;
    lock.unlock();
  }
  auto deployment = client.Get("Deployment", ns, kRouterName);
  if (!deployment.ok()) {
    if (absl::IsNotFound(deployment.status())) {
      std::lock_guard again(c.mu);
      c.router_applied = false;  // someone deleted it: made again next time
    }
    return deployment.status();
  }
  int64_t available = json::GetInt(Obj(*deployment, "status"), "availableReplicas");
  auto service = client.Get("Service", ns, kRouterName);
  if (!service.ok()) return service.status();
  std::optional<Endpoint> endpoint;
  for (const auto& ingress : Arr(Obj(Obj(*service, "status"), "loadBalancer"), "ingress")) {
    if (!ingress.is_object()) continue;
    std::string host = json::GetString(ingress.as_object(), "ip");
    if (host.empty()) host = json::GetString(ingress.as_object(), "hostname");
    if (!host.empty()) endpoint = Endpoint{host, 80};
    break;
  }
  if (available < 1) {
    // A router that cannot start says why, rather than leaving the attachment waiting for ever.
    if (auto s = RouterProblem(c); !s.ok()) return s;
  }
  if (available < 1 || !endpoint) {
    return ClusterState{false, "",
                        available < 1 ? "Waiting for the router deployment amlcore-router to be available"
                                      : "Waiting for the load balancer of service amlcore-router to get an address"};
  }
  {
    std::lock_guard again(c.mu);
    c.endpoint = endpoint;
  }
  std::string url = absl::StrCat("http://", endpoint->host, ":", endpoint->port);
  return ClusterState{true, url,
                      absl::StrCat("Router amlcore-router in namespace ", ns, " of ", c.who, " serves at ", url)};
}

absl::Status KubernetesBackend::RouterProblem(Connection& c) {
  std::string selector = absl::StrCat(kManagedByLabel, "=", kManagedBy, ",", kComponentLabel, "=", kRouterComponent);
  auto pods = c.client->List("Pod", c.namespace_name, {.label_selector = selector});
  if (!pods.ok()) return absl::OkStatus();  // not known yet: wait
  for (const auto& item : Arr(*pods, "items")) {
    if (!item.is_object()) continue;
    for (const auto& status : Arr(Obj(item.as_object(), "status"), "containerStatuses")) {
      if (!status.is_object()) continue;
      const bj::object& waiting = Obj(Obj(status.as_object(), "state"), "waiting");
      std::string reason = json::GetString(waiting, "reason");
      if (IsImageProblem(reason)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "The router cannot start in namespace ", c.namespace_name, ": ", reason, ": ",
            json::GetString(waiting, "message"), ". Push the runtime image the nodes pull (",
            c.image, "; see docker/README.md), or name another with the attach configuration's image."));
      }
      if (reason == "CrashLoopBackOff") {
        std::string pod = json::GetString(Obj(item.as_object(), "metadata"), "name");
        auto log = c.client->GetLogs(c.namespace_name, pod, {.tail_lines = 20, .previous = true});
        return absl::FailedPreconditionError(absl::StrCat("The router keeps crashing in namespace ",
                                                          c.namespace_name, "; its last lines:\n",
                                                          log.ok() ? *log : log.status().message()));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> KubernetesBackend::DeleteCluster(const ClusterRef& ref) {
  // The cluster is the user's: only what amlcore made in it goes, and only when it can be reached.
  auto connection = Connect(ref);
  if (!connection.ok()) return true;
  KubeClient& client = *(*connection)->client;
  const std::string& ns = (*connection)->namespace_name;
  std::string selector = absl::StrCat(kManagedByLabel, "=", kManagedBy);
  bool left = false;
  for (const char* kind : {"Deployment", "Service", "Secret", "ConfigMap", "RoleBinding", "Role", "ServiceAccount"}) {
    auto listed = client.List(kind, ns, {.label_selector = selector});
    if (!listed.ok()) return listed.status();
    for (const auto& item : Arr(*listed, "items")) {
      if (!item.is_object()) continue;
      left = true;
      std::string name = json::GetString(Obj(item.as_object(), "metadata"), "name");
      if (auto s = client.Delete(kind, ns, name, {.ignore_not_found = true}); !s.ok()) return s;
    }
  }
  std::lock_guard lock(mu_);
  if (!left) connections_.erase(ref.id);
  return !left;
}

absl::Status KubernetesBackend::UploadBlob(Connection& c, const std::string& sha256) {
  {
    std::lock_guard lock(c.mu);
    if (c.blobs.contains(sha256)) return absl::OkStatus();
  }
  auto existing = c.client->Get("ConfigMap", c.namespace_name, BlobChunkName(sha256, 0));
  if (!existing.ok() && !absl::IsNotFound(existing.status())) return existing.status();
  if (!existing.ok()) {
    if (options_.blobs == nullptr) return absl::InternalError("The Kubernetes backend has no blob store.");
    auto data = options_.blobs->Read(sha256);
    if (!data.ok()) return data.status();
    // The first chunk goes last: once it exists, every chunk does.
    std::vector<bj::object> maps = BlobConfigMaps(c.namespace_name, sha256, *data);
    std::rotate(maps.begin(), maps.begin() + 1, maps.end());
    for (const auto& map : maps) {
      if (auto made = c.client->Create(map); !made.ok() && !absl::IsAlreadyExists(made.status())) {
        return made.status();
      }
    }
  }
  std::lock_guard lock(c.mu);
  c.blobs.insert(sha256);
  return absl::OkStatus();
}

absl::Status KubernetesBackend::ApplyVersion(const ClusterRef& ref, const domain::WorkloadSpec& spec) {
  auto connection = Connect(ref);
  if (!connection.ok()) return connection.status();
  Connection& c = **connection;
  std::vector<std::string> hashes;
  if (!spec.artifacts.snapshot.empty()) hashes.push_back(spec.artifacts.snapshot);
  for (const auto& m : spec.artifacts.models) {
    for (const auto& f : m.files) hashes.push_back(f.sha256);
  }
  for (const auto& sha : hashes) {
    if (auto s = UploadBlob(c, sha); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("Storing artifact ", sha, " in namespace ", c.namespace_name,
                                                 ": ", s.message()));
    }
  }
  for (const auto& manifest : VersionManifests(spec, {c.namespace_name, c.image, c.cluster_id})) {
    if (auto s = c.client->Apply(manifest, {.force = true}); !s.ok()) return s.status();
  }
  return absl::OkStatus();
}

absl::Status KubernetesBackend::DeleteVersion(const ClusterRef& ref, const domain::WorkloadKey& key) {
  auto connection = Connect(ref);
  if (!connection.ok()) return connection.status();
  Connection& c = **connection;
  std::string name = VersionObjectName(key);
  for (const char* kind : {"Deployment", "Service"}) {
    if (auto s = c.client->Delete(kind, c.namespace_name, name, {.ignore_not_found = true}); !s.ok()) return s;
  }
  return absl::OkStatus();
}

domain::ReplicaObservation ObserveScoringPod(const bj::object& pod,
                                             const CrashLog& crash_log) {
  domain::ReplicaObservation r;
  r.id = json::GetString(Obj(pod, "metadata"), "name");
  int64_t revision = 0;
  (void)absl::SimpleAtoi(Annotation(pod, kRevisionAnnotation), &revision);
  r.revision = revision;
  const bj::object& status = Obj(pod, "status");
  if (Deleting(pod)) {
    r.state = domain::ReplicaState::kTerminating;
    return r;
  }
  std::string reason;
  std::string message;
  if (!PodCondition(pod, "PodScheduled", &reason, &message) && reason == "Unschedulable") {
    r.state = domain::ReplicaState::kWaiting;
    r.last_reason = "Unschedulable";
    r.last_message = message;
    return r;
  }
  // The init container fetches the artifacts; the replica starts once it is done.
  if (const bj::object* fetch = ContainerStatus(Arr(status, "initContainerStatuses"), kFetchContainer)) {
    const bj::object& state = Obj(*fetch, "state");
    const bj::object& last = Obj(*fetch, "lastState");
    if (!state.contains("terminated") || json::GetInt(Obj(state, "terminated"), "exitCode", -1) != 0) {
      r.state = domain::ReplicaState::kStarting;
      r.restarts = json::GetInt(*fetch, "restartCount");
      const bj::object& waiting = Obj(state, "waiting");
      std::string waiting_reason = json::GetString(waiting, "reason");
      if (IsImageProblem(waiting_reason)) {
        r.state = domain::ReplicaState::kWaiting;
        r.last_reason = waiting_reason;
        r.last_message = json::GetString(waiting, "message");
      } else if (last.contains("terminated") || state.contains("terminated")) {
        r.state = domain::ReplicaState::kWaiting;
        r.last_reason = "ReplicaSetupFailed";
        // The init container's own log: its current one once it has stopped, else the one before.
        r.last_message = absl::StrCat("fetching the artifacts failed:\n",
                                      crash_log(kFetchContainer, r.restarts, !state.contains("terminated")));
      }
      return r;
    }
  }
  const bj::object* scoring = ContainerStatus(Arr(status, "containerStatuses"), kScoringContainer);
  if (scoring == nullptr) {
    r.state = domain::ReplicaState::kStarting;
    return r;
  }
  r.restarts = json::GetInt(*scoring, "restartCount");
  const bj::object& state = Obj(*scoring, "state");
  const bj::object& last = Obj(*scoring, "lastState");
  if (state.contains("terminated")) {
    // Stopped and not restarted yet: its current log is the one that says why.
    r.state = domain::ReplicaState::kWaiting;
    r.last_reason = TerminationReason(Obj(state, "terminated"));
    r.last_message = crash_log(kScoringContainer, r.restarts, false);
    return r;
  }
  if (last.contains("terminated")) {
    r.last_reason = TerminationReason(Obj(last, "terminated"));
    r.last_message = crash_log(kScoringContainer, r.restarts, true);
  }
  if (state.contains("running")) {
    r.state = json::GetBool(*scoring, "ready") ? domain::ReplicaState::kReady : domain::ReplicaState::kInitializing;
  } else {
    const bj::object& waiting = Obj(state, "waiting");
    std::string waiting_reason = json::GetString(waiting, "reason");
    r.state = waiting_reason == "ContainerCreating" || waiting_reason == "PodInitializing" ? domain::ReplicaState::kStarting
                                                                                          : domain::ReplicaState::kWaiting;
    if (IsImageProblem(waiting_reason)) {
      r.last_reason = waiting_reason;
      r.last_message = json::GetString(waiting, "message");
    }
  }
  return r;
}

absl::StatusOr<std::vector<domain::VersionObservation>> KubernetesBackend::ObserveVersions(const ClusterRef& ref) {
  auto connection = Connect(ref);
  if (!connection.ok()) return connection.status();
  Connection& c = **connection;
  KubeClient& client = *c.client;
  auto deployments = client.List("Deployment", c.namespace_name, {.label_selector = ScoringSelector()});
  if (!deployments.ok()) return deployments.status();
  auto pods = client.List("Pod", c.namespace_name, {.label_selector = ScoringSelector()});
  if (!pods.ok()) return pods.status();

  std::map<std::string, domain::VersionObservation> by_uid;
  std::map<std::string, bool> rollout_complete;
  for (const auto& item : Arr(*deployments, "items")) {
    if (!item.is_object()) continue;
    const bj::object& d = item.as_object();
    auto key = json::DecodeText<domain::WorkloadKey>(Annotation(d, kWorkloadKeyAnnotation), "workload key");
    if (!key.ok()) continue;
    domain::VersionObservation& v = by_uid[Label(d, kWorkloadLabel)];
    v.key = *key;
    (void)absl::SimpleAtoi(Annotation(d, kRevisionAnnotation), &v.revision);
    v.desired = json::GetInt(Obj(d, "spec"), "replicas", 1);
    v.wanted = v.desired;
    v.required = v.desired;
    v.removed = Deleting(d);
    // An autoscaled version: what its router's autoscaler decided, and what its load asks for.
    if (auto routing = json::ParseObject(Annotation(d, kRoutingAnnotation), "routing"); routing.ok()) {
      if (const bj::object* autoscale = json::GetObject(*routing, "autoscale")) {
        (void)absl::SimpleAtoi(Annotation(d, kWantedAnnotation), &v.wanted);
        v.required = std::min(v.desired, std::max<int64_t>(1, json::GetInt(*autoscale, "minReplicas", 1)));
      }
    }
    // kubectl's rollout rule: until the Deployment's controller has seen this spec, every replica runs the new
    // template and no old one is left, the rollout is in progress whatever the pods say. (Availability is what
    // the ready pods of the revision count.)
    const bj::object& status = Obj(d, "status");
    rollout_complete[Label(d, kWorkloadLabel)] =
        json::GetInt(status, "observedGeneration") >= json::GetInt(Obj(d, "metadata"), "generation") &&
        json::GetInt(status, "updatedReplicas") >= v.desired && json::GetInt(status, "replicas") <= v.desired;
  }
  std::set<std::string> seen_logs;
  for (const auto& item : Arr(*pods, "items")) {
    if (!item.is_object()) continue;
    const bj::object& pod = item.as_object();
    std::string uid = Label(pod, kWorkloadLabel);
    auto found = by_uid.find(uid);
    if (found == by_uid.end()) {
      // A version whose Deployment is gone while its pods stop.
      auto key = json::DecodeText<domain::WorkloadKey>(Annotation(pod, kWorkloadKeyAnnotation), "workload key");
      if (!key.ok()) continue;
      found = by_uid.emplace(uid, domain::VersionObservation{.key = *key, .removed = true}).first;
    }
    std::string pod_name = json::GetString(Obj(pod, "metadata"), "name");
    auto crash_log = [&](absl::string_view container, int64_t restarts, bool previous) -> std::string {
      std::string cache_key = absl::StrCat(pod_name, "/", container, "/", restarts, previous ? "/previous" : "");
      seen_logs.insert(cache_key);
      {
        std::lock_guard lock(c.mu);
        if (auto it = c.crash_logs.find(cache_key); it != c.crash_logs.end()) return it->second;
      }
      auto log = client.GetLogs(c.namespace_name, pod_name,
                                {.container = std::string(container), .tail_lines = 20, .previous = previous});
      // The pod's status and its logs are not read at once: the container may have restarted in between (its
      // current log is then the new, empty one), or the kubelet keeps no previous log. The other one then.
      if (!log.ok() || log->empty()) {
        auto other = client.GetLogs(c.namespace_name, pod_name,
                                    {.container = std::string(container), .tail_lines = 20, .previous = !previous});
        if (other.ok() && !other->empty()) log = std::move(other);
      }
      std::string text = log.ok() ? *log : absl::StrCat("(its log could not be read: ", log.status().message(), ")");
      // A log still empty may just not be written yet: asked again next time.
      if (text.empty()) return text;
      std::lock_guard lock(c.mu);
      c.crash_logs[cache_key] = text;
      return text;
    };
    domain::ReplicaObservation r = ObserveScoringPod(pod, crash_log);
    // A stop that fails the deployment is reported with its log lines: while the kubelet has not written them
    // yet, the replica shows as waiting (for a few observations at most, so that a silent crash still fails it).
    if (!domain::DeploymentFailureReason(r).empty() && r.last_message.empty() && r.restarts < 3) {
      r.last_reason.clear();
    }
    if (r.revision == found->second.revision && r.state == domain::ReplicaState::kReady) ++found->second.ready;
    found->second.replicas.push_back(std::move(r));
  }
  {
    // Forget the logs of crashes no pod shows any more.
    std::lock_guard lock(c.mu);
    std::erase_if(c.crash_logs, [&](const auto& item) { return !seen_logs.contains(item.first); });
  }
  std::vector<domain::VersionObservation> out;
  for (auto& [uid, v] : by_uid) {
    if (!rollout_complete[uid]) v.ready = std::min(v.ready, std::max<int64_t>(0, v.required - 1));
    out.push_back(std::move(v));
  }
  return out;
}

absl::StatusOr<std::vector<backend::LogContent>> KubernetesBackend::ReadLogs(const ClusterRef& ref,
                                                                             const domain::WorkloadKey& key,
                                                                             const backend::LogRequest& request) {
  auto connection = Connect(ref);
  if (!connection.ok()) return connection.status();
  Connection& c = **connection;
  std::string selector;
  for (const auto& label : VersionSelector(key)) {
    absl::StrAppend(&selector, selector.empty() ? "" : ",", std::string(label.key()), "=",
                    std::string(label.value().as_string()));
  }
  auto pods = c.client->List("Pod", c.namespace_name, {.label_selector = selector});
  if (!pods.ok()) return pods.status();
  struct Candidate {
    std::string name;
    domain::ReplicaObservation replica;
  };
  std::vector<Candidate> candidates;
  for (const auto& item : Arr(*pods, "items")) {
    if (!item.is_object()) continue;
    domain::ReplicaObservation r = ObserveScoringPod(item.as_object(), NoCrashLog);
    candidates.push_back({r.id, std::move(r)});
  }
  // Pods on their way out (a rolling update's old ones) are not the version's replicas any more.
  if (std::any_of(candidates.begin(), candidates.end(),
                  [](const Candidate& c) { return c.replica.state != domain::ReplicaState::kTerminating; })) {
    std::erase_if(candidates, [](const Candidate& c) { return c.replica.state == domain::ReplicaState::kTerminating; });
  }
  // The replica that best shows the version: ready ones of the newest revision first.
  std::stable_sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    bool ready_a = a.replica.state == domain::ReplicaState::kReady;
    bool ready_b = b.replica.state == domain::ReplicaState::kReady;
    if (a.replica.revision != b.replica.revision) return a.replica.revision > b.replica.revision;
    return ready_a && !ready_b;
  });
  std::vector<backend::LogContent> out;
  for (const auto& candidate : candidates) {
    auto read = [&](const char* container, bool previous) -> std::string {
      auto log = c.client->GetLogs(c.namespace_name, candidate.name,
                                   {.container = container, .tail_lines = request.tail, .previous = previous});
      return log.ok() ? *log : "";
    };
    std::string text;
    if (request.startup) {
      // How the replica came up: the artifacts fetched, then the runtime through init().
      text = absl::StrCat(read(kFetchContainer, false), read(kScoringContainer, false));
    } else {
      text = read(kScoringContainer, false);
      // A container waiting to restart has no log of its own yet: the one that crashed tells why.
      if (text.empty() && candidate.replica.restarts > 0) text = read(kScoringContainer, true);
      if (text.empty()) text = read(kFetchContainer, false);
    }
    out.push_back({candidate.name, candidate.replica.state, std::move(text),
                   static_cast<int64_t>(candidates.size())});
    if (!request.all_replicas) break;
  }
  return out;
}

absl::Status KubernetesBackend::ApplyRoutes(const ClusterRef& ref, const domain::RouteTable& table) {
  auto connection = Connect(ref);
  if (!connection.ok()) return connection.status();
  Connection& c = **connection;
  auto current = c.client->Get("Secret", c.namespace_name, kRoutesSecret);
  if (current.ok()) {
    int64_t generation = 0;
    (void)absl::SimpleAtoi(Annotation(*current, kGenerationAnnotation), &generation);
    if (generation > table.generation) {
      return absl::FailedPreconditionError(absl::StrCat("The router has route table generation ", generation,
                                                        ", newer than ", table.generation, "."));
    }
  } else if (!absl::IsNotFound(current.status())) {
    return current.status();
  }
  return c.client->Apply(RoutesSecret(c.namespace_name, table), {.force = true}).status();
}

namespace {

// Where the router answers, and its admin token, once EnsureCluster has seen it ready.
struct RouterAccess {
  std::optional<Endpoint> endpoint;
  std::string token;
};

RouterAccess AccessOf(KubernetesBackend::Connection& c);

}  // namespace

absl::StatusOr<int64_t> KubernetesBackend::RouteGeneration(const ClusterRef& ref) {
  auto connection = Connect(ref);
  if (!connection.ok()) return connection.status();
  RouterAccess router = AccessOf(**connection);
  if (!router.endpoint) return absl::UnavailableError("The router has no address yet.");
  auto body = backend::local::FrontEndAdmin(router.endpoint->host, router.endpoint->port, router.token, "GET",
                                            "/admin/status", "", 2s);
  if (!body.ok()) return body.status();
  auto status = json::DecodeText<backend::local::FrontEndStatus>(*body, "Router status");
  if (!status.ok()) return status.status();
  return status->route_generation;
}

absl::StatusOr<bool> KubernetesBackend::Probe(const ClusterRef& ref, absl::string_view endpoint_name,
                                              absl::string_view version) {
  auto connection = Connect(ref);
  if (!connection.ok()) return connection.status();
  RouterAccess router = AccessOf(**connection);
  if (!router.endpoint) return false;
  return backend::local::ProbeFrontEnd(router.endpoint->host, router.endpoint->port, router.token, endpoint_name,
                                       version);
}

namespace {

RouterAccess AccessOf(KubernetesBackend::Connection& c) {
  std::lock_guard lock(c.mu);
  return {c.endpoint, c.admin_token};
}

}  // namespace

}  // namespace amlcore::kubernetes
