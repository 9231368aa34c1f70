// Compute targets: Azure Kubernetes Service clusters that web services are deployed to. On the local backend a
// cluster is a capacity pool on this machine served by its own front end process (amlcore-fe).
//
//   amlcore::AksProvisioningConfiguration config;
//   config.cluster_purpose = amlcore::ClusterPurpose::kDevTest;
//   config.agent_count = 1;
//   auto aks = amlcore::AksCompute::Create(*ws, "my-aks", config);
//   if (aks.ok()) absl::Status done = (*aks)->WaitForCompletion();
#ifndef AMLCORE_COMPUTE_H_
#define AMLCORE_COMPUTE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "amlcore/operation.h"
#include "amlcore/workspace.h"

namespace amlcore {

// Provisioning states of a compute target. The server may add states; compare with these constants.
struct ProvisioningState {
  static constexpr char kCreating[] = "Creating";
  static constexpr char kUpdating[] = "Updating";
  static constexpr char kDeleting[] = "Deleting";
  static constexpr char kSucceeded[] = "Succeeded";
  static constexpr char kFailed[] = "Failed";
  static constexpr char kCanceled[] = "Canceled";
};

// How a cluster is used. FastProd clusters need at least 12 vCPUs in total.
struct ClusterPurpose {
  static constexpr char kFastProd[] = "FastProd";
  static constexpr char kDevTest[] = "DevTest";
};

struct LoadBalancerType {
  static constexpr char kPublicIp[] = "PublicIp";
  static constexpr char kInternalLoadBalancer[] = "InternalLoadBalancer";
};

// SSL settings of a cluster's front end. status is "Enabled" (cname + cert + key), "Auto" (leaf domain
// label) or "Disabled". cert and key hold PEM text, not file names.
//
// With a leaf domain label, amlcore's certificate authority on the server's machine issues the certificate,
// for the name "<label>.localhost" (cname reports it); certificate_authority_file is then the CA certificate
// that clients trust (an amlcore extension; service.run() trusts it by itself).
struct SslConfiguration {
  std::string status;
  std::string cert;
  std::string key;
  std::string cname;
  std::string leaf_domain_label;
  bool overwrite_existing_domain = false;
  bool renew = false;
  std::string certificate_authority_file;
};

// What ComputeTarget.create needs for a new AKS cluster. Empty strings and unset optionals mean "use the
// server's default": 3 agents of Standard_D3_v2, FastProd, PublicIp, subnet aks-subnet.
struct AksProvisioningConfiguration {
  std::optional<int64_t> agent_count;
  std::string vm_size;
  std::string ssl_cname;
  std::string ssl_cert_pem_file;
  std::string ssl_key_pem_file;
  std::string location;
  std::string vnet_resourcegroup_name;
  std::string vnet_name;
  std::string subnet_name;
  std::string service_cidr;
  std::string dns_service_ip;
  std::string docker_bridge_cidr;
  std::string cluster_purpose;
  std::string load_balancer_type;
  std::string load_balancer_subnet;
  std::string leaf_domain_label;
  bool overwrite_existing_domain = false;

  // The client-side rules, with azureml's messages.
  absl::Status Validate() const;
  // Sets the given SSL fields, then validates.
  absl::Status EnableSsl(absl::string_view ssl_cname, absl::string_view ssl_cert_pem_file,
                         absl::string_view ssl_key_pem_file, absl::string_view leaf_domain_label = "",
                         bool overwrite_existing_domain = false);
};

// What ComputeTarget.attach needs: either resource_id, or resource_group and cluster_name.
struct AksAttachConfiguration {
  std::string resource_group;
  std::string cluster_name;
  std::string resource_id;
  std::string cluster_purpose;
  std::string load_balancer_type;
  std::string load_balancer_subnet;
  std::string ssl_cname;
  std::string ssl_cert_pem_file;
  std::string ssl_key_pem_file;
  std::string leaf_domain_label;
  bool overwrite_existing_domain = false;
  // amlcore: a Kubernetes cluster reached through a kubeconfig (any cluster, not only AKS). By default the
  // context named like cluster_name in KUBECONFIG or ~/.kube/config, as amlcored reads them (az aks
  // get-credentials makes that context); `kubeconfig` (an absolute path) and `context` name others. amlcore's
  // objects go to `namespace_name` (default "azureml"), its pods run `image` (default amlcore/runtime:<version>).
  std::string kubeconfig;
  std::string context;
  std::string namespace_name;
  std::string image;

  absl::Status Validate() const;
  absl::Status EnableSsl(absl::string_view ssl_cname, absl::string_view ssl_cert_pem_file,
                         absl::string_view ssl_key_pem_file, absl::string_view leaf_domain_label = "",
                         bool overwrite_existing_domain = false);
};

// Changes to an existing cluster. agent_count (scaling) goes beyond azureml.
struct AksUpdateConfiguration {
  std::optional<SslConfiguration> ssl_configuration;
  std::string load_balancer_type;
  std::string load_balancer_subnet;
  std::optional<int64_t> agent_count;
  // amlcore: the cluster's router writes a line for every request (request id, service, version, status,
  // latency) to its log; off by default.
  std::optional<bool> access_log;

  absl::Status Validate() const;
};

struct ProvisioningError {
  std::string code;
  std::string message;
};

// A compute target of a workspace. Objects are snapshots: RefreshState() reloads them from the server.
class ComputeTarget {
 public:
  virtual ~ComputeTarget();

