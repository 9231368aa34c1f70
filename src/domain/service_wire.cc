#include "domain/service_wire.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/crypto.h"

namespace amlcore::domain {
namespace {
namespace bj = json::bj;

absl::Status ReadStringList(const bj::value* raw, absl::string_view field, std::vector<std::string>* out) {
  if (raw == nullptr || raw->is_null()) return absl::OkStatus();
  if (!raw->is_array()) return absl::InvalidArgumentError(absl::StrCat("Field '", field, "' must be a list of strings."));
  for (const auto& v : raw->as_array()) {
    if (!v.is_string()) return absl::InvalidArgumentError(absl::StrCat("Field '", field, "' must be a list of strings."));
    out->emplace_back(json::Sv(v.as_string()));
  }
  return absl::OkStatus();
}

template <class T>
void Put(bj::object& o, const char* key, const std::optional<T>& value) {
  if (value) o[key] = *value;
}
}  // namespace

json::bj::object TagsToJson(const std::map<std::string, std::string>& tags) {
  bj::object out;
  for (const auto& [k, v] : tags) out[k] = v;
  return out;
}

absl::Status ReadStringMap(const json::bj::value* raw, absl::string_view field,
                           std::map<std::string, std::string>* out) {
  if (raw == nullptr || raw->is_null()) return absl::OkStatus();
  if (!raw->is_object()) return absl::InvalidArgumentError(absl::StrCat("Field '", field, "' must be an object of strings."));
  for (const auto& [k, v] : raw->as_object()) {
    if (!v.is_string()) {
      return absl::InvalidArgumentError(absl::StrCat("Field '", field, "' must map strings to strings; '", json::Sv(k),
                                                     "' does not."));
    }
    (*out)[std::string(json::Sv(k))] = std::string(json::Sv(v.as_string()));
  }
  return absl::OkStatus();
}

json::bj::object ModelToJson(const ModelDocument& m) {
  bj::array files;
  for (const auto& f : m.files) files.push_back(bj::object{{"path", f.path}, {"sha256", f.sha256}, {"size", f.size}});
  return bj::object{{"id", absl::StrCat(m.name, ":", m.version)},
                    {"name", m.name},
                    {"version", m.version},
                    {"description", m.description},
                    {"kvTags", TagsToJson(m.tags)},
                    {"properties", TagsToJson(m.properties)},
                    {"framework", m.framework},
                    {"frameworkVersion", m.framework_version},
                    {"createdTime", m.created_time},
                    {"files", std::move(files)}};
}

absl::StatusOr<ModelDocument> ModelFromJson(const json::bj::object& object) {
  ModelDocument m;
  json::ObjectReader reader(&object, "");
  for (auto key : {"id", "version", "createdTime"}) reader.Ignore(key);
  m.name = reader.String("name").value_or("");
  m.description = reader.String("description").value_or("");
  m.framework = reader.String("framework").value_or("");
  m.framework_version = reader.String("frameworkVersion").value_or("");
  if (auto s = ReadStringMap(reader.Raw("kvTags"), "kvTags", &m.tags); !s.ok()) return s;
  if (auto s = ReadStringMap(reader.Raw("properties"), "properties", &m.properties); !s.ok()) return s;
  const bj::value* files = reader.Raw("files");
  if (auto s = reader.Finish(); !s.ok()) return s;
  if (files == nullptr || !files->is_array() || files->as_array().empty()) {
    return absl::InvalidArgumentError("Field 'files' must list at least one file.");
  }
  for (const auto& item : files->as_array()) {
    if (!item.is_object()) return absl::InvalidArgumentError("Every entry of 'files' must be an object.");
    json::ObjectReader f(&item.as_object(), "files[]");
    ModelFile file{f.String("path").value_or(""), f.String("sha256").value_or(""), f.Int("size").value_or(0)};
    if (auto s = f.Finish(); !s.ok()) return s;
    m.files.push_back(std::move(file));
  }
  return m;
}

json::bj::object EnvironmentToJson(const Environment& e) {
  bj::value conda = nullptr;
  if (e.python.conda_dependencies) {
    const CondaDependencies& c = *e.python.conda_dependencies;
    bj::array dependencies;
    if (!c.python_version.empty()) dependencies.push_back(bj::value(absl::StrCat("python=", c.python_version)));
    for (const auto& p : c.conda_packages) dependencies.push_back(bj::value(p));
    if (!c.pip_packages.empty()) dependencies.push_back(bj::object{{"pip", json::StringArray(c.pip_packages)}});
    conda = bj::object{{"name", c.name}, {"channels", json::StringArray(c.channels)}, {"dependencies", std::move(dependencies)}};
  }
  return bj::object{
      {"name", e.name},
      {"version", e.version.empty() ? bj::value(nullptr) : bj::value(e.version)},
      {"python", bj::object{{"userManagedDependencies", e.python.user_managed_dependencies},
                            {"interpreterPath", e.python.interpreter_path},
                            {"condaDependencies", std::move(conda)}}},
      {"docker", bj::object{{"baseImage", e.docker.base_image.empty() ? bj::value(nullptr) : bj::value(e.docker.base_image)},
                            {"baseDockerfile",
                             e.docker.base_dockerfile.empty() ? bj::value(nullptr) : bj::value(e.docker.base_dockerfile)}}},
      {"environmentVariables", TagsToJson(e.environment_variables)}};
}

absl::StatusOr<Environment> EnvironmentFromJson(const json::bj::object& object) {
  Environment e;
  json::ObjectReader reader(&object, "environment");
  e.name = reader.String("name").value_or("");
  e.version = reader.String("version").value_or("");
  json::ObjectReader python = reader.Object("python");
  e.python.user_managed_dependencies = python.Bool("userManagedDependencies").value_or(false);
  e.python.interpreter_path = python.String("interpreterPath").value_or("python");
  json::ObjectReader conda = python.Object("condaDependencies");
  if (conda.present()) {
    CondaDependencies c;
    c.name = conda.String("name").value_or("project_environment");
    if (auto s = ReadStringList(conda.Raw("channels"), "channels", &c.channels); !s.ok()) return s;
    const bj::value* dependencies = conda.Raw("dependencies");
    if (dependencies != nullptr) {
      if (!dependencies->is_array()) return absl::InvalidArgumentError("Field 'dependencies' must be a list.");
      for (const auto& d : dependencies->as_array()) {
        if (d.is_string()) {
          std::string text(json::Sv(d.as_string()));
          if (absl::StartsWith(text, "python=") || absl::StartsWith(text, "python==")) {
            c.python_version = text.substr(text.find_last_of('=') + 1);
          } else if (text != "python" && text != "pip" && !absl::StartsWith(text, "pip=")) {
            c.conda_packages.push_back(text);
          }
        } else if (d.is_object() && d.as_object().contains("pip")) {
          if (auto s = ReadStringList(d.as_object().if_contains("pip"), "pip", &c.pip_packages); !s.ok()) return s;
        } else {
          return absl::InvalidArgumentError("Every conda dependency must be a string or a {\"pip\": [...]} list.");
        }
      }
    }
    e.python.conda_dependencies = std::move(c);
  }
  for (auto key : {"baseCondaEnvironment"}) python.Ignore(key);
  json::ObjectReader docker = reader.Object("docker");
  e.docker.base_image = docker.String("baseImage").value_or("");
  e.docker.base_dockerfile = docker.String("baseDockerfile").value_or("");
  for (auto key : {"enabled", "baseImageRegistry", "arguments", "sharedVolumes", "shmSize"}) docker.Ignore(key);
  if (auto s = ReadStringMap(reader.Raw("environmentVariables"), "environmentVariables", &e.environment_variables);
      !s.ok()) {
    return s;
  }
  for (auto key : {"inferencingStackVersion", "spark", "r", "databricks"}) reader.Ignore(key);
  for (json::ObjectReader* r : {&conda, &python, &docker, &reader}) {
    if (auto s = r->Finish(); !s.ok()) return s;
  }
  return e;
}

std::string EnvironmentHash(const Environment& e) {
  // What changes the runtime, in order; not the name, version or variables.
  bj::object identity{{"baseImage", e.docker.base_image},
                      {"dockerSteps", e.docker.base_dockerfile},
                      {"userManaged", e.python.user_managed_dependencies},
                      {"interpreter", e.python.user_managed_dependencies ? e.python.interpreter_path : std::string()}};
  if (e.python.conda_dependencies) {
    identity["python"] = e.python.conda_dependencies->python_version;
    identity["conda"] = json::StringArray(e.python.conda_dependencies->conda_packages);
    identity["pip"] = json::StringArray(e.python.conda_dependencies->pip_packages);
  }
  return Sha256Hex(json::Serialize(identity));
}

json::bj::object DeployConfigToJson(const AksServiceDeploymentConfiguration& c) {
  bj::object scaler;
  Put(scaler, "autoscaleEnabled", c.autoscale_enabled);
  Put(scaler, "minReplicas", c.autoscale_min_replicas);
  Put(scaler, "maxReplicas", c.autoscale_max_replicas);
  Put(scaler, "refreshPeriodInSeconds", c.autoscale_refresh_seconds);
  Put(scaler, "targetUtilization", c.autoscale_target_utilization);
  bj::object resources;
  Put(resources, "cpu", c.cpu_cores);
  Put(resources, "memoryInGB", c.memory_gb);
  Put(resources, "gpu", c.gpu_cores);
  Put(resources, "cpuLimit", c.cpu_cores_limit);
  Put(resources, "memoryInGBLimit", c.memory_gb_limit);
  bj::object liveness;
  Put(liveness, "periodSeconds", c.period_seconds);
  Put(liveness, "initialDelaySeconds", c.initial_delay_seconds);
  Put(liveness, "timeoutSeconds", c.timeout_seconds);
  Put(liveness, "successThreshold", c.success_threshold);
  Put(liveness, "failureThreshold", c.failure_threshold);
  bj::object out{{"autoScaler", std::move(scaler)},
                 {"containerResourceRequirements", std::move(resources)},
                 {"livenessProbeRequirements", std::move(liveness)}};
  Put(out, "numReplicas", c.num_replicas);
  Put(out, "authEnabled", c.auth_enabled);
  Put(out, "aadAuthEnabled", c.token_auth_enabled);
  Put(out, "appInsightsEnabled", c.enable_app_insights);
  Put(out, "scoringTimeoutMs", c.scoring_timeout_ms);
  Put(out, "maxConcurrentRequestsPerContainer", c.replica_max_concurrent_requests);
  Put(out, "maxQueueWaitMs", c.max_request_wait_time);
  Put(out, "blobfuseEnabled", c.blobfuse_enabled);
  if (c.collect_model_data) out["dataCollection"] = bj::object{{"storageEnabled", *c.collect_model_data}};
  if (!c.primary_key.empty() || !c.secondary_key.empty()) {
    out["keys"] = bj::object{{"primaryKey", c.primary_key}, {"secondaryKey", c.secondary_key}};
  }
  if (!c.namespace_.empty()) out["namespace"] = c.namespace_;
  if (!c.compute_target_name.empty()) out["computeName"] = c.compute_target_name;
  if (!c.description.empty()) out["description"] = c.description;
  if (!c.tags.empty()) out["kvTags"] = TagsToJson(c.tags);
  if (!c.properties.empty()) out["properties"] = TagsToJson(c.properties);
  return out;
}

absl::StatusOr<AksServiceDeploymentConfiguration> DeployConfigFromJson(const json::bj::object& object) {
  AksServiceDeploymentConfiguration c;
  json::ObjectReader r(&object, "deploymentConfig");
  json::ObjectReader scaler = r.Object("autoScaler");
  c.autoscale_enabled = scaler.Bool("autoscaleEnabled");
  c.autoscale_min_replicas = scaler.Int("minReplicas");
  c.autoscale_max_replicas = scaler.Int("maxReplicas");
  c.autoscale_refresh_seconds = scaler.Int("refreshPeriodInSeconds");
  c.autoscale_target_utilization = scaler.Int("targetUtilization");
  json::ObjectReader resources = r.Object("containerResourceRequirements");
  c.cpu_cores = resources.Number("cpu");
  c.memory_gb = resources.Number("memoryInGB");
  c.gpu_cores = resources.Int("gpu");
  c.cpu_cores_limit = resources.Number("cpuLimit");
  c.memory_gb_limit = resources.Number("memoryInGBLimit");
  json::ObjectReader liveness = r.Object("livenessProbeRequirements");
  c.period_seconds = liveness.Int("periodSeconds");
  c.initial_delay_seconds = liveness.Int("initialDelaySeconds");
  c.timeout_seconds = liveness.Int("timeoutSeconds");
  c.success_threshold = liveness.Int("successThreshold");
  c.failure_threshold = liveness.Int("failureThreshold");
  c.num_replicas = r.Int("numReplicas");
  c.auth_enabled = r.Bool("authEnabled");
  c.token_auth_enabled = r.Bool("aadAuthEnabled");
  c.enable_app_insights = r.Bool("appInsightsEnabled");
  c.scoring_timeout_ms = r.Int("scoringTimeoutMs");
  c.replica_max_concurrent_requests = r.Int("maxConcurrentRequestsPerContainer");
  c.max_request_wait_time = r.Int("maxQueueWaitMs");
  c.blobfuse_enabled = r.Bool("blobfuseEnabled");
  json::ObjectReader collection = r.Object("dataCollection");
  c.collect_model_data = collection.Bool("storageEnabled");
  json::ObjectReader keys = r.Object("keys");
  c.primary_key = keys.String("primaryKey").value_or("");
  c.secondary_key = keys.String("secondaryKey").value_or("");
  c.namespace_ = r.String("namespace").value_or("");
  c.compute_target_name = r.String("computeName").value_or("");
  c.description = r.String("description").value_or("");
  if (auto s = ReadStringMap(r.Raw("kvTags"), "kvTags", &c.tags); !s.ok()) return s;
  if (auto s = ReadStringMap(r.Raw("properties"), "properties", &c.properties); !s.ok()) return s;
  for (json::ObjectReader* reader : {&scaler, &resources, &liveness, &collection, &keys, &r}) {
    if (auto s = reader->Finish(); !s.ok()) return s;
  }
  return c;
}

json::bj::object ResolvedToJson(const ResolvedDeployConfig& c) {
  return bj::object{
      {"numReplicas", c.num_replicas_given ? bj::value(c.num_replicas) : bj::value(nullptr)},
      {"autoScaler", bj::object{{"autoscaleEnabled", c.autoscale_enabled},
                                {"minReplicas", c.autoscale_min_replicas},
                                {"maxReplicas", c.autoscale_max_replicas},
                                {"refreshPeriodInSeconds", c.autoscale_refresh_seconds},
                                {"targetUtilization", c.autoscale_target_utilization}}},
      {"containerResourceRequirements",
       bj::object{{"cpu", c.cpu_cores},
                  {"memoryInGB", c.memory_gb},
                  {"gpu", c.gpu_cores},
                  {"cpuLimit", c.cpu_cores_limit > 0 ? bj::value(c.cpu_cores_limit) : bj::value(nullptr)},
                  {"memoryInGBLimit", c.memory_gb_limit}}},
      {"livenessProbeRequirements", bj::object{{"periodSeconds", c.period_seconds},
                                               {"initialDelaySeconds", c.initial_delay_seconds},
                                               {"timeoutSeconds", c.timeout_seconds},
                                               {"successThreshold", c.success_threshold},
                                               {"failureThreshold", c.failure_threshold}}},
      {"authEnabled", c.auth_enabled},
      {"aadAuthEnabled", c.token_auth_enabled},
      {"appInsightsEnabled", c.enable_app_insights},
      {"dataCollection", bj::object{{"storageEnabled", c.collect_model_data}}},
      {"scoringTimeoutMs", c.scoring_timeout_ms},
      {"maxConcurrentRequestsPerContainer", c.replica_max_concurrent_requests},
      {"maxQueueWaitMs", c.max_request_wait_time},
      {"namespace", c.namespace_.empty() ? bj::value(nullptr) : bj::value(c.namespace_)},
      {"blobfuseEnabled", c.blobfuse_enabled}};
}

std::string ServiceRequestToJson(const ServiceRequest& r) {
  bj::object o{{"name", r.name},
               {"computeType", r.compute_type},
               {"computeName", r.compute_name},
               {"models", json::StringArray(r.model_ids)},
               {"entryScript", r.entry_script},
               {"sourceDirectory", r.source_directory},
               {"snapshot", r.snapshot},
               {"deploymentConfig", DeployConfigToJson(r.config)},
               {"overwrite", r.overwrite}};
  if (r.has_environment) o["environment"] = EnvironmentToJson(r.environment);
  return json::Serialize(o);
}

absl::StatusOr<ServiceRequest> ServiceRequestFromJson(absl::string_view body) {
  auto object = json::ParseObject(body, "Service request");
  if (!object.ok()) return object.status();
  ServiceRequest r;
  json::ObjectReader reader(&*object, "");
  r.name = reader.String("name").value_or("");
  r.compute_type = reader.String("computeType").value_or("AKS");
  r.compute_name = reader.String("computeName").value_or("");
  if (auto s = ReadStringList(reader.Raw("models"), "models", &r.model_ids); !s.ok()) return s;
  r.entry_script = reader.String("entryScript").value_or("");
  r.source_directory = reader.String("sourceDirectory").value_or("");
  r.snapshot = reader.String("snapshot").value_or("");
  r.overwrite = reader.Bool("overwrite").value_or(false);
  const bj::value* environment = reader.Raw("environment");
  const bj::value* config = reader.Raw("deploymentConfig");
  if (auto s = reader.Finish(); !s.ok()) return s;
  if (environment != nullptr) {
    if (!environment->is_object()) return absl::InvalidArgumentError("Field 'environment' must be an object.");
    auto e = EnvironmentFromJson(environment->as_object());
    if (!e.ok()) return e.status();
    r.environment = std::move(*e);
    r.has_environment = true;
  }
  if (config != nullptr) {
    if (!config->is_object()) return absl::InvalidArgumentError("Field 'deploymentConfig' must be an object.");
    auto c = DeployConfigFromJson(config->as_object());
    if (!c.ok()) return c.status();
    r.config = std::move(*c);
  }
  return r;
}

}  // namespace amlcore::domain
