#include "backend/kubernetes/kube_client.h"

#include <algorithm>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "amlcore/version.h"
#include "backend/kubernetes/kube_errors.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/http_client.h"
#include "common/http_types.h"

namespace amlcore::kubernetes {
namespace {
namespace bj = json::bj;

// The kinds amlcore reads or writes. Events are read from the core group, as kubectl describe does.
constexpr KubeKind kKinds[] = {
    {"Namespace", "", "v1", "namespaces", false},
    {"Node", "", "v1", "nodes", false},
    {"Pod", "", "v1", "pods", true},
    {"Service", "", "v1", "services", true},
    {"Secret", "", "v1", "secrets", true},
    {"ConfigMap", "", "v1", "configmaps", true},
    {"Endpoints", "", "v1", "endpoints", true},
    {"Event", "", "v1", "events", true},
    {"ServiceAccount", "", "v1", "serviceaccounts", true},
    {"Role", "rbac.authorization.k8s.io", "v1", "roles", true},
    {"RoleBinding", "rbac.authorization.k8s.io", "v1", "rolebindings", true},
    {"Deployment", "apps", "v1", "deployments", true},
    {"ReplicaSet", "apps", "v1", "replicasets", true},
    {"HorizontalPodAutoscaler", "autoscaling", "v2", "horizontalpodautoscalers", true},
    {"SelfSubjectAccessReview", "authorization.k8s.io", "v1", "selfsubjectaccessreviews", false},
};

constexpr char kUserAgent[] = "amlcore/" AMLCORE_VERSION_STRING;

// One request, before authentication and retries.
struct Call {
  std::string method;
  std::string path;  // below the server URL's own path
  std::vector<std::pair<std::string, std::string>> query;
  std::string body;
  std::string content_type;
  std::string accept = "application/json";
  KubeRequestSubject subject;
};

std::string Query(const std::vector<std::pair<std::string, std::string>>& params) {
  std::vector<std::string> parts;
  for (const auto& [name, value] : params)
    parts.push_back(absl::StrCat(name, "=", http::UrlEncode(value)));
  return parts.empty() ? std::string() : absl::StrCat("?", absl::StrJoin(parts, "&"));
}

// A Retry-After header: delay-seconds or an HTTP date.
std::optional<absl::Duration> RetryAfter(const http::Headers& headers, absl::Time now) {
  auto value = headers.Get("Retry-After");
  if (!value) return std::nullopt;
  absl::string_view text = absl::StripAsciiWhitespace(*value);
  int64_t seconds;
  if (absl::SimpleAtoi(text, &seconds)) return absl::Seconds(std::max<int64_t>(seconds, 0));
  absl::Time when;
  std::string error;
  if (absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", std::string(text), &when, &error)) {
    return std::max(when - now, absl::ZeroDuration());
  }
  return std::nullopt;
}

std::string Seconds(absl::Duration d) { return absl::StrCat(absl::ToDoubleSeconds(d), " s"); }
}  // namespace

std::string KubeKind::ApiVersion() const {
  return group.empty() ? std::string(version) : absl::StrCat(group, "/", version);
}

std::string KubeKind::QualifiedResource() const {
  return group.empty() ? std::string(resource) : absl::StrCat(resource, ".", group);
}

absl::StatusOr<KubeKind> FindKubeKind(absl::string_view kind) {
  for (const KubeKind& known : kKinds) {
    if (known.kind == kind) return known;
  }
  std::vector<std::string> names;
  for (const KubeKind& known : kKinds) names.emplace_back(known.kind);
  return absl::InvalidArgumentError(absl::StrCat("Kubernetes kind \"", kind,
                                                 "\" is not one amlcore uses; it knows ",
                                                 absl::StrJoin(names, ", ")));
}

struct KubeClient::Impl {
  KubeContext context;
  KubeClientOptions options;
  http::Url server;
  std::unique_ptr<ExecCredentialSource> exec;
  std::string who;

  std::mutex mu;
  // Replaced when an exec plugin hands out a different client certificate.
  std::shared_ptr<http::Client> transport;
  std::string transport_certificate;

  absl::Time Now() const { return options.now ? options.now() : absl::Now(); }
  void Sleep(absl::Duration d) const {
    if (options.sleep) {
      options.sleep(d);
    } else {
      absl::SleepFor(d);
    }
  }

