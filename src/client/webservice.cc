#include "amlcore/webservice.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "client/connection.h"
#include "client/model_management.h"
#include "client/no_code.h"
#include "client/polling.h"
#include "client/snapshot.h"
#include "common/environment_config.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/http_client.h"
#include "common/json.h"
#include "common/json_fields.h"
#include "common/tar.h"
#include "domain/container_rules.h"
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
// No inference configuration at all: a no-code deployment (client/no_code.h).
bool IsEmpty(const InferenceConfig& c) {
  return c.entry_script.empty() && c.source_directory.empty() && c.conda_file.empty() && c.runtime.empty() &&
         !c.environment;
}

// The entry script and environment a no-code deployment of `models` runs, uploaded.
absl::StatusOr<PackedInference> PackNoCode(const Workspace& ws, const std::vector<Model>& models) {
  auto deployment = internal::NoCodeDeploymentFor(models);
  if (!deployment.ok()) return AsWebserviceError(deployment.status());
  auto archive = WriteTar({TarEntry{deployment->entry_script_name, deployment->entry_script}});
  if (!archive.ok()) return archive.status();
  auto sha = internal::UploadBlob(*ws.connection(), *archive);
  if (!sha.ok()) return AsWebserviceError(sha.status());
  return PackedInference{deployment->entry_script_name, "", *sha, std::move(deployment->environment)};
}

// What a deployment runs: what inference_config packs, or the no-code defaults of `models` without one.
absl::StatusOr<PackedInference> PackDeployment(const Workspace& ws, const InferenceConfig& config,
                                               const std::vector<Model>& models) {
  return IsEmpty(config) ? PackNoCode(ws, models) : PackInference(ws, config);
}
}  // namespace

class WebserviceCodec {
 public:
  static absl::Status Fill(Webservice& s, const std::string& body) {
    auto object = json::ParseObject(body, "Service reply");
    if (!object.ok()) return object.status();
    auto d = domain::ServiceDocumentFromJson(*object);
    if (!d.ok()) return d.status();
    FillFrom(s, *d, body);
    if (auto* endpoint = dynamic_cast<AksEndpoint*>(&s)) {
      endpoint->versions_.clear();
      endpoint->version_order_.clear();
      for (const auto& v : d->versions) {
        std::shared_ptr<AksWebservice> version(new AksWebservice(s.workspace_));
        FillFrom(*version, v, json::Serialize(domain::ServiceDocumentToJson(v)));
        version->endpoint_name_ = s.name_;
        endpoint->versions_[v.name] = version;
        endpoint->version_order_.push_back(v.name);
      }
    }
    return absl::OkStatus();
  }

  // A web service, an endpoint, or a version of one, from its document.
  static void FillFrom(Webservice& s, const domain::ServiceDocument& doc, const std::string& body) {
    const domain::ServiceDocument* d = &doc;
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
    s.auth_enabled_ = d->auth_enabled.value_or(d->config && config.auth_enabled);
    s.token_auth_enabled_ = d->token_auth_enabled.value_or(d->config && config.token_auth_enabled);
    s.traffic_percentile_ = d->traffic_percentile.value_or(0);
    s.is_default_ = d->is_default.value_or(false);
    s.version_type_ = d->version_type;
    if (auto* aks = dynamic_cast<AksWebservice*>(&s)) {
      aks->num_replicas_ = config.num_replicas_given ? std::optional<int64_t>(config.num_replicas) : std::nullopt;
      aks->autoscale_enabled_ = d->config && config.autoscale_enabled;
      aks->cpu_cores_ = d->config ? config.cpu_cores : 0;
      aks->memory_gb_ = d->config ? config.memory_gb : 0;
    }
    domain::ServiceDocument::ContainerGroup group = d->container.value_or(domain::ServiceDocument::ContainerGroup{});
    if (auto* aci = dynamic_cast<AciWebservice*>(&s)) {
      aci->cpu_cores_ = d->config ? config.cpu_cores : 0;
      aci->memory_gb_ = d->config ? config.memory_gb : 0;
      aci->enable_app_insights_ = d->config && config.enable_app_insights;
      aci->location_ = group.location;
      aci->ssl_enabled_ = group.ssl_enabled;
      aci->cname_ = group.cname;
      aci->dns_name_label_ = group.dns_name_label;
      aci->public_fqdn_ = group.public_fqdn;
    }
    if (auto* local = dynamic_cast<LocalWebservice*>(&s)) local->port_ = group.port;
  }

