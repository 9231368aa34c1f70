// A blocking client of one Kubernetes API server, reached as a resolved kubeconfig context says
// (HTTPS with the cluster's CA or the system's, tls-server-name, insecure-skip-tls-verify; bearer
// tokens, token files, basic authentication, client certificates, exec credential plugins). Objects
// are Boost.JSON objects.
//
//   auto context = LoadKubeContext({.context = "myaks"});
//   auto client = KubeClient::Create(*context);
//   absl::StatusOr<json::bj::object> applied = (*client)->Apply(deployment_manifest);
//   auto pods = (*client)->List("Pod", "ml", {.label_selector = "app=web"});
//
// Writes are server-side apply (PATCH application/apply-patch+yaml, fieldManager=amlcore). Failures
// are statuses whose messages name the request (see kube_errors.h). 429 and 5xx answers, and
// connections that could not be made, are retried with exponential back-off that honours
// Retry-After, within a bounded number of attempts and a bounded total time (a create retried after
// a 5xx may therefore answer AlreadyExists: the first attempt may have succeeded); a lost answer is
// asked for again only for reads. A 401 gets a fresh exec credential once. Thread-safe: calls may
// come from several threads; they share one kept-alive connection and go one at a time.
#ifndef AMLCORE_BACKEND_KUBERNETES_KUBE_CLIENT_H_
#define AMLCORE_BACKEND_KUBERNETES_KUBE_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "backend/kubernetes/exec_credential.h"
#include "backend/kubernetes/kubeconfig.h"
#include "common/json.h"

namespace amlcore::kubernetes {

// A kind amlcore reads or writes, and where the API serves it.
struct KubeKind {
  absl::string_view kind;      // "Deployment"
  absl::string_view group;     // "apps"; empty for the core group
  absl::string_view version;   // "v1"
  absl::string_view resource;  // "deployments"
  bool namespaced = true;

  std::string ApiVersion() const;  // "apps/v1", or "v1" for the core group
  // The RBAC resource name: "deployments.apps", or "pods" for the core group.
  std::string QualifiedResource() const;
};

// The kind called `kind` ("Deployment"), or kInvalidArgument listing the kinds amlcore knows.
absl::StatusOr<KubeKind> FindKubeKind(absl::string_view kind);

// How failed requests are tried again: attempt n waits initial_backoff * 2^(n-1), at most
// max_backoff, or longer when the server asks (Retry-After); no attempt starts once max_total has
// passed.
struct KubeRetryPolicy {
  int max_attempts = 5;
  absl::Duration initial_backoff = absl::Milliseconds(250);
  absl::Duration max_backoff = absl::Seconds(8);
  absl::Duration max_total = absl::Seconds(60);
};

struct KubeClientOptions {
  std::chrono::milliseconds request_timeout{30000};
  KubeRetryPolicy retry;
  std::string field_manager = "amlcore";
  // Injected by tests so that back-off never waits; absl::SleepFor and absl::Now when empty.
  std::function<void(absl::Duration)> sleep;
  std::function<absl::Time()> now;
  ExecPluginOptions exec;
};

struct ListOptions {
  std::string label_selector;  // "app=web,version!=v1"
  std::string field_selector;  // "status.phase=Running"
  bool all_namespaces = false;
};

struct ApplyOptions {
  // Takes over fields another field manager owns instead of failing with a conflict.
  bool force = false;
};

struct DeleteOptions {
  std::string propagation_policy = "Background";  // Foreground, Background or Orphan
  bool ignore_not_found = false;
};

struct LogOptions {
  std::string container;  // empty: the pod's only container
  std::optional<int64_t> tail_lines;
  bool previous = false;  // the last terminated container's log (after a crash)
};

struct KubeVersion {
  std::string major;
  std::string minor;
  std::string git_version;  // "v1.29.4"
  std::string platform;
};

class KubeClient {
 public:
  // Fails when the context cannot be used (its server URL, TLS material).
  static absl::StatusOr<std::unique_ptr<KubeClient>> Create(KubeContext context,
                                                            KubeClientOptions options = {});
  ~KubeClient();
  KubeClient(const KubeClient&) = delete;
  KubeClient& operator=(const KubeClient&) = delete;

  const KubeContext& context() const;
  // The context's namespace, used when a call names none.
  const std::string& default_namespace() const;

  // An empty namespace means the context's; cluster-scoped kinds ignore it.
  absl::StatusOr<json::bj::object> Get(absl::string_view kind, absl::string_view namespace_name,
                                       absl::string_view name);
  // The List object ("items", "metadata.resourceVersion").
  absl::StatusOr<json::bj::object> List(absl::string_view kind, absl::string_view namespace_name,
                                        const ListOptions& options = {});
  // POSTs `object` (its apiVersion, kind and metadata.namespace say where); returns what the server
  // made.
  absl::StatusOr<json::bj::object> Create(const json::bj::object& object);
  // Server-side apply of `manifest` (apiVersion, kind, metadata.name, maybe metadata.namespace).
  absl::StatusOr<json::bj::object> Apply(const json::bj::object& manifest,
                                         const ApplyOptions& options = {});
  absl::Status Delete(absl::string_view kind, absl::string_view namespace_name,
                      absl::string_view name, const DeleteOptions& options = {});
  absl::StatusOr<std::string> GetLogs(absl::string_view namespace_name, absl::string_view pod,
                                      const LogOptions& options = {});
  absl::StatusOr<KubeVersion> ServerVersion();
  // Whether the API server lets this client's user `verb` `resource` of `group` (empty: core) in
  // `namespace_name` (empty: cluster-wide), by a SelfSubjectAccessReview.
  absl::StatusOr<bool> CanI(absl::string_view verb, absl::string_view group,
                            absl::string_view resource, absl::string_view namespace_name);

  struct Impl;

 private:
  explicit KubeClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace amlcore::kubernetes

#endif  // AMLCORE_BACKEND_KUBERNETES_KUBE_CLIENT_H_
