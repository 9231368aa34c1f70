#include "server/rest_api.h"

#include <chrono>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "common/json.h"

namespace amlcore::server {
namespace {
namespace bj = json::bj;
using Segments = std::vector<std::string>;

constexpr char kProvider[] = "Microsoft.MachineLearningServices";

absl::string_view DefaultErrorCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument: return "ValidationError";
    case absl::StatusCode::kNotFound: return "NotFound";
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted: return "Conflict";
    case absl::StatusCode::kFailedPrecondition: return "PreconditionFailed";
    case absl::StatusCode::kUnauthenticated: return "Unauthorized";
    case absl::StatusCode::kPermissionDenied: return "Forbidden";
    case absl::StatusCode::kResourceExhausted: return "PayloadTooLarge";
    case absl::StatusCode::kUnavailable: return "ServiceUnavailable";
    default: return "InternalError";
  }
}

// Matches `segments` against `pattern`, where "*" captures; literals compare case-insensitively.
bool Match(const Segments& segments, std::initializer_list<absl::string_view> pattern, Segments* captures) {
  if (segments.size() != pattern.size()) return false;
  Segments out;
  size_t i = 0;
  for (absl::string_view p : pattern) {
    if (p == "*") {
      out.push_back(segments[i]);
    } else if (!absl::EqualsIgnoreCase(p, segments[i])) {
      return false;
    }
    ++i;
  }
  *captures = std::move(out);
  return true;
}

http::Response JsonResponse(int status, const bj::value& body) {
  return http::Response::Json(status, json::Serialize(body));
}

http::Response MethodNotAllowed(const http::Request& request, absl::string_view allowed) {
  http::Response r = http::JsonErrorResponse(
      405, "MethodNotAllowed", absl::StrCat(request.method, " is not allowed on ", request.path(), "; use ", allowed, "."));
  r.headers.Set("Allow", allowed);
  return r;
}

bj::object ListOf(bj::array items) { return bj::object{{"value", std::move(items)}, {"nextLink", nullptr}}; }

}  // namespace

http::Response ErrorResponse(const absl::Status& status) {
  std::string code = ErrorCodeOf(status);
  if (code.empty()) code = std::string(DefaultErrorCode(status.code()));
  return http::JsonErrorResponse(HttpStatusFromCode(status.code()), code, status.message());
}

namespace {
// Adds the request id to whatever reply the handler sends.
class TaggingSink : public http::ResponseSink {
 public:
  TaggingSink(http::Responder inner, std::string request_id)
      : inner_(std::move(inner)), request_id_(std::move(request_id)) {}
  void Send(http::Response response) override {
    response.headers.Set("x-ms-request-id", request_id_);
    std::move(inner_)(std::move(response));
  }

 private:
  http::Responder inner_;
  std::string request_id_;
};
}  // namespace

std::optional<http::Response> RestApi::RefuseWithoutAdminToken(const http::Request& head,
                                                                absl::string_view admin_token) {
  auto credential = http::BearerCredential(head.headers);
  if (credential && ConstantTimeEquals(*credential, admin_token)) return std::nullopt;
  http::Response refusal = http::JsonErrorResponse(
      401, "Unauthorized",
      "Missing or wrong admin token. Send 'Authorization: Bearer <token>'; amlcored writes its token to "
      "server.json in its home directory.");
  refusal.headers.Set("x-ms-request-id", RequestId());
  return refusal;
}

void RestApi::Handle(http::Request request, http::Responder reply) {
  http::Responder tagged(std::make_shared<TaggingSink>(std::move(reply), RequestId()));
  if (auto refusal = RefuseWithoutAdminToken(request, admin_token_)) return std::move(tagged)(std::move(*refusal));
  std::string base_url = absl::StrCat("http://", request.headers.Get("Host").value_or("127.0.0.1"));
  Route(request, base_url, std::move(tagged));
}