  std::shared_ptr<http::Client> Transport(const std::string& certificate_pem,
                                          const std::string& key_pem) {
    std::lock_guard lock(mu);
    if (transport && transport_certificate == certificate_pem) return transport;
    std::optional<http::ClientTls> tls;
    if (server.scheme == "https") {
      tls = http::ClientTls{
          .server_name = context.cluster.tls_server_name,
          .ca_pem = context.cluster.certificate_authority_pem,
          // A kubeconfig's CA replaces the system's: it is the cluster's own.
          .system_trust = context.cluster.certificate_authority_pem.empty(),
          .client_certificate_pem = certificate_pem,
          .client_key_pem = key_pem,
          .skip_verification = context.cluster.insecure_skip_tls_verify,
      };
    }
    transport = std::make_shared<http::Client>(server.host, server.port, std::move(tls));
    transport_certificate = certificate_pem;
    return transport;
  }

  // The Authorization header and the transport for the next attempt.
  struct Credentials {
    std::string authorization;
    std::shared_ptr<http::Client> transport;
    std::optional<ExecCredential> exec_credential;
  };

  absl::StatusOr<Credentials> Authenticate(bool refresh,
                                           const std::optional<ExecCredential>& rejected) {
    const KubeUser& user = context.user;
    Credentials out;
    std::string certificate = user.client_certificate_pem;
    std::string key = user.client_key_pem;
    if (exec) {
      auto credential = refresh && rejected ? exec->Refresh(*rejected) : exec->Get();
      if (!credential.ok()) return credential.status();
      if (!credential->token.empty())
        out.authorization = absl::StrCat("Bearer ", credential->token);
      if (!credential->client_certificate_pem.empty()) {
        certificate = credential->client_certificate_pem;
        key = credential->client_key_pem;
      }
      out.exec_credential = *std::move(credential);
    } else if (!user.token_file.empty()) {
      auto token = ReadFile(user.token_file);
      if (!token.ok() && user.token.empty()) {
        return absl::FailedPreconditionError(
            absl::StrCat("Kubernetes token file ", user.token_file, " of ", who,
                         " cannot be read: ", token.status().message()));
      }
      out.authorization = absl::StrCat(
          "Bearer ", token.ok() ? std::string(absl::StripAsciiWhitespace(*token)) : user.token);
    } else if (!user.token.empty()) {
      out.authorization = absl::StrCat("Bearer ", user.token);
    } else if (!user.username.empty()) {
      out.authorization = absl::StrCat(
          "Basic ", absl::Base64Escape(absl::StrCat(user.username, ":", user.password)));
    }
    out.transport = Transport(certificate, key);
    return out;
  }

  static bool Retryable(int status) { return status == 429 || (status >= 500 && status != 501); }

