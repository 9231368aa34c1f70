// Web services: models deployed to an AKS compute target behind its front end, with keys, logs and updates.
//
//   amlcore::AksServiceDeploymentConfiguration config;
//   config.num_replicas = 1;
//   auto service = amlcore::AksWebservice::Deploy(ws, "diabetes", {*model}, inference, config, *aks);
//   absl::Status ready = (*service)->WaitForDeployment({.on_progress = print});
//   auto prediction = (*service)->Run(R"({"data": [[0.1, 0.2, ...]]})");
#ifndef AMLCORE_WEBSERVICE_H_
#define AMLCORE_WEBSERVICE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "amlcore/compute.h"
#include "amlcore/environment.h"
#include "amlcore/model.h"
#include "amlcore/operation.h"
#include "amlcore/workspace.h"

namespace amlcore {

// States of a web service; the server may add states.
struct ServiceState {
  static constexpr char kTransitioning[] = "Transitioning";
  static constexpr char kHealthy[] = "Healthy";
  static constexpr char kUnhealthy[] = "Unhealthy";
  static constexpr char kFailed[] = "Failed";
  static constexpr char kUnschedulable[] = "Unschedulable";
  static constexpr char kDeleting[] = "Deleting";
};

// Where a deployment is (beyond azureml): Validating, BuildingEnvironment, Scheduling, StartingReplicas,
// Initializing, Ready.
struct ServicePhase {
  static constexpr char kValidating[] = "Validating";
  static constexpr char kBuildingEnvironment[] = "BuildingEnvironment";
  static constexpr char kScheduling[] = "Scheduling";
  static constexpr char kStartingReplicas[] = "StartingReplicas";
  static constexpr char kInitializing[] = "Initializing";
  static constexpr char kReady[] = "Ready";
};

// Which of azureml's calls take a setting as a keyword argument.
struct DeploySettingScope {
  static constexpr unsigned kWebservice = 1;     // AksWebservice.deploy_configuration
  static constexpr unsigned kEndpoint = 2;       // AksEndpoint.deploy_configuration
  static constexpr unsigned kServiceUpdate = 4;  // AksWebservice.update
  static constexpr unsigned kVersion = 8;        // AksEndpoint.create_version and update_version
};

// One setting of AksServiceDeploymentConfiguration, for code that handles settings by name (bindings, tools).
struct DeploySettingInfo {
  std::string name;  // azureml's keyword argument, e.g. "cpu_cores"
  std::string kind;  // "bool", "int", "number", "str" or "dict"
  unsigned scopes = 0;  // DeploySettingScope bits
};
// A setting's value; std::monostate when it is not set.
using DeploySettingValue =
    std::variant<std::monostate, bool, int64_t, double, std::string, std::map<std::string, std::string>>;

// AksWebservice.deploy_configuration and AksEndpoint.deploy_configuration: every parameter optional; the server
// applies the defaults. version_name and traffic_percentile are an endpoint's (its first version's).
struct AksServiceDeploymentConfiguration {
  std::optional<bool> autoscale_enabled;
  std::optional<int64_t> autoscale_min_replicas;
  std::optional<int64_t> autoscale_max_replicas;
  std::optional<int64_t> autoscale_refresh_seconds;
  std::optional<int64_t> autoscale_target_utilization;
  std::optional<bool> collect_model_data;
  std::optional<bool> auth_enabled;
  std::optional<double> cpu_cores;
  std::optional<double> memory_gb;
  std::optional<bool> enable_app_insights;
  std::optional<int64_t> scoring_timeout_ms;
  std::optional<int64_t> replica_max_concurrent_requests;
  std::optional<int64_t> max_request_wait_time;
  std::optional<int64_t> num_replicas;
  std::string primary_key;
  std::string secondary_key;
  std::map<std::string, std::string> tags;
  std::map<std::string, std::string> properties;
  std::string description;
  std::optional<int64_t> gpu_cores;
  std::optional<int64_t> period_seconds;
  std::optional<int64_t> initial_delay_seconds;
  std::optional<int64_t> timeout_seconds;
  std::optional<int64_t> success_threshold;
  std::optional<int64_t> failure_threshold;
  std::string namespace_;
  std::optional<bool> token_auth_enabled;
  std::string version_name;
  std::optional<int64_t> traffic_percentile;
  std::string compute_target_name;
  std::optional<double> cpu_cores_limit;
  std::optional<double> memory_gb_limit;
  std::optional<bool> blobfuse_enabled;

