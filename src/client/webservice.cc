#include "amlcore/webservice.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "client/connection.h"
#include "client/model_management.h"
#include "client/polling.h"
#include "client/snapshot.h"
#include "common/errors.h"
#include "common/http_client.h"
#include "common/json.h"
#include "common/json_fields.h"
#include "domain/deploy_settings.h"
#include "domain/operation_wire.h"
#include "domain/service_rules.h"
#include "domain/service_wire.h"

namespace amlcore {
namespace {
namespace bj = json::bj;
using internal::AsUserError;
using internal::AsWebserviceError;

absl::Status Invalid(absl::string_view message) {
  return AsWebserviceError(MakeError(absl::StatusCode::kInvalidArgument, "ValidationError", message));
}

std::string ServicePath(const Workspace& ws, absl::string_view name) {
  return absl::StrCat(internal::ModelManagementPath(ws), "/services/", name);
}

absl::Status ServiceError(absl::string_view name, absl::Status status) {
  if (absl::IsNotFound(status) && ErrorCodeOf(status) == "WebserviceNotFound") {
    status = WithMessage(status, absl::StrCat("WebserviceNotFound: Webservice with name ", name,
                                              " not found in provided workspace"));
  }
  return AsWebserviceError(std::move(status));
}

// A UTC timestamp of the server as the local time azureml prints ("2024-01-01 12:00:00+01:00").
std::string LocalTime(const std::string& timestamp) {
  absl::Time t;
  std::string error;
  if (!absl::ParseTime("%Y-%m-%dT%H:%M:%E*S%Ez", timestamp, &t, &error)) return timestamp;
  return absl::FormatTime("%Y-%m-%d %H:%M:%S%Ez", t, absl::LocalTimeZone());
}

// The error block of a failed deployment, indented like json.dumps(error, indent=2).
std::string IndentedError(const std::string& code, const std::string& message, int status_code) {
  return absl::StrCat("{\n  \"code\": ", json::Serialize(bj::value(code)), ",\n  \"statusCode\": ", status_code,
                      ",\n  \"message\": ", json::Serialize(bj::value(message)), "\n}");
}

struct PackedInference {
  std::string entry_script;
  std::string source_directory;
  std::string snapshot;
  Environment environment;
};

absl::StatusOr<PackedInference> PackInference(const Workspace& ws, const InferenceConfig& config) {
  if (auto s = config.Validate(); !s.ok()) return s;
  auto environment = config.EffectiveEnvironment();
  if (!environment.ok()) return environment.status();
  auto snapshot = internal::PackSource(config.source_directory, config.entry_script);
  if (!snapshot.ok()) return AsUserError(snapshot.status());
  auto sha = internal::UploadBlob(*ws.connection(), snapshot->archive);
  if (!sha.ok()) return AsWebserviceError(sha.status());
  return PackedInference{snapshot->entry_script, snapshot->root_name, *sha, std::move(*environment)};
}
}  // namespace

class WebserviceCodec {
 public:
  static absl::Status Fill(Webservice& s, const std::string& body) {
    auto object = json::ParseObject(body, "Service reply");
    if (!object.ok()) return object.status();
    auto d = domain::ServiceDocumentFromJson(*object);
    if (!d.ok()) return d.status();
    s.document_ = body;
    s.name_ = d->name;
    s.compute_type_ = d->compute_type;
    s.compute_name_ = d->compute_name;
    s.state_ = d->state;
    s.phase_ = d->phase;
    s.reason_ = d->reason;
    s.error_ = d->error ? json::Serialize(bj::object{{"code", d->error->code}, {"message", d->error->message}}) : "";
    s.scoring_uri_ = d->scoring_uri;
    s.swagger_uri_ = d->swagger_uri;
    s.tags_ = d->tags;
    s.properties_ = d->properties;
    s.description_ = d->description;
    s.created_time_ = d->created_time;
    s.updated_time_ = d->updated_time;
    s.model_ids_.clear();
    for (const auto& m : d->models) s.model_ids_.push_back(m.id);
    if (!d->operation_id.empty()) s.operation_id_ = d->operation_id;
    domain::ResolvedDeployConfig config = d->config.value_or(domain::ResolvedDeployConfig{});
    s.auth_enabled_ = d->config && config.auth_enabled;
    s.token_auth_enabled_ = d->config && config.token_auth_enabled;
    if (auto* aks = dynamic_cast<AksWebservice*>(&s)) {
      aks->num_replicas_ = config.num_replicas_given ? std::optional<int64_t>(config.num_replicas) : std::nullopt;
      aks->autoscale_enabled_ = d->config && config.autoscale_enabled;
      aks->cpu_cores_ = d->config ? config.cpu_cores : 0;
      aks->memory_gb_ = d->config ? config.memory_gb : 0;
    }
    return absl::OkStatus();
  }

