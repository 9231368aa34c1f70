#include "backend/kubernetes/manifests.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/json_fields.h"

namespace amlcore::kubernetes {
namespace {

namespace bj = json::bj;

// Lower-case letters, digits and '-', trimmed of '-' at both ends and cut to `max` characters.
std::string DnsPart(absl::string_view text, size_t max) {
  std::string out;
  for (char c : text) {
    char l = absl::ascii_tolower(static_cast<unsigned char>(c));
    out.push_back(std::isalnum(static_cast<unsigned char>(l)) ? l : '-');
  }
  if (out.size() > max) out.resize(max);
  while (!out.empty() && out.back() == '-') out.pop_back();
  size_t first = out.find_first_not_of('-');
  return first == std::string::npos ? std::string() : out.substr(first);
}

// A label value: at most 63 of [A-Za-z0-9_.-], starting and ending with a letter or digit.
std::string LabelValue(absl::string_view text) {
  std::string out;
  for (char c : text) {
    out.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ? c : '-');
  }
  if (out.size() > 63) out.resize(63);
  while (!out.empty() && !std::isalnum(static_cast<unsigned char>(out.back()))) out.pop_back();
  while (!out.empty() && !std::isalnum(static_cast<unsigned char>(out.front()))) out.erase(0, 1);
  return out;
}

bj::object Labels(absl::string_view component) {
  return bj::object{{kManagedByLabel, kManagedBy}, {kComponentLabel, json::Bj(component)}};
}

bj::object Metadata(absl::string_view name, absl::string_view namespace_name, bj::object labels) {
  return bj::object{{"name", json::Bj(name)}, {"namespace", json::Bj(namespace_name)}, {"labels", std::move(labels)}};
}

// A Kubernetes quantity: CPU in millicores, memory in MiB (rounded up, so a limit never shrinks).
std::string Millicores(double cores) { return absl::StrCat(static_cast<int64_t>(cores * 1000 + 0.5), "m"); }
std::string Mebibytes(double gigabytes) {
  return absl::StrCat(static_cast<int64_t>(gigabytes * 1024 + 0.999), "Mi");
}

bj::object EnvValue(absl::string_view name, absl::string_view value) {
  return bj::object{{"name", json::Bj(name)}, {"value", json::Bj(value)}};
}
bj::object EnvField(absl::string_view name, absl::string_view field) {
  return bj::object{{"name", json::Bj(name)}, {"valueFrom", {{"fieldRef", {{"fieldPath", json::Bj(field)}}}}}};
}

bj::object HttpProbe(absl::string_view path, absl::string_view port, int64_t initial_delay, int64_t period,
                     int64_t timeout, int64_t success, int64_t failure) {
  return bj::object{{"httpGet", {{"path", json::Bj(path)}, {"port", json::Bj(port)}}},
                    {"initialDelaySeconds", initial_delay},
                    {"periodSeconds", period},
                    {"timeoutSeconds", timeout},
                    {"successThreshold", success},
                    {"failureThreshold", failure}};
}

bj::object Role(absl::string_view name, absl::string_view namespace_name, bj::array rules) {
  return bj::object{{"apiVersion", "rbac.authorization.k8s.io/v1"},
                    {"kind", "Role"},
                    {"metadata", Metadata(name, namespace_name, Labels(kRouterComponent))},
                    {"rules", std::move(rules)}};
}

bj::object RoleBinding(absl::string_view name, absl::string_view namespace_name) {
  return bj::object{
      {"apiVersion", "rbac.authorization.k8s.io/v1"},
      {"kind", "RoleBinding"},
      {"metadata", Metadata(name, namespace_name, Labels(kRouterComponent))},
      {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", json::Bj(name)}}},
      {"subjects",
       bj::array{{{"kind", "ServiceAccount"}, {"name", json::Bj(name)}, {"namespace", json::Bj(namespace_name)}}}}};
}

bj::object ServiceAccount(absl::string_view name, absl::string_view namespace_name) {
  return bj::object{{"apiVersion", "v1"},
                    {"kind", "ServiceAccount"},
                    {"metadata", Metadata(name, namespace_name, Labels(kRouterComponent))}};
}

bj::object Rule(absl::string_view group, bj::array resources, bj::array verbs) {
  return bj::object{{"apiGroups", bj::array{json::Bj(group)}}, {"resources", std::move(resources)},
                    {"verbs", std::move(verbs)}};
}

}  // namespace

std::string VersionObjectName(const domain::WorkloadKey& key) {
  return absl::StrCat("aml-", DnsPart(key.endpoint, 26), "-", DnsPart(key.version, 20), "-", DnsPart(key.uid, 8));
}

std::string BlobChunkName(absl::string_view sha256, int64_t index) {
  return absl::StrCat("amlcore-blob-", sha256.substr(0, 40), "-", index);
}

bj::object VersionSelector(const domain::WorkloadKey& key) {
  return bj::object{{kManagedByLabel, kManagedBy},
                    {kComponentLabel, kScoringComponent},
                    {kWorkloadLabel, json::Bj(LabelValue(key.uid))}};
}

std::vector<bj::object> VersionManifests(const domain::WorkloadSpec& spec, const VersionManifestOptions& options) {
  const domain::WorkloadKey& key = spec.key;
  std::string name = VersionObjectName(key);
  bj::object labels = VersionSelector(key);
  labels[kEndpointLabel] = LabelValue(key.endpoint);
  labels[kVersionLabel] = LabelValue(key.version);

  const domain::Artifacts& a = spec.artifacts;
  std::string app = kAppDirectory;
  std::string source = a.source_directory.empty() ? app : absl::StrCat(app, "/", a.source_directory);
  std::string models = a.models.size() == 1
                           ? absl::StrCat(app, "/azureml-models/", a.models.front().name, "/", a.models.front().version)
                           : absl::StrCat(app, "/azureml-models");
  bj::array env{EnvField("POD_IP", "status.podIP"),
                EnvField("AMLCORE_REPLICA_ID", "metadata.name"),
                EnvValue("AZUREML_ENTRY_SCRIPT", a.entry_script),
                EnvValue("AML_APP_ROOT", app),
                EnvValue("AZUREML_SOURCE_DIRECTORY", source),
                EnvValue("AZUREML_MODEL_DIR", models),
                EnvValue("SCORING_TIMEOUT_MS", absl::StrCat(spec.scoring_timeout_ms)),
                EnvValue("AMLCORE_SERVICE_NAME", key.endpoint)};
  for (const auto& [k, v] : spec.environment_variables) env.push_back(EnvValue(k, v));

  const domain::ResourceSpec& r = spec.resources;
  bj::object requests{{"cpu", Millicores(r.cpu)}, {"memory", Mebibytes(r.memory_gb)}};
  bj::object limits;
  if (r.cpu_limit > 0) limits["cpu"] = Millicores(std::max(r.cpu_limit, r.cpu));
  if (r.memory_gb_limit > 0) limits["memory"] = Mebibytes(std::max(r.memory_gb_limit, r.memory_gb));
  if (r.gpu > 0) {
    // Extended resources are requested through limits (requests, if given, must equal them).
    requests["nvidia.com/gpu"] = absl::StrCat(r.gpu);
    limits["nvidia.com/gpu"] = absl::StrCat(r.gpu);
  }
  bj::object resources{{"requests", std::move(requests)}};
  if (!limits.empty()) resources["limits"] = std::move(limits);

  const domain::ProbeSpec& p = spec.liveness;
  bj::object scoring{
      {"name", kScoringContainer},
      {"image", json::Bj(options.image)},
      {"command", bj::array{"amlcore-score", "--host", "$(POD_IP)", "--port", absl::StrCat(kScoringPort)}},
      {"env", std::move(env)},
      {"workingDir", json::Bj(source)},
      {"ports", bj::array{{{"name", "http"}, {"containerPort", kScoringPort}, {"protocol", "TCP"}}}},
      {"resources", std::move(resources)},
      // The runtime listens once init() has returned: ready means it can score.
      {"readinessProbe", HttpProbe("/", "http", 0, 1, p.timeout_seconds, 1, 3)},
      {"livenessProbe", HttpProbe("/", "http", p.initial_delay_seconds, p.period_seconds, p.timeout_seconds,
                                  p.success_threshold, p.failure_threshold)},
      {"volumeMounts", bj::array{{{"name", "app"}, {"mountPath", kAppDirectory}, {"readOnly", true}}}}};
  bj::object fetch{
      {"name", kFetchContainer},
      {"image", json::Bj(options.image)},
      {"command", bj::array{"amlcore-score", "--fetch-artifacts", kAppDirectory}},
      {"env", bj::array{EnvValue(kArtifactsVariable, json::EncodeText(a))}},
      {"resources", {{"requests", {{"cpu", "100m"}, {"memory", "128Mi"}}}}},
      {"volumeMounts", bj::array{{{"name", "app"}, {"mountPath", kAppDirectory}}}}};

  bj::object pod_annotations{{kRevisionAnnotation, absl::StrCat(spec.revision)},
                             {kWorkloadKeyAnnotation, json::EncodeText(key)}};
  bj::object template_metadata{{"labels", labels}, {"annotations", std::move(pod_annotations)}};
  bj::object pod_spec{{"serviceAccountName", kReplicaAccount},
                      {"initContainers", bj::array{std::move(fetch)}},
                      {"containers", bj::array{std::move(scoring)}},
                      {"volumes", bj::array{{{"name", "app"}, {"emptyDir", bj::object{}}}}}};
  if (r.gpu > 0) {
    // GPU node pools are usually tainted so that only GPU work lands there.
    pod_spec["tolerations"] = bj::array{{{"key", "nvidia.com/gpu"}, {"operator", "Exists"}, {"effect", "NoSchedule"}}};
  }

  // What the router needs to know of the version besides its pods.
  bj::object routing{{"maxConcurrentRequests", spec.max_concurrent_requests}, {"replicas", spec.replicas}};
  if (spec.autoscale) {
    routing["autoscale"] = json::Encode(*spec.autoscale);
    // Kubernetes schedules: the router may scale up to the maximum, and pods that fit no node wait.
    routing["replicasAllowed"] = spec.autoscale->max_replicas;
  }
  bj::object metadata = Metadata(name, options.namespace_name, labels);
  metadata["annotations"] = bj::object{{kWorkloadKeyAnnotation, json::EncodeText(key)},
                                       {kRevisionAnnotation, absl::StrCat(spec.revision)},
                                       {kRoutingAnnotation, json::Serialize(routing)},
                                       {kClusterAnnotation, json::Bj(options.cluster_id)}};
  bj::object deployment{
      {"apiVersion", "apps/v1"},
      {"kind", "Deployment"},
      {"metadata", metadata},
      {"spec",
       {{"selector", {{"matchLabels", VersionSelector(key)}}},
        // New replicas are ready before old ones go, as on amlcore's local backend.
        {"strategy", {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxUnavailable", 0}, {"maxSurge", 1}}}}},
        {"progressDeadlineSeconds", 600},
        {"revisionHistoryLimit", 2},
        {"template", {{"metadata", std::move(template_metadata)}, {"spec", std::move(pod_spec)}}}}}};
  // An autoscaled version's replica count is its router's to set (it owns spec.replicas); a new one starts
  // with one replica, Kubernetes' default, and its router brings it to its minimum within a refresh period.
  if (!spec.autoscale) deployment["spec"].as_object()["replicas"] = spec.replicas;
  bj::object service{
      {"apiVersion", "v1"},
      {"kind", "Service"},
      {"metadata", metadata},
      {"spec",
       {{"type", "ClusterIP"},
        {"selector", VersionSelector(key)},
        {"ports", bj::array{{{"name", "http"}, {"port", 80}, {"targetPort", "http"}, {"protocol", "TCP"}}}}}}};
  return {std::move(deployment), std::move(service)};
}

std::vector<bj::object> RouterManifests(const RouterManifestOptions& options) {
  const std::string& ns = options.namespace_name;
  std::vector<bj::object> out;
  out.push_back(ServiceAccount(kRouterName, ns));
  out.push_back(Role(kRouterName, ns,
                     bj::array{Rule("", bj::array{"pods"}, bj::array{"get", "list", "watch"}),
                               Rule("apps", bj::array{"deployments"}, bj::array{"get", "list", "watch", "patch"}),
                               Rule("apps", bj::array{"deployments/scale"}, bj::array{"get", "patch", "update"}),
                               bj::object{{"apiGroups", bj::array{""}},
                                          {"resources", bj::array{"secrets"}},
                                          {"resourceNames", bj::array{kRoutesSecret}},
                                          {"verbs", bj::array{"get", "watch"}}}}));
  out.push_back(RoleBinding(kRouterName, ns));
  out.push_back(ServiceAccount(kReplicaAccount, ns));
  out.push_back(Role(kReplicaAccount, ns, bj::array{Rule("", bj::array{"configmaps"}, bj::array{"get"})}));
  out.push_back(RoleBinding(kReplicaAccount, ns));

  bj::object labels = Labels(kRouterComponent);
  bj::object selector{{kManagedByLabel, kManagedBy}, {kComponentLabel, kRouterComponent}};
  bj::array env{EnvField("POD_IP", "status.podIP"),
                EnvField("AMLCORE_NAMESPACE", "metadata.namespace"),
                bj::object{{"name", "AMLCORE_ADMIN_TOKEN"},
                           {"valueFrom", {{"secretKeyRef", {{"name", kRouterAdminSecret}, {"key", "token"}}}}}}};
  bj::object router{
      {"name", "router"},
      {"image", json::Bj(options.image)},
      {"command", bj::array{"amlcore-fe", "--kubernetes", "--host", "$(POD_IP)", "--port",
                            absl::StrCat(kRouterPort), "--cluster-id", json::Bj(options.cluster_id)}},
      {"env", std::move(env)},
      {"ports", bj::array{{{"name", "http"}, {"containerPort", kRouterPort}, {"protocol", "TCP"}}}},
      {"resources", {{"requests", {{"cpu", "100m"}, {"memory", "128Mi"}}}, {"limits", {{"memory", "512Mi"}}}}},
      {"readinessProbe", HttpProbe("/", "http", 0, 1, 1, 1, 3)},
      {"livenessProbe", HttpProbe("/", "http", 10, 10, 2, 1, 3)}};
  out.push_back(bj::object{
      {"apiVersion", "apps/v1"},
      {"kind", "Deployment"},
      {"metadata", Metadata(kRouterName, ns, labels)},
      {"spec",
       {{"replicas", 1},
        {"selector", {{"matchLabels", selector}}},
        {"strategy", {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxUnavailable", 0}, {"maxSurge", 1}}}}},
        {"template",
         {{"metadata", {{"labels", labels}}},
          {"spec", {{"serviceAccountName", kRouterName}, {"containers", bj::array{std::move(router)}}}}}}}}});
  bj::object service_metadata = Metadata(kRouterName, ns, labels);
  if (options.load_balancer_type == "InternalLoadBalancer") {
    service_metadata["annotations"] =
        bj::object{{"service.beta.kubernetes.io/azure-load-balancer-internal", "true"}};
  }
  out.push_back(bj::object{
      {"apiVersion", "v1"},
      {"kind", "Service"},
      {"metadata", std::move(service_metadata)},
      {"spec",
       {{"type", "LoadBalancer"},
        {"selector", selector},
        {"ports", bj::array{{{"name", "http"}, {"port", 80}, {"targetPort", "http"}, {"protocol", "TCP"}}}}}}});
  return out;
}

bj::object RouterAdminSecret(absl::string_view namespace_name, absl::string_view token) {
  return bj::object{{"apiVersion", "v1"},
                    {"kind", "Secret"},
                    {"metadata", Metadata(kRouterAdminSecret, namespace_name, Labels(kRouterComponent))},
                    {"type", "Opaque"},
                    {"data", {{"token", Base64Encode(token)}}}};
}

bj::object RoutesSecret(absl::string_view namespace_name, const domain::RouteTable& table) {
  bj::object metadata = Metadata(kRoutesSecret, namespace_name, Labels(kRouterComponent));
  metadata["annotations"] = bj::object{{kGenerationAnnotation, absl::StrCat(table.generation)}};
  return bj::object{{"apiVersion", "v1"},
                    {"kind", "Secret"},
                    {"metadata", std::move(metadata)},
                    {"type", "Opaque"},
                    {"data", {{kRoutesKey, Base64Encode(json::EncodeText(table))}}}};
}

bj::object ScaleManifest(const domain::WorkloadKey& key, absl::string_view namespace_name, int64_t replicas,
                         int64_t wanted) {
  return bj::object{{"apiVersion", "apps/v1"},
                    {"kind", "Deployment"},
                    {"metadata",
                     {{"name", VersionObjectName(key)},
                      {"namespace", json::Bj(namespace_name)},
                      {"annotations", {{kWantedAnnotation, absl::StrCat(wanted)}}}}},
                    {"spec", {{"replicas", replicas}}}};
}

std::vector<bj::object> BlobConfigMaps(absl::string_view namespace_name, absl::string_view sha256,
                                       absl::string_view data) {
  std::vector<bj::object> out;
  int64_t chunks = std::max<int64_t>(1, static_cast<int64_t>((data.size() + kBlobChunkBytes - 1) / kBlobChunkBytes));
  for (int64_t i = 0; i < chunks; ++i) {
    bj::object metadata = Metadata(BlobChunkName(sha256, i), namespace_name, Labels(kArtifactComponent));
    metadata["annotations"] =
        bj::object{{kSha256Annotation, json::Bj(sha256)}, {kChunksAnnotation, absl::StrCat(chunks)}};
    absl::string_view chunk = data.substr(std::min(data.size(), static_cast<size_t>(i) * kBlobChunkBytes),
                                          kBlobChunkBytes);
    out.push_back(bj::object{{"apiVersion", "v1"},
                             {"kind", "ConfigMap"},
                             {"metadata", std::move(metadata)},
                             {"binaryData", {{"data", Base64Encode(chunk)}}},
                             {"immutable", true}});
  }
  return out;
}

}  // namespace amlcore::kubernetes
