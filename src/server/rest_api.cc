#include "server/rest_api.h"

#include <chrono>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "common/json.h"
#include "common/json_fields.h"
#include "domain/operation_wire.h"
#include "server/request_checks.h"

namespace amlcore::server {
namespace {
namespace bj = json::bj;
using http::PathParams;
using http::Request;
using http::Responder;

// Path prefixes of the two API families.
constexpr char kWorkspace[] =
    "subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{ws}";
constexpr char kModelManagement[] =
    "modelmanagement/{api}/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/"
    "workspaces/{ws}";
// Datastores and datasets, under their Azure service prefixes.
constexpr char kDatastores[] =
    "datastore/{api}/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/"
    "workspaces/{ws}";
constexpr char kDatasets[] =
    "dataset/{api}/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/"
    "workspaces/{ws}";
constexpr char kProvider[] = "Microsoft.MachineLearningServices";
constexpr char kAdmin[] = "admin";

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

http::Response JsonResponse(int status, const bj::value& body) {
  return http::Response::Json(status, json::Serialize(body));
}

bj::object ListOf(bj::array items) { return bj::object{{"value", std::move(items)}, {"nextLink", nullptr}}; }

WorkspaceKey KeyOf(const PathParams& p) { return WorkspaceKey{p["sub"], p["rg"], p["ws"]}; }

std::vector<std::string> SplitList(const std::optional<std::string>& value) {
  std::vector<std::string> out;
  if (!value) return out;
  for (absl::string_view part : absl::StrSplit(*value, ',', absl::SkipEmpty())) out.emplace_back(part);
  return out;
}

// The base URL clients reached this server at, for the operation URLs it hands out.
std::string BaseUrl(const Request& request) {
  return absl::StrCat("http://", request.headers.Get("Host").value_or("127.0.0.1"));
}

// Sends `value`'s JSON with `status`, or the error of a failed call.
template <class T>
void Reply(Responder reply, const absl::StatusOr<T>& value, int status = 200) {
  std::move(reply)(value.ok() ? JsonResponse(status, bj::value(*value)) : ErrorResponse(value.status()));
}
// Sends the JSON of a struct that lists its JsonFields, or the error of a failed call.
template <class T>
void ReplyEncoded(Responder reply, const absl::StatusOr<T>& value) {
  std::move(reply)(value.ok() ? JsonResponse(200, json::Encode(*value)) : ErrorResponse(value.status()));
}
void Reply(Responder reply, const absl::Status& status) {
  std::move(reply)(status.ok() ? JsonResponse(200, bj::object{}) : ErrorResponse(status));
}

}  // namespace

http::Response ErrorResponse(const absl::Status& status) {
  std::string code = ErrorCodeOf(status);
  if (code.empty()) code = std::string(DefaultErrorCode(status.code()));
  return http::JsonErrorResponse(HttpStatusFromCode(status.code()), code, status.message());
}

RestApi::RestApi(std::string admin_token, Services services)
    : admin_token_(std::move(admin_token)),
      workspaces_(services.workspaces),
      computes_(services.computes),
      models_(services.models),
      data_(services.data),
      webservices_(services.webservices),
      operations_(services.operations),
      blobs_(services.blobs),
      tokens_(services.tokens),
      republish_routes_(std::move(services.republish_routes)) {
  router_.SetErrorResponse([](int status, std::string code, std::string message) {
    return http::JsonErrorResponse(status, code, message);
  });
  // Every call needs the admin token, whether or not it names a resource.
  router_.AddPolicy(kAdmin, [this](const Request& request) -> std::optional<http::Response> {
    if (IsAdmin(request)) return std::nullopt;
    http::Response refusal = http::JsonErrorResponse(
        401, "Unauthorized",
        "Missing or wrong admin token. Send 'Authorization: Bearer <token>'; amlcored writes its token to "
        "server.json in its home directory.");
    // Refused on its head, before any handler tags it.
    refusal.headers.Set("x-ms-request-id", RequestId());
    return refusal;
  });
  router_.SetUnmatchedPolicy(kAdmin);
  router_.SetObserver([this](const std::string& method, const std::string& pattern, int status,
                             std::chrono::nanoseconds elapsed) {
    // A path that matched no route counts as "", so that no one can make series by calling made-up paths.
    calls_.Add({method, pattern, absl::StrCat(status)});
    call_durations_.Observe({method, pattern}, elapsed);
  });
  AddRoutes();
}

bool RestApi::IsAdmin(const Request& request) const {
  auto credential = http::BearerCredential(request.headers);
  return credential && ConstantTimeEquals(*credential, admin_token_);
}

void RestApi::Handle(Request request, Responder reply) {
  // Every reply carries a request id.
  router_.Dispatch(request, http::Observed(std::move(reply), [id = RequestId()](http::Response& response) {
                     response.headers.Set("x-ms-request-id", id);
                   }));
}

std::string RestApi::Metrics() const {
  prometheus::TextWriter out;
  out.Family("amlcore_server_http_requests_total", prometheus::kCounter,
             "REST calls answered, by method, route pattern (\"\" for a path no route matches) and status code.");
  for (const auto& [values, count] : calls_.Snapshot()) {
    out.Sample(prometheus::Zip({"method", "route", "code"}, values), count);
  }
  out.Family("amlcore_server_http_request_duration_seconds", prometheus::kHistogram,
             "Time from a REST call's arrival to its answer (a long poll included), by method and route pattern.");
  call_durations_.ForEach([&](const std::vector<std::string>& values, const prometheus::Histogram& histogram) {
    out.Sample(prometheus::Zip({"method", "route"}, values), histogram);
  });
  operations_->AppendMetrics(out);
  prometheus::AppendProcessMetrics(out);
  return std::move(out).Text();
}

void RestApi::AddRoutes() {
  auto route = [this](const char* method, std::string pattern,
                      std::function<void(const Request&, const PathParams&, Responder)> handler) {
    router_.Add(method, pattern, kAdmin, std::move(handler));
  };
  std::string ws = kWorkspace;
  std::string mms = kModelManagement;

  route("GET", "health", [](const Request&, const PathParams&, Responder reply) {
    std::move(reply)(JsonResponse(200, bj::object{{"status", "Healthy"}}));
  });
  route("GET", "metrics", [this](const Request&, const PathParams&, Responder reply) {
    http::Response r = http::Response::Text(200, Metrics());
    r.headers.Set("Content-Type", prometheus::kContentType);
    std::move(reply)(std::move(r));
  });
  // The operator's: a new token signing key now; with {"revokePrevious": true} the tokens signed before stop
  // working as soon as the routers have the new keys (a key that leaked), otherwise they live out their time.
  route("POST", "amlcore/signingKeys/rotate", [this](const Request& r, const PathParams&, Responder reply) {
    auto body = json::ParseObject(r.body.empty() ? std::string("{}") : r.body, "Key rotation");
    if (!body.ok()) return std::move(reply)(ErrorResponse(Invalid(body.status().message())));
    json::ObjectReader reader(&*body, "");
    bool revoke = reader.Bool("revokePrevious").value_or(false);
    if (auto s = reader.Finish(); !s.ok()) return std::move(reply)(ErrorResponse(Invalid(s.message())));
    if (auto s = tokens_->Rotate(revoke); !s.ok()) return std::move(reply)(ErrorResponse(s));
    if (republish_routes_) republish_routes_();
    bj::array kids;
    for (const auto& k : tokens_->Published().keys) kids.push_back(json::Bj(k.kid));
    std::move(reply)(JsonResponse(200, bj::object{{"keys", std::move(kids)}}));
  });

  // Resource groups and workspaces (ARM).
  route("PUT", "subscriptions/{sub}/resourceGroups/{rg}", [this](const Request& r, const PathParams& p, Responder reply) {
    if (auto s = workspaces_->PutResourceGroup(p["sub"], p["rg"], r.body); !s.ok()) {
      return std::move(reply)(ErrorResponse(s));
    }
    Reply(std::move(reply), workspaces_->GetResourceGroup(p["sub"], p["rg"]));
  });
  route("GET", "subscriptions/{sub}/resourceGroups/{rg}", [this](const Request&, const PathParams& p, Responder reply) {
    Reply(std::move(reply), workspaces_->GetResourceGroup(p["sub"], p["rg"]));
  });
  auto list_workspaces = [this](const Request& r, const PathParams& p, Responder reply) {
    auto list = workspaces_->List(p["sub"], p["rg"], r.QueryParam("name").value_or(""));
    if (!list.ok()) return std::move(reply)(ErrorResponse(list.status()));
    bj::array items;
    for (const auto& w : *list) items.push_back(WorkspaceToJson(w));
    std::move(reply)(JsonResponse(200, ListOf(std::move(items))));
  };
  route("GET", absl::StrCat("subscriptions/{sub}/resourceGroups/{rg}/providers/", kProvider, "/workspaces"),
        list_workspaces);
  route("GET", absl::StrCat("subscriptions/{sub}/providers/", kProvider, "/workspaces"), list_workspaces);
  route("GET", absl::StrCat("providers/", kProvider, "/workspaces"), list_workspaces);
  route("PUT", ws, [this](const Request& r, const PathParams& p, Responder reply) {
    auto result = workspaces_->Put(KeyOf(p), r.body, r.headers.Get("If-None-Match").value_or("") == "*");
    if (!result.ok()) return std::move(reply)(ErrorResponse(result.status()));
    std::move(reply)(JsonResponse(result->created ? 201 : 200, WorkspaceToJson(result->workspace)));
  });
  route("GET", ws, [this](const Request&, const PathParams& p, Responder reply) {
    auto found = workspaces_->Get(KeyOf(p));
    std::move(reply)(found.ok() ? JsonResponse(200, WorkspaceToJson(*found)) : ErrorResponse(found.status()));
  });
  route("DELETE", ws, [this](const Request&, const PathParams& p, Responder reply) {
    Reply(std::move(reply), workspaces_->Delete(KeyOf(p)));
  });

  // Compute targets (ARM), and their operations' status (Azure-AsyncOperation).
  route("GET", ws + "/computes", [this](const Request&, const PathParams& p, Responder reply) {
    auto list = computes_->List(KeyOf(p));
    if (!list.ok()) return std::move(reply)(ErrorResponse(list.status()));
    bj::array items;
    for (const auto& r : *list) items.push_back(domain::ComputeResourceToJson(r));
    std::move(reply)(JsonResponse(200, ListOf(std::move(items))));
  });
  route("PUT", ws + "/computes/{name}", [this](const Request& r, const PathParams& p, Responder reply) {
    auto accepted = computes_->Put(KeyOf(p), p["name"], r.body, r.headers.Get("If-None-Match").value_or("") == "*");
    if (!accepted.ok()) return std::move(reply)(ErrorResponse(accepted.status()));
    http::Response response =
        JsonResponse(accepted->created ? 201 : 200, domain::ComputeResourceToJson(accepted->resource));
    response.headers.Set("Azure-AsyncOperation", AsyncOperationUrl(r, p["sub"], *accepted));
    std::move(reply)(std::move(response));
  });
  route("GET", ws + "/computes/{name}", [this](const Request& r, const PathParams& p, Responder reply) {
    auto found = computes_->Get(KeyOf(p), p["name"]);
    if (!found.ok()) return std::move(reply)(ErrorResponse(found.status()));
    http::Response response = JsonResponse(200, domain::ComputeResourceToJson(found->resource));
    // Lets a client that only looked the target up wait for the operation in progress.
    if (!found->operation_id.empty()) {
      response.headers.Set("Azure-AsyncOperation", AsyncOperationUrl(r, p["sub"], *found));
    }
    std::move(reply)(std::move(response));
  });
  route("DELETE", ws + "/computes/{name}", [this](const Request& r, const PathParams& p, Responder reply) {
    auto action = r.QueryParam("underlyingResourceAction");
    if (!action) {
      return std::move(reply)(ErrorResponse(
          MakeError(absl::StatusCode::kInvalidArgument, "ValidationError",
                    "The query parameter underlyingResourceAction is required: \"delete\" or \"detach\".")));
    }
    auto accepted = computes_->Delete(KeyOf(p), p["name"], *action);
    if (!accepted.ok()) return std::move(reply)(ErrorResponse(accepted.status()));
    http::Response response = JsonResponse(202, domain::ComputeResourceToJson(accepted->resource));
    response.headers.Set("Azure-AsyncOperation", AsyncOperationUrl(r, p["sub"], *accepted));
    std::move(reply)(std::move(response));
  });
  route("POST", ws + "/computes/{name}/listKeys", [this](const Request&, const PathParams& p, Responder reply) {
    Reply(std::move(reply), computes_->ListKeys(KeyOf(p), p["name"]));
  });
  route("GET", absl::StrCat("subscriptions/{sub}/providers/", kProvider, "/locations/{location}/computeOperationsStatus/{id}"),
        [this](const Request& r, const PathParams& p, Responder reply) {
          OperationStatus(r, p["id"], /*model_management=*/false, std::move(reply));
        });

  // Content-addressed uploads.
  for (const char* method : {"PUT", "GET", "HEAD"}) {
    route(method, "blobs/{sha256}", [this](const Request& r, const PathParams& p, Responder reply) {
      Blob(r, p["sha256"], std::move(reply));
    });
  }

  // Model management: models, environments, services and their operations.
  route("POST", mms + "/models", [this](const Request& r, const PathParams& p, Responder reply) {
    auto model = models_->Register(KeyOf(p), r.body);
    std::move(reply)(model.ok() ? JsonResponse(200, domain::ModelToJson(*model)) : ErrorResponse(model.status()));
  });
  route("GET", mms + "/models", [this](const Request& r, const PathParams& p, Responder reply) {
    ModelQuery query{r.QueryParam("name").value_or(""), SplitList(r.QueryParam("tags")),
                     SplitList(r.QueryParam("properties")), r.QueryParam("latestVersionOnly").value_or("") == "true"};
    auto models = models_->List(KeyOf(p), query);
    if (!models.ok()) return std::move(reply)(ErrorResponse(models.status()));
    bj::array items;
    for (const auto& m : *models) items.push_back(domain::ModelToJson(m));
    std::move(reply)(JsonResponse(200, ListOf(std::move(items))));
  });
  route("GET", mms + "/models/{id}", [this](const Request&, const PathParams& p, Responder reply) {
    auto model = models_->Get(KeyOf(p), p["id"]);
    std::move(reply)(model.ok() ? JsonResponse(200, domain::ModelToJson(*model)) : ErrorResponse(model.status()));
  });
  route("DELETE", mms + "/models/{id}", [this](const Request&, const PathParams& p, Responder reply) {
    Reply(std::move(reply), models_->Delete(KeyOf(p), p["id"]));
  });
  route("POST", mms + "/environments", [this](const Request& r, const PathParams& p, Responder reply) {
    Reply(std::move(reply), models_->RegisterEnvironment(KeyOf(p), r.body));
  });
  route("GET", mms + "/environments", [this](const Request&, const PathParams& p, Responder reply) {
    auto all = models_->ListEnvironments(KeyOf(p));
    std::move(reply)(all.ok() ? JsonResponse(200, ListOf(std::move(*all))) : ErrorResponse(all.status()));
  });
  route("GET", mms + "/environments/{name}", [this](const Request& r, const PathParams& p, Responder reply) {
    int64_t version = 0;
    if (auto v = r.QueryParam("version"); v && !absl::SimpleAtoi(*v, &version)) {
      return std::move(reply)(ErrorResponse(
          MakeError(absl::StatusCode::kInvalidArgument, "ValidationError", "version must be a number.")));
    }
    Reply(std::move(reply), models_->GetEnvironment(KeyOf(p), p["name"], version));
  });
  route("GET", mms + "/operations/{id}", [this](const Request& r, const PathParams& p, Responder reply) {
    OperationStatus(r, p["id"], /*model_management=*/true, std::move(reply));
  });
  route("POST", mms + "/services", [this](const Request& r, const PathParams& p, Responder reply) {
    auto created = webservices_->Create(KeyOf(p), r.body);
    if (!created.ok()) return std::move(reply)(ErrorResponse(created.status()));
    std::move(reply)(ServiceAccepted(r, p, *created));
  });
  route("GET", mms + "/services", [this](const Request& r, const PathParams& p, Responder reply) {
    ServiceQuery query{r.QueryParam("computeType").value_or(""), r.QueryParam("modelName").value_or(""),
                       SplitList(r.QueryParam("tags")), SplitList(r.QueryParam("properties"))};
    auto all = webservices_->List(KeyOf(p), query);
    std::move(reply)(all.ok() ? JsonResponse(200, ListOf(std::move(*all))) : ErrorResponse(all.status()));
  });
  route("GET", mms + "/services/{name}", [this](const Request&, const PathParams& p, Responder reply) {
    Reply(std::move(reply), webservices_->Get(KeyOf(p), p["name"]));
  });
  route("PATCH", mms + "/services/{name}", [this](const Request& r, const PathParams& p, Responder reply) {
    auto updated = webservices_->Update(KeyOf(p), p["name"], r.body);
    if (!updated.ok()) return std::move(reply)(ErrorResponse(updated.status()));
    std::move(reply)(ServiceAccepted(r, p, *updated));
  });
  route("DELETE", mms + "/services/{name}", [this](const Request& r, const PathParams& p, Responder reply) {
    auto deleted = webservices_->Delete(KeyOf(p), p["name"]);
    if (!deleted.ok()) return std::move(reply)(ErrorResponse(deleted.status()));
    std::move(reply)(ServiceAccepted(r, p, *deleted));
  });
  route("POST", mms + "/services/{name}/listkeys", [this](const Request&, const PathParams& p, Responder reply) {
    Reply(std::move(reply), webservices_->ListKeys(KeyOf(p), p["name"]));
  });
  route("POST", mms + "/services/{name}/regenerateKeys", [this](const Request& r, const PathParams& p, Responder reply) {
    Reply(std::move(reply), webservices_->RegenerateKey(KeyOf(p), p["name"], r.body));
  });
  route("GET", mms + "/services/{name}/logs", [this](const Request& r, const PathParams& p, Responder reply) {
    int64_t tail = 5000;
    if (auto t = r.QueryParam("tail"); t && (!absl::SimpleAtoi(*t, &tail) || tail <= 0)) {
      return std::move(reply)(ErrorResponse(
          MakeError(absl::StatusCode::kInvalidArgument, "ValidationError", "tail must be a positive number of lines.")));
    }
    auto logs = webservices_->Logs(KeyOf(p), p["name"], tail, r.QueryParam("init").value_or("") == "true",
                                   r.QueryParam("version").value_or(""),
                                   r.QueryParam("allReplicas").value_or("") == "true");
    std::move(reply)(logs.ok() ? JsonResponse(200, json::Encode(domain::ServiceLogs{*logs}))
                               : ErrorResponse(logs.status()));
  });
  route("POST", mms + "/services/{name}/token", [this](const Request&, const PathParams& p, Responder reply) {
    auto token = webservices_->IssueToken(KeyOf(p), p["name"]);
    std::move(reply)(token.ok() ? JsonResponse(200, json::Encode(*token)) : ErrorResponse(token.status()));
  });
  AddDataRoutes();
}

void RestApi::AddDataRoutes() {
  auto route = [this](const char* method, std::string pattern,
                      std::function<void(const Request&, const PathParams&, Responder)> handler) {
    router_.Add(method, pattern, kAdmin, std::move(handler));
  };
  std::string stores = kDatastores;
  std::string sets = kDatasets;

  // Datastores (the datastore service's paths), and their files (content in /blobs, paths here).
  route("GET", stores + "/datastores", [this](const Request&, const PathParams& p, Responder reply) {
    auto all = data_->ListDatastores(KeyOf(p));
    std::move(reply)(all.ok() ? JsonResponse(200, ListOf(json::Encode(*all).as_array())) : ErrorResponse(all.status()));
  });
  route("GET", stores + "/default", [this](const Request&, const PathParams& p, Responder reply) {
    ReplyEncoded(std::move(reply), data_->GetDefaultDatastore(KeyOf(p)));
  });
  route("GET", stores + "/datastores/{name}", [this](const Request&, const PathParams& p, Responder reply) {
    ReplyEncoded(std::move(reply), data_->GetDatastore(KeyOf(p), p["name"]));
  });
  route("GET", stores + "/datastores/{name}/files", [this](const Request& r, const PathParams& p, Responder reply) {
    ReplyEncoded(std::move(reply), data_->ListFiles(KeyOf(p), p["name"], r.QueryParam("prefix").value_or("")));
  });
  route("POST", stores + "/datastores/{name}/files", [this](const Request& r, const PathParams& p, Responder reply) {
    ReplyEncoded(std::move(reply), data_->CommitFiles(KeyOf(p), p["name"], r.body));
  });

  // Datasets: saved definitions by id, registrations by name and version.
  route("POST", sets + "/saveddatasets", [this](const Request& r, const PathParams& p, Responder reply) {
    ReplyEncoded(std::move(reply), data_->SaveDataset(KeyOf(p), r.body));
  });
  route("GET", sets + "/saveddatasets/{id}", [this](const Request&, const PathParams& p, Responder reply) {
    ReplyEncoded(std::move(reply), data_->GetSavedDataset(KeyOf(p), p["id"]));
  });
  route("POST", sets + "/datasets", [this](const Request& r, const PathParams& p, Responder reply) {
    ReplyEncoded(std::move(reply), data_->RegisterDataset(KeyOf(p), r.body));
  });
  route("GET", sets + "/datasets", [this](const Request&, const PathParams& p, Responder reply) {
    ReplyEncoded(std::move(reply), data_->ListDatasets(KeyOf(p)));
  });
  route("GET", sets + "/datasets/{name}", [this](const Request& r, const PathParams& p, Responder reply) {
    int64_t version = 0;
    if (auto v = r.QueryParam("version"); v && (!absl::SimpleAtoi(*v, &version) || version <= 0)) {
      return std::move(reply)(ErrorResponse(
          MakeError(absl::StatusCode::kInvalidArgument, "ValidationError",
                    absl::StrCat("Invalid value ", *v, " for version. Version value must be number or \"latest\"."))));
    }
    ReplyEncoded(std::move(reply), data_->GetDataset(KeyOf(p), p["name"], version));
  });
}

std::string RestApi::AsyncOperationUrl(const Request& request, const std::string& subscription,
                                       const ComputeService::Accepted& accepted) const {
  return absl::StrCat(BaseUrl(request), "/subscriptions/", subscription, "/providers/", kProvider, "/locations/",
                      accepted.location, "/computeOperationsStatus/", accepted.operation_id);
}

http::Response RestApi::ServiceAccepted(const Request& request, const PathParams& p,
                                        const WebserviceService::Accepted& accepted) const {
  http::Response response = JsonResponse(202, accepted.resource);
  response.headers.Set("Operation-Location",
                       absl::StrCat(BaseUrl(request), "/modelmanagement/", p["api"], "/subscriptions/", p["sub"],
                                    "/resourceGroups/", p["rg"], "/providers/", kProvider, "/workspaces/", p["ws"],
                                    "/operations/", accepted.operation_id));
  return response;
}

void RestApi::OperationStatus(const Request& request, const std::string& operation_id, bool model_management,
                              Responder reply) {
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
  Operations* ops = operations_;
  auto respond = [ops, model_management](const OperationRecord& record, Responder r) {
    auto view = ops->View(record.id, /*with_log=*/model_management);
    if (!view.ok()) return std::move(r)(ErrorResponse(view.status()));
    std::move(r)(JsonResponse(200, model_management ? json::Encode(domain::ToModelManagement(*view))
                                                    : domain::AsyncOperationStatusToJson(domain::ToAsyncStatus(*view))));
  };
  if (wait_seconds == 0 || op->done() || op->version != seen_version) return respond(*op, std::move(reply));

  // Long poll: answer when the operation changes or the wait ends, whichever is first.
  auto shared = std::make_shared<Responder>(std::move(reply));
  operations_->notifier().Wait(operation_id, ChangeNotifier::Clock::now() + std::chrono::seconds(wait_seconds),
                               [ops, operation_id, shared, respond] {
                                 auto latest = ops->Get(operation_id);
                                 if (!latest.ok()) return std::move(*shared)(ErrorResponse(latest.status()));
                                 respond(*latest, std::move(*shared));
                               });
  auto again = operations_->Get(operation_id);
  if (!again.ok() || again->version != seen_version) operations_->notifier().Notify(operation_id);
}

void RestApi::Blob(const Request& request, const std::string& sha256, Responder reply) {
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
  auto data = blobs_->Read(sha256);
  if (!data.ok()) return std::move(reply)(ErrorResponse(data.status()));
  http::Response r;
  r.headers.Set("Content-Type", "application/octet-stream");
  r.body = std::move(*data);
  std::move(reply)(std::move(r));
}

}  // namespace amlcore::server