  static absl::StatusOr<std::shared_ptr<AksWebservice>> Make(const Workspace& ws, const std::string& body) {
    std::shared_ptr<AksWebservice> s(new AksWebservice(ws));
    if (auto status = Fill(*s, body); !status.ok()) return status;
    return s;
  }

  static void SetOperation(Webservice& s, absl::string_view location) {
    s.operation_id_ = std::string(location.substr(location.rfind('/') + 1));
  }
};

Webservice::~Webservice() = default;

absl::Status Webservice::ValidateName(absl::string_view name) { return domain::ValidateServiceName(name); }

absl::Status AksServiceDeploymentConfiguration::Validate() const {
  auto s = domain::ValidateDeployConfiguration(*this);
  return s.ok() ? s : Invalid(s.message());
}

std::vector<DeploySettingInfo> AksServiceDeploymentConfiguration::Settings() {
  std::vector<DeploySettingInfo> out;
  for (const auto& s : domain::DeploySettings()) out.push_back({s.name, s.kind(), s.scopes});
  return out;
}

namespace {
const domain::DeploySetting* FindSetting(absl::string_view name) {
  for (const auto& s : domain::DeploySettings()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;
}  // namespace

DeploySettingValue AksServiceDeploymentConfiguration::Get(absl::string_view name) const {
  const domain::DeploySetting* s = FindSetting(name);
  if (s == nullptr || !s->IsSet(*this)) return std::monostate{};
  return std::visit(
      Overloaded{[&](const domain::FlagSetting& f) -> DeploySettingValue { return *(this->*f.request); },
                 [&](const domain::CountSetting& f) -> DeploySettingValue { return *(this->*f.request); },
                 [&](const domain::AmountSetting& f) -> DeploySettingValue { return *(this->*f.request); },
                 [&](const domain::TextSetting& f) -> DeploySettingValue { return this->*f.request; },
                 [&](const domain::MapSetting& f) -> DeploySettingValue { return this->*f.request; }},
      s->field);
}

absl::Status AksServiceDeploymentConfiguration::Set(absl::string_view name, const DeploySettingValue& value) {
  const domain::DeploySetting* s = FindSetting(name);
  if (s == nullptr) return Invalid(absl::StrCat("Invalid configuration, unknown setting '", name, "'."));
  bool unset = std::holds_alternative<std::monostate>(value);
  bool ok = std::visit(
      Overloaded{[&](const domain::FlagSetting& f) {
                   if (unset) return (this->*f.request).reset(), true;
                   if (!std::holds_alternative<bool>(value)) return false;
                   return this->*f.request = std::get<bool>(value), true;
                 },
                 [&](const domain::CountSetting& f) {
                   if (unset) return (this->*f.request).reset(), true;
                   if (!std::holds_alternative<int64_t>(value)) return false;
                   return this->*f.request = std::get<int64_t>(value), true;
                 },
                 [&](const domain::AmountSetting& f) {
                   if (unset) return (this->*f.request).reset(), true;
                   if (std::holds_alternative<int64_t>(value)) {
                     return this->*f.request = static_cast<double>(std::get<int64_t>(value)), true;
                   }
                   if (!std::holds_alternative<double>(value)) return false;
                   return this->*f.request = std::get<double>(value), true;
                 },
                 [&](const domain::TextSetting& f) {
                   if (unset) return (this->*f.request).clear(), true;
                   if (!std::holds_alternative<std::string>(value)) return false;
                   return this->*f.request = std::get<std::string>(value), true;
                 },
                 [&](const domain::MapSetting& f) {
                   if (unset) return (this->*f.request).clear(), true;
                   if (!std::holds_alternative<std::map<std::string, std::string>>(value)) return false;
                   return this->*f.request = std::get<std::map<std::string, std::string>>(value), true;
                 }},
      s->field);
  if (ok) return absl::OkStatus();
  const char* kind = s->kind();
  std::string expected = std::string(kind) == "bool"     ? "True or False"
                         : std::string(kind) == "int"    ? "an integer"
                         : std::string(kind) == "number" ? "a number"
                         : std::string(kind) == "str"    ? "a string"
                                                         : "a dict of strings to strings";
  return Invalid(absl::StrCat("Invalid configuration, ", name, " must be ", expected, "."));
}

absl::StatusOr<std::shared_ptr<Webservice>> Webservice::Get(const Workspace& ws, absl::string_view name) {
  auto reply = ws.connection()->Call("GET", ServicePath(ws, name));
  if (!reply.ok()) return ServiceError(name, reply.status());
  auto service = WebserviceCodec::Make(ws, reply->body);
  if (!service.ok()) return AsWebserviceError(service.status());
  return std::shared_ptr<Webservice>(std::move(*service));
}

absl::StatusOr<std::vector<std::shared_ptr<Webservice>>> Webservice::List(const Workspace& ws,
                                                                         const WebserviceListOptions& options) {
  std::vector<std::string> properties;
  for (const auto& [k, v] : options.properties) properties.push_back(absl::StrCat(k, "=", v));
  std::string query = absl::StrCat("?computeType=", http::UrlEncode(options.compute_type),
                                   "&modelName=", http::UrlEncode(options.model_name),
                                   "&tags=", http::UrlEncode(absl::StrJoin(options.tags, ",")),
                                   "&properties=", http::UrlEncode(absl::StrJoin(properties, ",")));
  auto reply = ws.connection()->Call("GET", absl::StrCat(internal::ModelManagementPath(ws), "/services", query));
  if (!reply.ok()) return AsWebserviceError(reply.status());
  auto object = json::ParseObject(reply->body, "Service list");
  if (!object.ok()) return object.status();
  std::vector<std::shared_ptr<Webservice>> out;
  if (const bj::value* value = object->if_contains("value"); value && value->is_array()) {
    for (const auto& item : value->as_array()) {
      auto service = WebserviceCodec::Make(ws, json::Serialize(item));
      if (!service.ok()) return service.status();
      out.push_back(std::move(*service));
    }
  }
  return out;
}

absl::Status Webservice::UpdateDeploymentState() {
  auto reply = workspace_.connection()->Call("GET", ServicePath(workspace_, name_));
  if (!reply.ok()) return ServiceError(name_, reply.status());
  return WebserviceCodec::Fill(*this, reply->body);
}

absl::Status Webservice::WaitForDeployment(const PollOptions& options) {
  if (operation_id_.empty()) {
    if (auto s = UpdateDeploymentState(); !s.ok()) return s;
    if (operation_id_.empty()) {
      return AsWebserviceError(absl::FailedPreconditionError(absl::StrCat(
          "Long running operation information not known, unable to poll. Current state is ", state_)));
    }
  }
  std::string url = absl::StrCat(internal::ModelManagementPath(workspace_), "/operations/", operation_id_);
  size_t printed = 0;
  std::string error_code;
  std::string error_message;
  auto done = internal::LongPoll(
      *workspace_.connection(), url, options,
      [&](const std::string& body) -> absl::StatusOr<internal::PollSnapshot> {
        auto op = json::DecodeText<domain::ModelManagementOperation>(body, "Operation");
        if (!op.ok()) return op.status();
        internal::PollSnapshot snapshot;
        snapshot.state = op->state;
        snapshot.terminal = op->terminal();
        snapshot.version = op->version;
        for (size_t i = printed; i < op->operation_log.size(); ++i) {
          snapshot.new_lines.push_back(
              absl::StrCat(LocalTime(op->operation_log[i].time), " ", op->operation_log[i].message));
        }
        printed = std::max(printed, op->operation_log.size());
        if (op->error) {
          error_code = op->error->code;
          error_message = op->error->message;
        }
        return snapshot;
      },
      [&](const std::string& state) {
        return absl::StrCat("Deployment polling exceeded timeout override of ", options.timeout->count() / 1000.0,
                            "s. Current status: ", state);
      });
  if (!done.ok()) return AsWebserviceError(WithOperationState(done.status(), state_));
  (void)UpdateDeploymentState();
  if (options.on_progress) {
    options.on_progress(absl::StrCat("AKS service creation operation finished, operation \"", done->state, "\"\n"));
  }
  if (done->state == "Succeeded") return absl::OkStatus();
  std::string message = absl::StrCat(
      "Service deployment polling reached non-successful terminal state, current service state: ", state_,
      "\nOperation ID: ", operation_id_, "\nMore information can be found using '.get_logs()'\nError:\n",
      IndentedError(error_code, error_message, 400));
  return AsWebserviceError(WithOperationState(
      MakeError(absl::StatusCode::kAborted, error_code.empty() ? "DeploymentFailed" : error_code, message),
      done->state));
}

absl::StatusOr<std::string> Webservice::GetLogs(int64_t num_lines, bool init) {
  if (num_lines <= 0) return Invalid("Error, num_lines must be a positive number of lines.");
  auto reply = workspace_.connection()->Call(
      "GET", absl::StrCat(ServicePath(workspace_, name_), "/logs?tail=", num_lines, "&init=", init ? "true" : "false"));
  if (!reply.ok()) return ServiceError(name_, reply.status());
  auto logs = json::DecodeText<domain::ServiceLogs>(reply->body, "Logs");
  if (!logs.ok()) return logs.status();
  return std::move(logs->content);
}

absl::StatusOr<std::pair<std::string, std::string>> Webservice::GetKeys() {
  auto reply = workspace_.connection()->Call("POST", absl::StrCat(ServicePath(workspace_, name_), "/listkeys"), "");
  if (!reply.ok()) return ServiceError(name_, reply.status());
  auto keys = json::DecodeText<domain::ServiceKeys>(reply->body, "Keys");
  if (!keys.ok()) return keys.status();
  return std::make_pair(std::move(keys->primary_key), std::move(keys->secondary_key));
}

absl::Status Webservice::RegenKey(absl::string_view key_type, absl::string_view set_key) {
  if (key_type != "Primary" && key_type != "Secondary") {
    return Invalid(absl::StrCat("Error, invalid key ", key_type, ". Valid keys are Primary and Secondary."));
  }
  bj::object body{{"keyType", json::Bj(key_type)}};
  if (!set_key.empty()) body["keyValue"] = json::Bj(set_key);
  auto reply = workspace_.connection()->Call(
      "POST", absl::StrCat(ServicePath(workspace_, name_), "/regenerateKeys"), json::Serialize(body));
  if (!reply.ok()) return ServiceError(name_, reply.status());
  key_.clear();
  return absl::OkStatus();
}

absl::StatusOr<std::string> Webservice::Run(absl::string_view input_data) {
  if (scoring_uri_.empty()) {
    if (auto s = UpdateDeploymentState(); !s.ok()) return s;
  }
  auto url = http::ParseUrl(scoring_uri_);
  if (!url) {
    return AsWebserviceError(absl::FailedPreconditionError(
        absl::StrCat("Error attempting to call webservice, scoring_uri unavailable. This could be due to a failed "
                     "deployment, or the service is not ready yet.\nCurrent State: ", state_)));
  }
  http::Client client(url->host, url->port);
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (auth_enabled_ && key_.empty()) {
      auto keys = GetKeys();
      if (!keys.ok()) return keys.status();
      key_ = keys->first;
    }
    http::Request request{.method = "POST", .target = absl::StrCat(url->path, ""), .body = std::string(input_data)};
    request.headers.Set("Content-Type", "application/json");
    if (auth_enabled_) request.headers.Set("Authorization", absl::StrCat("Bearer ", key_));
    auto response = client.Send(std::move(request), {.timeout = std::chrono::minutes(5)});
    if (!response.ok()) return AsWebserviceError(response.status());
    if (response->status == 401 && attempt == 0) {
      key_.clear();  // the keys may have been regenerated: fetch them once more
      (void)UpdateDeploymentState();
      continue;
    }
    if (response->status == 200) return std::move(response->body);
    std::string headers;
    for (const auto& [k, v] : response->headers.fields()) absl::StrAppend(&headers, headers.empty() ? "" : ", ", "'", k, "': '", v, "'");
    return AsWebserviceError(WithHttpStatus(
        MakeError(absl::StatusCode::kUnavailable, "ServiceCallFailed",
                  absl::StrCat("Received bad response from service. More information can be found by calling "
                               "`.get_logs()` on the webservice object.\nResponse Code: ",
                               response->status, "\nHeaders: {", headers, "}\nContent: ", response->body)),
        response->status));
  }
  return AsWebserviceError(absl::UnauthenticatedError("The service refused its own keys."));
}

absl::Status Webservice::Delete() {
  auto reply = workspace_.connection()->Call("DELETE", ServicePath(workspace_, name_), "", {.idempotent = false});
  if (!reply.ok()) return ServiceError(name_, reply.status());
  WebserviceCodec::SetOperation(*this, reply->headers.Get("Operation-Location").value_or(""));
  state_ = ServiceState::kDeleting;
  // azureml's delete returns once the service is gone.
  std::string url = absl::StrCat(internal::ModelManagementPath(workspace_), "/operations/", operation_id_);
  auto done = internal::LongPoll(
      *workspace_.connection(), url, {},
      [](const std::string& body) -> absl::StatusOr<internal::PollSnapshot> {
        auto op = json::DecodeText<domain::ModelManagementOperation>(body, "Operation");
        if (!op.ok()) return op.status();
        return internal::PollSnapshot{op->state, op->terminal(), op->version, {}};
      },
      [](const std::string& state) { return absl::StrCat("Deleting timed out in state ", state); });
  if (!done.ok()) return AsWebserviceError(done.status());
  if (done->state != "Succeeded") {
    return AsWebserviceError(absl::AbortedError(absl::StrCat("Deleting service ", name_, " ended ", done->state, ".")));
  }
  return absl::OkStatus();
}

std::string Webservice::Serialize() const { return document_; }

absl::StatusOr<std::shared_ptr<AksWebservice>> AksWebservice::Deploy(
    const Workspace& ws, absl::string_view name, const std::vector<Model>& models,
    const InferenceConfig& inference_config, const AksServiceDeploymentConfiguration& config,
    const AksCompute& target, bool overwrite) {
  if (auto s = ValidateName(name); !s.ok()) return Invalid(s.message());
  if (auto s = config.Validate(); !s.ok()) return s;
  auto packed = PackInference(ws, inference_config);
  if (!packed.ok()) return packed.status();
  domain::ServiceRequest request;
  request.name = std::string(name);
  request.compute_name = target.name();
  for (const auto& m : models) request.model_ids.push_back(m.id());
  request.entry_script = packed->entry_script;
  request.source_directory = packed->source_directory;
  request.snapshot = packed->snapshot;
  request.has_environment = true;
  request.environment = std::move(packed->environment);
  request.config = config;
  request.overwrite = overwrite;
  internal::CallOptions call;
  call.idempotent = false;
  auto reply = ws.connection()->Call("POST", absl::StrCat(internal::ModelManagementPath(ws), "/services"),
                                     domain::ServiceRequestToJson(request), call);
  if (!reply.ok()) return AsWebserviceError(reply.status());
  auto service = WebserviceCodec::Make(ws, reply->body);
  if (!service.ok()) return service.status();
  WebserviceCodec::SetOperation(**service, reply->headers.Get("Operation-Location").value_or(""));
  return service;
}

absl::Status AksWebservice::Update(const AksServiceUpdate& update) {
  const AksServiceDeploymentConfiguration& c = update.config;
  if (!domain::AnySet(c) && !update.models && !update.inference_config) {
    return Invalid("No parameters provided to update.");
  }
  if (auto s = domain::ValidateDeployConfiguration(c); !s.ok()) {
    // azureml words update errors "Error, ..." rather than "Invalid configuration, ...".
    return Invalid(absl::StrReplaceAll(s.message(), {{"Invalid configuration, ", "Error, "}}));
  }
  bj::array patch;
  auto replace = [&](const char* path, bj::value value) {
    patch.push_back(bj::object{{"op", "replace"}, {"path", path}, {"value", std::move(value)}});
  };
  AksServiceDeploymentConfiguration config = c;
  std::string description = config.description;
  auto tags = config.tags;
  auto properties = config.properties;
  config.description.clear();
  config.tags.clear();
  config.properties.clear();
  replace("/deploymentConfig", domain::DeployConfigToJson(config));
  if (!description.empty()) replace("/description", bj::value(description));
  if (!tags.empty()) replace("/kvTags", domain::TagsToJson(tags));
  if (!properties.empty()) replace("/properties", domain::TagsToJson(properties));
  if (update.models) {
    bj::array ids;
    for (const auto& m : *update.models) ids.push_back(bj::value(m.id()));
    replace("/models", std::move(ids));
  }
  if (update.inference_config) {
    auto packed = PackInference(workspace_, *update.inference_config);
    if (!packed.ok()) return packed.status();
    replace("/entryScript", bj::value(packed->entry_script));
    replace("/sourceDirectory", bj::value(packed->source_directory));
    replace("/snapshot", bj::value(packed->snapshot));
    replace("/environment", domain::EnvironmentToJson(packed->environment));
  }
  internal::CallOptions call;
  call.idempotent = false;
  call.headers = {{"Content-Type", "application/json-patch+json"}};
  auto reply = workspace_.connection()->Call("PATCH", ServicePath(workspace_, name_), json::Serialize(patch), call);
  if (!reply.ok()) return ServiceError(name_, reply.status());
  if (auto s = WebserviceCodec::Fill(*this, reply->body); !s.ok()) return s;
  WebserviceCodec::SetOperation(*this, reply->headers.Get("Operation-Location").value_or(""));
  return absl::OkStatus();
}

}  // namespace amlcore
