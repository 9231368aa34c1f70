#include "frontend/kubernetes_replicas.h"

#include <tuple>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "backend/kubernetes/kubernetes_backend.h"
#include "backend/kubernetes/manifests.h"
#include "common/json_fields.h"

namespace amlcore::frontend {
namespace {

namespace bj = json::bj;
namespace k8s = kubernetes;

const bj::object& Obj(const bj::object& o, absl::string_view key) {
  static const bj::object empty;
  const bj::object* found = json::GetObject(o, key);
  return found ? *found : empty;
}

const bj::array& Items(const bj::object& list) {
  static const bj::array empty;
  const bj::value* v = list.if_contains("items");
  return v && v->is_array() ? v->as_array() : empty;
}

std::string Annotation(const bj::object& object, absl::string_view key) {
  return json::GetString(Obj(Obj(object, "metadata"), "annotations"), key);
}

std::string ScoringSelector() {
  return absl::StrCat(k8s::kManagedByLabel, "=", k8s::kManagedBy, ",", k8s::kComponentLabel, "=",
                      k8s::kScoringComponent);
}

}  // namespace

KubernetesReplicas::KubernetesReplicas(std::unique_ptr<kubernetes::KubeClient> client, std::string namespace_name)
    : client_(std::move(client)), namespace_(std::move(namespace_name)) {}

void KubernetesReplicas::Put(VersionTarget target) {
  std::lock_guard lock(mu_);
  std::string name = target.spec.key.Name();
  targets_[name] = std::move(target);
}

void KubernetesReplicas::Remove(const std::string& workload) {
  std::shared_ptr<VersionDispatcher> dispatcher;
  {
    std::lock_guard lock(mu_);
    auto found = targets_.find(workload);
    if (found == targets_.end()) return;
    dispatcher = found->second.dispatcher;
    targets_.erase(found);
  }
  dispatcher->SetBackends({});
}

int64_t KubernetesReplicas::Desired(const std::string& workload) const {
  std::lock_guard lock(mu_);
  auto found = targets_.find(workload);
  if (found == targets_.end()) return -1;
  auto scaled = scaled_.find(workload);
  return scaled != scaled_.end() && !scaled->second.applied ? scaled->second.count : found->second.spec.count;
}

void KubernetesReplicas::Scale(const std::string& workload, int64_t count, int64_t wanted) {
  std::lock_guard lock(mu_);
  if (!targets_.contains(workload)) return;
  Scaled& s = scaled_[workload];
  if (s.count == count && s.wanted == wanted) return;
  s = {count, wanted, false};
}

std::vector<domain::VersionObservation> KubernetesReplicas::Status() const {
  std::lock_guard lock(mu_);
  return status_;
}

std::map<std::vector<std::string>, uint64_t> KubernetesReplicas::RestartCounts() const {
  std::lock_guard lock(mu_);
  return restarts_;
}

absl::StatusOr<std::optional<domain::RouteTable>> KubernetesReplicas::NewerRoutes(int64_t current) {
  auto secret = client_->Get("Secret", namespace_, k8s::kRoutesSecret);
  if (!secret.ok()) {
    if (absl::IsNotFound(secret.status())) return std::nullopt;
    return secret.status();
  }
  int64_t generation = 0;
  if (!absl::SimpleAtoi(Annotation(*secret, k8s::kGenerationAnnotation), &generation) || generation <= current) {
    return std::nullopt;
  }
  std::string text;
  if (!absl::Base64Unescape(json::GetString(Obj(*secret, "data"), k8s::kRoutesKey), &text)) {
    return absl::DataLossError(absl::StrCat("Secret ", k8s::kRoutesSecret, " holds no base64 ", k8s::kRoutesKey));
  }
  auto table = json::DecodeText<domain::RouteTable>(text, k8s::kRoutesKey);
  if (!table.ok()) return table.status();
  return std::optional<domain::RouteTable>(std::move(*table));
}

absl::StatusOr<std::vector<backend::local::LocalWorkload>> KubernetesReplicas::Workloads() {
  auto deployments = client_->List("Deployment", namespace_, {.label_selector = ScoringSelector()});
  if (!deployments.ok()) return deployments.status();
  std::vector<backend::local::LocalWorkload> out;
  for (const auto& item : Items(*deployments)) {
    if (!item.is_object() || Obj(item.as_object(), "metadata").contains("deletionTimestamp")) continue;
    const bj::object& d = item.as_object();
    auto key = json::DecodeText<domain::WorkloadKey>(Annotation(d, k8s::kWorkloadKeyAnnotation), "workload key");
    if (!key.ok()) continue;
    backend::local::LocalWorkload w;
    w.key = *key;
    (void)absl::SimpleAtoi(Annotation(d, k8s::kRevisionAnnotation), &w.revision);
    w.count = json::GetInt(Obj(d, "spec"), "replicas", 1);
    if (auto routing = json::ParseObject(Annotation(d, k8s::kRoutingAnnotation), "routing"); routing.ok()) {
      w.max_concurrent_requests = json::GetInt(*routing, "maxConcurrentRequests", 1);
      if (const bj::object* autoscale = json::GetObject(*routing, "autoscale")) {
        domain::AutoscaleSpec policy;
        if (json::Decode(bj::value(*autoscale), &policy, "autoscale").ok()) w.autoscale = policy;
        w.allowed = json::GetInt(*routing, "replicasAllowed");
      }
    }
    out.push_back(std::move(w));
  }
  return out;
}

absl::Status KubernetesReplicas::Refresh() {
  std::vector<std::tuple<std::string, domain::WorkloadKey, Scaled>> to_scale;
  {
    std::lock_guard lock(mu_);
    std::erase_if(scaled_, [&](const auto& item) { return !targets_.contains(item.first); });
    for (const auto& [name, s] : scaled_) {
      if (!s.applied) to_scale.emplace_back(name, targets_.at(name).spec.key, s);
    }
  }
  for (const auto& [name, key, s] : to_scale) {
    auto applied = client_->Apply(k8s::ScaleManifest(key, namespace_, s.count, s.wanted), {.force = true});
    if (!applied.ok()) return applied.status();
    std::lock_guard lock(mu_);
    auto found = scaled_.find(name);
    if (found != scaled_.end() && found->second.count == s.count && found->second.wanted == s.wanted) {
      found->second.applied = true;
      if (auto t = targets_.find(name); t != targets_.end()) t->second.spec.count = s.count;
    }
  }
  auto pods = client_->List("Pod", namespace_, {.label_selector = ScoringSelector()});
  if (!pods.ok()) return pods.status();
  std::map<std::string, domain::VersionObservation> observed;  // by workload name
  std::map<std::string, std::vector<RoutedReplica>> ready;
  std::map<std::vector<std::string>, uint64_t> restarts;
  for (const auto& item : Items(*pods)) {
    if (!item.is_object()) continue;
    const bj::object& pod = item.as_object();
    auto key = json::DecodeText<domain::WorkloadKey>(Annotation(pod, k8s::kWorkloadKeyAnnotation), "workload key");
    if (!key.ok()) continue;
    domain::ReplicaObservation r = k8s::ObserveScoringPod(pod, k8s::NoCrashLog);
    std::string name = key->Name();
    domain::VersionObservation& v = observed[name];
    v.key = *key;
    if (r.restarts > 0) {
      restarts[{key->endpoint, key->version, r.last_reason.empty() ? "Error" : r.last_reason}] += r.restarts;
    }
    std::string ip = json::GetString(Obj(pod, "status"), "podIP");
    if (r.state == domain::ReplicaState::kReady && !ip.empty()) {
      ready[name].push_back({r.id, http::UpstreamAddress::Tcp(ip, k8s::kScoringPort), 0});
    }
    v.replicas.push_back(std::move(r));
  }
  std::vector<std::pair<std::shared_ptr<VersionDispatcher>, std::vector<RoutedReplica>>> routed;
  {
    std::lock_guard lock(mu_);
    status_.clear();
    for (auto& [name, target] : targets_) {
      domain::VersionObservation v = observed[name];
      v.key = target.spec.key;
      v.revision = target.spec.revision;
      v.desired = target.spec.count;
      v.wanted = v.desired;
      v.required = v.desired;
      if (target.spec.autoscale) {
        if (auto s = scaled_.find(name); s != scaled_.end()) v.wanted = s->second.wanted;
        v.required = std::min(v.desired, std::max<int64_t>(1, target.spec.autoscale->min_replicas));
      }
      for (const auto& r : v.replicas) v.ready += r.state == domain::ReplicaState::kReady ? 1 : 0;
      status_.push_back(std::move(v));
      routed.emplace_back(target.dispatcher, ready[name]);
    }
    restarts_ = std::move(restarts);
  }
  for (auto& [dispatcher, backends] : routed) dispatcher->SetBackends(backends);
  return absl::OkStatus();
}

}  // namespace amlcore::frontend
