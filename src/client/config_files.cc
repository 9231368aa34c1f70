#include "amlcore/config_files.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/model_management.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/json.h"
#include "domain/deploy_settings.h"
#include "domain/service_wire.h"

namespace amlcore {
namespace {
namespace bj = json::bj;
using internal::AsUserError;

constexpr char kInferenceWhat[] = "Reading the inference configuration file ";
constexpr char kDeploymentWhat[] = "Reading the deployment configuration file ";

absl::Status FileError(absl::string_view what, absl::string_view file, absl::string_view detail) {
  return AsUserError(MakeError(absl::StatusCode::kInvalidArgument, "UserError",
                               absl::StrCat(what, file, ": ", detail)));
}

// A JSON object from `text`, or the parser's complaint naming the file.
absl::StatusOr<bj::object> ParseFile(absl::string_view text, absl::string_view what,
                                     absl::string_view file) {
  auto value = json::Parse(text);
  if (!value.ok()) return FileError(what, file, value.status().message());
  if (!value->is_object()) return FileError(what, file, "it must hold one JSON object ({...}).");
  return std::move(value->as_object());
}

// `object` with `key` set to `value`, and `drop` left out. A new object each time: Boost.JSON 1.81
// corrupts a parsed object that is erased from and then grown (bad_alloc in object::rehash,
// reproducible outside amlcore).
bj::object Rebuilt(const bj::object& object, absl::string_view drop, absl::string_view key,
                   const bj::value* value) {
  bj::object out;
  for (const auto& item : object) {
    if (item.key() != json::Bj(drop)) out.emplace(item.key(), item.value());
  }
  if (value != nullptr) out.emplace(json::Bj(key), *value);
  return out;
}

// The older inference configuration names its base image registry by address, or as an object with
// one.
absl::Status ReadRegistry(const bj::value* raw, std::string* address) {
  if (raw == nullptr) return absl::OkStatus();
  if (raw->is_string()) {
    *address = std::string(raw->as_string());
    return absl::OkStatus();
  }
  if (raw->is_object()) {
    json::ObjectReader registry(&raw->as_object(), "baseImageRegistry");
    *address = registry.String("address").value_or("");
    registry.Ignore("username");
    registry.Ignore("password");
    return registry.Finish();
  }
  return absl::InvalidArgumentError(
      "Field 'baseImageRegistry' must be a string (the registry's address) or an object with "
      "address, username "
      "and password.");
}

// An azureml Environment document; python.condaDependenciesFile (a conda file to read) is the file
// form's own.
absl::StatusOr<Environment> ReadEnvironment(const bj::value& raw) {
  if (!raw.is_object()) return absl::InvalidArgumentError("Field 'environment' must be an object.");
  bj::object environment = raw.as_object();
  std::string conda_file;
  if (bj::value* python = environment.if_contains("python");
      python != nullptr && python->is_object()) {
    if (bj::value* file = python->as_object().if_contains("condaDependenciesFile");
        file != nullptr) {
      if (!file->is_null() && !file->is_string()) {
        return absl::InvalidArgumentError(
            "Field 'environment.python.condaDependenciesFile' must be a string (a conda file's "
            "path) or null.");
      }
      if (file->is_string()) conda_file = std::string(file->as_string());
      python->as_object() = Rebuilt(python->as_object(), "condaDependenciesFile", "", nullptr);
    }
  }
  auto env = domain::EnvironmentFromJson(environment);
  if (!env.ok()) return env.status();
  if (!conda_file.empty()) {
    if (env->python.conda_dependencies) {
      return absl::InvalidArgumentError(
          "Fields 'environment.python.condaDependencies' and "
          "'environment.python.condaDependenciesFile' are both "
          "set; give one of them.");
    }
    auto conda = CondaDependencies::FromFile(conda_file);
    if (!conda.ok()) return conda.status();
    env->python.conda_dependencies = std::move(*conda);
  }
  return env;
}

// Other names the documents give some settings (Azure's docs and its SDK's own reader disagree):
// each is read as the canonical key, and setting both is refused.
struct Alias {
  const char* parent;  // "" for the top level
  const char* key;
  const char* canonical_parent;
  const char* canonical_key;
};
constexpr Alias kDeploymentAliases[] = {
    {"containerResourceRequirements", "cpu_limit", "containerResourceRequirements", "cpuLimit"},
    {"containerResourceRequirements", "memory_limit", "containerResourceRequirements",
     "memoryInGBLimit"},
    {"containerResourceRequirements", "gpu", "", "gpuCores"},
};

std::string Dotted(absl::string_view parent, absl::string_view key) {
  return parent.empty() ? std::string(key) : absl::StrCat(parent, ".", key);
}

absl::Status ApplyAliases(bj::object& root) {
  for (const Alias& a : kDeploymentAliases) {
    bj::value* parent = *a.parent ? root.if_contains(a.parent) : nullptr;
    bj::object* from =
        *a.parent ? (parent != nullptr && parent->is_object() ? &parent->as_object() : nullptr)
                  : &root;
    if (from == nullptr || !from->contains(a.key)) continue;
    const bj::value* target = *a.canonical_parent ? root.if_contains(a.canonical_parent) : nullptr;
    const bj::object* to =
        *a.canonical_parent
            ? (target != nullptr && target->is_object() ? &target->as_object() : nullptr)
            : &root;
    if (to != nullptr && to->contains(a.canonical_key)) {
      return absl::InvalidArgumentError(absl::StrCat("Fields '", Dotted(a.parent, a.key), "' and '",
                                                     Dotted(a.canonical_parent, a.canonical_key),
                                                     "' name the same setting; give one of them."));
    }
    bj::value value = *from->if_contains(a.key);
    if (std::string_view(a.parent) == a.canonical_parent) {
      *from = Rebuilt(*from, a.key, a.canonical_key, &value);
      continue;
    }
    *from = Rebuilt(*from, a.key, "", nullptr);
    if (*a.canonical_parent) {
      bj::object existing = to != nullptr ? *to : bj::object{};
      root = Rebuilt(root, a.canonical_parent, a.canonical_parent, nullptr);
      bj::value moved = Rebuilt(existing, "", a.canonical_key, &value);
      root = Rebuilt(root, "", a.canonical_parent, &moved);
    } else {
      root = Rebuilt(root, "", a.canonical_key, &value);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<AciServiceDeploymentConfiguration> ReadAci(const bj::object& object) {
  AciServiceDeploymentConfiguration c;
  json::ObjectReader reader(&object, "");
  reader.Ignore("computeType");
  json::ObjectReader resources = reader.Object("containerResourceRequirements");
  c.cpu_cores = resources.Number("cpu");
  c.memory_gb = resources.Number("memoryInGB");
  c.location = reader.String("location").value_or("");
  c.auth_enabled = reader.Bool("authEnabled");
  c.ssl_enabled = reader.Bool("sslEnabled");
  c.enable_app_insights = reader.Bool("appInsightsEnabled");
  c.ssl_cert_pem_file = reader.String("sslCertificate").value_or("");
  c.ssl_key_pem_file = reader.String("sslKey").value_or("");
  c.ssl_cname = reader.String("cname").value_or("");
  c.dns_name_label = reader.String("dnsNameLabel").value_or("");
  c.cmk_vault_base_url = reader.String("vaultBaseUrl").value_or("");
  c.cmk_key_name = reader.String("keyName").value_or("");
  c.cmk_key_version = reader.String("keyVersion").value_or("");
  c.vnet_name = reader.String("vnetName").value_or("");
  c.subnet_name = reader.String("subnetName").value_or("");
  json::ObjectReader keys = reader.Object("keys");
  c.primary_key = keys.String("primaryKey").value_or("");
  c.secondary_key = keys.String("secondaryKey").value_or("");
  json::ObjectReader collection = reader.Object("dataCollection");
  c.collect_model_data = collection.Bool("storageEnabled");
  c.description = reader.String("description").value_or("");
  if (auto s = domain::ReadStringMap(reader.Raw("tags"), "tags", &c.tags); !s.ok()) return s;
  if (auto s = domain::ReadStringMap(reader.Raw("properties"), "properties", &c.properties);
      !s.ok())
    return s;
  for (json::ObjectReader* r : {&resources, &keys, &collection, &reader}) {
    if (auto s = r->Finish(); !s.ok()) return s;
  }
  return c;
}
}  // namespace

absl::StatusOr<InferenceConfig> ParseInferenceConfig(absl::string_view text,
                                                     absl::string_view file_name) {
  auto object = ParseFile(text, kInferenceWhat, file_name);
  if (!object.ok()) return object.status();
  InferenceConfig c;
  json::ObjectReader reader(&*object, "");
  c.entry_script = reader.String("entryScript").value_or("");
  c.source_directory = reader.String("sourceDirectory").value_or("");
  c.description = reader.String("description").value_or("");
  c.runtime = reader.String("runtime").value_or("");
  c.conda_file = reader.String("condaFile").value_or("");
  c.extra_docker_file_steps = reader.String("extraDockerfileSteps").value_or("");
  c.enable_gpu = reader.Bool("enableGpu");
  c.cuda_version = reader.String("cudaVersion").value_or("");
  c.base_image = reader.String("baseImage").value_or("");
  absl::Status registry = ReadRegistry(reader.Raw("baseImageRegistry"), &c.base_image_registry);
  const bj::value* environment = reader.Raw("environment");
  absl::Status status = reader.Finish();
  if (status.ok()) status = registry;
  if (status.ok() && environment != nullptr) {
    auto env = ReadEnvironment(*environment);
    if (env.ok()) c.environment = std::move(*env);
    status = env.status();
  }
  if (status.ok() && c.entry_script.empty()) {
    status = absl::InvalidArgumentError(
        "'entryScript' is required: the path of the scoring script (score.py).");
  }
  if (!status.ok()) return FileError(kInferenceWhat, file_name, status.message());
  return c;
}

absl::StatusOr<InferenceConfig> LoadInferenceConfigFile(absl::string_view path) {
  auto text = ReadFile(std::string(path));
  if (!text.ok()) return FileError(kInferenceWhat, path, text.status().message());
  return ParseInferenceConfig(*text, path);
}

absl::StatusOr<DeploymentConfigFile> ParseDeploymentConfig(absl::string_view text,
                                                           absl::string_view file_name) {
  auto object = ParseFile(text, kDeploymentWhat, file_name);
  if (!object.ok()) return object.status();
  DeploymentConfigFile file;
  const bj::value* type = object->if_contains("computeType");
  constexpr char kTypes[] = "\"aks\", \"aksendpoint\", \"aci\" or \"local\"";
  if (type == nullptr || !type->is_string()) {
    return FileError(kDeploymentWhat, file_name,
                     absl::StrCat("'computeType' is required and must be a string: ", kTypes, "."));
  }
  file.compute_type = absl::AsciiStrToLower(json::Sv(type->as_string()));
  absl::Status status;
  if (file.compute_type == DeploymentConfigFile::kAks ||
      file.compute_type == DeploymentConfigFile::kAksEndpoint) {
    bool endpoint = file.compute_type == DeploymentConfigFile::kAksEndpoint;
    status = ApplyAliases(*object);
    if (status.ok()) {
      auto config = domain::DeployConfigFromFileJson(
          *object, "", endpoint ? DeploySettingScope::kEndpoint : DeploySettingScope::kWebservice,
          {"computeType"});
      if (config.ok()) file.aks = std::move(*config);
      status = config.status();
    }
  } else if (file.compute_type == DeploymentConfigFile::kAci) {
    auto config = ReadAci(*object);
    if (config.ok()) file.aci = std::move(*config);
    status = config.status();
  } else if (file.compute_type == DeploymentConfigFile::kLocal) {
    json::ObjectReader reader(&*object, "");
    reader.Ignore("computeType");
    file.local.port = reader.Int("port");
    status = reader.Finish();
  } else {
    status = absl::InvalidArgumentError(absl::StrCat(
        "'computeType' is \"", json::Sv(type->as_string()), "\"; allowed: ", kTypes, "."));
  }
  if (!status.ok()) return FileError(kDeploymentWhat, file_name, status.message());
  return file;
}

absl::StatusOr<DeploymentConfigFile> LoadDeploymentConfigFile(absl::string_view path) {
  auto text = ReadFile(std::string(path));
  if (!text.ok()) return FileError(kDeploymentWhat, path, text.status().message());
  return ParseDeploymentConfig(*text, path);
}

}  // namespace amlcore