void RestApi::Route(const http::Request& request, const std::string& base_url, http::Responder reply) {
  Segments segments;
  for (absl::string_view part : absl::StrSplit(request.path(), '/', absl::SkipEmpty())) {
    segments.push_back(http::UrlDecode(part));
  }
  const std::string& method = request.method;
  Segments c;
  auto send = [&](http::Response r) { std::move(reply)(std::move(r)); };
  auto fail = [&](const absl::Status& s) { send(ErrorResponse(s)); };
  bool create_only = request.headers.Get("If-None-Match").value_or("") == "*";

  if (Match(segments, {"health"}, &c)) {
    if (method != "GET") return send(MethodNotAllowed(request, "GET"));
    return send(JsonResponse(200, bj::object{{"status", "Healthy"}}));
  }

  // Resource groups.
  if (Match(segments, {"subscriptions", "*", "resourceGroups", "*"}, &c)) {
    if (method == "PUT") {
      if (auto s = workspaces_->PutResourceGroup(c[0], c[1], request.body); !s.ok()) return fail(s);
      auto group = workspaces_->GetResourceGroup(c[0], c[1]);
      return group.ok() ? send(JsonResponse(200, *group)) : fail(group.status());
    }
    if (method == "GET") {
      auto group = workspaces_->GetResourceGroup(c[0], c[1]);
      return group.ok() ? send(JsonResponse(200, *group)) : fail(group.status());
    }
    return send(MethodNotAllowed(request, "GET, PUT"));
  }

  // Workspace lists: in a resource group, in a subscription, or by name anywhere.
  bool list_in_group =
      Match(segments, {"subscriptions", "*", "resourceGroups", "*", "providers", kProvider, "workspaces"}, &c);
  if (list_in_group || Match(segments, {"subscriptions", "*", "providers", kProvider, "workspaces"}, &c) ||
      Match(segments, {"providers", kProvider, "workspaces"}, &c)) {
    if (method != "GET") return send(MethodNotAllowed(request, "GET"));
    std::string subscription = c.size() > 0 ? c[0] : "";
    std::string group = c.size() > 1 ? c[1] : "";
    auto list = workspaces_->List(subscription, group, request.QueryParam("name").value_or(""));
    if (!list.ok()) return fail(list.status());
    bj::array items;
    for (const auto& w : *list) items.push_back(WorkspaceToJson(w));
    return send(JsonResponse(200, ListOf(std::move(items))));
  }

  // Compute operation status (Azure-AsyncOperation).
  if (Match(segments, {"subscriptions", "*", "providers", kProvider, "locations", "*", "computeOperationsStatus", "*"},
            &c)) {
    if (method != "GET") return send(MethodNotAllowed(request, "GET"));
    return OperationStatus(request, c[2], /*model_management=*/false, std::move(reply));
  }

  // Content-addressed uploads.
  if (Match(segments, {"blobs", "*"}, &c)) return Blobs(request, c[0], std::move(reply));

  // Model management (MMS-shaped): models, environments, services and their operations.
  if (segments.size() >= 10 && absl::EqualsIgnoreCase(segments[0], "modelmanagement") &&
      Match(Segments(segments.begin() + 2, segments.begin() + 10),
            {"subscriptions", "*", "resourceGroups", "*", "providers", kProvider, "workspaces", "*"}, &c)) {
    WorkspaceKey key{c[0], c[1], c[2]};
    Segments rest(segments.begin() + 10, segments.end());
    std::string base = absl::StrCat(base_url, "/", absl::StrJoin(Segments(segments.begin(), segments.begin() + 10), "/"));
    return ModelManagement(request, key, base, rest, std::move(reply));
  }

  // Everything below is inside a workspace.
  static constexpr size_t kWorkspaceDepth = 8;
  if (segments.size() < kWorkspaceDepth ||
      !Match(Segments(segments.begin(), segments.begin() + kWorkspaceDepth),
             {"subscriptions", "*", "resourceGroups", "*", "providers", kProvider, "workspaces", "*"}, &c)) {
    return send(http::JsonErrorResponse(404, "NoRoute", absl::StrCat("No resource at ", request.path(), ".")));
  }
  WorkspaceKey key{c[0], c[1], c[2]};
  Segments rest(segments.begin() + kWorkspaceDepth, segments.end());

  if (rest.empty()) {
    if (method == "PUT") {
      auto result = workspaces_->Put(key, request.body, create_only);
      if (!result.ok()) return fail(result.status());
      return send(JsonResponse(result->created ? 201 : 200, WorkspaceToJson(result->workspace)));
    }
    if (method == "GET") {
      auto ws = workspaces_->Get(key);
      return ws.ok() ? send(JsonResponse(200, WorkspaceToJson(*ws))) : fail(ws.status());
    }
    if (method == "DELETE") {
      auto s = workspaces_->Delete(key);
      return s.ok() ? send(JsonResponse(200, bj::object{})) : fail(s);
    }
    return send(MethodNotAllowed(request, "GET, PUT, DELETE"));
  }

  if (rest.size() == 1 && absl::EqualsIgnoreCase(rest[0], "computes")) {
    if (method != "GET") return send(MethodNotAllowed(request, "GET"));
    auto list = computes_->List(key);
    if (!list.ok()) return fail(list.status());
    bj::array items;
    for (const auto& r : *list) items.push_back(domain::ComputeResourceToJson(r));
    return send(JsonResponse(200, ListOf(std::move(items))));
  }

  if (rest.size() >= 2 && rest.size() <= 3 && absl::EqualsIgnoreCase(rest[0], "computes")) {
    const std::string& name = rest[1];
    if (rest.size() == 3) {
      if (!absl::EqualsIgnoreCase(rest[2], "listKeys")) {
        return send(http::JsonErrorResponse(404, "NoRoute", absl::StrCat("No resource at ", request.path(), ".")));
      }
      if (method != "POST") return send(MethodNotAllowed(request, "POST"));
      auto keys = computes_->ListKeys(key, name);
      return keys.ok() ? send(JsonResponse(200, *keys)) : fail(keys.status());
    }
    auto async_url = [&](const ComputeService::Accepted& a) {
      return absl::StrCat(base_url, "/subscriptions/", key.subscription_id, "/providers/", kProvider, "/locations/",
                          a.location, "/computeOperationsStatus/", a.operation_id);
    };
    if (method == "PUT") {
      auto accepted = computes_->Put(key, name, request.body, create_only);
      if (!accepted.ok()) return fail(accepted.status());
      http::Response r = JsonResponse(accepted->created ? 201 : 200, domain::ComputeResourceToJson(accepted->resource));
      r.headers.Set("Azure-AsyncOperation", async_url(*accepted));
      return send(std::move(r));
    }
    if (method == "GET") {
      auto found = computes_->Get(key, name);
      if (!found.ok()) return fail(found.status());
      http::Response r = JsonResponse(200, domain::ComputeResourceToJson(found->resource));
      // Lets a client that only looked the target up wait for the operation in progress.
      if (!found->operation_id.empty()) r.headers.Set("Azure-AsyncOperation", async_url(*found));
      return send(std::move(r));
    }
    if (method == "DELETE") {
      auto action = request.QueryParam("underlyingResourceAction");
      if (!action) {
        return fail(MakeError(absl::StatusCode::kInvalidArgument, "ValidationError",
                              "The query parameter underlyingResourceAction is required: \"delete\" or \"detach\"."));
      }
      auto accepted = computes_->Delete(key, name, *action);
      if (!accepted.ok()) return fail(accepted.status());
      http::Response r = JsonResponse(202, domain::ComputeResourceToJson(accepted->resource));
      r.headers.Set("Azure-AsyncOperation", async_url(*accepted));
      return send(std::move(r));
    }
    return send(MethodNotAllowed(request, "GET, PUT, DELETE"));
  }

  return send(http::JsonErrorResponse(404, "NoRoute", absl::StrCat("No resource at ", request.path(), ".")));
}

