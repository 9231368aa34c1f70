// amlcore ml service list|show|delete|get-keys|regen-key|get-access-token|get-logs|run|update, and
// amlcore ml endpoint realtime
// create-version|update-version|delete-version|update|show|list|delete.
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "amlcore/config_files.h"
#include "amlcore/webservice.h"
#include "cli/command.h"
#include "cli/deploy_flags.h"
#include "cli/values.h"

namespace amlcore::cli {
namespace {
namespace bj = boost::json;

const std::vector<TableColumn> kServiceColumns = {{"Name", "name"},
                                                  {"ComputeType", "computeType"},
                                                  {"State", "state"},
                                                  {"ScoringUri", "scoringUri"}};

absl::StatusOr<std::shared_ptr<Webservice>> GetService(Context& ctx, const std::string& name) {
  auto ws = ctx.GetWorkspace();
  if (!ws.ok()) return ws.status();
  return Webservice::Get(*ws, name);
}

// The endpoint `name`, or a message saying what it is instead.
absl::StatusOr<std::shared_ptr<AksEndpoint>> GetEndpoint(const Workspace& ws,
                                                         const std::string& name) {
  auto found = Webservice::Get(ws, name);
  if (!found.ok()) return found.status();
  auto endpoint = std::dynamic_pointer_cast<AksEndpoint>(*found);
  if (!endpoint) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, " is not an AKS endpoint (its compute type is ", (*found)->compute_type(),
        "); deploy one with a -dc file of computeType aksendpoint."));
  }
  return endpoint;
}

// A command that takes the service's name and does one thing with it.
Command OnService(std::vector<std::string> path, std::string summary, std::string example,
                  std::function<absl::StatusOr<Json>(Context&, Webservice&)> action,
                  std::vector<TableColumn> table = {}) {
  return {.path = std::move(path),
          .summary = std::move(summary),
          .example = std::move(example),
          .table = std::move(table),
          .define = [action](CLI::App& app) -> Runner {
            auto name = std::make_shared<std::string>();
            app.add_option("-n,--name", *name, "Name of the service.")->required();
            return [name, action](Context& ctx) -> absl::StatusOr<Json> {
              auto service = GetService(ctx, *name);
              if (!service.ok()) return service.status();
              return action(ctx, **service);
            };
          }};
}

Json Keys(const std::pair<std::string, std::string>& keys) {
  return bj::object{{"primaryKey", keys.first}, {"secondaryKey", keys.second}};
}

struct ServiceUpdateArgs {
  std::string name, deploy_config_file;
  InferenceFlags inference;
  DeploySettingFlags settings;
  bool no_wait = false;
};

// An ACI or local service: new models and inference configuration, and for ACI its auth, App Insights,
// description, tags and properties (what their SDK update takes). The other settings are AKS services' and are
// refused by name, so that nothing given is silently dropped.
absl::StatusOr<Json> UpdateContainerService(Context& ctx, const Workspace& ws,
                                            const std::shared_ptr<Webservice>& found, const ServiceUpdateArgs& a,
                                            const AksServiceDeploymentConfiguration& config) {
  auto aci = std::dynamic_pointer_cast<AciWebservice>(found);
  auto local = std::dynamic_pointer_cast<LocalWebservice>(found);
  std::set<std::string> allowed;
  if (aci) allowed = {"auth_enabled", "enable_app_insights", "description", "tags", "properties"};
  std::vector<std::string> refused;
  if (!a.deploy_config_file.empty()) refused.push_back("a deployment configuration file (-dc)");
  for (const std::string& name : a.settings.Given()) {
    if (!allowed.count(name)) refused.push_back(name);
  }
  if (!refused.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "service update cannot change ", absl::StrJoin(refused, ", "), " of ", found->compute_type(), " service ",
        a.name, "; it takes new models (-m) and an inference configuration (-ic, or --es/--sd/-e)",
        aci ? ", and auth_enabled, enable_app_insights, description, tags and properties" : "", "."));
  }
  std::optional<std::vector<Model>> models;
  if (a.inference.ModelsGiven()) {
    auto given = a.inference.Models(ws);
    if (!given.ok()) return given.status();
    models = std::move(*given);
  }
  auto inference = a.inference.Config(ws);
  if (!inference.ok()) return inference.status();
  absl::Status updated;
  if (aci) {
    AciWebservice::Changes changes;
    changes.auth_enabled = config.auth_enabled;
    changes.enable_app_insights = config.enable_app_insights;
    changes.description = config.description;
    if (!config.tags.empty()) changes.tags = config.tags;
    changes.properties = config.properties;
    changes.models = std::move(models);
    changes.inference_config = std::move(*inference);
    updated = aci->Update(changes);
  } else {
    LocalWebservice::Changes changes;
    changes.models = std::move(models);
    changes.inference_config = std::move(*inference);
    updated = local->Update(changes);
  }
  if (!updated.ok()) return updated;
  if (!a.no_wait) {
    if (auto s = found->WaitForDeployment(ctx.Poll()); !s.ok()) return s;
  }
  return JsonDocument(found->Serialize());
}

