// The REST API of amlcored: authentication, routing, and JSON in and out. Business rules live in the
// services; this layer maps paths to calls and Status values to HTTP errors.
#ifndef AMLCORE_SERVER_REST_API_H_
#define AMLCORE_SERVER_REST_API_H_

#include <string>

#include "common/http_server.h"
#include "server/operations.h"
#include "server/compute_service.h"
#include "server/workspace_service.h"

namespace amlcore::server {

class RestApi {
 public:
  RestApi(std::string admin_token, WorkspaceService* workspaces, ComputeService* computes, Operations* operations)
      : admin_token_(std::move(admin_token)), workspaces_(workspaces), computes_(computes), operations_(operations) {}

  void Handle(http::Request request, http::Responder reply);

 private:
  void Route(const http::Request& request, const std::string& base_url, http::Responder reply);
  void OperationStatus(const http::Request& request, const std::string& operation_id, http::Responder reply);

  std::string admin_token_;
  WorkspaceService* workspaces_;
  ComputeService* computes_;
  Operations* operations_;
};

// The reply for a failed call: {"error": {code, message}} with the status mapped from the code.
http::Response ErrorResponse(const absl::Status& status);

}  // namespace amlcore::server

#endif  // AMLCORE_SERVER_REST_API_H_
