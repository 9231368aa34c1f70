// JSON documents of the model management API (MMS-shaped): models, environments, deployment configurations,
// service create requests and service resources. Encoded and decoded here for the SDK and the server.
#ifndef AMLCORE_DOMAIN_SERVICE_WIRE_H_
#define AMLCORE_DOMAIN_SERVICE_WIRE_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "amlcore/environment.h"
#include "amlcore/model.h"
#include "amlcore/webservice.h"
#include "common/json.h"
#include "common/json_fields.h"
#include "domain/deploy_settings.h"
#include "domain/service_rules.h"

namespace amlcore {

// Public structs of models on the wire (found by argument-dependent lookup, so they live in their namespace).
constexpr auto JsonFields(const ModelDatasetReference*) {
  return json::Fields(json::Field("name", &ModelDatasetReference::name), json::Field("id", &ModelDatasetReference::id));
}
constexpr auto JsonFields(const ResourceConfiguration*) {
  return json::Fields(json::Field("cpu", &ResourceConfiguration::cpu),
                      json::Field("memoryInGB", &ResourceConfiguration::memory_in_gb),
                      json::Field("gpu", &ResourceConfiguration::gpu));
}

}  // namespace amlcore

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
  std::vector<ModelDatasetReference> datasets;
  std::string sample_input_data;   // "aml://dataset/<saved dataset id>", as Azure keeps it
  std::string sample_output_data;
  std::optional<ResourceConfiguration> resource_requirements;
};
// "aml://dataset/<id>" for a saved dataset's id ("" stays ""), and back (an error for another form).
std::string DatasetUrl(absl::string_view dataset_id);
absl::StatusOr<std::string> DatasetIdOfUrl(absl::string_view url);
json::bj::object ModelToJson(const ModelDocument& model);
// Strict (wrong types and unknown fields are errors): a model document, or the body of POST /models, where the
// server assigns the version and creation time.
absl::StatusOr<ModelDocument> ModelFromJson(const json::bj::object& object);

// Environments, in azureml's JSON shape.
json::bj::object EnvironmentToJson(const Environment& environment);
absl::StatusOr<Environment> EnvironmentFromJson(const json::bj::object& object);
std::string EnvironmentHash(const Environment& environment);

// What an ACI or local service asks of its container group, beyond the deployment settings (top-level fields
// of the request, as azureml sends them for ACI).
struct ContainerGroupRequest {
  std::string location;
  std::string dns_name_label;
  bool ssl_enabled = false;
  std::string ssl_certificate;  // PEM
  std::string ssl_key;          // PEM
  std::string ssl_cname;
  int64_t port = 0;  // a local service's port (0: any free one)
  // A local service's entry script and source directory as the client deployed them (absolute paths on its
  // machine), for reload().
  std::string client_entry_script;
  std::string client_source_directory;
};

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
  ContainerGroupRequest container;  // computeType ACI or Local
};
std::string ServiceRequestToJson(const ServiceRequest& request);
absl::StatusOr<ServiceRequest> ServiceRequestFromJson(absl::string_view body);

// The value of an "add" or "replace" of /versions/{name} in a PATCH of an AksEndpoint: a new version, or the
// changes to one (fields left out stay as they are).
struct VersionPatch {
  std::optional<std::vector<std::string>> model_ids;
  std::optional<std::string> entry_script;
  std::optional<std::string> source_directory;
  std::optional<std::string> snapshot;
  std::optional<Environment> environment;
  AksServiceDeploymentConfiguration config;  // the settings it sets
  std::optional<bool> is_default;
  std::optional<bool> is_control;  // true: the control version; false: a treatment
};
json::bj::object VersionPatchToJson(const VersionPatch& patch);
absl::StatusOr<VersionPatch> VersionPatchFromJson(const json::bj::value& value);

// POST /services/{name}/listkeys and regenerateKeys.
struct ServiceKeys {
  std::string primary_key;
  std::string secondary_key;
};
constexpr auto JsonFields(const ServiceKeys*) {
  return json::Fields(json::Field("primaryKey", &ServiceKeys::primary_key),
                      json::Field("secondaryKey", &ServiceKeys::secondary_key));
}

// POST /services/{name}/token: a token for a service with token authentication (times in seconds since the
// epoch).
struct ServiceToken {
  std::string access_token;
  std::string token_type = "Bearer";
  int64_t refresh_after = 0;
  int64_t expiry_on = 0;
};
constexpr auto JsonFields(const ServiceToken*) {
  return json::Fields(json::Field("accessToken", &ServiceToken::access_token),
                      json::Field("tokenType", &ServiceToken::token_type),
                      json::Field("refreshAfter", &ServiceToken::refresh_after),
                      json::Field("expiryOn", &ServiceToken::expiry_on));
}

// GET /services/{name}/logs
struct ServiceLogs {
  std::string content;
};
constexpr auto JsonFields(const ServiceLogs*) { return json::Fields(json::Field("content", &ServiceLogs::content)); }

// GET /services/{name}: a web service as the server describes it. The deployment configuration's settings sit
// at the top level, resolved, as in azureml's service documents.
struct ServiceDocument {
  struct Error {
    std::string code;
    std::string message;
  };
  struct ModelReference {
    std::string id;  // "name:version"
    std::string name;
    int64_t version = 0;
  };
  std::string name;
  std::string description;
  std::map<std::string, std::string> tags;
  std::map<std::string, std::string> properties;
  std::string compute_type = "AKS";
  std::string compute_name;
  std::string state;
  std::string phase;
  std::string reason;
  std::string created_time;
  std::string updated_time;
  std::string scoring_uri;  // "" until the cluster's router runs
  std::string swagger_uri;
  std::optional<Error> error;
  std::vector<ModelReference> models;
  std::string entry_script;
  std::string source_directory;
  std::optional<Environment> environment;
  std::optional<ResolvedDeployConfig> config;
  std::string operation_id;  // the operation running on the service, if any
  // An endpoint's own settings (a web service's are in `config`).
  std::optional<bool> auth_enabled;
  std::optional<bool> token_auth_enabled;
  std::optional<bool> app_insights_enabled;
  // An endpoint's versions, oldest first; each a document of its own with computeType "AKS".
  std::vector<ServiceDocument> versions;
  // A version's place in its endpoint.
  std::optional<int64_t> traffic_percentile;
  std::optional<bool> is_default;
  std::string version_type;  // Control or Treatment
  // An ACI or local service's container group.
  struct ContainerGroup {
    std::string location;
    bool ssl_enabled = false;
    std::string cname;
    std::string dns_name_label;
    std::string public_fqdn;  // the scoring URI's host
    int64_t port = 0;
    std::string client_entry_script;
    std::string client_source_directory;
  };
  std::optional<ContainerGroup> container;
  // Its replicas as the backend last reported them (beyond azureml): ready, to run now (what an autoscaled
  // version's autoscaler decided), and what its load asks for.
  struct Replicas {
    int64_t ready = 0;
    int64_t desired = 0;
    int64_t wanted = 0;
  };
  std::optional<Replicas> replicas;
};
json::bj::object ServiceDocumentToJson(const ServiceDocument& document);
absl::StatusOr<ServiceDocument> ServiceDocumentFromJson(const json::bj::object& object);

}  // namespace amlcore::domain

#endif  // AMLCORE_DOMAIN_SERVICE_WIRE_H_
