#include "backend/kubernetes/kube_errors.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/errors.h"
#include "common/json.h"

namespace amlcore::kubernetes {
namespace {
namespace bj = json::bj;

// A body that is not a Status (a proxy's HTML page) is shown, but not at any length.
constexpr size_t kBodyShown = 500;

struct ParsedStatus {
  std::string reason;
  std::string message;
  std::vector<std::string> causes;  // "field: message"
};

ParsedStatus ParseStatusBody(absl::string_view body) {
  ParsedStatus out;
  auto parsed = json::Parse(body);
  if (parsed.ok() && parsed->is_object() &&
      json::GetString(parsed->as_object(), "kind") == "Status") {
    const bj::object& status = parsed->as_object();
    out.reason = json::GetString(status, "reason");
    out.message = json::GetString(status, "message");
    if (const bj::object* details = json::GetObject(status, "details")) {
      if (const bj::value* causes = details->if_contains("causes"); causes && causes->is_array()) {
        for (const bj::value& cause : causes->as_array()) {
          if (!cause.is_object()) continue;
          std::string field = json::GetString(cause.as_object(), "field");
          std::string message = json::GetString(cause.as_object(), "message");
          if (message.empty()) message = json::GetString(cause.as_object(), "reason");
          out.causes.push_back(field.empty() ? message : absl::StrCat(field, ": ", message));
        }
      }
    }
  } else {
    absl::string_view text = absl::StripAsciiWhitespace(body);
    out.message = text.size() > kBodyShown ? absl::StrCat(text.substr(0, kBodyShown), "...")
                                           : std::string(text);
  }
  return out;
}
}  // namespace

std::string KubeRequestSubject::Describe() const {
  std::string out = resource;
  if (!name.empty()) absl::StrAppend(&out, " \"", name, "\"");
  if (!namespace_name.empty()) absl::StrAppend(&out, " in namespace \"", namespace_name, "\"");
  return out;
}

absl::Status KubeStatusError(int http_status, absl::string_view body,
                             const KubeRequestSubject& subject, absl::string_view who) {
  ParsedStatus status = ParseStatusBody(body);
  std::string server_says =
      status.message.empty() ? absl::StrCat("HTTP ", http_status) : status.message;
  std::string target = subject.Describe();
  absl::StatusCode code = StatusCodeFromHttp(http_status);
  std::string message;
  switch (http_status) {
    case 401:
      message =
          absl::StrCat("Kubernetes did not accept the credentials of ", who, " to ", subject.verb,
                       " ", target, ": ", server_says,
                       "; refresh them (for AKS: az aks get-credentials, and az login when the "
                       "kubeconfig uses kubelogin) and try again");
      break;
    case 403:
      message = absl::StrCat(
          "Kubernetes refused to ", subject.verb, " ", target, ": ", server_says,
          "; ask the cluster's administrator for this permission (a Role and RoleBinding) or "
          "use a kubeconfig context that has it");
      break;
    case 404:
      message = absl::StrCat("Kubernetes could not ", subject.verb, " ", target, ": ", server_says);
      break;
    case 409:
      if (status.reason == "AlreadyExists") {
        message = absl::StrCat("Kubernetes could not ", subject.verb, " ", target,
                               ": it already exists (", server_says, ")");
      } else {
        // A stale resourceVersion, or fields another manager owns (server-side apply).
        code = absl::StatusCode::kAborted;
        message = absl::StrCat(
            "Kubernetes could not ", subject.verb, " ", target,
            " because of a conflict: ", server_says,
            status.causes.empty() ? ""
                                  : absl::StrCat(" (", absl::StrJoin(status.causes, "; "), ")"),
            "; read the object again, or apply with force to take the fields over");
      }
      break;
    case 422:
      message =
          absl::StrCat("Kubernetes rejected ", target, " as invalid: ",
                       status.causes.empty() ? server_says : absl::StrJoin(status.causes, "; "));
      break;
    case 429:
      message = absl::StrCat("Kubernetes is throttling requests and did not ", subject.verb, " ",
                             target, ": ", server_says, "; try again later");
      break;
    default:
      if (http_status >= 500) {
        message = absl::StrCat("Kubernetes API server failed to ", subject.verb, " ", target,
                               " (HTTP ", http_status, "): ", server_says);
      } else {
        message = absl::StrCat("Kubernetes refused to ", subject.verb, " ", target, " (HTTP ",
                               http_status, "): ", server_says);
      }
  }
  absl::Status out(code, message);
  out = WithHttpStatus(std::move(out), http_status);
  if (!status.reason.empty()) out = WithErrorCode(std::move(out), status.reason);
  return out;
}

}  // namespace amlcore::kubernetes