void RestApi::OperationStatus(const http::Request& request, const std::string& operation_id, bool model_management,
                              http::Responder reply) {
  auto op = operations_->Get(operation_id);
  if (!op.ok()) return std::move(reply)(ErrorResponse(op.status()));
  int64_t wait_seconds = 0;
  int64_t seen_version = -1;
  if (auto w = request.QueryParam("waitSeconds")) {
    if (!absl::SimpleAtoi(*w, &wait_seconds) || wait_seconds < 0 || wait_seconds > 60) {
      return std::move(reply)(ErrorResponse(MakeError(absl::StatusCode::kInvalidArgument, "ValidationError",
                                                      "waitSeconds must be an integer from 0 to 60.")));
    }
  }
  if (auto v = request.QueryParam("version")) (void)absl::SimpleAtoi(*v, &seen_version);
  WebserviceService* webservices = webservices_;
  auto respond = [webservices, model_management](const OperationRecord& record, http::Responder r) {
    if (!model_management) {
      return std::move(r)(
          JsonResponse(200, domain::AsyncOperationStatusToJson(ComputeService::ToAsyncStatus(record))));
    }
    auto document = webservices->OperationDocument(record);
    std::move(r)(document.ok() ? JsonResponse(200, *document) : ErrorResponse(document.status()));
  };
  if (wait_seconds == 0 || op->done() || op->version != seen_version) return respond(*op, std::move(reply));

  // Long poll: answer when the operation changes or the wait ends, whichever is first.
  auto shared = std::make_shared<http::Responder>(std::move(reply));
  Operations* operations = operations_;
  operations_->notifier().Wait(operation_id, ChangeNotifier::Clock::now() + std::chrono::seconds(wait_seconds),
                  [operations, operation_id, shared, respond] {
                    auto latest = operations->Get(operation_id);
                    if (!latest.ok()) return std::move(*shared)(ErrorResponse(latest.status()));
                    respond(*latest, std::move(*shared));
                  });
  auto again = operations_->Get(operation_id);
  if (!again.ok() || again->version != seen_version) operations_->notifier().Notify(operation_id);
}

