#include "server/rest_api.h"

#include <chrono>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
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

void RestApi::Handle(http::Request request, http::Responder reply) {
  http::Responder tagged(std::make_shared<TaggingSink>(std::move(reply), Uuid4()));
  auto header = request.headers.Get("Authorization");
  absl::string_view credential = header.value_or("");
  if (!absl::ConsumePrefix(&credential, "Bearer ") || !ConstantTimeEquals(credential, admin_token_)) {
    return std::move(tagged)(http::JsonErrorResponse(
        401, "Unauthorized",
        "Missing or wrong admin token. Send 'Authorization: Bearer <token>'; amlcored writes its token to "
        "server.json in its home directory."));
  }
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
    return OperationStatus(request, c[2], std::move(reply));
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

void RestApi::OperationStatus(const http::Request& request, const std::string& operation_id,
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
  auto respond = [](const OperationRecord& record, http::Responder r) {
    std::move(r)(JsonResponse(200, domain::AsyncOperationStatusToJson(ComputeService::ToAsyncStatus(record))));
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

}  // namespace amlcore::server