  // Every violated rule, one "Invalid configuration, ..." line each, in one kInvalidArgument.
  absl::Status Validate() const;

  // Every setting, in azureml's parameter order.
  static std::vector<DeploySettingInfo> Settings();
  // The setting `name` (std::monostate when unset or unknown).
  DeploySettingValue Get(absl::string_view name) const;
  // Sets `name` (std::monostate unsets it); kInvalidArgument naming the setting and the type it takes. Integers
  // are accepted for numbers.
  absl::Status Set(absl::string_view name, const DeploySettingValue& value);
};

struct WebserviceListOptions {
  std::string compute_type;
  std::string model_name;
  std::vector<std::string> tags;                  // "key" or "key=value"
  std::map<std::string, std::string> properties;
};

// A token for a service with token authentication (azureml's AksServiceAccessToken); times in seconds since
// the epoch. Refresh it after refresh_after (half its life); the front end refuses it after expiry_on.
struct AksServiceAccessToken {
  std::string access_token;
  std::string token_type;
  int64_t refresh_after = 0;
  int64_t expiry_on = 0;
};

class Webservice {
 public:
  virtual ~Webservice();

  // Service name rule: ^[a-z]([-a-z0-9]*[a-z0-9])?$, 3 to 32 characters.
  static absl::Status ValidateName(absl::string_view name);

  // kNotFound with azureml's "WebserviceNotFound" message when there is none.
  static absl::StatusOr<std::shared_ptr<Webservice>> Get(const Workspace& workspace, absl::string_view name);
  static absl::StatusOr<std::vector<std::shared_ptr<Webservice>>> List(const Workspace& workspace,
                                                                       const WebserviceListOptions& options = {});

  // Waits for the operation this object started (or the one running); prints azureml's output and a
  // timestamped line per log line. kAborted with the failing phase and the replica's last log lines when the
  // deployment failed; kDeadlineExceeded when options.timeout passes first (the deployment continues).
  absl::Status WaitForDeployment(const PollOptions& options = {});
  absl::Status UpdateDeploymentState();
  // The current replica's log (num_lines last lines), or with init the build and start-up log.
  // With `all_replicas` (beyond azureml), every replica's log, each under a line that names it.
  absl::StatusOr<std::string> GetLogs(int64_t num_lines = 5000, bool init = false, bool all_replicas = false);
  absl::StatusOr<std::pair<std::string, std::string>> GetKeys();
  // key_type "Primary" or "Secondary"; set_key replaces it with a value of yours instead of a random one.
  absl::Status RegenKey(absl::string_view key_type, absl::string_view set_key = "");
  // A new token, for a service with token_auth_enabled (kFailedPrecondition otherwise).
  absl::StatusOr<AksServiceAccessToken> GetAccessToken();
  // azureml's older form: the token and when to refresh it.
  absl::StatusOr<std::pair<std::string, int64_t>> GetToken();
  // POSTs input_data (JSON text) to the scoring URI with the service's credential (a key, or a token it gets
  // and refreshes by itself); after a 401 it fetches the credential once more and retries. Returns the body.
  absl::StatusOr<std::string> Run(absl::string_view input_data);
  absl::Status Delete();
  std::string Serialize() const;