void RestApi::Blobs(const http::Request& request, const std::string& sha256, http::Responder reply) {
  if (!BlobStore::IsSha256(sha256)) {
    return std::move(reply)(ErrorResponse(MakeError(absl::StatusCode::kInvalidArgument, "ValidationError",
                                                    absl::StrCat("'", sha256, "' is not a SHA-256 (64 lowercase hex digits)."))));
  }
  if (request.method == "PUT") {
    auto s = blobs_->Put(sha256, request.body);
    return std::move(reply)(s.ok() ? JsonResponse(200, bj::object{{"sha256", sha256}, {"size", request.body.size()}})
                                   : ErrorResponse(s));
  }
  if (request.method == "HEAD") {
    http::Response r;
    r.status = blobs_->Exists(sha256) ? 200 : 404;
    return std::move(reply)(std::move(r));
  }
  if (request.method == "GET") {
    auto data = blobs_->Read(sha256);
    if (!data.ok()) return std::move(reply)(ErrorResponse(data.status()));
    http::Response r;
    r.headers.Set("Content-Type", "application/octet-stream");
    r.body = std::move(*data);
    return std::move(reply)(std::move(r));
  }
  std::move(reply)(MethodNotAllowed(request, "GET, HEAD, PUT"));
}

namespace {
std::vector<std::string> SplitList(const std::optional<std::string>& value) {
  std::vector<std::string> out;
  if (!value) return out;
  for (absl::string_view part : absl::StrSplit(*value, ',', absl::SkipEmpty())) out.emplace_back(part);
  return out;
}
}  // namespace