  // The class of a service's computeType (AksWebservice, AksEndpoint, AciWebservice, LocalWebservice), from its
  // document.
  static absl::StatusOr<std::shared_ptr<Webservice>> Make(const Workspace& ws, const std::string& body) {
    auto object = json::ParseObject(body, "Service reply");
    if (!object.ok()) return object.status();
    std::shared_ptr<Webservice> s;
    std::string type = json::GetString(*object, "computeType");
    if (type == AksEndpoint::kComputeType) {
      s.reset(new AksEndpoint(ws));
    } else if (type == AciWebservice::kComputeType) {
      s.reset(new AciWebservice(ws));
    } else if (type == LocalWebservice::kComputeType) {
      s.reset(new LocalWebservice(ws));
    } else {
      s.reset(new AksWebservice(ws));
    }
    if (auto status = Fill(*s, body); !status.ok()) return status;
    return s;
  }

  // Sends a JSON patch of the service and follows the operation it starts.
  static absl::Status Patch(Webservice& s, const std::string& patch) {
    internal::CallOptions call;
    call.idempotent = false;
    call.headers = {{"Content-Type", "application/json-patch+json"}};
    auto reply = s.workspace_.connection()->Call("PATCH", ServicePath(s.workspace_, s.name_), patch, call);
    if (!reply.ok()) return ServiceError(s.name_, reply.status());
    if (auto status = Fill(s, reply->body); !status.ok()) return status;
    SetOperation(s, reply->headers.Get("Operation-Location").value_or(""));
    return absl::OkStatus();
  }