  const Workspace& workspace() const { return workspace_; }
  const std::string& name() const { return name_; }
  const std::string& compute_type() const { return compute_type_; }
  const std::string& compute_name() const { return compute_name_; }
  const std::string& state() const { return state_; }
  const std::string& phase() const { return phase_; }
  const std::string& reason() const { return reason_; }
  // The last error as JSON ("" when none).
  const std::string& error() const { return error_; }
  const std::string& scoring_uri() const { return scoring_uri_; }
  const std::string& swagger_uri() const { return swagger_uri_; }
  bool auth_enabled() const { return auth_enabled_; }
  bool token_auth_enabled() const { return token_auth_enabled_; }
  const std::map<std::string, std::string>& tags() const { return tags_; }
  const std::map<std::string, std::string>& properties() const { return properties_; }
  const std::string& description() const { return description_; }
  const std::string& created_time() const { return created_time_; }
  const std::string& updated_time() const { return updated_time_; }
  const std::vector<std::string>& model_ids() const { return model_ids_; }
  const std::string& operation_id() const { return operation_id_; }
  // The whole server document of the service (JSON).
  const std::string& document() const { return document_; }
  // As a version of an AksEndpoint: the endpoint's name (empty for a web service of its own), its traffic
  // percentile, whether it is the default, and its type (AksEndpoint::VersionType).
  const std::string& endpoint_name() const { return endpoint_name_; }
  int64_t traffic_percentile() const { return traffic_percentile_; }
  bool is_default() const { return is_default_; }
  const std::string& version_type() const { return version_type_; }

 protected:
  explicit Webservice(Workspace workspace) : workspace_(std::move(workspace)) {}
  friend class WebserviceCodec;
  // What Run() sends as its Bearer credential ("" for none); `fresh` fetches it again.
  absl::StatusOr<std::string> Credential(bool fresh);

  Workspace workspace_;
  std::string name_;
  std::string compute_type_;
  std::string compute_name_;
  std::string state_;
  std::string phase_;
  std::string reason_;
  std::string error_;
  std::string scoring_uri_;
  std::string swagger_uri_;
  bool auth_enabled_ = false;
  bool token_auth_enabled_ = false;
  std::map<std::string, std::string> tags_;
  std::map<std::string, std::string> properties_;
  std::string description_;
  std::string created_time_;
  std::string updated_time_;
  std::vector<std::string> model_ids_;
  std::string operation_id_;
  std::string document_;
  std::string key_;                             // cached for Run()
  std::optional<AksServiceAccessToken> token_;  // cached for Run()
  std::string endpoint_name_;
  int64_t traffic_percentile_ = 0;
  bool is_default_ = false;
  std::string version_type_;
};

// The changes AksWebservice.update accepts; unset fields keep their value.
struct AksServiceUpdate {
  AksServiceDeploymentConfiguration config;
  std::optional<std::vector<Model>> models;
  std::optional<InferenceConfig> inference_config;
};

class AksWebservice : public Webservice {
 public:
  static constexpr char kComputeType[] = "AKS";

  // Starts deploying `models` as service `name` on `target`; returns at once (then WaitForDeployment).
  // overwrite replaces an existing service of that name, keeping its scoring URI and keys.
  static absl::StatusOr<std::shared_ptr<AksWebservice>> Deploy(const Workspace& workspace, absl::string_view name,
                                                               const std::vector<Model>& models,
                                                               const InferenceConfig& inference_config,
                                                               const AksServiceDeploymentConfiguration& config,
                                                               const AksCompute& target, bool overwrite = false);
  // Starts a rolling update; the "Error, ..." messages are azureml's.
  absl::Status Update(const AksServiceUpdate& update);

  const std::optional<int64_t>& num_replicas() const { return num_replicas_; }
  bool autoscale_enabled() const { return autoscale_enabled_; }
  double cpu_cores() const { return cpu_cores_; }
  double memory_gb() const { return memory_gb_; }

 protected:
  friend class WebserviceCodec;
  explicit AksWebservice(Workspace workspace) : Webservice(std::move(workspace)) {}

