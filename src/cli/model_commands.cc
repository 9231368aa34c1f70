// amlcore ml model register | list | show | download | delete | deploy.
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "amlcore/compute.h"
#include "amlcore/config_files.h"
#include "amlcore/model.h"
#include "amlcore/webservice.h"
#include "cli/command.h"
#include "cli/deploy_flags.h"
#include "cli/values.h"

namespace amlcore::cli {
namespace {
namespace bj = boost::json;

const std::vector<TableColumn> kModelColumns = {{"Name", "name"},
                                                {"Version", "version"},
                                                {"Framework", "framework"},
                                                {"CreatedTime", "createdTime"}};
const std::vector<TableColumn> kServiceColumns = {{"Name", "name"},
                                                  {"ComputeType", "computeType"},
                                                  {"State", "state"},
                                                  {"ScoringUri", "scoringUri"}};

Command Register() {
  return {.path = {"model", "register"},
          .summary = "Register a model file or folder as the next version of a model.",
          .example =
              "amlcore ml model register -n mymodel -p sklearn_regression_model.pkl --tag "
              "area=diabetes",
          .table = kModelColumns,
          .define = [](CLI::App& app) -> Runner {
            struct Args {
              std::string name, path, description, framework, framework_version, metadata_file,
                  sample_input, sample_output;
              std::vector<std::string> tags, properties;
              std::optional<double> cpu, memory_gb, gpu;
            };
            auto a = std::make_shared<Args>();
            app.add_option("-n,--name", a->name, "Name of the model.")->required();
            app.add_option("-p,--model-path", a->path, "The model's file or folder.")->required();
            app.add_option("--tag", a->tags, "A key=value tag (repeatable).");
            app.add_option("--property", a->properties, "A key=value property (repeatable).");
            app.add_option("-d,--description", a->description, "Description of the model.");
            app.add_option("--model-framework", a->framework,
                           "ScikitLearn, Onnx, TensorFlow, PyTorch or Custom.");
            app.add_option("--model-framework-version", a->framework_version,
                           "Version of the framework.");
            app.add_option("--cc,--cpu-cores", a->cpu,
                           "CPU cores the model needs (resource configuration).");
            app.add_option("--gb,--memory-gb", a->memory_gb, "Memory in GB the model needs.");
            app.add_option("--gc,--gpu-cores", a->gpu, "GPUs the model needs.");
            app.add_option("--sample-input-dataset-id", a->sample_input,
                           "A registered dataset of sample inputs.");
            app.add_option("--sample-output-dataset-id", a->sample_output,
                           "A registered dataset of sample outputs.");
            app.add_option("-t,--output-metadata-file", a->metadata_file,
                           "Also write the result to this JSON file.");
            return [a](Context& ctx) -> absl::StatusOr<Json> {
              auto ws = ctx.GetWorkspace();
              if (!ws.ok()) return ws.status();
              ModelRegisterOptions options{.description = a->description,
                                           .model_framework = a->framework,
                                           .model_framework_version = a->framework_version,
                                           .sample_input_dataset_id = a->sample_input,
                                           .sample_output_dataset_id = a->sample_output};
              auto tags = KeyValues(a->tags, "--tag");
              if (!tags.ok()) return tags.status();
              options.tags = std::move(*tags);
              auto properties = KeyValues(a->properties, "--property");
              if (!properties.ok()) return properties.status();
              options.properties = std::move(*properties);
              if (a->cpu || a->memory_gb || a->gpu) {
                options.resource_configuration = ResourceConfiguration{
                    .cpu = a->cpu, .memory_in_gb = a->memory_gb, .gpu = a->gpu};
              }
              ctx.Progress(absl::StrCat("Registering model ", a->name));
              auto model = Model::Register(*ws, a->path, a->name, options);
              if (!model.ok()) return model.status();
              Json out = ModelJson(*model);
              if (!a->metadata_file.empty()) {
                std::ofstream file(a->metadata_file);
                file << bj::serialize(out) << "\n";
                if (!file)
                  return absl::InternalError(absl::StrCat("Cannot write ", a->metadata_file));
              }
              return out;
            };
          }};
}

// -i name:version, or -n name with an optional --version (latest without).
struct ModelRef {
  std::string id, name;
  std::optional<int64_t> version;