  static void RememberInference(LocalWebservice& s, const InferenceConfig& config) { s.inference_config_ = config; }
  static const std::optional<InferenceConfig>& InferenceOf(const LocalWebservice& s) { return s.inference_config_; }

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
  return std::move(*service);
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
  const std::string& name = endpoint_name_.empty() ? name_ : endpoint_name_;
  auto reply = workspace_.connection()->Call("GET", ServicePath(workspace_, name));
  if (!reply.ok()) return ServiceError(name, reply.status());
  if (endpoint_name_.empty()) return WebserviceCodec::Fill(*this, reply->body);
  // A version: its part of the endpoint's document.
  auto object = json::ParseObject(reply->body, "Service reply");
  if (!object.ok()) return object.status();
  auto d = domain::ServiceDocumentFromJson(*object);
  if (!d.ok()) return d.status();
  for (const auto& v : d->versions) {
    if (v.name == name_) {
      WebserviceCodec::FillFrom(*this, v, json::Serialize(domain::ServiceDocumentToJson(v)));
      return absl::OkStatus();
    }
  }
  return ServiceError(name_, MakeError(absl::StatusCode::kNotFound, "VersionNotFound",
                                       absl::StrCat("Endpoint ", endpoint_name_, " has no version ", name_, " any more.")));
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
    // azureml names the kind of service: "AKS", "ACI" or "Local".
    std::string kind = compute_type_ == AciWebservice::kComputeType || compute_type_ == LocalWebservice::kComputeType
                           ? compute_type_
                           : "AKS";
    options.on_progress(absl::StrCat(kind, " service creation operation finished, operation \"", done->state, "\"\n"));
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

absl::StatusOr<std::string> Webservice::GetLogs(int64_t num_lines, bool init, bool all_replicas) {
  if (num_lines <= 0) return Invalid("Error, num_lines must be a positive number of lines.");
  // A version's logs are its endpoint's, for that version.
  const std::string& name = endpoint_name_.empty() ? name_ : endpoint_name_;
  auto reply = workspace_.connection()->Call(
      "GET", absl::StrCat(ServicePath(workspace_, name), "/logs?tail=", num_lines, "&init=", init ? "true" : "false",
                          endpoint_name_.empty() ? "" : absl::StrCat("&version=", http::UrlEncode(name_)),
                          all_replicas ? "&allReplicas=true" : ""));
  if (!reply.ok()) return ServiceError(name, reply.status());
  auto logs = json::DecodeText<domain::ServiceLogs>(reply->body, "Logs");
  if (!logs.ok()) return logs.status();
  return std::move(logs->content);
}

absl::StatusOr<std::pair<std::string, std::string>> Webservice::GetKeys() {
  const std::string& name = endpoint_name_.empty() ? name_ : endpoint_name_;
  auto reply = workspace_.connection()->Call("POST", absl::StrCat(ServicePath(workspace_, name), "/listkeys"), "");
  if (!reply.ok()) return ServiceError(name, reply.status());
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
  const std::string& name = endpoint_name_.empty() ? name_ : endpoint_name_;
  auto reply = workspace_.connection()->Call(
      "POST", absl::StrCat(ServicePath(workspace_, name), "/regenerateKeys"), json::Serialize(body));
  if (!reply.ok()) return ServiceError(name, reply.status());
  key_.clear();
  return absl::OkStatus();
}

absl::StatusOr<AksServiceAccessToken> Webservice::GetAccessToken() {
  const std::string& name = endpoint_name_.empty() ? name_ : endpoint_name_;
  auto reply = workspace_.connection()->Call("POST", absl::StrCat(ServicePath(workspace_, name), "/token"), "");
  if (!reply.ok()) return ServiceError(name, reply.status());
  auto token = json::DecodeText<domain::ServiceToken>(reply->body, "Token");
  if (!token.ok()) return token.status();
  return AksServiceAccessToken{std::move(token->access_token), std::move(token->token_type), token->refresh_after,
                               token->expiry_on};
}

absl::StatusOr<std::pair<std::string, int64_t>> Webservice::GetToken() {
  auto token = GetAccessToken();
  if (!token.ok()) return token.status();
  return std::make_pair(std::move(token->access_token), token->refresh_after);
}

absl::StatusOr<std::string> Webservice::Credential(bool fresh) {
  if (auth_enabled_) {
    if (key_.empty() || fresh) {
      auto keys = GetKeys();
      if (!keys.ok()) return keys.status();
      key_ = keys->first;
    }
    return key_;
  }
  if (token_auth_enabled_) {
    if (!token_ || fresh || absl::ToUnixSeconds(absl::Now()) >= token_->refresh_after) {
      auto token = GetAccessToken();
      if (!token.ok()) return token.status();
      token_ = std::move(*token);
    }
    return token_->access_token;
  }
  return std::string();
}

namespace {
// HTTPS to a scoring URI trusts the system's certificate authorities (and SSL_CERT_FILE, as OpenSSL does), the
// bundle REQUESTS_CA_BUNDLE names (as Python's requests does), and amlcore's own authority in AMLCORE_HOME,
// which issues the certificates of leaf domain labels.
std::optional<http::ClientTls> ScoringTls(const http::Url& url) {
  if (url.scheme != "https") return std::nullopt;
  http::ClientTls tls;
  tls.server_name = url.host;
  if (const char* bundle = std::getenv("REQUESTS_CA_BUNDLE"); bundle != nullptr && *bundle != '\0') {
    tls.ca_files.push_back(bundle);
  }
  std::string own = absl::StrCat(EnvironmentConfig::Load().home, "/ca/ca.pem");
  if (access(own.c_str(), R_OK) == 0) tls.ca_files.push_back(own);
  return tls;
}

// Where to connect for a scoring URI's host: names under "localhost" are this machine's loopback (RFC 6761),
// which leaf domain labels use.
std::string ConnectHost(const std::string& host) {
  // The front ends listen on 127.0.0.1, which "localhost" may not resolve to first.
  return host == "localhost" || absl::EndsWith(host, ".localhost") ? "127.0.0.1" : host;
}
}  // namespace

absl::StatusOr<std::string> Webservice::Run(absl::string_view input_data) {
  if (scoring_uri_.empty()) {
    if (auto s = UpdateDeploymentState(); !s.ok()) return s;
  }
  // azureml's words when there is nothing to call, with amlcore's reason.
  auto not_ready = [this] {
    return AsWebserviceError(absl::FailedPreconditionError(absl::StrCat(
        "Error attempting to call webservice, scoring_uri unavailable. This could be due to a failed deployment, "
        "or the service is not ready yet.\nCurrent State: ", state_, reason_.empty() ? "" : absl::StrCat(" (", reason_, ")"),
        "\nErrors: ", error_.empty() ? "None" : error_)));
  };
  auto url = http::ParseUrl(scoring_uri_);
  if (!url) return not_ready();
  http::Client client(ConnectHost(url->host), url->port, ScoringTls(*url));
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto credential = Credential(/*fresh=*/attempt > 0);
    if (!credential.ok()) return credential.status();
    http::Request request{.method = "POST", .target = absl::StrCat(url->path, ""), .body = std::string(input_data)};
    request.headers.Set("Content-Type", "application/json");
    if (!credential->empty()) request.headers.Set("Authorization", absl::StrCat("Bearer ", *credential));
    // A version of an endpoint answers for itself.
    if (!endpoint_name_.empty()) request.headers.Set("azureml-model-deployment", name_);
    auto response = client.Send(std::move(request), {.timeout = std::chrono::minutes(5)});
    if (!response.ok()) return AsWebserviceError(response.status());
    // A service that exists but is not serving (never routed: 404; no ready replica: 503) says why.
    if (response->status == 404 || response->status == 503) {
      if (UpdateDeploymentState().ok() && state_ != ServiceState::kHealthy) return not_ready();
    }
    if (response->status == 401 && attempt == 0) {
      // The keys may have been regenerated, the token expired or the auth mode changed: look again, once.
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
  return AsWebserviceError(absl::UnauthenticatedError("The service refused its own credential."));
}

absl::Status Webservice::Delete() {
  if (!endpoint_name_.empty()) {
    return Invalid(absl::StrCat("Error, ", name_, " is a version of endpoint ", endpoint_name_,
                                "; delete it with the endpoint's delete_version."));
  }
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

namespace {
// POST /services: `request` (its name, type, target and settings) with the models and what inference_config
// packs; the service as the server describes it, of the class of its type.
absl::StatusOr<std::shared_ptr<Webservice>> StartDeployment(const Workspace& ws, domain::ServiceRequest request,
                                                            const std::vector<Model>& models,
                                                            const InferenceConfig& inference_config) {
  if (auto s = Webservice::ValidateName(request.name); !s.ok()) return Invalid(s.message());
  if (auto s = request.config.Validate(); !s.ok()) return s;
  auto packed = PackDeployment(ws, inference_config, models);
  if (!packed.ok()) return packed.status();
  for (const auto& m : models) request.model_ids.push_back(m.id());
  request.entry_script = packed->entry_script;
  request.source_directory = packed->source_directory;
  request.snapshot = packed->snapshot;
  request.has_environment = true;
  request.environment = std::move(packed->environment);
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

// The service StartDeployment made, as the class asked for.
template <class T>
absl::StatusOr<std::shared_ptr<T>> As(absl::StatusOr<std::shared_ptr<Webservice>> service) {
  if (!service.ok()) return service.status();
  auto typed = std::dynamic_pointer_cast<T>(*service);
  if (!typed) {
    return absl::InternalError(absl::StrCat("The server answered a deployment of type ", T::kComputeType,
                                            " with a service of type ", (*service)->compute_type(), "."));
  }
  return typed;
}

domain::ServiceRequest RequestOf(absl::string_view name, absl::string_view compute_type,
                                 const AksServiceDeploymentConfiguration& config, bool overwrite) {
  domain::ServiceRequest request;
  request.name = std::string(name);
  request.compute_type = std::string(compute_type);
  request.config = config;
  request.overwrite = overwrite;
  return request;
}

// The JSON patch lines of a new inference configuration (or, with an empty one, of the no-code defaults of
// `models`).
absl::Status AppendInference(const Workspace& ws, const InferenceConfig& config, bj::array& patch,
                             const std::vector<Model>& models = {}) {
  auto packed = PackDeployment(ws, config, models);
  if (!packed.ok()) return packed.status();
  auto replace = [&](const char* path, bj::value value) {
    patch.push_back(bj::object{{"op", "replace"}, {"path", path}, {"value", std::move(value)}});
  };
  replace("/entryScript", bj::value(packed->entry_script));
  replace("/sourceDirectory", bj::value(packed->source_directory));
  replace("/snapshot", bj::value(packed->snapshot));
  replace("/environment", domain::EnvironmentToJson(packed->environment));
  return absl::OkStatus();
}

void AppendReplace(bj::array& patch, absl::string_view path, bj::value value) {
  patch.push_back(bj::object{{"op", "replace"}, {"path", json::Bj(path)}, {"value", std::move(value)}});
}

absl::StatusOr<std::string> ReadPemFile(const std::string& path, const char* what) {
  auto text = ReadFile(path);
  if (!text.ok()) {
    return Invalid(absl::StrCat("Error occurred attempting to read SSL ", what, " pem file:\n", text.status().message()));
  }
  return std::move(*text);
}

// Absolute, so that a later reload() finds them whatever the working directory is then.
std::string Absolute(const std::string& path) {
  if (path.empty()) return path;
  std::error_code ignored;
  return std::filesystem::absolute(path, ignored).lexically_normal().string();
}
}  // namespace

absl::StatusOr<std::shared_ptr<AciWebservice>> AciWebservice::Deploy(const Workspace& ws, absl::string_view name,
                                                                     const std::vector<Model>& models,
                                                                     const InferenceConfig& inference_config,
                                                                     const AciServiceDeploymentConfiguration& config,
                                                                     bool overwrite) {
  if (auto s = config.Validate(); !s.ok()) return s;
  AksServiceDeploymentConfiguration settings;
  settings.cpu_cores = config.cpu_cores;
  settings.memory_gb = config.memory_gb;
  settings.tags = config.tags;
  settings.properties = config.properties;
  settings.description = config.description;
  settings.auth_enabled = config.auth_enabled;
  settings.enable_app_insights = config.enable_app_insights;
  settings.primary_key = config.primary_key;
  settings.secondary_key = config.secondary_key;
  settings.collect_model_data = config.collect_model_data;
  domain::ServiceRequest request = RequestOf(name, kComputeType, settings, overwrite);
  request.container.location = config.location;
  request.container.dns_name_label = config.dns_name_label;
  if (config.ssl_enabled.value_or(false)) {
    request.container.ssl_enabled = true;
    auto cert = ReadPemFile(config.ssl_cert_pem_file, "cert");
    if (!cert.ok()) return cert.status();
    auto key = ReadPemFile(config.ssl_key_pem_file, "key");
    if (!key.ok()) return key.status();
    request.container.ssl_certificate = std::move(*cert);
    request.container.ssl_key = std::move(*key);
    request.container.ssl_cname = config.ssl_cname;
  }
  return As<AciWebservice>(StartDeployment(ws, std::move(request), models, inference_config));
}

absl::Status AciServiceDeploymentConfiguration::Validate() const {
  auto s = domain::ValidateAciConfiguration(*this);
  return s.ok() ? s : Invalid(s.message());
}

absl::Status AciWebservice::Update(const Changes& c) {
  if (!c.tags && c.properties.empty() && c.description.empty() && !c.auth_enabled && !c.ssl_enabled &&
      c.ssl_cert_pem_file.empty() && c.ssl_key_pem_file.empty() && c.ssl_cname.empty() && !c.enable_app_insights &&
      !c.models && !c.inference_config) {
    return Invalid("No parameters provided to update.");
  }
  std::vector<std::string> errors;
  bool no_code = c.models && !c.inference_config && c.models->size() == 1 &&
                 internal::IsNoCodeFramework(c.models->front().model_framework());
  if (c.models && !c.inference_config && !no_code) {
    errors.push_back("Error, both \"models\" and \"inference_config\" inputs must be provided in order to update "
                     "the models.");
  }
  bool ssl = c.ssl_enabled.value_or(ssl_enabled_);
  if ((!c.ssl_cert_pem_file.empty() || !c.ssl_key_pem_file.empty()) && !ssl) {
    errors.push_back("Error, SSL must be enabled in order to update SSL cert/key.");
  }
  for (const auto& [file, what] : {std::pair{&c.ssl_cert_pem_file, "ssl_cert_pem_file"},
                                   std::pair{&c.ssl_key_pem_file, "ssl_key_pem_file"}}) {
    if (!file->empty() && !std::filesystem::exists(*file)) {
      errors.push_back(absl::StrCat("Error, unable to find ", what, " at provided path: ", *file));
    }
  }
  if (!errors.empty()) return Invalid(absl::StrJoin(errors, "\n"));
  bj::array patch;
  AksServiceDeploymentConfiguration settings;
  settings.auth_enabled = c.auth_enabled;
  settings.enable_app_insights = c.enable_app_insights;
  if (settings.auth_enabled || settings.enable_app_insights) {
    AppendReplace(patch, "/deploymentConfig", domain::DeployConfigToJson(settings));
  }
  if (c.tags) AppendReplace(patch, "/kvTags", domain::TagsToJson(*c.tags));
  if (!c.properties.empty()) {
    std::map<std::string, std::string> properties = properties_;
    for (const auto& [k, v] : c.properties) properties[k] = v;
    AppendReplace(patch, "/properties", domain::TagsToJson(properties));
  }
  if (!c.description.empty()) AppendReplace(patch, "/description", bj::value(c.description));
  if (c.ssl_enabled) AppendReplace(patch, "/sslEnabled", bj::value(*c.ssl_enabled));
  if (!c.ssl_cert_pem_file.empty()) {
    auto cert = ReadPemFile(c.ssl_cert_pem_file, "cert");
    if (!cert.ok()) return cert.status();
    AppendReplace(patch, "/sslCertificate", bj::value(*cert));
  }
  if (!c.ssl_key_pem_file.empty()) {
    auto key = ReadPemFile(c.ssl_key_pem_file, "key");
    if (!key.ok()) return key.status();
    AppendReplace(patch, "/sslKey", bj::value(*key));
  }
  if (!c.ssl_cname.empty()) AppendReplace(patch, "/cname", bj::value(c.ssl_cname));
  if (c.models) {
    bj::array ids;
    for (const auto& m : *c.models) ids.push_back(bj::value(m.id()));
    AppendReplace(patch, "/models", std::move(ids));
  }
  if (c.inference_config || no_code) {
    if (auto s = AppendInference(workspace_, c.inference_config.value_or(InferenceConfig{}), patch,
                                 c.models.value_or(std::vector<Model>{}));
        !s.ok()) {
      return s;
    }
  }
  return WebserviceCodec::Patch(*this, json::Serialize(patch));
}

absl::Status LocalWebserviceDeploymentConfiguration::Validate() const {
  if (port && (*port < 1 || *port > 65535)) {
    return Invalid(absl::StrCat("Invalid configuration, port must be between 1 and 65535, not ", *port, "."));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<LocalWebservice>> LocalWebservice::Deploy(
    const Workspace& ws, absl::string_view name, const std::vector<Model>& models,
    const InferenceConfig& inference_config, const LocalWebserviceDeploymentConfiguration& config, bool overwrite) {
  if (auto s = config.Validate(); !s.ok()) return s;
  domain::ServiceRequest request = RequestOf(name, kComputeType, {}, overwrite);
  request.container.port = config.port.value_or(0);
  request.container.client_entry_script = Absolute(
      inference_config.source_directory.empty()
          ? inference_config.entry_script
          : (std::filesystem::path(inference_config.source_directory) / inference_config.entry_script).string());
  request.container.client_source_directory = Absolute(inference_config.source_directory);
  auto service = As<LocalWebservice>(StartDeployment(ws, std::move(request), models, inference_config));
  if (service.ok()) WebserviceCodec::RememberInference(**service, inference_config);
  return service;
}

absl::Status LocalWebservice::Update(const Changes& c) {
  if (!c.models && !c.inference_config && !c.deployment_config) {
    return Invalid("No parameters provided to update.");
  }
  bj::array patch;
  if (c.deployment_config) {
    if (auto s = c.deployment_config->Validate(); !s.ok()) return s;
    AppendReplace(patch, "/port", bj::value(c.deployment_config->port.value_or(0)));
  }
  if (c.models) {
    bj::array ids;
    for (const auto& m : *c.models) ids.push_back(bj::value(m.id()));
    AppendReplace(patch, "/models", std::move(ids));
  }
  if (c.inference_config) {
    if (auto s = AppendInference(workspace_, *c.inference_config, patch); !s.ok()) return s;
    inference_config_ = *c.inference_config;
  }
  return WebserviceCodec::Patch(*this, json::Serialize(patch));
}

absl::Status LocalWebservice::Reload() {
  if (auto s = UpdateDeploymentState(); !s.ok()) return s;
  InferenceConfig config;
  if (inference_config_) {
    config = *inference_config_;
  } else {
    // Deployed from another process: the files it was deployed from, with the environment it runs.
    auto object = json::ParseObject(document_, "Service");
    if (!object.ok()) return object.status();
    auto d = domain::ServiceDocumentFromJson(*object);
    if (!d.ok()) return d.status();
    if (!d->container || d->container->client_entry_script.empty()) {
      return Invalid(absl::StrCat("Error, local service ", name_, " does not know where its entry script is; "
                                  "update it with an inference_config."));
    }
    config.source_directory = d->container->client_source_directory;
    std::filesystem::path script(d->container->client_entry_script);
    config.entry_script = config.source_directory.empty()
                              ? script.string()
                              : script.lexically_relative(config.source_directory).string();
    if (d->environment) config.environment = *d->environment;
  }
  bj::array patch;
  if (auto s = AppendInference(workspace_, config, patch); !s.ok()) return s;
  return WebserviceCodec::Patch(*this, json::Serialize(patch));
}

absl::StatusOr<std::shared_ptr<AksWebservice>> AksWebservice::Deploy(
    const Workspace& ws, absl::string_view name, const std::vector<Model>& models,
    const InferenceConfig& inference_config, const AksServiceDeploymentConfiguration& config,
    const AksCompute& target, bool overwrite) {
  if (!config.version_name.empty() || config.traffic_percentile) {
    return Invalid("Error, version_name and traffic_percentile are settings of AksEndpoint.deploy_configuration.");
  }
  domain::ServiceRequest request = RequestOf(name, kComputeType, config, overwrite);
  request.compute_name = target.name();
  return As<AksWebservice>(StartDeployment(ws, std::move(request), models, inference_config));
}

absl::StatusOr<std::shared_ptr<AksEndpoint>> AksEndpoint::Deploy(const Workspace& ws, absl::string_view name,
                                                                 const std::vector<Model>& models,
                                                                 const InferenceConfig& inference_config,
                                                                 const AksServiceDeploymentConfiguration& config,
                                                                 const AksCompute& target) {
  if (config.blobfuse_enabled) return Invalid("Error, blobfuse_enabled is a setting of AksWebservice only.");
  if (!config.version_name.empty()) {
    if (auto s = domain::ValidateVersionName(config.version_name); !s.ok()) return Invalid(s.message());
  }
  domain::ServiceRequest request = RequestOf(name, kComputeType, config, false);
  request.compute_name = target.name();
  return As<AksEndpoint>(StartDeployment(ws, std::move(request), models, inference_config));
}

absl::Status AksEndpoint::Patch(const std::string& patch) { return WebserviceCodec::Patch(*this, patch); }

namespace {
// The JSON of a version as create_version and update_version send it; settings that are the endpoint's are
// refused here, with azureml's wording.
absl::StatusOr<bj::object> VersionValue(const Workspace& ws, const AksEndpointVersion& version) {
  for (const auto& info : AksServiceDeploymentConfiguration::Settings()) {
    if (!(info.scopes & DeploySettingScope::kVersion) &&
        !std::holds_alternative<std::monostate>(version.config.Get(info.name))) {
      return Invalid(absl::StrCat("Error, ", info.name, " is not a setting of a version; ",
                                  info.scopes & DeploySettingScope::kServiceUpdate
                                      ? "change it for the whole endpoint with update()."
                                      : "set it when the endpoint is deployed."));
    }
  }
  if (auto s = version.config.Validate(); !s.ok()) return s;
  domain::VersionPatch patch;
  patch.config = version.config;
  patch.is_default = version.is_default;
  patch.is_control = version.is_control_version_type;
  if (version.models) {
    patch.model_ids.emplace();
    for (const auto& m : *version.models) patch.model_ids->push_back(m.id());
  }
  if (version.inference_config) {
    auto packed = PackInference(ws, *version.inference_config);
    if (!packed.ok()) return packed.status();
    patch.entry_script = packed->entry_script;
    patch.source_directory = packed->source_directory;
    patch.snapshot = packed->snapshot;
    patch.environment = std::move(packed->environment);
  }
  return domain::VersionPatchToJson(patch);
}

std::string PatchOf(const char* op, absl::string_view path, std::optional<bj::value> value) {
  bj::object item{{"op", op}, {"path", json::Bj(path)}};
  if (value) item["value"] = std::move(*value);
  return json::Serialize(bj::array{std::move(item)});
}
}  // namespace

absl::Status AksEndpoint::CreateVersion(absl::string_view version_name, const AksEndpointVersion& version) {
  if (version_name.empty()) {
    return Invalid(absl::StrCat("No name is provided to create a version in an Endpoint ", name_));
  }
  if (auto s = domain::ValidateVersionName(version_name); !s.ok()) return Invalid(s.message());
  if (!version.inference_config) {
    return Invalid(absl::StrCat("Error, version ", version_name, " needs an inference_config with its entry script."));
  }
  auto value = VersionValue(workspace_, version);
  if (!value.ok()) return value.status();
  return Patch(PatchOf("add", absl::StrCat("/versions/", version_name), bj::value(std::move(*value))));
}

absl::Status AksEndpoint::UpdateVersion(absl::string_view version_name, const AksEndpointVersion& changes) {
  if (version_name.empty()) return Invalid("No name is provided to update a version.");
  if (!domain::AnySet(changes.config) && !changes.models && !changes.inference_config && !changes.is_default &&
      !changes.is_control_version_type) {
    return Invalid("No parameters provided to update a version.");
  }
  auto value = VersionValue(workspace_, changes);
  if (!value.ok()) return value.status();
  return Patch(PatchOf("replace", absl::StrCat("/versions/", version_name), bj::value(std::move(*value))));
}

absl::Status AksEndpoint::DeleteVersion(absl::string_view version_name) {
  if (version_name.empty()) {
    return Invalid(absl::StrCat("No name is provided to delete a version in an Endpoint ", name_));
  }
  return Patch(PatchOf("remove", absl::StrCat("/versions/", version_name), std::nullopt));
}

absl::Status AksEndpoint::UpdateEndpoint(const AksEndpointUpdate& update) {
  bj::array patch;
  auto replace = [&](const char* path, bj::value value) {
    patch.push_back(bj::object{{"op", "replace"}, {"path", path}, {"value", std::move(value)}});
  };
  if (update.auth_enabled) replace("/authEnabled", *update.auth_enabled);
  if (update.token_auth_enabled) replace("/aadAuthEnabled", *update.token_auth_enabled);
  if (update.enable_app_insights) replace("/appInsightsEnabled", *update.enable_app_insights);
  if (update.description) replace("/description", json::Bj(*update.description));
  if (update.tags) replace("/kvTags", domain::TagsToJson(*update.tags));
  if (update.properties) replace("/properties", domain::TagsToJson(*update.properties));
  if (patch.empty()) return Invalid("No parameters provided to update.");
  AksServiceDeploymentConfiguration auth;
  auth.auth_enabled = update.auth_enabled;
  auth.token_auth_enabled = update.token_auth_enabled;
  if (auto s = domain::ValidateAuthChange(auth_enabled_, token_auth_enabled_, auth); !s.ok()) {
    return Invalid(s.message());
  }
  return Patch(json::Serialize(patch));
}

absl::Status AksWebservice::Update(const AksServiceUpdate& update) {
  if (!endpoint_name_.empty()) {
    return Invalid(absl::StrCat("Error, ", name_, " is a version of endpoint ", endpoint_name_,
                                "; change it with the endpoint's update_version."));
  }
  const AksServiceDeploymentConfiguration& c = update.config;
  if (!domain::AnySet(c) && !update.models && !update.inference_config) {
    return Invalid("No parameters provided to update.");
  }
  if (auto s = domain::ValidateAuthChange(auth_enabled_, token_auth_enabled_, c); !s.ok()) return Invalid(s.message());
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
    if (auto s = AppendInference(workspace_, *update.inference_config, patch); !s.ok()) return s;
  }
  return WebserviceCodec::Patch(*this, json::Serialize(patch));
}

}  // namespace amlcore