void RestApi::ModelManagement(const http::Request& request, const WorkspaceKey& key, const std::string& base,
                              const std::vector<std::string>& rest, http::Responder reply) {
  const std::string& method = request.method;
  auto send = [&](http::Response r) { std::move(reply)(std::move(r)); };
  auto fail = [&](const absl::Status& s) { send(ErrorResponse(s)); };
  auto accepted = [&](const WebserviceService::Accepted& a, int status) {
    http::Response r = JsonResponse(status, a.resource);
    r.headers.Set("Operation-Location", absl::StrCat(base, "/operations/", a.operation_id));
    send(std::move(r));
  };
  auto is = [&](size_t i, absl::string_view word) { return rest.size() > i && absl::EqualsIgnoreCase(rest[i], word); };
  if (rest.empty()) return send(http::JsonErrorResponse(404, "NoRoute", absl::StrCat("No resource at ", request.path(), ".")));

  if (is(0, "models")) {
    if (rest.size() == 1) {
      if (method == "POST") {
        auto model = models_->Register(key, request.body);
        return model.ok() ? send(JsonResponse(200, domain::ModelToJson(*model))) : fail(model.status());
      }
      if (method != "GET") return send(MethodNotAllowed(request, "GET, POST"));
      ModelQuery query{request.QueryParam("name").value_or(""), SplitList(request.QueryParam("tags")),
                       SplitList(request.QueryParam("properties")),
                       request.QueryParam("latestVersionOnly").value_or("") == "true"};
      auto models = models_->List(key, query);
      if (!models.ok()) return fail(models.status());
      bj::array items;
      for (const auto& m : *models) items.push_back(domain::ModelToJson(m));
      return send(JsonResponse(200, ListOf(std::move(items))));
    }
    if (rest.size() == 2) {
      if (method == "GET") {
        auto model = models_->Get(key, rest[1]);
        return model.ok() ? send(JsonResponse(200, domain::ModelToJson(*model))) : fail(model.status());
      }
      if (method == "DELETE") {
        auto s = models_->Delete(key, rest[1]);
        return s.ok() ? send(JsonResponse(200, bj::object{})) : fail(s);
      }
      return send(MethodNotAllowed(request, "GET, DELETE"));
    }
  }

  if (is(0, "environments")) {
    if (rest.size() == 1) {
      if (method == "POST") {
        auto env = models_->RegisterEnvironment(key, request.body);
        return env.ok() ? send(JsonResponse(200, *env)) : fail(env.status());
      }
      if (method != "GET") return send(MethodNotAllowed(request, "GET, POST"));
      auto all = models_->ListEnvironments(key);
      return all.ok() ? send(JsonResponse(200, ListOf(std::move(*all)))) : fail(all.status());
    }
    if (rest.size() == 2) {
      if (method != "GET") return send(MethodNotAllowed(request, "GET"));
      int64_t version = 0;
      if (auto v = request.QueryParam("version"); v && !absl::SimpleAtoi(*v, &version)) {
        return fail(MakeError(absl::StatusCode::kInvalidArgument, "ValidationError", "version must be a number."));
      }
      auto env = models_->GetEnvironment(key, rest[1], version);
      return env.ok() ? send(JsonResponse(200, *env)) : fail(env.status());
    }
  }

  if (is(0, "operations") && rest.size() == 2) {
    if (method != "GET") return send(MethodNotAllowed(request, "GET"));
    return OperationStatus(request, rest[1], /*model_management=*/true, std::move(reply));
  }

  if (is(0, "services")) {
    if (rest.size() == 1) {
      if (method == "POST") {
        auto created = webservices_->Create(key, request.body);
        return created.ok() ? accepted(*created, 202) : fail(created.status());
      }
      if (method != "GET") return send(MethodNotAllowed(request, "GET, POST"));
      ServiceQuery query{request.QueryParam("computeType").value_or(""), request.QueryParam("modelName").value_or(""),
                         SplitList(request.QueryParam("tags")), SplitList(request.QueryParam("properties"))};
      auto all = webservices_->List(key, query);
      return all.ok() ? send(JsonResponse(200, ListOf(std::move(*all)))) : fail(all.status());
    }
    const std::string& name = rest[1];
    if (rest.size() == 2) {
      if (method == "GET") {
        auto service = webservices_->Get(key, name);
        return service.ok() ? send(JsonResponse(200, *service)) : fail(service.status());
      }
      if (method == "PATCH") {
        auto updated = webservices_->Update(key, name, request.body);
        return updated.ok() ? accepted(*updated, 202) : fail(updated.status());
      }
      if (method == "DELETE") {
        auto deleted = webservices_->Delete(key, name);
        return deleted.ok() ? accepted(*deleted, 202) : fail(deleted.status());
      }
      return send(MethodNotAllowed(request, "GET, PATCH, DELETE"));
    }
    if (rest.size() == 3 && is(2, "listkeys")) {
      if (method != "POST") return send(MethodNotAllowed(request, "POST"));
      auto keys = webservices_->ListKeys(key, name);
      return keys.ok() ? send(JsonResponse(200, *keys)) : fail(keys.status());
    }
    if (rest.size() == 3 && is(2, "regenerateKeys")) {
      if (method != "POST") return send(MethodNotAllowed(request, "POST"));
      auto keys = webservices_->RegenerateKey(key, name, request.body);
      return keys.ok() ? send(JsonResponse(200, *keys)) : fail(keys.status());
    }
    if (rest.size() == 3 && is(2, "logs")) {
      if (method != "GET") return send(MethodNotAllowed(request, "GET"));
      int64_t tail = 5000;
      if (auto t = request.QueryParam("tail"); t && (!absl::SimpleAtoi(*t, &tail) || tail <= 0)) {
        return fail(MakeError(absl::StatusCode::kInvalidArgument, "ValidationError",
                              "tail must be a positive number of lines."));
      }
      bool init = request.QueryParam("init").value_or("") == "true";
      auto logs = webservices_->Logs(key, name, tail, init);
      return logs.ok() ? send(JsonResponse(200, bj::object{{"content", *logs}})) : fail(logs.status());
    }
    if (rest.size() == 3 && is(2, "token")) {
      if (method != "POST") return send(MethodNotAllowed(request, "POST"));
      auto service = webservices_->Get(key, name);
      if (!service.ok()) return fail(service.status());
      return fail(MakeError(absl::StatusCode::kFailedPrecondition, "TokenAuthNotEnabled",
                            absl::StrCat("Token authentication is not enabled for service ", name, ".")));
    }
  }
  send(http::JsonErrorResponse(404, "NoRoute", absl::StrCat("No resource at ", request.path(), ".")));
}

}  // namespace amlcore::server