Command Update() {
  return {.path = {"service", "update"},
          .summary = "Update a web service (on AKS rolling: new replicas are ready before old ones stop); "
                     "ACI and local services take new models and inference configuration too.",
          .example = "amlcore ml service update -n myservice --nr 2 -ic inferenceconfig.json",
          .table = kServiceColumns,
          .define = [](CLI::App& app) -> Runner {
            auto a = std::make_shared<ServiceUpdateArgs>();
            app.add_option("-n,--name", a->name, "Name of the service.")->required();
            a->inference.Add(app);
            app.add_option("--dc,--deploy-config-file", a->deploy_config_file,
                           "deploymentconfig.json with the settings to change (also -dc).");
            a->settings.Add(app, DeploySettingScope::kServiceUpdate);
            app.add_flag("--no-wait", a->no_wait, "Return once the update has started.");
            return [a](Context& ctx) -> absl::StatusOr<Json> {
              AksServiceUpdate update;
              if (!a->deploy_config_file.empty()) {
                auto file = LoadDeploymentConfigFile(a->deploy_config_file);
                if (!file.ok()) return file.status();
                update.config = file->aks;
              }
              if (auto s = a->settings.ApplyTo(update.config); !s.ok()) return s;
              if (auto s = a->inference.ReadFile(); !s.ok()) return s;
              auto ws = ctx.GetWorkspace();
              if (!ws.ok()) return ws.status();
              auto found = Webservice::Get(*ws, a->name);
              if (!found.ok()) return found.status();
              if (std::dynamic_pointer_cast<AciWebservice>(*found) ||
                  std::dynamic_pointer_cast<LocalWebservice>(*found)) {
                return UpdateContainerService(ctx, *ws, *found, *a, update.config);
              }
              auto service = std::dynamic_pointer_cast<AksWebservice>(*found);
              if (!service || std::dynamic_pointer_cast<AksEndpoint>(*found)) {
                return absl::InvalidArgumentError(absl::StrCat(
                    "service update changes AKS web services; ", a->name, " is of compute type ",
                    (*found)->compute_type(),
                    " (update an endpoint's versions with amlcore ml endpoint realtime)."));
              }
              if (a->inference.ModelsGiven()) {
                auto models = a->inference.Models(*ws);
                if (!models.ok()) return models.status();
                update.models = std::move(*models);
              }
              auto inference = a->inference.Config(*ws);
              if (!inference.ok()) return inference.status();
              update.inference_config = std::move(*inference);
              if (auto s = service->Update(update); !s.ok()) return s;
              if (!a->no_wait) {
                if (auto s = service->WaitForDeployment(ctx.Poll()); !s.ok()) return s;
              }
              return JsonDocument(service->Serialize());
            };
          }};
}

