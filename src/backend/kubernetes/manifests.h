// The Kubernetes objects amlcore writes, built in one place. Every object carries
// app.kubernetes.io/managed-by=amlcore and the component it belongs to, so that amlcore finds (and deletes)
// what it made and nothing else:
//  - per version: a Deployment (its pods fetch the version's artifacts in an init container, then run
//    amlcore-score) and a ClusterIP Service in front of its pods;
//  - per cluster: the router (amlcore-fe) as a Deployment behind a LoadBalancer Service, its ServiceAccount,
//    Role and RoleBinding (read pods, Deployments and its route table), a Secret with its admin token and one
//    with the route table (keys included), and the replicas' ServiceAccount and Role (read artifacts);
//  - per artifact (a source snapshot, a model file): ConfigMaps holding its bytes in chunks, named by content
//    hash, which the init container reassembles and checks against that hash.
#ifndef AMLCORE_BACKEND_KUBERNETES_MANIFESTS_H_
#define AMLCORE_BACKEND_KUBERNETES_MANIFESTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/json.h"
#include "domain/workload.h"

namespace amlcore::kubernetes {

inline constexpr char kManagedByLabel[] = "app.kubernetes.io/managed-by";
inline constexpr char kManagedBy[] = "amlcore";
inline constexpr char kComponentLabel[] = "app.kubernetes.io/component";
inline constexpr char kScoringComponent[] = "scoring";
inline constexpr char kRouterComponent[] = "router";
inline constexpr char kArtifactComponent[] = "artifact";
inline constexpr char kWorkloadLabel[] = "amlcore.io/workload";
inline constexpr char kEndpointLabel[] = "amlcore.io/endpoint";
inline constexpr char kVersionLabel[] = "amlcore.io/version";
// Annotations: the version's WorkloadKey (JSON), its revision, what the router needs of it (JSON).
inline constexpr char kWorkloadKeyAnnotation[] = "amlcore.io/workload-key";
inline constexpr char kRevisionAnnotation[] = "amlcore.io/revision";
inline constexpr char kRoutingAnnotation[] = "amlcore.io/routing";
inline constexpr char kClusterAnnotation[] = "amlcore.io/cluster";
inline constexpr char kGenerationAnnotation[] = "amlcore.io/generation";
// On an autoscaled version's Deployment, written by its router with spec.replicas: what its load asks for.
inline constexpr char kWantedAnnotation[] = "amlcore.io/wanted";
inline constexpr char kRouterFieldManager[] = "amlcore-router";
inline constexpr char kSha256Annotation[] = "amlcore.io/sha256";
inline constexpr char kChunksAnnotation[] = "amlcore.io/chunks";

inline constexpr char kRouterName[] = "amlcore-router";
inline constexpr char kRouterAdminSecret[] = "amlcore-router-admin";
inline constexpr char kRoutesSecret[] = "amlcore-routes";
inline constexpr char kRoutesKey[] = "routes.json";
inline constexpr char kReplicaAccount[] = "amlcore-replica";
inline constexpr char kScoringContainer[] = "scoring";
inline constexpr char kFetchContainer[] = "fetch-artifacts";
inline constexpr int kScoringPort = 5001;
inline constexpr int kRouterPort = 8080;
// Where the init container puts a version's files in its pods (an emptyDir).
inline constexpr char kAppDirectory[] = "/var/azureml-app";
// The artifacts an init container fetches, as domain::Artifacts JSON.
inline constexpr char kArtifactsVariable[] = "AMLCORE_ARTIFACTS";
// ConfigMaps hold at most 1 MiB; a chunk's base64 text stays well below.
inline constexpr size_t kBlobChunkBytes = 512 * 1024;

// A name Kubernetes accepts for a Deployment and a Service (a DNS-1035 label) that still reads like the
// version: "aml-<endpoint>-<version>-<uid>", shortened to fit 63 characters.
std::string VersionObjectName(const domain::WorkloadKey& key);
// The ConfigMap holding chunk `index` of the blob with this hash.
std::string BlobChunkName(absl::string_view sha256, int64_t index);
// The labels that select a version's pods.
json::bj::object VersionSelector(const domain::WorkloadKey& key);

struct VersionManifestOptions {
  std::string namespace_name;
  std::string image;
  std::string cluster_id;  // the cluster's resource id, for the annotation
};
// The Deployment and the Service of one version's workload.
std::vector<json::bj::object> VersionManifests(const domain::WorkloadSpec& spec,
                                               const VersionManifestOptions& options);

struct RouterManifestOptions {
  std::string namespace_name;
  std::string image;
  std::string cluster_id;
  // "InternalLoadBalancer" asks the cloud for a private address (Azure's annotation).
  std::string load_balancer_type;
};
// The router and what it and the replicas need, admin Secret excepted (its token is made once).
std::vector<json::bj::object> RouterManifests(const RouterManifestOptions& options);
json::bj::object RouterAdminSecret(absl::string_view namespace_name, absl::string_view token);
json::bj::object RoutesSecret(absl::string_view namespace_name, const domain::RouteTable& table);

// What a router applies to scale a version: spec.replicas and the replicas its load asks for.
json::bj::object ScaleManifest(const domain::WorkloadKey& key, absl::string_view namespace_name, int64_t replicas,
                               int64_t wanted);

// The ConfigMaps holding `data` (whose hash is `sha256`).
std::vector<json::bj::object> BlobConfigMaps(absl::string_view namespace_name, absl::string_view sha256,
                                             absl::string_view data);

}  // namespace amlcore::kubernetes

#endif  // AMLCORE_BACKEND_KUBERNETES_MANIFESTS_H_
