#include "domain/service_wire.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/crypto.h"

namespace amlcore::domain {
namespace {
namespace bj = json::bj;

constexpr absl::string_view kDatasetUrlPrefix = "aml://dataset/";

absl::Status ReadStringList(const bj::value* raw, absl::string_view field, std::vector<std::string>* out) {
  if (raw == nullptr || raw->is_null()) return absl::OkStatus();
  if (!raw->is_array()) return absl::InvalidArgumentError(absl::StrCat("Field '", field, "' must be a list of strings."));
  for (const auto& v : raw->as_array()) {
    if (!v.is_string()) return absl::InvalidArgumentError(absl::StrCat("Field '", field, "' must be a list of strings."));
    out->emplace_back(json::Sv(v.as_string()));
  }
  return absl::OkStatus();
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
                    {"files", std::move(files)},
                    {"datasets", json::Encode(m.datasets)},
                    {"sampleInputData", m.sample_input_data.empty() ? bj::value(nullptr) : bj::value(m.sample_input_data)},
                    {"sampleOutputData",
                     m.sample_output_data.empty() ? bj::value(nullptr) : bj::value(m.sample_output_data)},
                    {"resourceRequirements", json::Encode(m.resource_requirements)}};
}

std::string DatasetUrl(absl::string_view dataset_id) {
  return dataset_id.empty() ? "" : absl::StrCat(kDatasetUrlPrefix, dataset_id);
}

absl::StatusOr<std::string> DatasetIdOfUrl(absl::string_view url) {
  absl::string_view id = url;
  if (!absl::ConsumePrefix(&id, kDatasetUrlPrefix) || id.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", url, "' does not name a dataset; sample data is given as ", kDatasetUrlPrefix, "<id>."));
  }
  return std::string(id);
}

absl::StatusOr<ModelDocument> ModelFromJson(const json::bj::object& object) {
  ModelDocument m;
  json::ObjectReader reader(&object, "");
  reader.Ignore("id");
  m.name = reader.String("name").value_or("");
  m.version = reader.Int("version").value_or(0);
  m.created_time = reader.String("createdTime").value_or("");
  m.description = reader.String("description").value_or("");
  m.framework = reader.String("framework").value_or("");
  m.framework_version = reader.String("frameworkVersion").value_or("");
  if (auto s = ReadStringMap(reader.Raw("kvTags"), "kvTags", &m.tags); !s.ok()) return s;
  if (auto s = ReadStringMap(reader.Raw("properties"), "properties", &m.properties); !s.ok()) return s;
  m.sample_input_data = reader.String("sampleInputData").value_or("");
  m.sample_output_data = reader.String("sampleOutputData").value_or("");
  if (const bj::value* datasets = reader.Raw("datasets")) {
    if (auto s = json::Decode(*datasets, &m.datasets, "datasets", {.reject_unknown = true}); !s.ok()) return s;
  }
  if (const bj::value* resources = reader.Raw("resourceRequirements")) {
    if (auto s = json::Decode(*resources, &m.resource_requirements, "resourceRequirements", {.reject_unknown = true});
        !s.ok()) {
      return s;
    }
  }
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
  const ContainerGroupRequest& c = r.container;
  if (!c.location.empty()) o["location"] = c.location;
  if (!c.dns_name_label.empty()) o["dnsNameLabel"] = c.dns_name_label;
  if (c.ssl_enabled) o["sslEnabled"] = true;
  if (!c.ssl_certificate.empty()) o["sslCertificate"] = c.ssl_certificate;
  if (!c.ssl_key.empty()) o["sslKey"] = c.ssl_key;
  if (!c.ssl_cname.empty()) o["cname"] = c.ssl_cname;
  if (c.port != 0) o["port"] = c.port;
  if (!c.client_entry_script.empty()) o["clientEntryScript"] = c.client_entry_script;
  if (!c.client_source_directory.empty()) o["clientSourceDirectory"] = c.client_source_directory;
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
  ContainerGroupRequest& c = r.container;
  c.location = reader.String("location").value_or("");
  c.dns_name_label = reader.String("dnsNameLabel").value_or("");
  c.ssl_enabled = reader.Bool("sslEnabled").value_or(false);
  c.ssl_certificate = reader.String("sslCertificate").value_or("");
  c.ssl_key = reader.String("sslKey").value_or("");
  c.ssl_cname = reader.String("cname").value_or("");
  c.port = reader.Int("port").value_or(0);
  c.client_entry_script = reader.String("clientEntryScript").value_or("");
  c.client_source_directory = reader.String("clientSourceDirectory").value_or("");
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

json::bj::object VersionPatchToJson(const VersionPatch& p) {
  bj::object o;
  if (p.model_ids) o["models"] = json::StringArray(*p.model_ids);
  if (p.entry_script) o["entryScript"] = *p.entry_script;
  if (p.source_directory) o["sourceDirectory"] = *p.source_directory;
  if (p.snapshot) o["snapshot"] = *p.snapshot;
  if (p.environment) o["environment"] = EnvironmentToJson(*p.environment);
  if (AnySet(p.config)) o["deploymentConfig"] = DeployConfigToJson(p.config);
  if (p.is_default) o["isDefault"] = *p.is_default;
  if (p.is_control) o["isControlVersion"] = *p.is_control;
  return o;
}

absl::StatusOr<VersionPatch> VersionPatchFromJson(const json::bj::value& value) {
  if (!value.is_object()) return absl::InvalidArgumentError("A version must be an object.");
  VersionPatch p;
  json::ObjectReader reader(&value.as_object(), "version");
  if (const bj::value* models = reader.Raw("models")) {
    std::vector<std::string> ids;
    if (auto s = ReadStringList(models, "version.models", &ids); !s.ok()) return s;
    p.model_ids = std::move(ids);
  }
  p.entry_script = reader.String("entryScript");
  p.source_directory = reader.String("sourceDirectory");
  p.snapshot = reader.String("snapshot");
  p.is_default = reader.Bool("isDefault");
  p.is_control = reader.Bool("isControlVersion");
  const bj::value* environment = reader.Raw("environment");
  const bj::value* config = reader.Raw("deploymentConfig");
  if (auto s = reader.Finish(); !s.ok()) return s;
  if (environment != nullptr) {
    if (!environment->is_object()) return absl::InvalidArgumentError("Field 'version.environment' must be an object.");
    auto e = EnvironmentFromJson(environment->as_object());
    if (!e.ok()) return e.status();
    p.environment = std::move(*e);
  }
  if (config != nullptr) {
    if (!config->is_object()) {
      return absl::InvalidArgumentError("Field 'version.deploymentConfig' must be an object.");
    }
    auto c = DeployConfigFromJson(config->as_object());
    if (!c.ok()) return c.status();
    p.config = std::move(*c);
  }
  return p;
}

json::bj::object ServiceDocumentToJson(const ServiceDocument& d) {
  auto text_or_null = [](const std::string& text) { return text.empty() ? bj::value(nullptr) : bj::value(json::Bj(text)); };
  bj::object out{{"id", d.name},
                 {"name", d.name},
                 {"description", d.description},
                 {"kvTags", TagsToJson(d.tags)},
                 {"properties", TagsToJson(d.properties)},
                 {"computeType", d.compute_type},
                 {"computeName", d.compute_name},
                 {"state", d.state},
                 {"phase", d.phase},
                 {"reason", d.reason},
                 {"createdTime", d.created_time},
                 {"updatedTime", d.updated_time},
                 {"scoringUri", text_or_null(d.scoring_uri)},
                 {"swaggerUri", text_or_null(d.swagger_uri)},
                 {"error", d.error ? bj::value(bj::object{{"code", d.error->code}, {"message", d.error->message}})
                                   : bj::value(nullptr)},
                 {"operationId", text_or_null(d.operation_id)}};
  bj::array models;
  for (const auto& m : d.models) models.push_back(bj::object{{"id", m.id}, {"name", m.name}, {"version", m.version}});
  out["models"] = std::move(models);
  out["entryScript"] = d.entry_script;
  out["sourceDirectory"] = d.source_directory;
  if (d.environment) out["environment"] = EnvironmentToJson(*d.environment);
  if (d.config) {
    for (auto& [k, v] : ResolvedToJson(*d.config)) out[k] = v;
  }
  if (d.auth_enabled) out["authEnabled"] = *d.auth_enabled;
  if (d.token_auth_enabled) out["aadAuthEnabled"] = *d.token_auth_enabled;
  if (d.app_insights_enabled) out["appInsightsEnabled"] = *d.app_insights_enabled;
  if (d.traffic_percentile) out["trafficPercentile"] = *d.traffic_percentile;
  if (d.is_default) out["isDefault"] = *d.is_default;
  if (!d.version_type.empty()) out["type"] = d.version_type;
  if (d.replicas) {
    out["readyReplicas"] = d.replicas->ready;
    out["desiredReplicas"] = d.replicas->desired;
    out["wantedReplicas"] = d.replicas->wanted;
  }
  if (d.container) {
    const auto& c = *d.container;
    out["location"] = c.location;
    out["sslEnabled"] = c.ssl_enabled;
    out["cname"] = text_or_null(c.cname);
    out["dnsNameLabel"] = text_or_null(c.dns_name_label);
    out["publicFqdn"] = text_or_null(c.public_fqdn);
    out["publicIp"] = "127.0.0.1";
    if (c.port != 0) out["port"] = c.port;
    if (!c.client_entry_script.empty()) out["clientEntryScript"] = c.client_entry_script;
    if (!c.client_source_directory.empty()) out["clientSourceDirectory"] = c.client_source_directory;
  }
  if (d.compute_type == "AKSENDPOINT") {
    bj::object versions;
    for (const auto& v : d.versions) versions[v.name] = ServiceDocumentToJson(v);
    out["versions"] = std::move(versions);
  }
  return out;
}

absl::StatusOr<ServiceDocument> ServiceDocumentFromJson(const json::bj::object& o) {
  ServiceDocument d;
  d.name = json::GetString(o, "name");
  d.description = json::GetString(o, "description");
  if (auto s = ReadStringMap(o.if_contains("kvTags"), "kvTags", &d.tags); !s.ok()) return s;
  if (auto s = ReadStringMap(o.if_contains("properties"), "properties", &d.properties); !s.ok()) return s;
  d.compute_type = json::GetString(o, "computeType");
  d.compute_name = json::GetString(o, "computeName");
  d.state = json::GetString(o, "state");
  d.phase = json::GetString(o, "phase");
  d.reason = json::GetString(o, "reason");
  d.created_time = json::GetString(o, "createdTime");
  d.updated_time = json::GetString(o, "updatedTime");
  d.scoring_uri = json::GetString(o, "scoringUri");
  d.swagger_uri = json::GetString(o, "swaggerUri");
  d.operation_id = json::GetString(o, "operationId");
  if (const bj::object* error = json::GetObject(o, "error")) {
    d.error = ServiceDocument::Error{json::GetString(*error, "code"), json::GetString(*error, "message")};
  }
  if (const bj::value* models = o.if_contains("models"); models && models->is_array()) {
    for (const auto& m : models->as_array()) {
      if (!m.is_object()) return absl::InvalidArgumentError("Service document: every model must be an object.");
      d.models.push_back({json::GetString(m.as_object(), "id"), json::GetString(m.as_object(), "name"),
                          json::GetInt(m.as_object(), "version")});
    }
  }
  d.entry_script = json::GetString(o, "entryScript");
  d.source_directory = json::GetString(o, "sourceDirectory");
  if (const bj::object* environment = json::GetObject(o, "environment")) {
    auto e = EnvironmentFromJson(*environment);
    if (!e.ok()) return e.status();
    d.environment = std::move(*e);
  }
  if (o.contains("autoScaler")) {
    auto config = ResolvedFromJson(o);
    if (!config.ok()) return config.status();
    d.config = *config;
  }
  if (const bj::value* v = o.if_contains("authEnabled"); v && v->is_bool()) d.auth_enabled = v->as_bool();
  if (const bj::value* v = o.if_contains("aadAuthEnabled"); v && v->is_bool()) d.token_auth_enabled = v->as_bool();
  if (const bj::value* v = o.if_contains("appInsightsEnabled"); v && v->is_bool()) {
    d.app_insights_enabled = v->as_bool();
  }
  if (const bj::value* v = o.if_contains("trafficPercentile"); v && v->is_number()) {
    d.traffic_percentile = json::GetInt(o, "trafficPercentile");
  }
  if (const bj::value* v = o.if_contains("isDefault"); v && v->is_bool()) d.is_default = v->as_bool();
  d.version_type = json::GetString(o, "type");
  if (o.contains("desiredReplicas")) {
    d.replicas = ServiceDocument::Replicas{json::GetInt(o, "readyReplicas"), json::GetInt(o, "desiredReplicas"),
                                           json::GetInt(o, "wantedReplicas")};
  }
  if (o.contains("publicIp")) {
    ServiceDocument::ContainerGroup c;
    c.location = json::GetString(o, "location");
    c.ssl_enabled = json::GetBool(o, "sslEnabled");
    c.cname = json::GetString(o, "cname");
    c.dns_name_label = json::GetString(o, "dnsNameLabel");
    c.public_fqdn = json::GetString(o, "publicFqdn");
    c.port = json::GetInt(o, "port");
    c.client_entry_script = json::GetString(o, "clientEntryScript");
    c.client_source_directory = json::GetString(o, "clientSourceDirectory");
    d.container = std::move(c);
  }
  if (const bj::object* versions = json::GetObject(o, "versions")) {
    for (const auto& [name, v] : *versions) {
      if (!v.is_object()) return absl::InvalidArgumentError("Service document: every version must be an object.");
      auto version = ServiceDocumentFromJson(v.as_object());
      if (!version.ok()) return version.status();
      d.versions.push_back(std::move(*version));
    }
  }
  return d;
}

}  // namespace amlcore::domain