// create-version and update-version take the same flags.
Command Version(bool create) {
  return {
      .path = {"endpoint", "realtime", create ? "create-version" : "update-version"},
      .summary =
          create ? "Add a version to an AKS endpoint." : "Change a version of an AKS endpoint.",
      .example =
          create
              ? "amlcore ml endpoint realtime create-version -n myendpoint --version-name versionb "
                "-m mymodel:2 -ic inferenceconfig.json --tp 10"
              : "amlcore ml endpoint realtime update-version -n myendpoint --version-name versionb "
                "--tp 40 --is-default true --cvt true",
      .table = kServiceColumns,
      .define = [create](CLI::App& app) -> Runner {
        struct Args {
          std::string name, deploy_config_file, is_default, is_control;
          InferenceFlags inference;
          DeploySettingFlags settings;
          bool no_wait = false;
        };
        auto a = std::make_shared<Args>();
        app.add_option("-n,--name", a->name, "Name of the endpoint.")->required();
        a->inference.Add(app);
        app.add_option("--dc,--deploy-config-file", a->deploy_config_file,
                       "deploymentconfig.json (computeType aksendpoint) with the version's "
                       "settings (also -dc).");
        a->settings.Add(app, DeploySettingScope::kVersion | DeploySettingScope::kEndpoint);
        app.add_option("--is-default", a->is_default,
                       "true: this version takes the traffic the others leave.");
        app.add_option("--cvt,--is-control-version-type", a->is_control,
                       "true: the control version; false: a treatment.");
        app.add_flag("--no-wait", a->no_wait, "Return once the change has started.");
        return [a, create](Context& ctx) -> absl::StatusOr<Json> {
          AksEndpointVersion version;
          if (!a->deploy_config_file.empty()) {
            auto file = LoadDeploymentConfigFile(a->deploy_config_file);
            if (!file.ok()) return file.status();
            version.config = file->aks;
          }
          if (auto s = a->settings.ApplyTo(version.config); !s.ok()) return s;
          std::string version_name = version.config.version_name;
          if (version_name.empty()) {
            return absl::InvalidArgumentError("Give the version: --vn/--version-name.");
          }
          version.config.version_name.clear();
          if (!a->is_default.empty()) {
            auto b = ParseBool(a->is_default, "--is-default");
            if (!b.ok()) return b.status();
            version.is_default = *b;
          }
          if (!a->is_control.empty()) {
            auto b = ParseBool(a->is_control, "--cvt");
            if (!b.ok()) return b.status();
            version.is_control_version_type = *b;
          }
          if (auto s = a->inference.ReadFile(); !s.ok()) return s;
          auto ws = ctx.GetWorkspace();
          if (!ws.ok()) return ws.status();
          auto endpoint = GetEndpoint(*ws, a->name);
          if (!endpoint.ok()) return endpoint.status();
          if (a->inference.ModelsGiven()) {
            auto models = a->inference.Models(*ws);
            if (!models.ok()) return models.status();
            version.models = std::move(*models);
          }
          auto inference = a->inference.Config(*ws);
          if (!inference.ok()) return inference.status();
          version.inference_config = std::move(*inference);
          absl::Status started = create ? (*endpoint)->CreateVersion(version_name, version)
                                        : (*endpoint)->UpdateVersion(version_name, version);
          if (!started.ok()) return started;
          if (!a->no_wait) {
            if (auto s = (*endpoint)->WaitForDeployment(ctx.Poll()); !s.ok()) return s;
          }
          return JsonDocument((*endpoint)->Serialize());
        };
      }};
}