  void Add(CLI::App& app, bool require_id) {
    auto* id_option =
        app.add_option("-i,--model-id", id, "The model, as name:version (name alone: the latest).");
    if (require_id) {
      id_option->required();
      return;
    }
    app.add_option("-n,--model-name", name, "Name of the model (instead of -i).");
    app.add_option("--version", version, "Version of the model named by -n (default: the latest).");
  }
  absl::StatusOr<Model> Get(const Workspace& ws) const {
    if (!id.empty()) return Model::GetById(ws, id);
    if (name.empty())
      return absl::InvalidArgumentError(
          "Give the model: -i name:version, or -n name [--version N].");
    return Model::Get(ws, name, version);
  }
};

Command Show() {
  return {.path = {"model", "show"},
          .summary = "Show a model.",
          .example = "amlcore ml model show -i mymodel:1",
          .table = kModelColumns,
          .define = [](CLI::App& app) -> Runner {
            auto ref = std::make_shared<ModelRef>();
            ref->Add(app, false);
            return [ref](Context& ctx) -> absl::StatusOr<Json> {
              auto ws = ctx.GetWorkspace();
              if (!ws.ok()) return ws.status();
              auto model = ref->Get(*ws);
              if (!model.ok()) return model.status();
              return ModelJson(*model);
            };
          }};
}

Command List() {
  return {
      .path = {"model", "list"},
      .summary = "List the workspace's models.",
      .example = "amlcore ml model list -n mymodel -o table",
      .table = kModelColumns,
      .define = [](CLI::App& app) -> Runner {
        struct Args {
          std::string name;
          std::vector<std::string> tags, properties;
          bool latest = false;
        };
        auto a = std::make_shared<Args>();
        app.add_option("-n,--model-name", a->name, "Only models of this name.");
        app.add_option("--tag", a->tags,
                       "Only models with this tag: key or key=value (repeatable).");
        app.add_option("--property", a->properties,
                       "Only models with this key=value property (repeatable).");
        app.add_flag("-l,--latest", a->latest, "Only the latest version of each model.");
        return [a](Context& ctx) -> absl::StatusOr<Json> {
          auto ws = ctx.GetWorkspace();
          if (!ws.ok()) return ws.status();
          auto properties = KeyValues(a->properties, "--property");
          if (!properties.ok()) return properties.status();
          auto list = Model::List(
              *ws,
              {.name = a->name, .tags = a->tags, .properties = *properties, .latest = a->latest});
          if (!list.ok()) return list.status();
          bj::array out;
          for (const Model& m : *list) out.push_back(ModelJson(m));
          return out;
        };
      }};
}

Command Download() {
  return {.path = {"model", "download"},
          .summary = "Download a model's files into a folder.",
          .example = "amlcore ml model download -i mymodel:1 -t ./downloaded",
          .define = [](CLI::App& app) -> Runner {
            struct Args {
              ModelRef ref;
              std::string target_dir;
              bool overwrite = false;
            };
            auto a = std::make_shared<Args>();
            a->ref.Add(app, true);
            app.add_option("-t,--target-dir", a->target_dir, "Folder to write the files to.")
                ->required();
            app.add_flag("--overwrite", a->overwrite, "Replace files that exist.");
            return [a](Context& ctx) -> absl::StatusOr<Json> {
              auto ws = ctx.GetWorkspace();
              if (!ws.ok()) return ws.status();
              auto model = a->ref.Get(*ws);
              if (!model.ok()) return model.status();
              auto path = model->Download(a->target_dir, a->overwrite);
              if (!path.ok()) return path.status();
              return bj::object{{"id", model->id()}, {"path", *path}};
            };
          }};
}

Command Delete() {
  return {.path = {"model", "delete"},
          .summary = "Delete a model version (refused while a service deploys it).",
          .example = "amlcore ml model delete -i mymodel:1",
          .define = [](CLI::App& app) -> Runner {
            auto ref = std::make_shared<ModelRef>();
            ref->Add(app, true);
            return [ref](Context& ctx) -> absl::StatusOr<Json> {
              auto ws = ctx.GetWorkspace();
              if (!ws.ok()) return ws.status();
              auto model = ref->Get(*ws);
              if (!model.ok()) return model.status();
              if (auto s = model->Delete(); !s.ok()) return s;
              return Json(nullptr);
            };
          }};
}

Command Deploy() {
  return {
      .path = {"model", "deploy"},
      .summary =
          "Deploy models as a web service: to AKS (-ct), as an AKS endpoint, to ACI or locally, as "
          "the "
          "deployment configuration file's computeType says.",
      .example =
          "amlcore ml model deploy -ct myaks -m mymodel:1 -n myservice -ic inferenceconfig.json "
          "-dc deploymentconfig.json",
      .table = kServiceColumns,
      .define = [](CLI::App& app) -> Runner {
        struct Args {
          std::string name, deploy_config_file, compute_target, compute_type;
          InferenceFlags inference;
          DeploySettingFlags settings;
          bool overwrite = false, no_wait = false;
        };
        auto a = std::make_shared<Args>();
        app.add_option("-n,--name", a->name, "Name of the service.")->required();
        a->inference.Add(app);
        app.add_option(
            "--dc,--deploy-config-file", a->deploy_config_file,
            "deploymentconfig.json: computeType and the deployment settings (also -dc).");
        app.add_option("--ct,--compute-target", a->compute_target,
                       "The AKS compute target to deploy to (also -ct).");
        app.add_option("--cp,--compute-type", a->compute_type,
                       "aks, aksendpoint, aci or local when no -dc file "
                       "says (default: aks with -ct, else aci).");
        a->settings.Add(app, DeploySettingScope::kWebservice | DeploySettingScope::kEndpoint);
        app.add_flag("--overwrite", a->overwrite,
                     "Replace a service of that name, keeping its address and keys.");
        app.add_flag("--no-wait", a->no_wait, "Return once the deployment has started.");
        return [a](Context& ctx) -> absl::StatusOr<Json> {
          // The files and flags first: a mistake in them is reported before anything is sent.
          DeploymentConfigFile file;
          if (!a->deploy_config_file.empty()) {
            auto loaded = LoadDeploymentConfigFile(a->deploy_config_file);
            if (!loaded.ok()) return loaded.status();
            file = std::move(*loaded);
          } else if (!a->compute_type.empty()) {
            file.compute_type = absl::AsciiStrToLower(a->compute_type);
          } else {
            file.compute_type =
                a->compute_target.empty() ? DeploymentConfigFile::kAci : DeploymentConfigFile::kAks;
          }
          if (auto s = a->settings.ApplyTo(file.aks); !s.ok()) return s;
          if (auto s = a->inference.ReadFile(); !s.ok()) return s;
          auto ws = ctx.GetWorkspace();
          if (!ws.ok()) return ws.status();
          auto models = a->inference.Models(*ws);
          if (!models.ok()) return models.status();
          auto inference = a->inference.Config(*ws);
          if (!inference.ok()) return inference.status();
          if (!*inference) {
            return absl::InvalidArgumentError(
                "No inference configuration: give -ic inferenceconfig.json, or --es score.py (with "
                "--sd and -e).");
          }
          std::shared_ptr<Webservice> service;
          const std::string& type = file.compute_type;
          if (type == DeploymentConfigFile::kAks || type == DeploymentConfigFile::kAksEndpoint) {
            std::string target_name =
                a->compute_target.empty() ? file.aks.compute_target_name : a->compute_target;
            if (target_name.empty()) {
              return absl::InvalidArgumentError(
                  "An AKS deployment needs its compute target: -ct <name> (or computeTargetName in "
                  "the -dc file).");
            }
            auto target = AksCompute::Get(*ws, target_name);
            if (!target.ok()) return target.status();
            if (type == DeploymentConfigFile::kAks) {
              auto deployed = AksWebservice::Deploy(*ws, a->name, *models, **inference, file.aks,
                                                    **target, a->overwrite);
              if (!deployed.ok()) return deployed.status();
              service = *deployed;
            } else {
              auto deployed =
                  AksEndpoint::Deploy(*ws, a->name, *models, **inference, file.aks, **target);
              if (!deployed.ok()) return deployed.status();
              service = *deployed;
            }
          } else if (type == DeploymentConfigFile::kAci) {
            auto deployed =
                AciWebservice::Deploy(*ws, a->name, *models, **inference, file.aci, a->overwrite);
            if (!deployed.ok()) return deployed.status();
            service = *deployed;
          } else if (type == DeploymentConfigFile::kLocal) {
            auto deployed = LocalWebservice::Deploy(*ws, a->name, *models, **inference, file.local,
                                                    a->overwrite);
            if (!deployed.ok()) return deployed.status();
            service = *deployed;
          } else {
            return absl::InvalidArgumentError(
                absl::StrCat("--cp/--compute-type: '", type,
                             "' is not a compute type; allowed: aks, aksendpoint, "
                             "aci, local."));
          }
          if (!a->no_wait) {
            if (auto s = service->WaitForDeployment(ctx.Poll()); !s.ok()) return s;
          }
          return JsonDocument(service->Serialize());
        };
      }};
}
}  // namespace

std::vector<Command> ModelCommands() {
  return {Register(), List(), Show(), Download(), Delete(), Deploy()};
}

}  // namespace amlcore::cli
