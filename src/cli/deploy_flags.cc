#include "cli/deploy_flags.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "amlcore/config_files.h"
#include "cli/values.h"

namespace amlcore::cli {
namespace {

struct SettingFlag {
  const char* setting;  // AksServiceDeploymentConfiguration::Settings() name
  const char* names;    // CLI11 names, az ml's spelling
  const char* help;
};

// az ml's flags for the settings of deploy_configuration; settings without a row have no flag (tags
// and properties are --tag and --property).
constexpr SettingFlag kSettingFlags[] = {
    {"autoscale_enabled", "--as,--autoscale-enabled", "Autoscale the service: true or false."},
    {"autoscale_min_replicas", "--mi,--autoscale-min-replicas",
     "Fewest replicas when autoscaling (0: scale to zero)."},
    {"autoscale_max_replicas", "--ma,--autoscale-max-replicas", "Most replicas when autoscaling."},
    {"autoscale_refresh_seconds", "--ar,--autoscale-refresh-seconds",
     "Seconds between autoscaling decisions."},
    {"autoscale_target_utilization", "--at,--autoscale-target-utilization",
     "Target utilization in percent."},
    {"collect_model_data", "--md,--collect-model-data",
     "Collect model data: true or false (no effect here)."},
    {"auth_enabled", "--ae,--auth-enabled", "Key authentication: true or false."},
    {"cpu_cores", "--cc,--cpu-cores", "CPU cores per replica, e.g. 0.5."},
    {"memory_gb", "--gb,--memory-gb", "Memory per replica in GB, e.g. 1."},
    {"enable_app_insights", "--ai,--enable-app-insights",
     "Application Insights: true or false (no effect here)."},
    {"scoring_timeout_ms", "--tm,--scoring-timeout-ms", "Scoring timeout in milliseconds."},
    {"replica_max_concurrent_requests", "--rm,--replica-max-concurrent-requests",
     "Requests in flight per replica."},
    {"max_request_wait_time", "--mr,--max-request-wait-time",
     "Milliseconds a request may wait in the queue."},
    {"num_replicas", "--nr,--num-replicas", "A fixed number of replicas (no autoscaling)."},
    {"primary_key", "--kp,--primary-key", "Primary key of the service."},
    {"secondary_key", "--ks,--secondary-key", "Secondary key of the service."},
    {"description", "-d,--description", "Description of the service."},
    {"gpu_cores", "--gc,--gpu-cores", "GPUs per replica."},
    {"period_seconds", "--ps,--period-seconds", "Seconds between liveness probes."},
    {"initial_delay_seconds", "--id,--initial-delay-seconds",
     "Seconds before the first liveness probe."},
    {"timeout_seconds", "--ts,--timeout-seconds", "Seconds a liveness probe may take."},
    {"success_threshold", "--st,--success-threshold", "Successes that make a replica live again."},
    {"failure_threshold", "--ft,--failure-threshold", "Failures that restart a replica."},
    {"namespace", "--namespace", "Kubernetes namespace of the service."},
    {"token_auth_enabled", "--token-auth-enabled", "Token authentication: true or false."},
    {"version_name", "--vn,--version-name", "Name of the endpoint's version."},
    {"traffic_percentile", "--tp,--traffic-percentile",
     "Percent of the endpoint's traffic for this version."},
    {"cpu_cores_limit", "--ccl,--cpu-cores-limit", "Most CPU cores a replica may use."},
    {"memory_gb_limit", "--gbl,--memory-gb-limit", "Most memory in GB a replica may use."},
};

std::string FirstName(const char* names) {
  std::string all(names);
  return all.substr(0, all.find(','));
}
}  // namespace

void DeploySettingFlags::Add(CLI::App& app, unsigned scopes) {
  for (const DeploySettingInfo& info : AksServiceDeploymentConfiguration::Settings()) {
    if (!(info.scopes & scopes)) continue;
    for (const SettingFlag& f : kSettingFlags) {
      if (info.name != f.setting) continue;
      app.add_option(f.names, values_[info.name], f.help)->group("Deployment settings");
    }
  }
  if (app.get_option_no_throw("--tag") == nullptr) {
    app.add_option("--tag", tags_, "A key=value tag of the service (repeatable).")
        ->group("Deployment settings");
    app.add_option("--property", properties_, "A key=value property of the service (repeatable).")
        ->group("Deployment settings");
  }
}

std::vector<std::string> DeploySettingFlags::Given() const {
  std::vector<std::string> given;
  for (const auto& [name, text] : values_) {
    if (!text.empty()) given.push_back(name);
  }
  if (!tags_.empty()) given.push_back("tags");
  if (!properties_.empty()) given.push_back("properties");
  return given;
}

absl::Status DeploySettingFlags::ApplyTo(AksServiceDeploymentConfiguration& config) const {
  for (const DeploySettingInfo& info : AksServiceDeploymentConfiguration::Settings()) {
    auto given = values_.find(info.name);
    if (given == values_.end() || given->second.empty()) continue;
    std::string flag;
    for (const SettingFlag& f : kSettingFlags) {
      if (info.name == f.setting) flag = FirstName(f.names);
    }
    const std::string& text = given->second;
    DeploySettingValue value;
    if (info.kind == "bool") {
      auto b = ParseBool(text, flag);
      if (!b.ok()) return b.status();
      value = *b;
    } else if (info.kind == "int") {
      int64_t n = 0;
      if (!absl::SimpleAtoi(text, &n)) {
        return absl::InvalidArgumentError(
            absl::StrCat(flag, ": '", text, "' is not a whole number."));
      }
      value = n;
    } else if (info.kind == "number") {
      double d = 0;
      if (!absl::SimpleAtod(text, &d)) {
        return absl::InvalidArgumentError(absl::StrCat(flag, ": '", text, "' is not a number."));
      }
      value = d;
    } else {
      value = text;
    }
    if (auto s = config.Set(info.name, value); !s.ok()) return s;
  }
  auto tags = KeyValues(tags_, "--tag");
  if (!tags.ok()) return tags.status();
  for (auto& [k, v] : *tags) config.tags[k] = v;
  auto properties = KeyValues(properties_, "--property");
  if (!properties.ok()) return properties.status();
  for (auto& [k, v] : *properties) config.properties[k] = v;
  return absl::OkStatus();
}

void InferenceFlags::Add(CLI::App& app) {
  app.add_option("-m,--model", model_ids_,
                 "A model to deploy, as name:version (repeatable; name alone: latest).");
  app.add_option("--ic,--inference-config-file", file_,
                 "inferenceconfig.json: entry script, source directory, "
                 "environment (also -ic).");
  app.add_option("--es,--entry-script", entry_script_, "The scoring script (over the -ic file's).");
  app.add_option("--sd,--source-directory", source_directory_, "Folder deployed with the script.");
  app.add_option("--cf,--conda-file", conda_file_,
                 "A conda environment file of the script's packages.");
  app.add_option("--rt,--runtime", runtime_,
                 "Runtime of the older inference configuration (python).");
  app.add_option("-e,--environment-name", environment_name_,
                 "A registered environment to deploy with.");
  app.add_option("--ev,--environment-version", environment_version_,
                 "Its version (default: the latest; also "
                 "-ev).");
}

absl::StatusOr<std::vector<Model>> InferenceFlags::Models(const Workspace& ws) const {
  std::vector<Model> models;
  for (const std::string& id : model_ids_) {
    auto model = Model::GetById(ws, id);
    if (!model.ok()) return model.status();
    models.push_back(std::move(*model));
  }
  return models;
}

absl::Status InferenceFlags::ReadFile() {
  if (file_.empty()) return absl::OkStatus();
  auto loaded = LoadInferenceConfigFile(file_);
  if (!loaded.ok()) return loaded.status();
  from_file_ = std::move(*loaded);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<InferenceConfig>> InferenceFlags::Config(const Workspace& ws) const {
  if (file_.empty() && entry_script_.empty() && environment_name_.empty() &&
      source_directory_.empty()) {
    return std::optional<InferenceConfig>();
  }
  InferenceConfig config = from_file_.value_or(InferenceConfig{});
  if (!entry_script_.empty()) config.entry_script = entry_script_;
  if (!source_directory_.empty()) config.source_directory = source_directory_;
  if (!conda_file_.empty()) config.conda_file = conda_file_;
  if (!runtime_.empty()) config.runtime = runtime_;
  if (!environment_name_.empty()) {
    auto env = Environment::Get(ws, environment_name_, environment_version_);
    if (!env.ok()) return env.status();
    config.environment = std::move(*env);
  } else if (environment_version_) {
    return absl::InvalidArgumentError("--ev/--environment-version needs -e/--environment-name.");
  }
  if (config.entry_script.empty()) {
    return absl::InvalidArgumentError(
        "No entry script: give an inference configuration file (-ic inferenceconfig.json) or --es "
        "score.py.");
  }
  return std::optional<InferenceConfig>(std::move(config));
}

}  // namespace amlcore::cli
