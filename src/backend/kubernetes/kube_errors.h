// Kubernetes API errors as amlcore statuses: the API server answers failures with a Status object
// (reason, message, details.causes); this turns one into an absl::Status whose message says which
// request was refused and why, in terms a user can act on. The code comes from amlcore's one HTTP
// table (common/errors.h), except that a 409 Conflict (a stale write, a field-manager conflict) is
// kAborted rather than kAlreadyExists. Each status carries the HTTP status and the Kubernetes
// reason ("Forbidden", "Invalid") as its error code.
//
//   absl::Status s = KubeStatusError(403, body, {.verb = "create", .resource = "deployments.apps",
//                                                .namespace_name = "ml"}, who);
//   // "Kubernetes refused to create deployments.apps in namespace \"ml\": <server message>; ..."
#ifndef AMLCORE_BACKEND_KUBERNETES_KUBE_ERRORS_H_
#define AMLCORE_BACKEND_KUBERNETES_KUBE_ERRORS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace amlcore::kubernetes {

// What a request was about, in the API server's own words.
struct KubeRequestSubject {
  std::string verb;      // the RBAC verb: get, list, create, patch, delete
  std::string resource;  // resource.group, as RBAC names it: "deployments.apps", "pods", "pods/log"
  std::string name;      // empty for a collection
  std::string namespace_name;  // empty for cluster-scoped resources

  // "deployments.apps \"web\" in namespace \"ml\""
  std::string Describe() const;
};

// `who` names the credentials used ("user \"u\" of kubeconfig context \"c\""), for 401 messages.
absl::Status KubeStatusError(int http_status, absl::string_view body,
                             const KubeRequestSubject& subject, absl::string_view who);

}  // namespace amlcore::kubernetes

#endif  // AMLCORE_BACKEND_KUBERNETES_KUBE_ERRORS_H_
