// JSON documents of the model management API (MMS-shaped): models, environments, deployment configurations,
// service create requests and service resources. Encoded and decoded here for the SDK and the server.
#ifndef AMLCORE_DOMAIN_SERVICE_WIRE_H_
#define AMLCORE_DOMAIN_SERVICE_WIRE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "amlcore/environment.h"
#include "amlcore/model.h"
#include "amlcore/webservice.h"
#include "common/json.h"
#include "domain/service_rules.h"

namespace amlcore::domain {

json::bj::object TagsToJson(const std::map<std::string, std::string>& tags);
absl::Status ReadStringMap(const json::bj::value* raw, absl::string_view field, std::map<std::string, std::string>* out);

// Models.
struct ModelDocument {
  std::string name;
  int64_t version = 0;
  std::string description;
  std::map<std::string, std::string> tags;
  std::map<std::string, std::string> properties;
  std::string framework;
  std::string framework_version;
  std::vector<ModelFile> files;
  std::string created_time;
};
json::bj::object ModelToJson(const ModelDocument& model);
// Strict: the body of POST /models (name, files, ...).
absl::StatusOr<ModelDocument> ModelFromJson(const json::bj::object& object);

// Environments, in azureml's JSON shape.
json::bj::object EnvironmentToJson(const Environment& environment);
absl::StatusOr<Environment> EnvironmentFromJson(const json::bj::object& object);
std::string EnvironmentHash(const Environment& environment);

// Deployment configurations: azureml's AKS payload fields.
json::bj::object DeployConfigToJson(const AksServiceDeploymentConfiguration& config);
absl::StatusOr<AksServiceDeploymentConfiguration> DeployConfigFromJson(const json::bj::object& object);
json::bj::object ResolvedToJson(const ResolvedDeployConfig& config);

// POST /services and PATCH-style updates.
struct ServiceRequest {
  std::string name;
  std::string compute_type = "AKS";
  std::string compute_name;
  std::vector<std::string> model_ids;
  std::string entry_script;
  std::string source_directory;  // name of the snapshot's root folder ("" when the snapshot is the script)
  std::string snapshot;          // sha256 of the source snapshot (a tar), "" for none
  bool has_environment = false;
  Environment environment;
  AksServiceDeploymentConfiguration config;
  bool overwrite = false;
};
std::string ServiceRequestToJson(const ServiceRequest& request);
absl::StatusOr<ServiceRequest> ServiceRequestFromJson(absl::string_view body);

}  // namespace amlcore::domain

#endif  // AMLCORE_DOMAIN_SERVICE_WIRE_H_
