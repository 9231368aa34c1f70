// amlcore ml workspace create|show|list|delete, and folder attach.
#include "absl/strings/str_cat.h"
#include "amlcore/workspace.h"
#include "cli/command.h"
#include "cli/values.h"

namespace amlcore::cli {
namespace bj = boost::json;

std::vector<Group> Groups() {
  return {
      {{"workspace"}, "Manage workspaces."},
      {{"computetarget"}, "Manage compute targets (AKS clusters)."},
      {{"computetarget", "create"}, "Create a compute target."},
      {{"computetarget", "attach"}, "Attach an existing cluster as a compute target."},
      {{"computetarget", "update"}, "Update a compute target."},
      {{"model"}, "Manage registered models and deploy them."},
      {{"service"}, "Manage deployed web services."},
      {{"endpoint"}, "Manage endpoints."},
      {{"endpoint", "realtime"}, "Manage the versions of an AKS endpoint (controlled rollout)."},
      {{"folder"}, "Connect a project folder to a workspace."}};
}

std::vector<Command> WorkspaceCommands() {
  std::vector<Command> commands;
  commands.push_back(
      {.path = {"workspace", "create"},
       .summary = "Create a workspace (or, with --exist-ok, use the one of that name).",
       .example = "amlcore ml workspace create -w myworkspace -g myresourcegroup",
       .uses_workspace = false,
       .table = {{"Name", "name"}, {"ResourceGroup", "resourceGroup"}, {"Location", "location"}},
       .define = [](CLI::App& app) -> Runner {
         struct Args {
           std::string name, resource_group, subscription_id, location, friendly_name;
           bool exist_ok = false;
         };
         auto a = std::make_shared<Args>();
         app.add_option("-w,--workspace-name", a->name, "Name of the workspace.")->required();
         app.add_option("-g,--resource-group", a->resource_group,
                        "Resource group (default: default).");
         app.add_option("--subscription-id", a->subscription_id,
                        "Subscription (default: the all-zero one).");
         app.add_option("-l,--location", a->location, "Location (default: local).");
         app.add_option("-f,--friendly-name", a->friendly_name, "Friendly name of the workspace.");
         app.add_flag("--exist-ok", a->exist_ok,
                      "Use an existing workspace of that name instead of failing.");
         return [a](Context&) -> absl::StatusOr<Json> {
           auto ws = Workspace::Create(a->name, {.subscription_id = a->subscription_id,
                                                 .resource_group = a->resource_group,
                                                 .location = a->location,
                                                 .exist_ok = a->exist_ok,
                                                 .friendly_name = a->friendly_name});
           if (!ws.ok()) return ws.status();
           return WorkspaceJson(*ws);
         };
       }});
  commands.push_back(
      {.path = {"workspace", "show"},
       .summary = "Show a workspace.",
       .example = "amlcore ml workspace show -w myworkspace -g myresourcegroup",
       .table = {{"Name", "name"}, {"ResourceGroup", "resourceGroup"}, {"Location", "location"}},
       .define = [](CLI::App&) -> Runner {
         return [](Context& ctx) -> absl::StatusOr<Json> {
           auto ws = ctx.GetWorkspace();
           if (!ws.ok()) return ws.status();
           return WorkspaceJson(*ws);
         };
       }});
  commands.push_back(
      {.path = {"workspace", "list"},
       .summary = "List the workspaces of a resource group (or of every resource group).",
       .example = "amlcore ml workspace list -g myresourcegroup -o table",
       .uses_workspace = false,
       .table = {{"Name", "name"}, {"ResourceGroup", "resourceGroup"}, {"Location", "location"}},
       .define = [](CLI::App& app) -> Runner {
         struct Args {
           std::string resource_group, subscription_id;
         };
         auto a = std::make_shared<Args>();
         app.add_option("-g,--resource-group", a->resource_group, "Only this resource group.");
         app.add_option("--subscription-id", a->subscription_id,
                        "Subscription (default: the all-zero one).");
         return [a](Context&) -> absl::StatusOr<Json> {
           auto list = Workspace::List(
               {.subscription_id = a->subscription_id, .resource_group = a->resource_group});
           if (!list.ok()) return list.status();
           bj::array out;
           for (const Workspace& ws : *list) out.push_back(WorkspaceJson(ws));
           return out;
         };
       }});
  commands.push_back(
      {.path = {"workspace", "delete"},
       .summary =
           "Delete a workspace: the clusters it created are deleted, those it attached detached.",
       .example = "amlcore ml workspace delete -w myworkspace -g myresourcegroup",
       .define = [](CLI::App& app) -> Runner {
         auto all = std::make_shared<bool>(false);
         app.add_flag("--all-resources", *all,
                      "Delete the resources the workspace depends on too.");
         return [all](Context& ctx) -> absl::StatusOr<Json> {
           auto ws = ctx.GetWorkspace();
           if (!ws.ok()) return ws.status();
           if (auto s = ws->Delete(*all); !s.ok()) return s;
           return Json(nullptr);
         };
       }});
  commands.push_back({.path = {"folder", "attach"},
                      .summary = "Write .azureml/config.json in the project folder, so that later "
                                 "commands there need no -w/-g.",
                      .example = "amlcore ml folder attach -w myworkspace -g myresourcegroup",
                      .define = [](CLI::App&) -> Runner {
                        return [](Context& ctx) -> absl::StatusOr<Json> {
                          auto ws = ctx.GetWorkspace();
                          if (!ws.ok()) return ws.status();
                          auto file = ws->WriteConfig(ctx.workspace_flags.path);
                          if (!file.ok()) return file.status();
                          return bj::object{{"subscription_id", ws->subscription_id()},
                                            {"resource_group", ws->resource_group()},
                                            {"workspace_name", ws->name()},
                                            {"configFile", *file}};
                        };
                      }});
  return commands;
}

}  // namespace amlcore::cli