  absl::StatusOr<http::Response> Execute(const Call& call) {
    const KubeRetryPolicy& policy = options.retry;
    absl::Time start = Now();
    bool refreshed = false;
    std::optional<ExecCredential> rejected;
    std::string target = absl::StrCat(server.path, call.path, Query(call.query));
    for (int attempt = 1;; ++attempt) {
      auto credentials = Authenticate(refreshed, rejected);
      if (!credentials.ok()) {
        return WithMessage(credentials.status(), absl::StrCat("Kubernetes ", call.subject.verb, " ",
                                                              call.subject.Describe(), ": ",
                                                              credentials.status().message()));
      }
      http::Request request{.method = call.method, .target = target, .body = call.body};
      request.headers.Set("Accept", call.accept);
      request.headers.Set("User-Agent", kUserAgent);
      if (!call.content_type.empty()) request.headers.Set("Content-Type", call.content_type);
      if (!credentials->authorization.empty())
        request.headers.Set("Authorization", credentials->authorization);
      auto response =
          credentials->transport->Send(std::move(request), {.timeout = options.request_timeout});

      // What went wrong with this attempt, and whether another may help.
      absl::Status failure;
      std::optional<absl::Duration> asked_delay;
      if (!response.ok()) {
        const absl::Status& sent = response.status();
        std::string error_code = ErrorCodeOf(sent);
        // Certainly not sent: a refused connection, or a handshake that broke (not one that was
        // distrusted).
        bool not_sent =
            error_code == http::kConnectFailed || (error_code == http::kTlsHandshakeFailed &&
                                                   sent.code() == absl::StatusCode::kUnavailable);
        // A lost answer to a read can be asked for again; a write might have happened.
        bool repeatable =
            not_sent || (call.method == "GET" && sent.code() == absl::StatusCode::kUnavailable);
        failure =
            WithMessage(sent, absl::StrCat("Kubernetes API server ", context.cluster.server,
                                           " could not be reached to ", call.subject.verb, " ",
                                           call.subject.Describe(), ": ", sent.message()));
        if (!repeatable) return failure;
      } else if (response->status >= 200 && response->status < 300) {
        return response;
      } else if (response->status == 401 && exec && !refreshed) {
        // The cached credential may have been revoked before its expiry: ask the plugin once more.
        refreshed = true;
        rejected = credentials->exec_credential;
        continue;
      } else {
        failure = KubeStatusError(response->status, response->body, call.subject, who);
        if (!Retryable(response->status)) return failure;
        asked_delay = RetryAfter(response->headers, Now());
      }

      absl::Duration backoff = policy.initial_backoff;
      for (int i = 1; i < attempt && backoff < policy.max_backoff; ++i) backoff *= 2;
      backoff = std::min(backoff, policy.max_backoff);
      absl::Duration delay = asked_delay ? std::max(*asked_delay, backoff) : backoff;
      absl::Duration elapsed = Now() - start;
      std::string attempts = absl::StrCat(attempt, attempt == 1 ? " attempt" : " attempts");
      if (attempt >= policy.max_attempts) {
        return WithMessage(failure,
                           absl::StrCat(failure.message(), " (gave up after ", attempts, ")"));
      }
      if (elapsed + delay > policy.max_total) {
        return WithMessage(
            failure, absl::StrCat(failure.message(), " (gave up after ", attempts, ": ",
                                  asked_delay ? "the server asked to wait " : "the next wait of ",
                                  Seconds(delay), ", which would pass the ",
                                  Seconds(policy.max_total), " allowed)"));
      }
      Sleep(delay);
    }
  }

  absl::StatusOr<bj::object> ExecuteForObject(const Call& call) {
    auto response = Execute(call);
    if (!response.ok()) return response.status();
    auto object = json::ParseObject(response->body, "Kubernetes response");
    if (!object.ok()) {
      return absl::InternalError(absl::StrCat(
          "Kubernetes ", call.subject.verb, " ", call.subject.Describe(),
          " answered with something that is not a JSON object: ", object.status().message()));
    }
    return object;
  }

  std::string NamespaceOrDefault(absl::string_view namespace_name) const {
    return namespace_name.empty() ? context.namespace_name : std::string(namespace_name);
  }

  // /api/v1/namespaces/ml/pods/web, /apis/apps/v1/deployments, ...
  static std::string Path(const KubeKind& kind, absl::string_view namespace_name,
                          absl::string_view name, absl::string_view subresource = "") {
    std::string path =
        kind.group.empty() ? "/api/v1" : absl::StrCat("/apis/", kind.group, "/", kind.version);
    if (kind.namespaced && !namespace_name.empty()) {
      absl::StrAppend(&path, "/namespaces/", http::UrlEncode(namespace_name));
    }
    absl::StrAppend(&path, "/", kind.resource);
    if (!name.empty()) absl::StrAppend(&path, "/", http::UrlEncode(name));
    if (!subresource.empty()) absl::StrAppend(&path, "/", subresource);
    return path;
  }

  KubeRequestSubject Subject(const KubeKind& kind, absl::string_view verb,
                             absl::string_view namespace_name, absl::string_view name) const {
    return {.verb = std::string(verb),
            .resource = kind.QualifiedResource(),
            .name = std::string(name),
            .namespace_name = kind.namespaced ? std::string(namespace_name) : std::string()};
  }

  // Where a manifest goes: its kind (checked against its apiVersion), namespace and name.
  struct Placement {
    KubeKind kind;
    std::string namespace_name;
    std::string name;
  };
  absl::StatusOr<Placement> Place(const bj::object& manifest, absl::string_view operation,
                                  bool need_name) const {
    std::string kind_name = json::GetString(manifest, "kind");
    std::string api_version = json::GetString(manifest, "apiVersion");
    auto kind = FindKubeKind(kind_name);
    if (!kind.ok())
      return WithMessage(kind.status(), absl::StrCat(operation, ": ", kind.status().message()));
    if (api_version != kind->ApiVersion()) {
      return absl::InvalidArgumentError(
          absl::StrCat(operation, ": a ", kind_name, " manifest must have apiVersion ",
                       kind->ApiVersion(), ", not \"", api_version, "\""));
    }
    Placement placement{.kind = *kind};
    if (const bj::object* metadata = json::GetObject(manifest, "metadata")) {
      placement.name = json::GetString(*metadata, "name");
      placement.namespace_name = json::GetString(*metadata, "namespace");
    }
    if (need_name && placement.name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(operation, ": the ", kind_name, " manifest has no metadata.name"));
    }
    if (kind->namespaced) {
      if (placement.namespace_name.empty()) placement.namespace_name = context.namespace_name;
    } else {
      placement.namespace_name.clear();
    }
    return placement;
  }
};