Command DeleteVersion() {
  return {.path = {"endpoint", "realtime", "delete-version"},
          .summary =
              "Delete a version of an AKS endpoint (the last one cannot go: delete the endpoint).",
          .example =
              "amlcore ml endpoint realtime delete-version -n myendpoint --version-name versionb",
          .table = kServiceColumns,
          .define = [](CLI::App& app) -> Runner {
            struct Args {
              std::string name, version;
              bool no_wait = false;
            };
            auto a = std::make_shared<Args>();
            app.add_option("-n,--name", a->name, "Name of the endpoint.")->required();
            app.add_option("--vn,--version-name", a->version, "The version to delete.")->required();
            app.add_flag("--no-wait", a->no_wait, "Return once the deletion has started.");
            return [a](Context& ctx) -> absl::StatusOr<Json> {
              auto ws = ctx.GetWorkspace();
              if (!ws.ok()) return ws.status();
              auto endpoint = GetEndpoint(*ws, a->name);
              if (!endpoint.ok()) return endpoint.status();
              if (auto s = (*endpoint)->DeleteVersion(a->version); !s.ok()) return s;
              if (!a->no_wait) {
                if (auto s = (*endpoint)->WaitForDeployment(ctx.Poll()); !s.ok()) return s;
              }
              return JsonDocument((*endpoint)->Serialize());
            };
          }};
}
// endpoint realtime update: the endpoint's own settings (its versions keep theirs).
Command UpdateEndpoint() {
  return {
      .path = {"endpoint", "realtime", "update"},
      .summary =
          "Change an AKS endpoint's own settings: authentication, description, tags, properties.",
      .example =
          "amlcore ml endpoint realtime update -n myendpoint --ae false --token-auth-enabled true",
      .table = kServiceColumns,
      .define = [](CLI::App& app) -> Runner {
        struct Args {
          std::string name, auth, token_auth, app_insights, description;
          std::vector<std::string> tags, properties;
          bool no_wait = false;
        };
        auto a = std::make_shared<Args>();
        app.add_option("-n,--name", a->name, "Name of the endpoint.")->required();
        app.add_option("--ae,--auth-enabled", a->auth, "Key authentication: true or false.");
        app.add_option("--token-auth-enabled", a->token_auth,
                       "Token authentication: true or false.");
        app.add_option("--ai,--enable-app-insights", a->app_insights,
                       "Application Insights: true or false (no effect here).");
        app.add_option("-d,--description", a->description, "Description of the endpoint.");
        app.add_option("--tag", a->tags, "A key=value tag (repeatable; replaces the tags).");
        app.add_option("--property", a->properties, "A key=value property to add (repeatable).");
        app.add_flag("--no-wait", a->no_wait, "Return once the change has started.");
        return [a](Context& ctx) -> absl::StatusOr<Json> {
          AksEndpointUpdate update;
          for (auto [text, flag, field] :
               {std::tuple{&a->auth, "--ae", &update.auth_enabled},
                {&a->token_auth, "--token-auth-enabled", &update.token_auth_enabled},
                {&a->app_insights, "--ai", &update.enable_app_insights}}) {
            if (text->empty()) continue;
            auto value = ParseBool(*text, flag);
            if (!value.ok()) return value.status();
            *field = *value;
          }
          if (!a->description.empty()) update.description = a->description;
          if (!a->tags.empty()) {
            auto tags = KeyValues(a->tags, "--tag");
            if (!tags.ok()) return tags.status();
            update.tags = std::move(*tags);
          }
          if (!a->properties.empty()) {
            auto properties = KeyValues(a->properties, "--property");
            if (!properties.ok()) return properties.status();
            update.properties = std::move(*properties);
          }
          auto ws = ctx.GetWorkspace();
          if (!ws.ok()) return ws.status();
          auto endpoint = GetEndpoint(*ws, a->name);
          if (!endpoint.ok()) return endpoint.status();
          if (auto s = (*endpoint)->UpdateEndpoint(update); !s.ok()) return s;
          if (!a->no_wait) {
            if (auto s = (*endpoint)->WaitForDeployment(ctx.Poll()); !s.ok()) return s;
          }
          return JsonDocument((*endpoint)->Serialize());
        };
      }};
}

// endpoint realtime show and delete: the endpoint named by -n, checked to be one.
Command OnEndpoint(bool remove) {
  return {
      .path = {"endpoint", "realtime", remove ? "delete" : "show"},
      .summary = remove ? "Delete an AKS endpoint and all its versions." : "Show an AKS endpoint.",
      .example = remove ? "amlcore ml endpoint realtime delete -n myendpoint"
                        : "amlcore ml endpoint realtime show -n myendpoint",
      .table = kServiceColumns,
      .define = [remove](CLI::App& app) -> Runner {
        auto name = std::make_shared<std::string>();
        app.add_option("-n,--name", *name, "Name of the endpoint.")->required();
        return [name, remove](Context& ctx) -> absl::StatusOr<Json> {
          auto ws = ctx.GetWorkspace();
          if (!ws.ok()) return ws.status();
          auto endpoint = GetEndpoint(*ws, *name);
          if (!endpoint.ok()) return endpoint.status();
          if (!remove) return JsonDocument((*endpoint)->Serialize());
          if (auto s = (*endpoint)->Delete(); !s.ok()) return s;
          return Json(nullptr);
        };
      }};
}
}  // namespace

