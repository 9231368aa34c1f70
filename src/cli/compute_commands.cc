// amlcore ml computetarget create aks | attach aks | update aks | detach | delete | list | show.
#include "absl/strings/str_cat.h"
#include "amlcore/compute.h"
#include "cli/command.h"
#include "cli/values.h"

namespace amlcore::cli {
namespace {
namespace bj = boost::json;

const std::vector<TableColumn> kComputeColumns = {{"Name", "name"},
                                                  {"Type", "properties.computeType"},
                                                  {"State", "properties.provisioningState"},
                                                  {"Attached", "properties.isAttachedCompute"}};

// The SSL flags that create, attach and update share.
struct SslFlags {
  std::string cname, cert_file, key_file, leaf_domain_label;
  bool overwrite_domain = false;

  void Add(CLI::App& app) {
    app.add_option("--ssl-cname", cname,
                   "The CNAME of the cluster's certificate (with --ssl-cert-file and "
                   "--ssl-key-file).")
        ->group("SSL");
    app.add_option("--ssl-cert-file", cert_file, "PEM file of the certificate.")->group("SSL");
    app.add_option("--ssl-key-file", key_file, "PEM file of the certificate's key.")->group("SSL");
    app.add_option(
           "--ssl-leaf-domain-label", leaf_domain_label,
           "Have amlcore's certificate authority issue a certificate for <label>.localhost.")
        ->group("SSL");
    app.add_flag("--ssl-overwrite-domain", overwrite_domain,
                 "Take the leaf domain label over from another cluster.")
        ->group("SSL");
  }
  bool Given() const {
    return !cname.empty() || !cert_file.empty() || !key_file.empty() || !leaf_domain_label.empty();
  }
};

// Waits for the operation `target` started unless --no-wait, then shows the compute target.
absl::StatusOr<Json> Finish(Context& ctx, const std::shared_ptr<ComputeTarget>& target,
                            bool no_wait) {
  if (!no_wait) {
    if (auto s = target->WaitForCompletion(ctx.Poll()); !s.ok()) return s;
  }
  return JsonDocument(target->Serialize());
}

absl::StatusOr<std::shared_ptr<AksCompute>> GetAks(Context& ctx, const std::string& name) {
  auto ws = ctx.GetWorkspace();
  if (!ws.ok()) return ws.status();
  return AksCompute::Get(*ws, name);
}

Command CreateAks() {
  return {
      .path = {"computetarget", "create", "aks"},
      .summary =
          "Create an AKS compute target (on amlcore's local backend: a capacity pool on this "
          "machine).",
      .example = "amlcore ml computetarget create aks -n myaks -a 2 -s Standard_D3_v2 -p DevTest",
      .table = kComputeColumns,
      .define = [](CLI::App& app) -> Runner {
        struct Args {
          std::string name;
          std::optional<int64_t> agent_count;
          AksProvisioningConfiguration config;
          SslFlags ssl;
          bool no_wait = false;
        };
        auto a = std::make_shared<Args>();
        AksProvisioningConfiguration& c = a->config;
        app.add_option("-n,--name", a->name, "Name of the compute target.")->required();
        app.add_option("-a,--agent-count", a->agent_count, "Number of agents (default 3).");
        app.add_option("-s,--vm-size", c.vm_size,
                       "VM size of the agents (default Standard_D3_v2).");
        app.add_option("-p,--cluster-purpose", c.cluster_purpose,
                       "FastProd (default; 12 vCPUs at least) or DevTest.");
        app.add_option("-l,--compute-location", c.location,
                       "Location of the cluster (default: the workspace's).");
        app.add_option("--load-balancer-type", c.load_balancer_type,
                       "PublicIp (default) or InternalLoadBalancer.");
        app.add_option("--load-balancer-subnet", c.load_balancer_subnet,
                       "Subnet of an internal load balancer.");
        app.add_option("--vnet-resourcegroup-name", c.vnet_resourcegroup_name,
                       "Resource group of the virtual network.")
            ->group("Network");
        app.add_option("--vnet-name", c.vnet_name, "Virtual network.")->group("Network");
        app.add_option("--subnet-name", c.subnet_name, "Subnet of the virtual network.")
            ->group("Network");
        app.add_option("--service-cidr", c.service_cidr, "CIDR of the cluster's services.")
            ->group("Network");
        app.add_option("--dns-service-ip", c.dns_service_ip,
                       "DNS service address, inside --service-cidr.")
            ->group("Network");
        app.add_option("--docker-bridge-cidr", c.docker_bridge_cidr, "CIDR of the Docker bridge.")
            ->group("Network");
        a->ssl.Add(app);
        app.add_flag("--no-wait", a->no_wait, "Return once the creation has started.");
        return [a](Context& ctx) -> absl::StatusOr<Json> {
          auto ws = ctx.GetWorkspace();
          if (!ws.ok()) return ws.status();
          AksProvisioningConfiguration config = a->config;
          config.agent_count = a->agent_count;
          if (a->ssl.Given()) {
            if (auto s = config.EnableSsl(a->ssl.cname, a->ssl.cert_file, a->ssl.key_file,
                                          a->ssl.leaf_domain_label, a->ssl.overwrite_domain);
                !s.ok()) {
              return s;
            }
          }
          auto target = AksCompute::Create(*ws, a->name, config);
          if (!target.ok()) return target.status();
          return Finish(ctx, *target, a->no_wait);
        };
      }};
}

Command AttachAks() {
  return {
      .path = {"computetarget", "attach", "aks"},
      .summary =
          "Attach an existing AKS cluster (by resource id, or by its resource group and name).",
      .example =
          "amlcore ml computetarget attach aks -n myaks -i "
          "/subscriptions/<id>/resourcegroups/<group>/"
          "providers/Microsoft.ContainerService/managedClusters/<cluster> -g myresourcegroup -w "
          "myworkspace",
      .table = kComputeColumns,
      .define = [](CLI::App& app) -> Runner {
        struct Args {
          std::string name;
          AksAttachConfiguration config;
          SslFlags ssl;
          bool no_wait = false;
        };
        auto a = std::make_shared<Args>();
        AksAttachConfiguration& c = a->config;
        app.add_option("-n,--name", a->name, "Name of the compute target in this workspace.")
            ->required();
        app.add_option("-i,--compute-resource-id", c.resource_id, "Resource id of the cluster.");
        app.add_option("--cluster-name", c.cluster_name,
                       "Name of the cluster (with --cluster-resource-group), "
                       "instead of -i.");
        app.add_option("--cluster-resource-group", c.resource_group,
                       "Resource group of the cluster.");
        app.add_option("-p,--cluster-purpose", c.cluster_purpose, "FastProd (default) or DevTest.");
        app.add_option("--load-balancer-type", c.load_balancer_type,
                       "PublicIp (default) or InternalLoadBalancer.");
        app.add_option("--load-balancer-subnet", c.load_balancer_subnet,
                       "Subnet of an internal load balancer.");
        app.add_option("--kubeconfig", c.kubeconfig,
                       "amlcore: kubeconfig file (absolute path) of a Kubernetes cluster to attach; default "
                       "KUBECONFIG or ~/.kube/config as amlcored reads them.");
        app.add_option("--context", c.context,
                       "amlcore: kubeconfig context of that cluster (default: the cluster's name, as az aks "
                       "get-credentials names it).");
        app.add_option("--namespace", c.namespace_name,
                       "amlcore: Kubernetes namespace for amlcore's objects (default azureml).");
        app.add_option("--image", c.image,
                       "amlcore: runtime image its pods run (default amlcore/runtime:<version>).");
        a->ssl.Add(app);
        app.add_flag("--no-wait", a->no_wait, "Return once the attachment has started.");
        return [a](Context& ctx) -> absl::StatusOr<Json> {
          auto ws = ctx.GetWorkspace();
          if (!ws.ok()) return ws.status();
          AksAttachConfiguration config = a->config;
          if (a->ssl.Given()) {
            if (auto s = config.EnableSsl(a->ssl.cname, a->ssl.cert_file, a->ssl.key_file,
                                          a->ssl.leaf_domain_label, a->ssl.overwrite_domain);
                !s.ok()) {
              return s;
            }
          }
          auto target = AksCompute::Attach(*ws, a->name, config);
          if (!target.ok()) return target.status();
          return Finish(ctx, *target, a->no_wait);
        };
      }};
}

Command UpdateAks() {
  return {.path = {"computetarget", "update", "aks"},
          .summary =
              "Update an AKS compute target: its SSL certificate, load balancer or (beyond az) "
              "agent count and access log.",
          .example = "amlcore ml computetarget update aks -n myaks --agent-count 4",
          .table = kComputeColumns,
          .define = [](CLI::App& app) -> Runner {
            struct Args {
              std::string name;
              AksUpdateConfiguration config;
              std::optional<int64_t> agent_count;
              std::optional<bool> access_log;
              SslFlags ssl;
              bool ssl_disable = false;
              bool no_wait = false;
            };
            auto a = std::make_shared<Args>();
            app.add_option("-n,--name", a->name, "Name of the compute target.")->required();
            app.add_option("-a,--agent-count", a->agent_count,
                           "Scale the cluster to this many agents.");
            app.add_option("--access-log", a->access_log,
                           "true: the cluster's router logs every request (request id, service, version, "
                           "status, latency) to its log; false: it stops (amlcore extension).");
            app.add_option("--load-balancer-type", a->config.load_balancer_type,
                           "PublicIp or InternalLoadBalancer.");
            app.add_option("--load-balancer-subnet", a->config.load_balancer_subnet,
                           "Subnet of an internal load "
                           "balancer.");
            a->ssl.Add(app);
            app.add_flag("--ssl-disable", a->ssl_disable, "Serve plain HTTP again.")->group("SSL");
            app.add_flag("--no-wait", a->no_wait, "Return once the update has started.");
            return [a](Context& ctx) -> absl::StatusOr<Json> {
              auto target = GetAks(ctx, a->name);
              if (!target.ok()) return target.status();
              AksUpdateConfiguration config = a->config;
              config.agent_count = a->agent_count;
              config.access_log = a->access_log;
              if (a->ssl_disable) config.ssl_configuration = SslConfiguration{.status = "Disabled"};
              if (a->ssl.Given()) {
                SslConfiguration ssl{
                    .status = a->ssl.leaf_domain_label.empty() ? "Enabled" : "Auto",
                    .cname = a->ssl.cname,
                    .leaf_domain_label = a->ssl.leaf_domain_label,
                    .overwrite_existing_domain = a->ssl.overwrite_domain};
                for (auto [file, text] :
                     {std::pair{&a->ssl.cert_file, &ssl.cert}, {&a->ssl.key_file, &ssl.key}}) {
                  if (file->empty()) continue;
                  auto pem = ReadTextFile(*file);
                  if (!pem.ok()) return pem.status();
                  *text = std::move(*pem);
                }
                config.ssl_configuration = std::move(ssl);
              }
              if (auto s = (*target)->Update(config); !s.ok()) return s;
              return Finish(ctx, *target, a->no_wait);
            };
          }};
}

// detach and delete: the same flags, a different action.
Command Remove(bool detach) {
  return {
      .path = {"computetarget", detach ? "detach" : "delete"},
      .summary =
          detach ? "Detach a compute target: the workspace forgets it, the cluster keeps running."
                 : "Delete a compute target the workspace created, and its cluster.",
      .example = detach
                     ? "amlcore ml computetarget detach -n myaks -g myresourcegroup -w myworkspace"
                     : "amlcore ml computetarget delete -n myaks",
      .define = [detach](CLI::App& app) -> Runner {
        struct Args {
          std::string name;
          bool no_wait = false;
        };
        auto a = std::make_shared<Args>();
        app.add_option("-n,--name", a->name, "Name of the compute target.")->required();
        app.add_flag("--no-wait", a->no_wait, "Return once the operation has started.");
        return [a, detach](Context& ctx) -> absl::StatusOr<Json> {
          auto ws = ctx.GetWorkspace();
          if (!ws.ok()) return ws.status();
          auto target = ComputeTarget::Get(*ws, a->name);
          if (!target.ok()) return target.status();
          absl::Status started = detach ? (*target)->Detach() : (*target)->Delete();
          if (!started.ok()) return started;
          if (!a->no_wait) {
            if (auto s = (*target)->WaitForCompletion(ctx.Poll(), /*is_delete_operation=*/true);
                !s.ok())
              return s;
          }
          return Json(nullptr);
        };
      }};
}
}  // namespace

std::vector<Command> ComputeCommands() {
  std::vector<Command> commands = {CreateAks(), AttachAks(), UpdateAks(), Remove(true),
                                   Remove(false)};
  commands.push_back({.path = {"computetarget", "list"},
                      .summary = "List the compute targets of the workspace.",
                      .example = "amlcore ml computetarget list -o table",
                      .table = kComputeColumns,
                      .define = [](CLI::App&) -> Runner {
                        return [](Context& ctx) -> absl::StatusOr<Json> {
                          auto ws = ctx.GetWorkspace();
                          if (!ws.ok()) return ws.status();
                          auto list = ComputeTarget::List(*ws);
                          if (!list.ok()) return list.status();
                          bj::array out;
                          for (const auto& target : *list)
                            out.push_back(JsonDocument(target->Serialize()));
                          return out;
                        };
                      }});
  commands.push_back(
      {.path = {"computetarget", "show"},
       .summary = "Show a compute target.",
       .example = "amlcore ml computetarget show -n myaks",
       .table = kComputeColumns,
       .define = [](CLI::App& app) -> Runner {
         auto name = std::make_shared<std::string>();
         app.add_option("-n,--name", *name, "Name of the compute target.")->required();
         return [name](Context& ctx) -> absl::StatusOr<Json> {
           auto ws = ctx.GetWorkspace();
           if (!ws.ok()) return ws.status();
           auto target = ComputeTarget::Get(*ws, *name);
           if (!target.ok()) return target.status();
           return JsonDocument((*target)->Serialize());
         };
       }});
  return commands;
}

}  // namespace amlcore::cli