KubeClient::KubeClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KubeClient::~KubeClient() = default;

absl::StatusOr<std::unique_ptr<KubeClient>> KubeClient::Create(KubeContext context,
                                                               KubeClientOptions options) {
  auto server = http::ParseUrl(context.cluster.server);
  if (!server) {
    return absl::InvalidArgumentError(absl::StrCat(
        "kubeconfig ", context.file, ": cluster \"", context.cluster.name, "\": server \"",
        context.cluster.server, "\" is not an http:// or https:// URL"));
  }
  auto impl = std::make_unique<Impl>();
  impl->who = absl::StrCat("user \"", context.user.name, "\" of kubeconfig context \"",
                           context.name, "\" (", context.file, ")");
  impl->server = *std::move(server);
  if (!options.exec.now) options.exec.now = options.now;  // one clock for expiry and back-off
  if (context.user.exec) impl->exec = std::make_unique<ExecCredentialSource>(context, options.exec);
  impl->context = std::move(context);
  impl->options = std::move(options);
  // Bad TLS material is reported now, naming where it came from, rather than as a failure of the
  // first call.
  auto transport =
      impl->Transport(impl->context.user.client_certificate_pem, impl->context.user.client_key_pem);
  if (absl::Status tls = transport->CheckTls(); !tls.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "kubeconfig ", impl->context.file, ": context \"", impl->context.name, "\" (cluster \"",
        impl->context.cluster.name, "\", user \"", impl->context.user.name,
        "\") has TLS material that cannot be used: ", tls.message()));
  }
  return std::unique_ptr<KubeClient>(new KubeClient(std::move(impl)));
}

const KubeContext& KubeClient::context() const { return impl_->context; }
const std::string& KubeClient::default_namespace() const { return impl_->context.namespace_name; }

absl::StatusOr<bj::object> KubeClient::Get(absl::string_view kind_name,
                                           absl::string_view namespace_name,
                                           absl::string_view name) {
  auto kind = FindKubeKind(kind_name);
  if (!kind.ok()) return kind.status();
  std::string ns = impl_->NamespaceOrDefault(namespace_name);
  return impl_->ExecuteForObject({.method = "GET",
                                  .path = Impl::Path(*kind, ns, name),
                                  .subject = impl_->Subject(*kind, "get", ns, name)});
}

absl::StatusOr<bj::object> KubeClient::List(absl::string_view kind_name,
                                            absl::string_view namespace_name,
                                            const ListOptions& options) {
  auto kind = FindKubeKind(kind_name);
  if (!kind.ok()) return kind.status();
  std::string ns =
      options.all_namespaces ? std::string() : impl_->NamespaceOrDefault(namespace_name);
  Call call{.method = "GET",
            .path = Impl::Path(*kind, ns, ""),
            .subject = impl_->Subject(*kind, "list", ns, "")};
  if (!options.label_selector.empty())
    call.query.emplace_back("labelSelector", options.label_selector);
  if (!options.field_selector.empty())
    call.query.emplace_back("fieldSelector", options.field_selector);
  return impl_->ExecuteForObject(call);
}

absl::StatusOr<bj::object> KubeClient::Create(const bj::object& object) {
  auto placement = impl_->Place(object, "Kubernetes create", /*need_name=*/false);
  if (!placement.ok()) return placement.status();
  return impl_->ExecuteForObject(
      {.method = "POST",
       .path = Impl::Path(placement->kind, placement->namespace_name, ""),
       .query = {{"fieldManager", impl_->options.field_manager}},
       .body = json::Serialize(object),
       .content_type = "application/json",
       .subject =
           impl_->Subject(placement->kind, "create", placement->namespace_name, placement->name)});
}

