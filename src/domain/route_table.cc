#include "domain/route_table.h"

#include "common/json.h"

namespace amlcore::domain {
namespace {
namespace bj = json::bj;

double NumberFrom(const bj::object& o, absl::string_view key, double fallback) {
  const bj::value* v = o.if_contains(json::Bj(key));
  return v && v->is_number() ? v->to_number<double>() : fallback;
}

const bj::object& ObjectOrEmpty(const bj::object& o, absl::string_view key) {
  static const bj::object kEmpty;
  const bj::object* found = json::GetObject(o, key);
  return found ? *found : kEmpty;
}
}  // namespace

std::string RouteTableToJson(const RouteTable& table) {
  bj::array services;
  for (const auto& s : table.services) {
    bj::array versions;
    for (const auto& v : s.versions) {
      const ReplicaSpec& r = v.replicas;
      bj::object env;
      for (const auto& [k, value] : r.environment_variables) env[k] = value;
      bj::object replicas{{"revision", r.revision},
                          {"count", r.count},
                          {"program", r.program},
                          {"bundleDirectory", r.bundle_directory},
                          {"entryScript", r.entry_script},
                          {"sourceDirectory", r.source_directory},
                          {"modelDirectory", r.model_directory},
                          {"python", r.python},
                          {"pythonPath", json::StringArray(r.python_path)},
                          {"environmentVariables", std::move(env)},
                          {"cpuCores", r.cpu_cores},
                          {"memoryGb", r.memory_gb},
                          {"memoryGbLimit", r.memory_gb_limit},
                          {"scoringTimeoutMs", r.scoring_timeout_ms},
                          {"liveness", bj::object{{"periodSeconds", r.liveness.period_seconds},
                                                  {"initialDelaySeconds", r.liveness.initial_delay_seconds},
                                                  {"timeoutSeconds", r.liveness.timeout_seconds},
                                                  {"successThreshold", r.liveness.success_threshold},
                                                  {"failureThreshold", r.liveness.failure_threshold}}}};
      versions.push_back(bj::object{{"name", v.name},
                                    {"trafficPercentile", v.traffic_percentile},
                                    {"isDefault", v.is_default},
                                    {"isControl", v.is_control},
                                    {"replicas", std::move(replicas)}});
    }
    services.push_back(bj::object{
        {"name", s.name},
        {"auth", bj::object{{"mode", s.auth.mode},
                            {"keys", json::StringArray(s.auth.keys)},
                            {"tokenAudience", s.auth.token_audience},
                            {"tokenSigningKey", s.auth.token_signing_key}}},
        {"maxConcurrentRequestsPerReplica", s.max_concurrent_requests_per_replica},
        {"maxQueueWaitMs", s.max_queue_wait_ms},
        {"scoringTimeoutMs", s.scoring_timeout_ms},
        {"versions", std::move(versions)}});
  }
  return json::Serialize(bj::object{{"generation", table.generation}, {"services", std::move(services)}});
}

absl::StatusOr<RouteTable> RouteTableFromJson(absl::string_view text) {
  auto object = json::ParseObject(text, "Route table");
  if (!object.ok()) return object.status();
  RouteTable table;
  table.generation = json::GetInt(*object, "generation");
  const bj::value* services = object->if_contains("services");
  if (services == nullptr || !services->is_array()) {
    return absl::InvalidArgumentError("Route table: 'services' must be an array.");
  }
  for (const auto& item : services->as_array()) {
    if (!item.is_object()) return absl::InvalidArgumentError("Route table: every service must be an object.");
    const bj::object& so = item.as_object();
    ServiceRoute s;
    s.name = json::GetString(so, "name");
    const bj::object& auth = ObjectOrEmpty(so, "auth");
    s.auth.mode = json::GetString(auth, "mode", "key");
    s.auth.keys = json::GetStrings(auth, "keys");
    s.auth.token_audience = json::GetString(auth, "tokenAudience");
    s.auth.token_signing_key = json::GetString(auth, "tokenSigningKey");
    s.max_concurrent_requests_per_replica = static_cast<int>(json::GetInt(so, "maxConcurrentRequestsPerReplica", 1));
    s.max_queue_wait_ms = static_cast<int>(json::GetInt(so, "maxQueueWaitMs", 500));
    s.scoring_timeout_ms = static_cast<int>(json::GetInt(so, "scoringTimeoutMs", 60000));
    if (s.name.empty()) return absl::InvalidArgumentError("Route table: a service has no name.");
    if (const bj::value* versions = so.if_contains("versions"); versions && versions->is_array()) {
      for (const auto& vitem : versions->as_array()) {
        if (!vitem.is_object()) continue;
        const bj::object& vo = vitem.as_object();
        VersionRoute v;
        v.name = json::GetString(vo, "name");
        v.traffic_percentile = static_cast<int>(json::GetInt(vo, "trafficPercentile"));
        v.is_default = json::GetBool(vo, "isDefault", true);
        v.is_control = json::GetBool(vo, "isControl");
        const bj::object& ro = ObjectOrEmpty(vo, "replicas");
        ReplicaSpec& r = v.replicas;
        r.revision = json::GetInt(ro, "revision");
        r.count = static_cast<int>(json::GetInt(ro, "count", 1));
        r.program = json::GetString(ro, "program");
        r.bundle_directory = json::GetString(ro, "bundleDirectory");
        r.entry_script = json::GetString(ro, "entryScript");
        r.source_directory = json::GetString(ro, "sourceDirectory");
        r.model_directory = json::GetString(ro, "modelDirectory");
        r.python = json::GetString(ro, "python");
        r.python_path = json::GetStrings(ro, "pythonPath");
        for (const auto& [k, value] : ObjectOrEmpty(ro, "environmentVariables")) {
          if (value.is_string()) r.environment_variables[std::string(json::Sv(k))] = std::string(json::Sv(value.as_string()));
        }
        r.cpu_cores = NumberFrom(ro, "cpuCores", 0.1);
        r.memory_gb = NumberFrom(ro, "memoryGb", 0.5);
        r.memory_gb_limit = NumberFrom(ro, "memoryGbLimit", 0);
        r.scoring_timeout_ms = static_cast<int>(json::GetInt(ro, "scoringTimeoutMs", 60000));
        const bj::object& lo = ObjectOrEmpty(ro, "liveness");
        r.liveness.period_seconds = static_cast<int>(json::GetInt(lo, "periodSeconds", 10));
        r.liveness.initial_delay_seconds = static_cast<int>(json::GetInt(lo, "initialDelaySeconds", 310));
        r.liveness.timeout_seconds = static_cast<int>(json::GetInt(lo, "timeoutSeconds", 2));
        r.liveness.success_threshold = static_cast<int>(json::GetInt(lo, "successThreshold", 1));
        r.liveness.failure_threshold = static_cast<int>(json::GetInt(lo, "failureThreshold", 3));
        if (v.name.empty()) return absl::InvalidArgumentError("Route table: a version has no name.");
        s.versions.push_back(std::move(v));
      }
    }
    table.services.push_back(std::move(s));
  }
  return table;
}

std::string FrontEndStatusToJson(const FrontEndStatus& status) {
  bj::array versions;
  for (const auto& v : status.versions) {
    bj::array replicas;
    for (const auto& r : v.replicas) {
      replicas.push_back(bj::object{{"id", r.id},
                                    {"revision", r.revision},
                                    {"state", r.state},
                                    {"pid", r.pid},
                                    {"port", r.port},
                                    {"restarts", r.restarts},
                                    {"lastReason", r.last_reason},
                                    {"lastMessage", r.last_message},
                                    {"logPath", r.log_path},
                                    {"previousLogPath", r.previous_log_path}});
    }
    versions.push_back(bj::object{{"service", v.service},
                                  {"version", v.version},
                                  {"revision", v.revision},
                                  {"desired", v.desired},
                                  {"ready", v.ready},
                                  {"replicas", std::move(replicas)}});
  }
  return json::Serialize(bj::object{{"generation", status.generation}, {"versions", std::move(versions)}});
}

absl::StatusOr<FrontEndStatus> FrontEndStatusFromJson(absl::string_view text) {
  auto object = json::ParseObject(text, "Front end status");
  if (!object.ok()) return object.status();
  FrontEndStatus status;
  status.generation = json::GetInt(*object, "generation");
  if (const bj::value* versions = object->if_contains("versions"); versions && versions->is_array()) {
    for (const auto& item : versions->as_array()) {
      if (!item.is_object()) continue;
      const bj::object& vo = item.as_object();
      VersionStatus v;
      v.service = json::GetString(vo, "service");
      v.version = json::GetString(vo, "version");
      v.revision = json::GetInt(vo, "revision");
      v.desired = json::GetInt(vo, "desired");
      v.ready = json::GetInt(vo, "ready");
      if (const bj::value* replicas = vo.if_contains("replicas"); replicas && replicas->is_array()) {
        for (const auto& ritem : replicas->as_array()) {
          if (!ritem.is_object()) continue;
          const bj::object& ro = ritem.as_object();
          v.replicas.push_back(ReplicaStatus{json::GetString(ro, "id"), json::GetInt(ro, "revision"),
                                             json::GetString(ro, "state"), json::GetInt(ro, "pid"),
                                             json::GetInt(ro, "port"), json::GetInt(ro, "restarts"),
                                             json::GetString(ro, "lastReason"), json::GetString(ro, "lastMessage"),
                                             json::GetString(ro, "logPath"), json::GetString(ro, "previousLogPath")});
        }
      }
      status.versions.push_back(std::move(v));
    }
  }
  return status;
}

}  // namespace amlcore::domain
