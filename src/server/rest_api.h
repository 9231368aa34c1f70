// The REST API of amlcored: authentication, routing, and JSON in and out. Business rules live in the
// services; this layer maps paths to calls and Status values to HTTP errors.
#ifndef AMLCORE_SERVER_REST_API_H_
#define AMLCORE_SERVER_REST_API_H_

#include <optional>
#include <string>

#include "common/http_server.h"
#include "server/blob_store.h"
#include "server/compute_service.h"
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
  };
  RestApi(std::string admin_token, Services services)
      : admin_token_(std::move(admin_token)),
        workspaces_(services.workspaces),
        computes_(services.computes),
        models_(services.models),
        webservices_(services.webservices),
        operations_(services.operations),
        blobs_(services.blobs) {}

  void Handle(http::Request request, http::Responder reply);
  // The 401 for a request whose head lacks the admin token, nullopt when it has it. amlcored's HTTP server
  // calls it before reading a body, so that nobody without the token makes it buffer anything.
  static std::optional<http::Response> RefuseWithoutAdminToken(const http::Request& head,
                                                                absl::string_view admin_token);

 private:
  void Route(const http::Request& request, const std::string& base_url, http::Responder reply);
  // Answers with the operation, long polling when asked (?waitSeconds=N&version=V).
  void OperationStatus(const http::Request& request, const std::string& operation_id, bool model_management,
                       http::Responder reply);
  void ModelManagement(const http::Request& request, const WorkspaceKey& workspace, const std::string& base_url,
                       const std::vector<std::string>& rest, http::Responder reply);
  void Blobs(const http::Request& request, const std::string& sha256, http::Responder reply);

  std::string admin_token_;
  WorkspaceService* workspaces_;
  ComputeService* computes_;
  ModelService* models_;
  WebserviceService* webservices_;
  Operations* operations_;
  BlobStore* blobs_;
};

// The reply for a failed call: {"error": {code, message}} with the status mapped from the code.
http::Response ErrorResponse(const absl::Status& status);

}  // namespace amlcore::server

#endif  // AMLCORE_SERVER_REST_API_H_