absl::StatusOr<bj::object> KubeClient::Apply(const bj::object& manifest,
                                             const ApplyOptions& options) {
  auto placement = impl_->Place(manifest, "Kubernetes apply", /*need_name=*/true);
  if (!placement.ok()) return placement.status();
  Call call{.method = "PATCH",
            .path = Impl::Path(placement->kind, placement->namespace_name, placement->name),
            .query = {{"fieldManager", impl_->options.field_manager}},
            // JSON is YAML: the apply content type takes it as it is.
            .body = json::Serialize(manifest),
            .content_type = "application/apply-patch+yaml",
            .subject = impl_->Subject(placement->kind, "patch", placement->namespace_name,
                                      placement->name)};
  if (options.force) call.query.emplace_back("force", "true");
  return impl_->ExecuteForObject(call);
}

absl::Status KubeClient::Delete(absl::string_view kind_name, absl::string_view namespace_name,
                                absl::string_view name, const DeleteOptions& options) {
  auto kind = FindKubeKind(kind_name);
  if (!kind.ok()) return kind.status();
  if (name.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Kubernetes delete ", kind->QualifiedResource(),
                     ": no name given (amlcore deletes objects one by one)"));
  }
  std::string ns = impl_->NamespaceOrDefault(namespace_name);
  // A DeleteOptions body as kubectl sends it: the API server needs no apiVersion or kind for it.
  bj::object body;
  if (!options.propagation_policy.empty()) body["propagationPolicy"] = options.propagation_policy;
  auto response = impl_->Execute({.method = "DELETE",
                                  .path = Impl::Path(*kind, ns, name),
                                  .body = json::Serialize(body),
                                  .content_type = "application/json",
                                  .subject = impl_->Subject(*kind, "delete", ns, name)});
  if (!response.ok() && options.ignore_not_found &&
      response.status().code() == absl::StatusCode::kNotFound) {
    return absl::OkStatus();
  }
  return response.status();
}

absl::StatusOr<std::string> KubeClient::GetLogs(absl::string_view namespace_name,
                                                absl::string_view pod, const LogOptions& options) {
  auto kind = FindKubeKind("Pod");
  std::string ns = impl_->NamespaceOrDefault(namespace_name);
  KubeRequestSubject subject = impl_->Subject(*kind, "get", ns, pod);
  subject.resource = "pods/log";
  Call call{.method = "GET",
            .path = Impl::Path(*kind, ns, pod, "log"),
            .accept = "*/*",
            .subject = subject};
  if (!options.container.empty()) call.query.emplace_back("container", options.container);
  if (options.tail_lines) call.query.emplace_back("tailLines", absl::StrCat(*options.tail_lines));
  if (options.previous) call.query.emplace_back("previous", "true");
  auto response = impl_->Execute(call);
  if (!response.ok()) return response.status();
  return std::move(response->body);
}

absl::StatusOr<KubeVersion> KubeClient::ServerVersion() {
  auto object =
      impl_->ExecuteForObject({.method = "GET",
                               .path = "/version",
                               .subject = {.verb = "get", .resource = "the server version"}});
  if (!object.ok()) return object.status();
  KubeVersion version{.major = json::GetString(*object, "major"),
                      .minor = json::GetString(*object, "minor"),
                      .git_version = json::GetString(*object, "gitVersion"),
                      .platform = json::GetString(*object, "platform")};
  if (version.git_version.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("Kubernetes API server ", impl_->context.cluster.server,
                     " answered /version without a gitVersion; is it a "
                     "Kubernetes API server?"));
  }
  return version;
}

absl::StatusOr<bool> KubeClient::CanI(absl::string_view verb, absl::string_view group,
                                      absl::string_view resource,
                                      absl::string_view namespace_name) {
  bj::object attributes{
      {"verb", json::Bj(verb)}, {"group", json::Bj(group)}, {"resource", json::Bj(resource)}};
  if (!namespace_name.empty()) attributes["namespace"] = json::Bj(namespace_name);
  bj::object review{{"apiVersion", "authorization.k8s.io/v1"},
                    {"kind", "SelfSubjectAccessReview"},
                    {"spec", {{"resourceAttributes", std::move(attributes)}}}};
  auto answer = Create(review);
  if (!answer.ok()) return answer.status();
  const bj::object* status = json::GetObject(*answer, "status");
  return status != nullptr && json::GetBool(*status, "allowed");
}

}  // namespace amlcore::kubernetes