  // The compute target called `name`, as the subclass matching its type; kNotFound with azureml's
  // "ComputeTargetNotFound" message when there is none.
  static absl::StatusOr<std::shared_ptr<ComputeTarget>> Get(const Workspace& workspace, absl::string_view name);
  static absl::StatusOr<std::vector<std::shared_ptr<ComputeTarget>>> List(const Workspace& workspace);

  // Waits for the operation this object last started (create, attach, update, delete, detach).
  // With is_delete_operation the object is not refreshed afterwards (it no longer exists).
  absl::Status WaitForCompletion(const PollOptions& options = {}, bool is_delete_operation = false);
  absl::Status RefreshState();
  absl::StatusOr<std::string> GetStatus();
  // Removes a compute target the workspace created, together with its cluster.
  virtual absl::Status Delete() = 0;
  // Removes the workspace's link to the cluster and leaves the cluster running.
  virtual absl::Status Detach() = 0;
  // The ARM-shaped JSON document of this object (as azureml's serialize()).
  virtual std::string Serialize() const = 0;

  const Workspace& workspace() const { return workspace_; }
  const std::string& name() const { return name_; }
  std::string id() const;
  const std::string& type() const { return type_; }
  const std::string& location() const { return location_; }
  const std::string& description() const { return description_; }
  const std::map<std::string, std::string>& tags() const { return tags_; }
  const std::string& created_on() const { return created_on_; }
  const std::string& modified_on() const { return modified_on_; }
  const std::string& provisioning_state() const { return provisioning_state_; }
  const std::vector<ProvisioningError>& provisioning_errors() const { return provisioning_errors_; }
  const std::string& cluster_resource_id() const { return cluster_resource_id_; }
  const std::string& cluster_location() const { return cluster_location_; }
  bool is_attached() const { return is_attached_; }
  // Azure-AsyncOperation URL of the last operation started through this object ("" if none).
  const std::string& operation_endpoint() const { return operation_endpoint_; }

 protected:
  ComputeTarget(Workspace workspace, std::string type) : workspace_(std::move(workspace)), type_(std::move(type)) {}
  // Starts a DELETE with the given underlyingResourceAction ("delete" or "detach").
  absl::Status DeleteOrDetach(absl::string_view action);

  friend class ComputeCodec;
  Workspace workspace_;
  std::string name_;
  std::string type_;
  std::string location_;
  std::string description_;
  std::map<std::string, std::string> tags_;
  std::string created_on_;
  std::string modified_on_;
  std::string provisioning_state_;
  std::vector<ProvisioningError> provisioning_errors_;
  std::string cluster_resource_id_;
  std::string cluster_location_;
  bool is_attached_ = false;
  std::string operation_endpoint_;
};

class AksCompute : public ComputeTarget {
 public:
  static constexpr char kComputeType[] = "AKS";

  // Starts creating a cluster; returns at once. Validates `config` first.
  static absl::StatusOr<std::shared_ptr<AksCompute>> Create(const Workspace& workspace, absl::string_view name,
                                                            const AksProvisioningConfiguration& config);
  // Starts attaching an existing cluster under `name`; returns at once.
  static absl::StatusOr<std::shared_ptr<AksCompute>> Attach(const Workspace& workspace, absl::string_view name,
                                                            const AksAttachConfiguration& config);
  static absl::StatusOr<std::shared_ptr<AksCompute>> Get(const Workspace& workspace, absl::string_view name);
  // Builds an object from Serialize() output; fails when it belongs to another workspace.
  static absl::StatusOr<std::shared_ptr<AksCompute>> Deserialize(const Workspace& workspace,
                                                                 absl::string_view json);

  // Starts an update; WaitForCompletion() waits for it.
  absl::Status Update(const AksUpdateConfiguration& config);
  absl::Status Delete() override;
  absl::Status Detach() override;
  // The cluster's credentials as a JSON document ({"userKubeConfig": ..., "adminKubeConfig": ...}).
  absl::StatusOr<std::string> GetCredentials();
  std::string Serialize() const override;

  std::optional<int64_t> agent_count() const { return agent_count_; }
  // Whether the cluster's router writes an access log (amlcore).
  bool access_log() const { return access_log_; }
  const std::string& agent_vm_size() const { return agent_vm_size_; }
  const std::string& cluster_purpose() const { return cluster_purpose_; }
  const std::string& cluster_fqdn() const { return cluster_fqdn_; }
  const std::optional<SslConfiguration>& ssl_configuration() const { return ssl_configuration_; }
  const std::string& load_balancer_type() const { return load_balancer_type_; }
  const std::string& load_balancer_subnet() const { return load_balancer_subnet_; }
  // Base URL of the cluster's front end (beyond azureml), e.g. "http://127.0.0.1:41234".
  const std::string& scoring_endpoint() const { return scoring_endpoint_; }

 private:
  friend class ComputeCodec;
  explicit AksCompute(Workspace workspace) : ComputeTarget(std::move(workspace), kComputeType) {}

  std::optional<int64_t> agent_count_;
  bool access_log_ = false;
  std::string agent_vm_size_;
  std::string cluster_purpose_;
  std::string cluster_fqdn_;
  std::optional<SslConfiguration> ssl_configuration_;
  std::string load_balancer_type_;
  std::string load_balancer_subnet_;
  std::string scoring_endpoint_;
};

}  // namespace amlcore

#endif  // AMLCORE_COMPUTE_H_