  std::optional<int64_t> num_replicas_;
  bool autoscale_enabled_ = false;
  double cpu_cores_ = 0;
  double memory_gb_ = 0;
};

// AciWebservice.deploy_configuration: a service in a container group of its own on this machine, as Azure
// Container Instances runs one (no compute target to create). The server applies ACI's defaults: 0.1 CPU,
// 0.5 GB, auth off, one replica; a container group takes at most 4 CPU cores and 16 GB.
struct AciServiceDeploymentConfiguration {
  std::optional<double> cpu_cores;
  std::optional<double> memory_gb;
  std::map<std::string, std::string> tags;
  std::map<std::string, std::string> properties;
  std::string description;
  std::string location;  // the workspace's when empty
  std::optional<bool> auth_enabled;
  std::optional<bool> ssl_enabled;
  std::optional<bool> enable_app_insights;
  std::string ssl_cert_pem_file;
  std::string ssl_key_pem_file;
  std::string ssl_cname;
  std::string dns_name_label;
  std::string primary_key;
  std::string secondary_key;
  std::optional<bool> collect_model_data;
  // Customer-managed keys and virtual networks are Azure's; amlcore refuses them (see Validate).
  std::string cmk_vault_base_url;
  std::string cmk_key_name;
  std::string cmk_key_version;
  std::string vnet_name;
  std::string subnet_name;

  // azureml's checks, with its messages; kInvalidArgument.
  absl::Status Validate() const;
};

// LocalWebservice.deploy_configuration: a service on a fixed port of this machine (any free port when unset),
// for trying a model out. No authentication, one replica.
struct LocalWebserviceDeploymentConfiguration {
  std::optional<int64_t> port;

  absl::Status Validate() const;
};

// A service in a container group of its own, as on Azure Container Instances: its scoring URI is
// http(s)://<host>:<port>/score.
//
//   auto service = amlcore::AciWebservice::Deploy(ws, "aci-diabetes", {*model}, inference, {.cpu_cores = 1});
class AciWebservice : public Webservice {
 public:
  static constexpr char kComputeType[] = "ACI";

  // Starts deploying `models` as service `name`; returns at once (then WaitForDeployment).
  static absl::StatusOr<std::shared_ptr<AciWebservice>> Deploy(const Workspace& workspace, absl::string_view name,
                                                               const std::vector<Model>& models,
                                                               const InferenceConfig& inference_config,
                                                               const AciServiceDeploymentConfiguration& config = {},
                                                               bool overwrite = false);
  // AciWebservice.update: unset fields keep their value; azureml's "Error, ..." messages.
  struct Changes {
    std::optional<std::map<std::string, std::string>> tags;
    std::map<std::string, std::string> properties;  // added to the service's
    std::string description;
    std::optional<bool> auth_enabled;
    std::optional<bool> ssl_enabled;
    std::string ssl_cert_pem_file;
    std::string ssl_key_pem_file;
    std::string ssl_cname;
    std::optional<bool> enable_app_insights;
    std::optional<std::vector<Model>> models;
    std::optional<InferenceConfig> inference_config;
  };
  absl::Status Update(const Changes& changes);

  double cpu_cores() const { return cpu_cores_; }
  double memory_gb() const { return memory_gb_; }
  const std::string& location() const { return location_; }
  bool ssl_enabled() const { return ssl_enabled_; }
  const std::string& cname() const { return cname_; }
  const std::string& dns_name_label() const { return dns_name_label_; }
  const std::string& public_fqdn() const { return public_fqdn_; }
  bool enable_app_insights() const { return enable_app_insights_; }

 private:
  friend class WebserviceCodec;
  explicit AciWebservice(Workspace workspace) : Webservice(std::move(workspace)) {}

  double cpu_cores_ = 0;
  double memory_gb_ = 0;
  std::string location_;
  bool ssl_enabled_ = false;
  std::string cname_;
  std::string dns_name_label_;
  std::string public_fqdn_;
  bool enable_app_insights_ = false;
};

// A service on a port of this machine, as azureml's LocalWebservice: its scoring URI is
// http://localhost:<port>/score. Reload() deploys the entry script and source directory again from disk.
//
//   auto service = amlcore::LocalWebservice::Deploy(ws, "local-diabetes", {*model}, inference, {.port = 6789});
class LocalWebservice : public Webservice {
 public:
  static constexpr char kComputeType[] = "Local";