std::vector<Command> ServiceCommands() {
  std::vector<Command> commands;
  commands.push_back({.path = {"service", "list"},
                      .summary = "List the workspace's web services.",
                      .example = "amlcore ml service list --compute-type AKS -o table",
                      .table = kServiceColumns,
                      .define = [](CLI::App& app) -> Runner {
                        struct Args {
                          WebserviceListOptions options;
                          std::vector<std::string> properties;
                        };
                        auto a = std::make_shared<Args>();
                        app.add_option("--compute-type", a->options.compute_type,
                                       "Only services of this type: AKS, AKSENDPOINT, "
                                       "ACI or Local.");
                        app.add_option("--model-name", a->options.model_name,
                                       "Only services that deploy this model.");
                        app.add_option(
                            "--tag", a->options.tags,
                            "Only services with this tag: key or key=value (repeatable).");
                        app.add_option("--property", a->properties,
                                       "Only services with this key=value property (repeatable).");
                        return [a](Context& ctx) -> absl::StatusOr<Json> {
                          auto ws = ctx.GetWorkspace();
                          if (!ws.ok()) return ws.status();
                          WebserviceListOptions options = a->options;
                          auto properties = KeyValues(a->properties, "--property");
                          if (!properties.ok()) return properties.status();
                          options.properties = std::move(*properties);
                          auto list = Webservice::List(*ws, options);
                          if (!list.ok()) return list.status();
                          bj::array out;
                          for (const auto& s : *list) out.push_back(JsonDocument(s->Serialize()));
                          return out;
                        };
                      }});
  commands.push_back(OnService(
      {"service", "show"}, "Show a web service.", "amlcore ml service show -n myservice",
      [](Context&, Webservice& s) -> absl::StatusOr<Json> { return JsonDocument(s.Serialize()); },
      kServiceColumns));
  commands.push_back(OnService({"service", "delete"}, "Delete a web service.",
                               "amlcore ml service delete -n myservice",
                               [](Context&, Webservice& s) -> absl::StatusOr<Json> {
                                 if (auto status = s.Delete(); !status.ok()) return status;
                                 return Json(nullptr);
                               }));
  commands.push_back(OnService({"service", "get-keys"},
                               "Show the keys of a service with key authentication.",
                               "amlcore ml service get-keys -n myservice",
                               [](Context&, Webservice& s) -> absl::StatusOr<Json> {
                                 auto keys = s.GetKeys();
                                 if (!keys.ok()) return keys.status();
                                 return Keys(*keys);
                               }));
  commands.push_back(
      {.path = {"service", "regen-key"},
       .summary = "Regenerate (or set) the primary or secondary key of a service.",
       .example = "amlcore ml service regen-key -n myservice --key Primary",
       .define = [](CLI::App& app) -> Runner {
         struct Args {
           std::string name, key, set_key;
         };
         auto a = std::make_shared<Args>();
         app.add_option("-n,--name", a->name, "Name of the service.")->required();
         app.add_option("-k,--key", a->key, "Which key: Primary or Secondary.")->required();
         app.add_option("--set-key", a->set_key, "The new key's value (default: a random one).");
         return [a](Context& ctx) -> absl::StatusOr<Json> {
           auto service = GetService(ctx, a->name);
           if (!service.ok()) return service.status();
           if (auto s = (*service)->RegenKey(a->key, a->set_key); !s.ok()) return s;
           auto keys = (*service)->GetKeys();
           if (!keys.ok()) return keys.status();
           return Keys(*keys);
         };
       }});
  commands.push_back(OnService({"service", "get-access-token"},
                               "Get a token for a service with token authentication.",
                               "amlcore ml service get-access-token -n myservice",
                               [](Context&, Webservice& s) -> absl::StatusOr<Json> {
                                 auto token = s.GetAccessToken();
                                 if (!token.ok()) return token.status();
                                 return bj::object{{"accessToken", token->access_token},
                                                   {"tokenType", token->token_type},
                                                   {"refreshAfter", token->refresh_after},
                                                   {"expiryOn", token->expiry_on}};
                               }));
  commands.push_back({.path = {"service", "get-logs"},
                      .summary = "Show the log of a service's replica (or, with --init, of its "
                                 "environment build and start-up).",
                      .example = "amlcore ml service get-logs -n myservice -l 100",
                      .define = [](CLI::App& app) -> Runner {
                        struct Args {
                          std::string name;
                          int64_t num_lines = 5000;
                          bool init = false;
                          bool all_replicas = false;
                        };
                        auto a = std::make_shared<Args>();
                        app.add_option("-n,--name", a->name, "Name of the service.")->required();
                        app.add_option("-l,--num_lines", a->num_lines,
                                       "How many of the last lines (default 5000).");
                        app.add_flag("-i,--init", a->init, "The build and start-up log instead.");
                        app.add_flag("--all-replicas", a->all_replicas,
                                     "Every replica's log (amlcore extension; by default the replica that best "
                                     "shows the service).");
                        return [a](Context& ctx) -> absl::StatusOr<Json> {
                          auto service = GetService(ctx, a->name);
                          if (!service.ok()) return service.status();
                          auto logs = (*service)->GetLogs(a->num_lines, a->init, a->all_replicas);
                          if (!logs.ok()) return logs.status();
                          return Json(bj::string(*logs));
                        };
                      }});
  commands.push_back(
      {.path = {"service", "run"},
       .summary = "Score: send input data to a service with its key or token, and show the answer.",
       .example =
           "amlcore ml service run -n myservice -d '{\"data\": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]}'",
       .define = [](CLI::App& app) -> Runner {
         struct Args {
           std::string name, input, input_file;
         };
         auto a = std::make_shared<Args>();
         app.add_option("-n,--name", a->name, "Name of the service.")->required();
         app.add_option("-d,--input-data", a->input, "The request body (JSON).");
         app.add_option("-f,--input-data-file", a->input_file, "A file holding the request body.");
         return [a](Context& ctx) -> absl::StatusOr<Json> {
           std::string input = a->input;
           if (!a->input_file.empty()) {
             auto text = ReadTextFile(a->input_file);
             if (!text.ok()) return text.status();
             input = std::move(*text);
           }
           if (input.empty())
             return absl::InvalidArgumentError("Give the input: -d '<json>' or -f <file>.");
           auto service = GetService(ctx, a->name);
           if (!service.ok()) return service.status();
           auto answer = (*service)->Run(input);
           if (!answer.ok()) return answer.status();
           return JsonDocument(*answer);
         };
       }});
  commands.push_back(Update());
  commands.push_back(Version(true));
  commands.push_back(Version(false));
  commands.push_back(DeleteVersion());
  commands.push_back(UpdateEndpoint());
  commands.push_back(OnEndpoint(false));
  commands.push_back(OnEndpoint(true));
  commands.push_back({.path = {"endpoint", "realtime", "list"},
                      .summary = "List the workspace's AKS endpoints.",
                      .example = "amlcore ml endpoint realtime list -o table",
                      .table = kServiceColumns,
                      .define = [](CLI::App&) -> Runner {
                        return [](Context& ctx) -> absl::StatusOr<Json> {
                          auto ws = ctx.GetWorkspace();
                          if (!ws.ok()) return ws.status();
                          auto list =
                              Webservice::List(*ws, {.compute_type = AksEndpoint::kComputeType});
                          if (!list.ok()) return list.status();
                          bj::array out;
                          for (const auto& s : *list) out.push_back(JsonDocument(s->Serialize()));
                          return out;
                        };
                      }});
  return commands;
}

}  // namespace amlcore::cli
