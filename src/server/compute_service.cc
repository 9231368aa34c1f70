#include "server/compute_service.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/crypto.h"
#include "common/errors.h"
#include "common/local_ca.h"
#include "domain/aks_rules.h"
#include "domain/names.h"
#include "domain/vm_sizes.h"
#include "backend/kubernetes/kubeconfig.h"
#include "server/cluster_controller.h"

namespace amlcore::server {
namespace {
namespace bj = json::bj;
using namespace std::chrono_literals;

constexpr char kProvision[] = "ComputeProvision";
constexpr char kUpdate[] = "ComputeUpdate";
constexpr char kDelete[] = "ComputeDelete";
constexpr char kDetach[] = "ComputeDetach";

// The name a leaf domain label gets on this machine: under "localhost", which RFC 6761 reserves for loopback
// (curl, browsers and the SDK reach it; other clients need the name mapped to 127.0.0.1).
std::string LeafDomainName(const std::string& label) { return absl::StrCat(label, ".localhost"); }

// Issues the certificate of a leaf domain label for `cluster` (nullptr: a cluster being made), unless it has
// that label's certificate already (renew issues a new one for its label). `ssl` comes from CheckSsl.
absl::Status IssueLeafCertificate(Store& store, Tx& tx, const std::string& ca_directory, const ClusterRecord* cluster,
                                  SslConfiguration* ssl) {
  if (ssl->status != "Auto") return absl::OkStatus();
  const SslConfiguration* had =
      cluster != nullptr && cluster->ssl && cluster->ssl->status == "Auto" && !cluster->ssl->cert.empty()
          ? &*cluster->ssl
          : nullptr;
  if (ssl->renew) {
    if (had == nullptr || had->leaf_domain_label.empty()) {
      return Invalid("Invalid configuration. When renew is set the cluster should have the leaf domain label set "
                     "for SSL.");
    }
    if (ssl->leaf_domain_label.empty()) ssl->leaf_domain_label = had->leaf_domain_label;
  } else if (had != nullptr && had->leaf_domain_label == ssl->leaf_domain_label) {
    bool overwrite = ssl->overwrite_existing_domain;
    *ssl = *had;
    ssl->overwrite_existing_domain = overwrite;
    return absl::OkStatus();
  }
  std::string name = LeafDomainName(ssl->leaf_domain_label);
  if (!ssl->overwrite_existing_domain) {
    auto clusters = store.ListClusters(tx);
    if (!clusters.ok()) return clusters.status();
    for (const auto& other : *clusters) {
      if ((cluster == nullptr || other.id != cluster->id) && other.ssl && other.ssl->cname == name) {
        return Invalid(absl::StrCat("Invalid configuration, the leaf domain label ", ssl->leaf_domain_label,
                                    " is in use by cluster ", other.name,
                                    "; choose another label or set overwrite_existing_domain=True."));
      }
    }
  }
  auto ca = LocalCertificateAuthority::Open(ca_directory);
  if (!ca.ok()) return ca.status();
  auto issued = ca->Issue(name);
  if (!issued.ok()) return issued.status();
  ssl->cert = issued->certificate_pem;
  ssl->key = issued->private_key_pem;
  ssl->cname = name;
  ssl->renew = false;
  ssl->certificate_authority_file = ca->certificate_file();
  return absl::OkStatus();
}

absl::Status ComputeNotFound(const std::string& name, const WorkspaceRecord& ws) {
  return MakeError(absl::StatusCode::kNotFound, "ComputeTargetNotFound",
                   absl::StrCat("Compute Target with name ", name, " not found in workspace ", ws.name, "."));
}

// Vnet settings arrive as a subnet resource id; the rules speak of its parts.
absl::Status CheckNetworking(const domain::AksNetworking& n) {
  std::vector<absl::string_view> parts = absl::StrSplit(n.subnet_id, '/');
  bool shaped = parts.size() == 11 && parts[0].empty() && absl::EqualsIgnoreCase(parts[1], "subscriptions") &&
                absl::EqualsIgnoreCase(parts[3], "resourceGroups") &&
                absl::EqualsIgnoreCase(parts[6], "Microsoft.Network") &&
                absl::EqualsIgnoreCase(parts[7], "virtualNetworks") && absl::EqualsIgnoreCase(parts[9], "subnets");
  if (!n.subnet_id.empty() && !shaped) {
    return Invalid(absl::StrCat("Invalid configuration, aksNetworkingConfiguration.subnetId '", n.subnet_id,
                                "' is not a subnet resource id (/subscriptions/{id}/resourceGroups/{group}/providers/"
                                "Microsoft.Network/virtualNetworks/{vnet}/subnets/{subnet})."));
  }
  domain::VnetInputs v;
  if (shaped) {
    v.vnet_resourcegroup_name = parts[4];
    v.vnet_name = parts[8];
    v.subnet_name = parts[10];
  }
  v.service_cidr = n.service_cidr;
  v.dns_service_ip = n.dns_service_ip;
  v.docker_bridge_cidr = n.docker_bridge_cidr;
  return domain::CheckVnetInputs(v);
}

// Validates an SSL block and returns what to store (a leaf domain label's certificate is issued later, where
// the cluster is known: IssueLeafCertificate).
absl::StatusOr<SslConfiguration> CheckSsl(const SslConfiguration& ssl) {
  if (ssl.status == "Disabled") return SslConfiguration{.status = "Disabled"};
  bool automatic = ssl.status == "Auto" || (ssl.cert.empty() && (!ssl.leaf_domain_label.empty() || ssl.renew));
  if (automatic) {
    domain::SslInputs inputs{!ssl.cname.empty(), !ssl.cert.empty(), !ssl.key.empty(),
                             !ssl.leaf_domain_label.empty(), ssl.overwrite_existing_domain};
    if (auto s = domain::CheckSslInputs(inputs); !s.ok()) return Invalid(s.message());
    if (ssl.leaf_domain_label.empty() && !ssl.renew) {
      return Invalid("Invalid configuration, sslConfiguration with status Auto needs a leaf_domain_label.");
    }
    if (!ssl.leaf_domain_label.empty()) {
      if (auto s = domain::ValidateLeafDomainLabel(ssl.leaf_domain_label); !s.ok()) return Invalid(s.message());
    }
    return SslConfiguration{.status = "Auto",
                            .leaf_domain_label = ssl.leaf_domain_label,
                            .overwrite_existing_domain = ssl.overwrite_existing_domain,
                            .renew = ssl.renew};
  }
  if (!ssl.status.empty() && ssl.status != "Enabled") {
    return Invalid(absl::StrCat("Invalid configuration, sslConfiguration.status '", ssl.status,
                                "' is not one of Enabled, Auto or Disabled."));
  }
  domain::SslInputs inputs{!ssl.cname.empty(), !ssl.cert.empty(), !ssl.key.empty(), !ssl.leaf_domain_label.empty(),
                           ssl.overwrite_existing_domain};
  if (auto s = domain::CheckSslInputs(inputs); !s.ok()) return Invalid(s.message());
  if (!inputs.cert) return Invalid("Invalid configuration, sslConfiguration needs cname, cert and key.");
  if (auto s = CheckCertificateAndKey(ssl.cert, ssl.key); !s.ok()) {
    return Invalid(absl::StrCat("Invalid configuration, ", s.message()));
  }
  SslConfiguration stored = ssl;
  stored.status = "Enabled";
  stored.renew = false;
  return stored;
}

// Rules every request shares, whatever it creates or changes.
absl::Status CheckCommon(const domain::ComputePutRequest& r) {
  if (r.compute_type != "AKS") {
    return Invalid(absl::StrCat("properties.computeType '", r.compute_type,
                                "' is not supported; amlcore manages compute targets of type \"AKS\"."));
  }
  if (auto s = domain::CheckAgentCount(r.agent_count); !s.ok()) return Invalid(s.message());
  if (auto s = domain::CheckClusterPurpose(r.cluster_purpose); !s.ok()) return Invalid(s.message());
  if (r.networking) {
    if (auto s = CheckNetworking(*r.networking); !s.ok()) return Invalid(s.message());
  }
  return absl::OkStatus();
}

std::string CapacityText(const ClusterRecord& c, const domain::VmSize& size) {
  return absl::StrCat(c.agent_count, " x ", size.name, " (", c.agent_count * size.vcpus, " vCPUs, ",
                      c.agent_count * size.memory_gib, " GiB of memory)");
}

}  // namespace

absl::Status ComputeService::Begin(Tx& tx, const WorkspaceRecord& ws, OperationRecord& op,
                                   const ComputeRecord& compute, const std::string& first_line, Accepted& accepted) {
  op.workspace_id = ws.id;
  op.resource_kind = ResourceKind::kCompute;
  op.resource_id = compute.id;
  op.resource_name = compute.name;
  if (auto s = operations_->Start(tx, op, first_line); !s.ok()) return s;
  accepted.operation_id = op.id;
  accepted.resource_key = {ResourceKind::kCompute, compute.id};
  auto described = Describe(tx, ws, compute);
  if (!described.ok()) return described.status();
  accepted.resource = std::move(*described);
  return absl::OkStatus();
}

ComputeService::ComputeService(Store* store, backend::WorkloadBackend* backend, Operations* operations,
                               Options options, std::function<void(int64_t)> capacity_changed)
    : store_(store),
      backend_(backend),
      operations_(operations),
      options_(options),
      capacity_changed_(std::move(capacity_changed)) {}

absl::StatusOr<domain::ComputeResource> ComputeService::Describe(Tx& tx, const WorkspaceRecord& ws,
                                                                 const ComputeRecord& compute) {
  auto cluster = store_->GetCluster(tx, compute.cluster_id);
  if (!cluster.ok()) return cluster.status();
  domain::ComputeResource r;
  r.id = absl::StrCat("/subscriptions/", ws.subscription_id, "/resourceGroups/", ws.resource_group,
                      "/providers/Microsoft.MachineLearningServices/workspaces/", ws.name, "/computes/",
                      compute.name);
  r.name = compute.name;
  r.location = compute.location;
  r.tags = compute.tags;
  r.description = compute.description;
  r.is_attached = compute.is_attached;
  r.provisioning_state = compute.provisioning_state;
  r.provisioning_errors = compute.provisioning_errors;
  r.created_on = compute.created;
  r.modified_on = compute.modified;
  r.cluster_purpose = compute.cluster_purpose;
  if (cluster->has_value()) {
    const ClusterRecord& c = **cluster;
    r.resource_id = c.resource_id();
    r.compute_location = c.location;
    r.agent_count = c.agent_count;
    r.agent_vm_size = c.vm_size;
    r.ssl = c.ssl;
    if (r.ssl) r.ssl->key.clear();
    r.networking = c.networking;
    r.load_balancer_type = c.load_balancer_type;
    r.load_balancer_subnet = c.load_balancer_subnet;
    r.access_log = c.access_log;
    r.kubernetes = c.kubernetes;
    if (!c.scoring_endpoint.empty()) {
      absl::string_view host = c.scoring_endpoint;
      absl::ConsumePrefix(&host, "https://") || absl::ConsumePrefix(&host, "http://");
      r.cluster_fqdn = std::string(host.substr(0, host.rfind(':')));
      r.scoring_endpoint = c.scoring_endpoint;
    }
  }
  return r;
}

absl::StatusOr<ComputeService::Accepted> ComputeService::Put(const WorkspaceKey& key, const std::string& name,
                                                             absl::string_view body, bool create_only) {
  auto request = domain::ParseComputePutRequest(body);
  if (!request.ok()) return Invalid(request.status().message());
  if (auto s = CheckCommon(*request); !s.ok()) return s;
  // SSL and load balancer settings are checked before the transaction (certificate parsing is slow-ish).
  std::optional<SslConfiguration> ssl;
  if (request->ssl) {
    auto checked = CheckSsl(*request->ssl);
    if (!checked.ok()) return checked.status();
    ssl = *checked;
  }

  return operations_->Accept<Accepted>([&](Tx& tx, Accepted& accepted) -> absl::Status {
    auto ws = RequireWorkspace(*store_, tx, key);
    if (!ws.ok()) return ws.status();
    accepted.location = ws->location;
    auto existing = store_->FindCompute(tx, ws->id, name);
    if (!existing.ok()) return existing.status();
    OperationRecord op;
    std::string first_line;

    if (existing->has_value()) {
      ComputeRecord compute = **existing;
      auto cluster_or = store_->GetCluster(tx, compute.cluster_id);
      if (!cluster_or.ok()) return cluster_or.status();
      ClusterRecord cluster = cluster_or->value();
      if (create_only) {
        return MakeError(absl::StatusCode::kAlreadyExists, "ComputeTargetAlreadyExists",
                         absl::StrCat("A compute target named ", name, " already exists in workspace ", ws->name,
                                      " (cluster ", cluster.resource_id(),
                                      "). Choose another name, or get the existing one with "
                                      "ComputeTarget(workspace, name)."));
      }
      if (auto s = RequireNoRunningOperation(*store_, tx, ResourceKind::kCompute, compute.id, "Compute target", name);
          !s.ok()) {
        return s;
      }
      if (compute.provisioning_state != ProvisioningState::kSucceeded) {
        return Conflict("ComputeTargetNotReady",
                        absl::StrCat("Compute target ", name, " is in state ", compute.provisioning_state,
                                     " and cannot be updated; only Succeeded compute targets can."));
      }
      if (!request->resource_id.empty() && !absl::EqualsIgnoreCase(request->resource_id, cluster.resource_id())) {
        return Conflict("ComputeTargetAlreadyExists",
                        absl::StrCat("Compute target ", name, " is attached to cluster ", cluster.resource_id(),
                                     "; detach it before attaching another cluster under that name."));
      }
      if (!request->agent_vm_size.empty() && !absl::EqualsIgnoreCase(request->agent_vm_size, cluster.vm_size)) {
        return Invalid(absl::StrCat("Invalid configuration, agentVmSize cannot be changed after creation (cluster ",
                                    cluster.name, " has ", cluster.vm_size, ")."));
      }
      if (auto s = domain::CheckLoadBalancerUpdate(request->load_balancer_type, request->load_balancer_subnet);
          !s.ok()) {
        return Invalid(s.message());
      }
      if (cluster.is_kubernetes() && request->agent_count) {
        return Invalid(absl::StrCat("Invalid configuration, cluster ", cluster.name,
                                    " is an attached Kubernetes cluster: scale its node pools with its own tools "
                                    "(az aks scale, or your cloud's), not with agent_count."));
      }
      if (cluster.is_kubernetes() && request->ssl) {
        return Invalid("Invalid configuration, SSL is not supported yet for an attached Kubernetes cluster: its "
                       "router serves plain HTTP.");
      }
      // An attached Kubernetes cluster has no VM size of amlcore's: capacity is Kubernetes' to check.
      auto size = cluster.is_kubernetes() ? domain::FindVmSize(domain::kDefaultVmSize) : domain::FindVmSize(cluster.vm_size);
      if (!size.ok()) return size.status();
      std::vector<std::string> changes;
      if (request->agent_count && *request->agent_count != cluster.agent_count) {
        changes.push_back(absl::StrCat("agent count ", cluster.agent_count, " -> ", *request->agent_count));
        cluster.agent_count = *request->agent_count;
      }
      if (!request->cluster_purpose.empty() && request->cluster_purpose != compute.cluster_purpose) {
        changes.push_back(absl::StrCat("cluster purpose ", compute.cluster_purpose, " -> ", request->cluster_purpose));
        compute.cluster_purpose = request->cluster_purpose;
      }
      // Every workspace's view of the cluster must still satisfy its purpose.
      auto attachments = store_->ComputesOfCluster(tx, cluster.id);
      if (!attachments.ok()) return attachments.status();
      for (const auto& other : *attachments) {
        std::string purpose = other.id == compute.id ? compute.cluster_purpose : other.cluster_purpose;
        if (auto s = domain::CheckPurposeCapacity(purpose, cluster.agent_count, *size);
            !s.ok() && !cluster.is_kubernetes()) {
          return Invalid(s.message());
        }
      }
      if (ssl) {
        if (auto s = IssueLeafCertificate(*store_, tx, options_.certificate_authority_directory, &cluster, &*ssl);
            !s.ok()) {
          return s;
        }
        changes.push_back(absl::StrCat("SSL ", ssl->status, ssl->cname.empty() ? "" : absl::StrCat(" for ", ssl->cname)));
        cluster.ssl = ssl;
      }
      if (!request->load_balancer_type.empty()) {
        changes.push_back(absl::StrCat("load balancer type ", request->load_balancer_type));
        cluster.load_balancer_type = request->load_balancer_type;
      }
      if (!request->load_balancer_subnet.empty()) {
        if (cluster.load_balancer_type != LoadBalancerType::kInternalLoadBalancer) {
          return Invalid(
              "Invalid configuration, load balancer subnet can be changed from default when load balancer type "
              "is \"InternalLoadBalancer\".");
        }
        changes.push_back(absl::StrCat("load balancer subnet ", request->load_balancer_subnet));
        cluster.load_balancer_subnet = request->load_balancer_subnet;
      }
      if (request->access_log && *request->access_log != cluster.access_log) {
        changes.push_back(absl::StrCat("access log ", *request->access_log ? "on" : "off"));
        cluster.access_log = *request->access_log;
        // The router gets a table with the new switch when the cluster is next reconciled.
        cluster.route_generation++;
      }
      if (!request->description.empty()) compute.description = request->description;
      if (!request->tags.empty()) compute.tags = request->tags;
      compute.provisioning_state = ProvisioningState::kUpdating;
      compute.provisioning_errors.clear();
      if (auto s = store_->UpdateCluster(tx, cluster); !s.ok()) return s;
      if (auto s = store_->UpdateCompute(tx, compute); !s.ok()) return s;
      op.type = kUpdate;
      op.phase = ProvisioningState::kUpdating;
      first_line = changes.empty() ? "Updating compute target (no cluster changes)"
                                   : absl::StrCat("Updating cluster ", cluster.name, ": ", absl::StrJoin(changes, ", "));
      return Begin(tx, *ws, op, compute, first_line, accepted);
    }

    if (auto s = domain::ValidateComputeName(name); !s.ok()) return Invalid(s.message());
    if (auto s = domain::CheckLoadBalancer(request->load_balancer_type, request->load_balancer_subnet); !s.ok()) {
      return Invalid(s.message());
    }
    ComputeRecord compute;
    compute.workspace_id = ws->id;
    compute.name = name;
    compute.cluster_purpose =
        request->cluster_purpose.empty() ? domain::kDefaultClusterPurpose : request->cluster_purpose;
    compute.location = ws->location;
    compute.description = request->description;
    compute.tags = request->tags;
    compute.provisioning_state = ProvisioningState::kCreating;
    compute.created = compute.modified = NowTimestamp();
    ClusterRecord cluster;

    if (request->resource_id.empty()) {
      // Create a new cluster in the workspace's resource group.
      auto size = domain::FindVmSize(request->agent_vm_size.empty() ? domain::kDefaultVmSize
                                                                     : request->agent_vm_size);
      if (!size.ok()) return Invalid(size.status().message());
      cluster.agent_count = request->agent_count.value_or(domain::kDefaultAgentCount);
      if (auto s = domain::CheckPurposeCapacity(compute.cluster_purpose, cluster.agent_count, *size); !s.ok()) {
        return Invalid(s.message());
      }
      cluster.subscription_id = ws->subscription_id;
      cluster.resource_group = ws->resource_group;
      cluster.name = absl::StrCat(name, "-", RandomHex(3));
      cluster.location = request->location.empty() ? ws->location : request->location;
      cluster.vm_size = std::string(size->name);
      if (ssl) {
        if (auto s = IssueLeafCertificate(*store_, tx, options_.certificate_authority_directory, nullptr, &*ssl);
            !s.ok()) {
          return s;
        }
      }
      cluster.ssl = ssl;
      cluster.networking = request->networking;
      cluster.load_balancer_type =
          request->load_balancer_type.empty() ? domain::kDefaultLoadBalancerType : request->load_balancer_type;
      cluster.load_balancer_subnet = request->load_balancer_subnet.empty() ? domain::kDefaultLoadBalancerSubnet
                                                                           : request->load_balancer_subnet;
      cluster.state = ProvisioningState::kCreating;
      cluster.created_by_workspace = ws->id;
      cluster.created = NowTimestamp();
      auto cluster_id = store_->InsertCluster(tx, cluster);
      if (!cluster_id.ok()) return cluster_id.status();
      cluster.id = *cluster_id;
      compute.is_attached = false;
      first_line = absl::StrCat("Creating cluster ", cluster.resource_id(), " with ", CapacityText(cluster, *size),
                                ", purpose ", compute.cluster_purpose);
    } else {
      auto id = domain::ParseClusterResourceId(request->resource_id);
      if (!id.ok()) return Invalid(id.status().message());
      auto found = store_->FindCluster(tx, id->subscription_id, id->resource_group, id->cluster_name);
      if (!found.ok()) return found.status();
      if (found->has_value() && request->kubernetes && !(*found)->is_kubernetes()) {
        return Conflict("ClusterExists",
                        absl::StrCat("Cluster ", request->resource_id, " was created by amlcore on this machine; ",
                                     "attach it without kubeconfig settings, or give the Kubernetes cluster "
                                     "another name."));
      }
      if (!found->has_value() || (*found)->is_kubernetes()) {
        // Not a cluster amlcore made: the Kubernetes cluster a kubeconfig context of that name reaches.
        auto target = KubernetesTargetFor(*request, id->cluster_name);
        if (!target.ok()) return target.status();
        if (found->has_value()) {
          cluster = **found;
        } else {
          cluster.subscription_id = id->subscription_id;
          cluster.resource_group = id->resource_group;
          cluster.name = id->cluster_name;
          cluster.location = request->location.empty() ? ws->location : request->location;
          cluster.created = NowTimestamp();
        }
        auto attachments = AttachmentsOf(tx, cluster, *ws);
        if (!attachments.ok()) return attachments.status();
        if (ssl) {
          return Invalid("Invalid configuration, SSL is not supported yet for an attached Kubernetes cluster: its "
                         "router serves plain HTTP.");
        }
        // Checked (again) by provisioning: the API server's version, the namespace, the permissions.
        if (attachments->empty()) {
          cluster.kubernetes = *target;
          cluster.state = ProvisioningState::kCreating;
        }
        if (!request->load_balancer_type.empty()) cluster.load_balancer_type = request->load_balancer_type;
        if (!request->load_balancer_subnet.empty()) cluster.load_balancer_subnet = request->load_balancer_subnet;
        if (cluster.load_balancer_type.empty()) cluster.load_balancer_type = domain::kDefaultLoadBalancerType;
        if (cluster.id == 0) {
          auto inserted = store_->InsertCluster(tx, cluster);
          if (!inserted.ok()) return inserted.status();
          cluster.id = *inserted;
        } else if (auto s = store_->UpdateCluster(tx, cluster); !s.ok()) {
          return s;
        }
        compute.is_attached = true;
        first_line = absl::StrCat("Attaching Kubernetes cluster ", cluster.resource_id(), " through kubeconfig context ",
                                  cluster.kubernetes->context, cluster.kubernetes->kubeconfig.empty() ? "" : " of ",
                                  cluster.kubernetes->kubeconfig, ", namespace ",
                                  cluster.kubernetes->namespace_name, ", as ", compute.cluster_purpose);
        compute.cluster_id = cluster.id;
        return InsertAndBegin(tx, *ws, op, compute, name, first_line, accepted);
      }
      cluster = **found;
      if (cluster.state != ProvisioningState::kSucceeded) {
        return Conflict("ClusterNotReady", absl::StrCat("Cluster ", cluster.resource_id(), " is in state ",
                                                        cluster.state, "; only Succeeded clusters can be attached."));
      }
      if (auto attachments = AttachmentsOf(tx, cluster, *ws); !attachments.ok()) return attachments.status();
      auto size = domain::FindVmSize(cluster.vm_size);
      if (!size.ok()) return size.status();
      if (auto s = domain::CheckPurposeCapacity(compute.cluster_purpose, cluster.agent_count, *size); !s.ok()) {
        return Invalid(s.message());
      }
      if (ssl) {
        if (auto s = IssueLeafCertificate(*store_, tx, options_.certificate_authority_directory, &cluster, &*ssl);
            !s.ok()) {
          return s;
        }
        cluster.ssl = ssl;
      }
      if (!request->load_balancer_type.empty()) cluster.load_balancer_type = request->load_balancer_type;
      if (!request->load_balancer_subnet.empty()) cluster.load_balancer_subnet = request->load_balancer_subnet;
      if (auto s = store_->UpdateCluster(tx, cluster); !s.ok()) return s;
      compute.is_attached = true;
      first_line = absl::StrCat("Attaching cluster ", cluster.resource_id(), " (",
                                CapacityText(cluster, *size), ") as ", compute.cluster_purpose);
    }
    compute.cluster_id = cluster.id;
    return InsertAndBegin(tx, *ws, op, compute, name, first_line, accepted);
  });
}

absl::StatusOr<std::vector<ComputeRecord>> ComputeService::AttachmentsOf(Tx& tx, const ClusterRecord& cluster,
                                                                         const WorkspaceRecord& ws) {
  auto attachments = store_->ComputesOfCluster(tx, cluster.id);
  if (!attachments.ok()) return attachments.status();
  for (const auto& other : *attachments) {
    if (other.workspace_id == ws.id) {
      return Conflict("ClusterAlreadyAttached",
                      absl::StrCat("Cluster ", cluster.resource_id(), " is already attached to workspace ", ws.name,
                                   " as compute target ", other.name,
                                   ". A cluster can be attached to a workspace only once; use ", other.name,
                                   ", or detach it first."));
    }
  }
  return attachments;
}

absl::Status ComputeService::InsertAndBegin(Tx& tx, const WorkspaceRecord& ws, OperationRecord& op,
                                            ComputeRecord& compute, const std::string& name,
                                            const std::string& first_line, Accepted& accepted) {
  auto compute_id = store_->InsertCompute(tx, compute);
  if (!compute_id.ok()) {
    if (absl::IsAlreadyExists(compute_id.status())) {
      return MakeError(absl::StatusCode::kAlreadyExists, "ComputeTargetAlreadyExists",
                       absl::StrCat("A compute target named ", name, " already exists in workspace ", ws.name, "."));
    }
    return compute_id.status();
  }
  compute.id = *compute_id;
  op.type = kProvision;
  op.phase = ProvisioningState::kCreating;
  accepted.created = true;
  return Begin(tx, ws, op, compute, first_line, accepted);
}

absl::StatusOr<domain::KubernetesTarget> ComputeService::KubernetesTargetFor(const domain::ComputePutRequest& request,
                                                                          const std::string& cluster_name) {
  domain::KubernetesTarget target = request.kubernetes.value_or(domain::KubernetesTarget{});
  if (target.context.empty()) target.context = cluster_name;
  if (target.namespace_name.empty()) target.namespace_name = domain::kDefaultKubernetesNamespace;
  if (!target.kubeconfig.empty() && target.kubeconfig.front() != '/') {
    return Invalid(absl::StrCat("Invalid configuration, the kubeconfig path ", target.kubeconfig,
                                " must be absolute: the workspace server reads it, from its own directory."));
  }
  if (auto s = domain::CheckKubernetesNamespace(target.namespace_name); !s.ok()) return Invalid(s.message());
  // The kubeconfig as this server reads it, now, so that a wrong name fails the request rather than the
  // operation; the server reads it again whenever it reaches the cluster.
  auto context = kubernetes::LoadKubeContext({.path = target.kubeconfig, .context = target.context});
  if (!context.ok()) {
    return MakeError(absl::StatusCode::kNotFound, "ClusterNotFound",
                     absl::StrCat("No AKS cluster with resource id ", request.resource_id,
                                  " exists in amlcore, and no Kubernetes cluster is reachable under that name: ",
                                  context.status().message(),
                                  " Create a cluster with ComputeTarget.create, run az aks get-credentials for "
                                  "the cluster (it names its kubeconfig context after it), or name the context "
                                  "and kubeconfig in the attach configuration."));
  }
  return target;
}

absl::StatusOr<ComputeService::Accepted> ComputeService::Get(const WorkspaceKey& key, const std::string& name) {
  Accepted out;
  auto status = store_->db().Read([&](Tx& tx) -> absl::Status {
    auto ws = RequireWorkspace(*store_, tx, key);
    if (!ws.ok()) return ws.status();
    out.location = ws->location;
    auto compute = store_->FindCompute(tx, ws->id, name);
    if (!compute.ok()) return compute.status();
    if (!compute->has_value()) return ComputeNotFound(name, *ws);
    auto described = Describe(tx, *ws, **compute);
    if (!described.ok()) return described.status();
    out.resource = std::move(*described);
    auto running = store_->RunningOperationOn(tx, ResourceKind::kCompute, (*compute)->id);
    if (!running.ok()) return running.status();
    if (running->has_value()) out.operation_id = (*running)->id;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<std::vector<domain::ComputeResource>> ComputeService::List(const WorkspaceKey& key) {
  std::vector<domain::ComputeResource> out;
  auto status = store_->db().Read([&](Tx& tx) -> absl::Status {
    auto ws = RequireWorkspace(*store_, tx, key);
    if (!ws.ok()) return ws.status();
    auto computes = store_->ListComputes(tx, ws->id);
    if (!computes.ok()) return computes.status();
    for (const auto& compute : *computes) {
      auto described = Describe(tx, *ws, compute);
      if (!described.ok()) return described.status();
      out.push_back(std::move(*described));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<ComputeService::Accepted> ComputeService::Delete(const WorkspaceKey& key, const std::string& name,
                                                                const std::string& action) {
  if (action != "delete" && action != "detach") {
    return Invalid(absl::StrCat("underlyingResourceAction must be \"delete\" or \"detach\", not \"", action, "\"."));
  }
  return operations_->Accept<Accepted>([&](Tx& tx, Accepted& accepted) -> absl::Status {
    auto ws = RequireWorkspace(*store_, tx, key);
    if (!ws.ok()) return ws.status();
    accepted.location = ws->location;
    auto found = store_->FindCompute(tx, ws->id, name);
    if (!found.ok()) return found.status();
    if (!found->has_value()) return ComputeNotFound(name, *ws);
    ComputeRecord compute = **found;
    if (auto s = RequireNoRunningOperation(*store_, tx, ResourceKind::kCompute, compute.id, "Compute target", name);
        !s.ok()) {
      return s;
    }
    auto cluster_or = store_->GetCluster(tx, compute.cluster_id);
    if (!cluster_or.ok()) return cluster_or.status();
    ClusterRecord cluster = cluster_or->value();
    // Web services of this workspace run on the cluster; they must go first.
    auto services = store_->ServicesOnCluster(tx, cluster.id);
    if (!services.ok()) return services.status();
    std::vector<std::string> mine;
    for (const auto& s : *services) {
      if (s.workspace_id == ws->id || action == "delete") mine.push_back(s.name);
    }
    if (!mine.empty()) {
      return Conflict("ComputeTargetInUse",
                      absl::StrCat("Compute target ", name, " still runs web service", mine.size() == 1 ? " " : "s ",
                                   absl::StrJoin(mine, ", "), "; delete ", mine.size() == 1 ? "it" : "them",
                                   " before you ", action, " the compute target."));
    }
    OperationRecord op;
    op.phase = ProvisioningState::kDeleting;
    std::string first_line;
    if (action == "delete") {
      if (compute.is_attached || cluster.created_by_workspace != ws->id) {
        return MakeError(absl::StatusCode::kFailedPrecondition, "DeleteOfAttachedCompute",
                         absl::StrCat("Compute target ", name, " is attached to cluster ", cluster.resource_id(),
                                      ", which this workspace did not create, so delete() is refused. Use "
                                      "detach() to remove it from the workspace and leave the cluster running."));
      }
      auto attachments = store_->ComputesOfCluster(tx, cluster.id);
      if (!attachments.ok()) return attachments.status();
      std::vector<std::string> others;
      if (auto names = store_->DescribeAttachments(tx, cluster.id); names.ok()) {
        for (size_t i = 0; i < attachments->size(); ++i) {
          if ((*attachments)[i].id != compute.id) others.push_back((*names)[i]);
        }
      }
      if (!others.empty()) {
        return Conflict("ClusterInUse", absl::StrCat("Cluster ", cluster.resource_id(), " is still attached as ",
                                                     absl::StrJoin(others, ", "),
                                                     "; detach it there before deleting it."));
      }
      cluster.state = ProvisioningState::kDeleting;
      if (auto s = store_->UpdateCluster(tx, cluster); !s.ok()) return s;
      op.type = kDelete;
      first_line = absl::StrCat("Deleting cluster ", cluster.resource_id());
    } else {
      op.type = kDetach;
      first_line = absl::StrCat("Detaching cluster ", cluster.resource_id(), " from workspace ", ws->name);
    }
    compute.provisioning_state = ProvisioningState::kDeleting;
    if (auto s = store_->UpdateCompute(tx, compute); !s.ok()) return s;
    return Begin(tx, *ws, op, compute, first_line, accepted);
  });
}

absl::StatusOr<json::bj::object> ComputeService::ListKeys(const WorkspaceKey& key, const std::string& name) {
  auto resource = Get(key, name);
  if (!resource.ok()) return resource.status();
  // Local clusters have no Kubernetes API server, so there is no kubeconfig to hand out.
  return bj::object{{"userKubeConfig", nullptr},
                    {"adminKubeConfig", nullptr},
                    {"imagePullSecretName", nullptr},
                    {"scoringEndpoint", resource->resource.scoring_endpoint}};
}

StepResult ComputeService::Fail(const std::string& operation_id, const absl::Status& error) {
  absl::Status failure = ErrorCodeOf(error).empty() ? WithErrorCode(error, "ProvisioningFailed") : error;
  (void)operations_->Commit(operation_id, [&](Tx& tx, OperationRecord& op) -> absl::Status {
    if (auto s = operations_->Finish(tx, op, OperationStatus::kFailed, absl::StrCat("Failed: ", error.message()),
                                     failure);
        !s.ok()) {
      return s;
    }
    auto compute = store_->GetCompute(tx, op.resource_id);
    if (!compute.ok()) return compute.status();
    if (compute->has_value()) {
      ComputeRecord c = **compute;
      c.provisioning_state = ProvisioningState::kFailed;
      c.provisioning_errors = {{ErrorCodeOf(failure), std::string(error.message())}};
      if (auto s = store_->UpdateCompute(tx, c); !s.ok()) return s;
      auto cluster = store_->GetCluster(tx, c.cluster_id);
      if (cluster.ok() && cluster->has_value() && (*cluster)->state != ProvisioningState::kSucceeded) {
        ClusterRecord updated = **cluster;
        updated.state = ProvisioningState::kFailed;
        if (auto s = store_->UpdateCluster(tx, updated); !s.ok()) return s;
      }
    }
    return absl::OkStatus();
  });
  return StepResult::Done();
}

absl::StatusOr<std::optional<ClusterRecord>> ComputeService::ClusterOf(const OperationRecord& op) {
  std::optional<ClusterRecord> cluster;
  auto status = store_->db().Read([&](Tx& tx) -> absl::Status {
    auto compute = store_->GetCompute(tx, op.resource_id);
    if (!compute.ok()) return compute.status();
    if (!compute->has_value()) return absl::OkStatus();
    auto c = store_->GetCluster(tx, (*compute)->cluster_id);
    if (!c.ok()) return c.status();
    cluster = std::move(*c);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return cluster;
}

StepResult ComputeService::Reconcile(int64_t compute_id) {
  std::optional<OperationRecord> op;
  auto read = store_->db().Read([&](Tx& tx) -> absl::Status {
    auto running = store_->RunningOperationOn(tx, ResourceKind::kCompute, compute_id);
    if (!running.ok()) return running.status();
    op = std::move(*running);
    return absl::OkStatus();
  });
  if (!read.ok()) return StepResult::RequeueAfter(std::chrono::seconds(1));
  if (!op) return StepResult::Done();
  if (op->type == kProvision) return Provision(*op, "ClusterProvisioningFailed");
  if (op->type == kUpdate) return Provision(*op, "ClusterUpdateFailed");
  if (op->type == kDelete) return DeleteCluster(*op);
  if (op->type == kDetach) return Detach(*op);
  return Fail(op->id, absl::InternalError(absl::StrCat("No controller for operations of type ", op->type)));
}

// Create, attach and update end the same way: the cluster runs with the recorded settings.
StepResult ComputeService::Provision(const OperationRecord& op, const char* failure_code) {
  auto cluster = ClusterOf(op);
  if (!cluster.ok()) return Fail(op.id, cluster.status());
  if (!cluster->has_value()) return Fail(op.id, absl::NotFoundError("The compute target or its cluster is gone."));

  // Simulated provisioning time counts from the request, so a restart does not start it over.
  if (options_.simulated_provisioning.count() > 0 && (*cluster)->state == ProvisioningState::kCreating) {
    absl::Time created = ParseTimestamp(op.created);
    absl::Duration left = created + absl::FromChrono(options_.simulated_provisioning) - absl::Now();
    if (left > absl::ZeroDuration()) {
      return StepResult::RequeueAfter(std::max(absl::ToChronoMilliseconds(left), std::chrono::milliseconds(1)));
    }
  }

  auto state = backend_->EnsureCluster(ClusterRefOf(**cluster));
  if (!state.ok()) return Fail(op.id, WithErrorCode(state.status(), failure_code));
  if (!state->ready) return StepResult::RequeueAfter(std::chrono::milliseconds(20));

  bool grew = false;
  (void)operations_->Commit(op.id, [&](Tx& tx, OperationRecord& record) -> absl::Status {
    auto c = store_->GetCluster(tx, (*cluster)->id);
    if (!c.ok()) return c.status();
    if (c->has_value()) {
      ClusterRecord updated = **c;
      updated.scoring_endpoint = state->scoring_endpoint;
      updated.state = ProvisioningState::kSucceeded;
      if (auto s = store_->UpdateCluster(tx, updated); !s.ok()) return s;
      if (auto s = store_->AppendOperationLog(tx, record.id, state->message); !s.ok()) return s;
      grew = record.type == kUpdate;
    }
    auto compute = store_->GetCompute(tx, record.resource_id);
    if (!compute.ok()) return compute.status();
    if (compute->has_value()) {
      ComputeRecord updated = **compute;
      updated.provisioning_state = ProvisioningState::kSucceeded;
      updated.provisioning_errors.clear();
      if (auto s = store_->UpdateCompute(tx, updated); !s.ok()) return s;
    }
    return operations_->Finish(tx, record, OperationStatus::kSucceeded, "Succeeded");
  });
  operations_->controllers().Enqueue({"cluster", (*cluster)->id});
  if (grew && capacity_changed_) capacity_changed_((*cluster)->id);
  return StepResult::Done();
}

StepResult ComputeService::DeleteCluster(const OperationRecord& op) {
  auto cluster = ClusterOf(op);
  if (!cluster.ok()) return Fail(op.id, cluster.status());
  if (cluster->has_value()) {
    auto done = backend_->DeleteCluster(ClusterRefOf(**cluster));
    if (!done.ok()) return Fail(op.id, WithErrorCode(done.status(), "ClusterDeletionFailed"));
    if (!*done) return StepResult::RequeueAfter(std::chrono::milliseconds(50));
  }
  (void)operations_->Commit(op.id, [&](Tx& tx, OperationRecord& record) -> absl::Status {
    if (auto s = store_->DeleteCompute(tx, record.resource_id); !s.ok()) return s;
    if (cluster->has_value()) {
      if (auto s = store_->DeleteCluster(tx, (*cluster)->id); !s.ok()) return s;
    }
    return operations_->Finish(tx, record, OperationStatus::kSucceeded, "Cluster deleted");
  });
  return StepResult::Done();
}

StepResult ComputeService::Detach(const OperationRecord& op) {
  (void)operations_->Commit(op.id, [&](Tx& tx, OperationRecord& record) -> absl::Status {
    auto compute = store_->GetCompute(tx, record.resource_id);
    if (!compute.ok()) return compute.status();
    if (compute->has_value()) {
      auto cluster = store_->GetCluster(tx, (*compute)->cluster_id);
      if (!cluster.ok()) return cluster.status();
      // A detached cluster belongs to no workspace any more.
      if (cluster->has_value() && (*cluster)->created_by_workspace == record.workspace_id) {
        ClusterRecord updated = **cluster;
        updated.created_by_workspace = 0;
        if (auto s = store_->UpdateCluster(tx, updated); !s.ok()) return s;
      }
      if (auto s = store_->DeleteCompute(tx, record.resource_id); !s.ok()) return s;
    }
    return operations_->Finish(tx, record, OperationStatus::kSucceeded, "Detached; the cluster keeps running");
  });
  return StepResult::Done();
}

absl::StatusOr<std::vector<int64_t>> ComputeService::RemoveWorkspaceComputes(Tx& tx, int64_t workspace_id) {
  std::vector<int64_t> marked;
  auto computes = store_->ListComputes(tx, workspace_id);
  if (!computes.ok()) return computes.status();
  std::vector<ClusterRecord> to_delete;
  for (const auto& compute : *computes) {
    if (auto s = RequireNoRunningOperation(*store_, tx, ResourceKind::kCompute, compute.id, "Compute target",
                                           compute.name, " before deleting the workspace");
        !s.ok()) {
      return s;
    }
    auto cluster = store_->GetCluster(tx, compute.cluster_id);
    if (!cluster.ok()) return cluster.status();
    if (!cluster->has_value() || compute.is_attached || (*cluster)->created_by_workspace != workspace_id) continue;
    auto attachments = store_->DescribeAttachments(tx, (*cluster)->id);
    if (!attachments.ok()) return attachments.status();
    if (attachments->size() > 1) {
      return Conflict("ClusterInUse",
                      absl::StrCat("Cluster ", (*cluster)->resource_id(), ", created by this workspace as ",
                                   compute.name, ", is still attached elsewhere (", absl::StrJoin(*attachments, ", "),
                                   "); detach it there first."));
    }
    to_delete.push_back(**cluster);
  }
  for (const auto& compute : *computes) {
    if (auto s = store_->DeleteCompute(tx, compute.id); !s.ok()) return s;
  }
  for (ClusterRecord cluster : to_delete) {
    cluster.state = ProvisioningState::kDeleting;
    cluster.created_by_workspace = 0;
    if (auto s = store_->UpdateCluster(tx, cluster); !s.ok()) return s;
    marked.push_back(cluster.id);
  }
  // Clusters this workspace created and detached earlier are nobody's now.
  if (auto s = tx.Execute("UPDATE clusters SET created_by_workspace = 0 WHERE created_by_workspace = ?",
                          {workspace_id});
      !s.ok()) {
    return s.status();
  }
  return marked;
}

}  // namespace amlcore::server
