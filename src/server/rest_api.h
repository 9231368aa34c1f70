// The REST API of amlcored: one table of routes (method, path pattern, auth policy, handler), and JSON in and
// out. Business rules live in the services; this layer maps paths to calls and Status values to HTTP errors.
#ifndef AMLCORE_SERVER_REST_API_H_
#define AMLCORE_SERVER_REST_API_H_

#include <optional>
#include <string>

#include "common/http_router.h"
#include "common/http_server.h"
#include "common/prometheus.h"
#include "common/blob_store.h"
#include "server/compute_service.h"
#include "server/data_service.h"
#include "server/model_service.h"
#include "server/operations.h"
#include "server/webservice_service.h"
#include "server/workspace_service.h"

namespace amlcore::server {

class RestApi {
 public:
  struct Services {
    WorkspaceService* workspaces;
    ComputeService* computes;
    ModelService* models;
    WebserviceService* webservices;
    Operations* operations;
    BlobStore* blobs;
    TokenAuthority* tokens;
    std::function<void()> republish_routes;  // after the token keys changed
    DataService* data = nullptr;
  };
  RestApi(std::string admin_token, Services services);

  void Handle(http::Request request, http::Responder reply);
  // The answer of the route's policy to a request whose body has not been read (nothing: admitted).
  std::optional<http::Response> Admit(const http::Request& head) const { return router_.Admit(head); }

 private:
  // Every route: method, path pattern, policy and handler, in one table.
  void AddRoutes();
  // Datastores and datasets.
  void AddDataRoutes();
  bool IsAdmin(const http::Request& request) const;
  // GET /metrics: the REST calls, the operations and the process, in Prometheus' text format.
  std::string Metrics() const;
  // Answers with the operation, long polling when asked (?waitSeconds=N&version=V).
  void OperationStatus(const http::Request& request, const std::string& operation_id, bool model_management,
                       http::Responder reply);
  void Blob(const http::Request& request, const std::string& sha256, http::Responder reply);
  std::string AsyncOperationUrl(const http::Request& request, const std::string& subscription,
                                const ComputeService::Accepted& accepted) const;
  // 202 with the service and the Operation-Location of what the request started.
  http::Response ServiceAccepted(const http::Request& request, const http::PathParams& params,
                                 const WebserviceService::Accepted& accepted) const;

  std::string admin_token_;
  WorkspaceService* workspaces_;
  ComputeService* computes_;
  ModelService* models_;
  DataService* data_;
  WebserviceService* webservices_;
  Operations* operations_;
  BlobStore* blobs_;
  TokenAuthority* tokens_;
  std::function<void()> republish_routes_;
  // Calls by method, route and status code, and their durations by method and route.
  prometheus::LabeledCounters calls_;
  prometheus::LabeledHistograms call_durations_{prometheus::Histogram::Scale::kRequests};
  http::Router router_;
};

// The reply for a failed call: {"error": {code, message}} with the status mapped from the code.
http::Response ErrorResponse(const absl::Status& status);

}  // namespace amlcore::server

#endif  // AMLCORE_SERVER_REST_API_H_