  static absl::StatusOr<std::shared_ptr<LocalWebservice>> Deploy(
      const Workspace& workspace, absl::string_view name, const std::vector<Model>& models,
      const InferenceConfig& inference_config, const LocalWebserviceDeploymentConfiguration& config = {},
      bool overwrite = false);
  // LocalWebservice.update: new models, inference configuration or port (unset ones stay).
  struct Changes {
    std::optional<std::vector<Model>> models;
    std::optional<InferenceConfig> inference_config;
    std::optional<LocalWebserviceDeploymentConfiguration> deployment_config;
  };
  absl::Status Update(const Changes& changes);
  // Packs the entry script and source directory again from where they were deployed from, and restarts the
  // service with them (the models and environment stay).
  absl::Status Reload();

  int64_t port() const { return port_; }

 private:
  friend class WebserviceCodec;
  explicit LocalWebservice(Workspace workspace) : Webservice(std::move(workspace)) {}

  int64_t port_ = 0;
  std::optional<InferenceConfig> inference_config_;  // what it was deployed with, from this process
};

// A version of an AksEndpoint as create_version and update_version take it; unset fields keep their value.
struct AksEndpointVersion {
  AksServiceDeploymentConfiguration config;  // the deployment settings of the version (DeploySettingScope::kVersion)
  std::optional<std::vector<Model>> models;
  std::optional<InferenceConfig> inference_config;
  std::optional<bool> is_default;               // true: this version takes the traffic others leave
  std::optional<bool> is_control_version_type;  // true: the control version; false: a treatment
};

// The changes AksEndpoint.update accepts (the endpoint's own settings); unset fields keep their value.
struct AksEndpointUpdate {
  std::optional<bool> auth_enabled;
  std::optional<bool> token_auth_enabled;
  std::optional<bool> enable_app_insights;
  std::optional<std::string> description;
  std::optional<std::map<std::string, std::string>> tags;
  std::optional<std::map<std::string, std::string>> properties;
};

// Controlled rollout: one scoring URI, up to six versions behind it, each with a share of the traffic; the
// default version takes what no percentile claims; one control and any number of treatments.
//
//   AksServiceDeploymentConfiguration config;
//   config.version_name = "versiona";
//   config.traffic_percentile = 20;
//   auto endpoint = AksEndpoint::Deploy(ws, "my-endpoint", {model}, inference, config, *aks);
//   (*endpoint)->CreateVersion("versionb", {.config = {.traffic_percentile = 10}, .inference_config = inference});
class AksEndpoint : public AksWebservice {
 public:
  static constexpr char kComputeType[] = "AKSENDPOINT";
  struct VersionType {
    static constexpr char kControl[] = "Control";
    static constexpr char kTreatment[] = "Treatment";
  };

  // Starts deploying the endpoint with its first version (config.version_name, else the endpoint's name), which
  // is its default; returns at once (then WaitForDeployment).
  static absl::StatusOr<std::shared_ptr<AksEndpoint>> Deploy(const Workspace& workspace, absl::string_view name,
                                                             const std::vector<Model>& models,
                                                             const InferenceConfig& inference_config,
                                                             const AksServiceDeploymentConfiguration& config,
                                                             const AksCompute& target);

  // Each starts one operation (then WaitForDeployment); a change the endpoint rules refuse changes nothing.
  absl::Status CreateVersion(absl::string_view version_name, const AksEndpointVersion& version);
  absl::Status UpdateVersion(absl::string_view version_name, const AksEndpointVersion& changes);
  // The default passes to the control version, else to the oldest remaining one; the last version cannot go.
  absl::Status DeleteVersion(absl::string_view version_name);
  absl::Status UpdateEndpoint(const AksEndpointUpdate& update);

  // The versions, oldest first, by name.
  const std::map<std::string, std::shared_ptr<AksWebservice>>& versions() const { return versions_; }
  const std::vector<std::string>& version_order() const { return version_order_; }

 private:
  friend class WebserviceCodec;
  explicit AksEndpoint(Workspace workspace) : AksWebservice(std::move(workspace)) {}
  // Sends a JSON patch of the endpoint and follows the operation it starts.
  absl::Status Patch(const std::string& patch);

  std::map<std::string, std::shared_ptr<AksWebservice>> versions_;
  std::vector<std::string> version_order_;
};

}  // namespace amlcore

#endif  // AMLCORE_WEBSERVICE_H_
