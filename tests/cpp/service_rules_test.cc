#include "domain/service_rules.h"

#include "domain/deploy_settings.h"
#include "domain/service_wire.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace amlcore {
namespace {
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> Lines(const absl::Status& s) {
  std::vector<std::string> out;
  std::string text(s.message());
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

TEST(DeployConfigurationTest, DefaultsAreValidAndResolveToTheSpecDefaults) {
  AksServiceDeploymentConfiguration config;
  EXPECT_TRUE(config.Validate().ok());
  domain::ResolvedDeployConfig r = domain::Resolve(config);
  EXPECT_TRUE(r.autoscale_enabled);
  EXPECT_EQ(r.autoscale_min_replicas, 1);
  EXPECT_EQ(r.autoscale_max_replicas, 10);
  EXPECT_EQ(r.autoscale_refresh_seconds, 1);
  EXPECT_EQ(r.autoscale_target_utilization, 70);
  EXPECT_EQ(r.num_replicas, 1);
  EXPECT_TRUE(r.auth_enabled);
  EXPECT_FALSE(r.token_auth_enabled);
  EXPECT_EQ(r.cpu_cores, 0.1);
  EXPECT_EQ(r.memory_gb, 0.5);
  EXPECT_EQ(r.scoring_timeout_ms, 60000);
  EXPECT_EQ(r.replica_max_concurrent_requests, 1);
  EXPECT_EQ(r.max_request_wait_time, 500);
  EXPECT_EQ(r.period_seconds, 10);
  EXPECT_EQ(r.initial_delay_seconds, 310);
  EXPECT_EQ(r.timeout_seconds, 2);
  EXPECT_EQ(r.success_threshold, 1);
  EXPECT_EQ(r.failure_threshold, 3);
  config.num_replicas = 4;
  EXPECT_FALSE(domain::Resolve(config).autoscale_enabled);
  EXPECT_EQ(domain::Resolve(config).num_replicas, 4);
}

TEST(DeployConfigurationTest, CollectsEveryViolatedRule) {
  AksServiceDeploymentConfiguration config;
  config.cpu_cores = 0;
  config.memory_gb = 1;
  config.memory_gb_limit = 0.5;
  config.autoscale_min_replicas = 2;
  config.auth_enabled = true;
  config.token_auth_enabled = true;
  config.namespace_ = "UPPER";
  absl::Status s = config.Validate();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Lines(s),
              ElementsAre("Invalid configuration, cpu_cores must be greater than zero.",
                          "Invalid configuration, namespace must be a valid Kubernetes namespace. Regex for valid "
                          "namespaces is: ^[a-z0-9]([a-z0-9-]{,61}[a-z0-9])?$",
                          "Invalid configuration, autoscale_min_replicas provided without enabling autoscaling.",
                          "Invalid configuration, auth_enabled and token_auth_enabled cannot both be true.",
                          "Invalid configuration, memory_gb_limit must be greater than or equal to memory_gb."));
}

// azureml's _validate_update: one mode on while the other stays on is refused, in both directions.
TEST(DeployConfigurationTest, SwitchingAuthModesNeedsTheOtherOneOff) {
  auto change = [](std::optional<bool> key, std::optional<bool> token) {
    AksServiceDeploymentConfiguration c;
    c.auth_enabled = key;
    c.token_auth_enabled = token;
    return c;
  };
  const std::string both = "Error, cannot set both token_auth_enabled and auth_enabled.";
  const std::string other_on =
      "Error, cannot set token_auth_enabled without disabling key auth (set auth_enabled to False).";
  EXPECT_EQ(domain::ValidateAuthChange(true, false, change(true, true)).message(), both);
  EXPECT_EQ(domain::ValidateAuthChange(true, false, change(std::nullopt, true)).message(), other_on);
  EXPECT_EQ(domain::ValidateAuthChange(false, true, change(true, std::nullopt)).message(), other_on);
  EXPECT_TRUE(domain::ValidateAuthChange(true, false, change(false, true)).ok());
  EXPECT_TRUE(domain::ValidateAuthChange(false, true, change(true, false)).ok());
  EXPECT_TRUE(domain::ValidateAuthChange(false, false, change(std::nullopt, true)).ok());
  EXPECT_TRUE(domain::ValidateAuthChange(true, false, change(std::nullopt, false)).ok());
}

TEST(DeployConfigurationTest, OverlayKeepsWhatTheUpdateLeavesOut) {
  AksServiceDeploymentConfiguration base;
  base.num_replicas = 2;
  base.cpu_cores = 0.5;
  AksServiceDeploymentConfiguration update;
  update.memory_gb = 2;
  auto merged = domain::Overlay(base, update);
  EXPECT_EQ(merged.num_replicas, 2);
  EXPECT_EQ(merged.cpu_cores, 0.5);
  EXPECT_EQ(merged.memory_gb, 2);
  AksServiceDeploymentConfiguration to_autoscale;
  to_autoscale.autoscale_enabled = true;
  EXPECT_FALSE(domain::Overlay(base, to_autoscale).num_replicas.has_value());
}

TEST(ServiceNamesTest, Rules) {
  EXPECT_TRUE(domain::ValidateServiceName("diabetes-1").ok());
  for (const char* bad : {"ab", "Diabetes", "1abc", "abc-", "a_b_c", "abcdefghijabcdefghijabcdefghijabc"}) {
    EXPECT_THAT(std::string(domain::ValidateServiceName(bad).message()),
                HasSubstr("Error, provided service name is invalid."))
        << bad;
  }
  EXPECT_TRUE(domain::ValidateModelName("sklearn_model.v2-final").ok());
  EXPECT_THAT(std::string(domain::ValidateModelName("-model").message()), HasSubstr("Invalid model name '-model'"));
  EXPECT_FALSE(domain::ValidateModelName(std::string(256, 'a')).ok());
}

TEST(WireTest, DeployConfigurationRoundTrip) {
  AksServiceDeploymentConfiguration config;
  config.num_replicas = 3;
  config.cpu_cores = 0.25;
  config.primary_key = "p";
  config.tags = {{"a", "b"}};
  auto back = domain::DeployConfigFromJson(domain::DeployConfigToJson(config));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->num_replicas, 3);
  EXPECT_EQ(back->cpu_cores, 0.25);
  EXPECT_EQ(back->primary_key, "p");
  EXPECT_EQ(back->tags.at("a"), "b");

}

TEST(EnvironmentTest, HashIgnoresNameAndVersionButNotPackages) {
  Environment a;
  a.name = "one";
  a.python.conda_dependencies = CondaDependencies::Create({"numpy", "scikit-learn"});
  Environment b = a;
  b.name = "two";
  b.version = "5";
  EXPECT_EQ(a.Hash(), b.Hash());
  b.python.conda_dependencies->pip_packages = {"scikit-learn", "numpy"};
  EXPECT_NE(a.Hash(), b.Hash()) << "packages count in order";
  auto conda = CondaDependencies::Parse(
      "name: demo\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.8\n  - numpy=1.24\n  - pip:\n"
      "    - joblib==1.2.0\n");
  ASSERT_TRUE(conda.ok()) << conda.status();
  EXPECT_EQ(conda->name, "demo");
  EXPECT_EQ(conda->python_version, "3.8");
  EXPECT_THAT(conda->conda_packages, ElementsAre("numpy=1.24"));
  EXPECT_THAT(conda->pip_packages, ElementsAre("joblib==1.2.0"));
  EXPECT_THAT(std::string(CondaDependencies::Parse("dependencies:\n  numpy\n").status().message()),
              HasSubstr("line 2: expected a list item"));
  auto round = Environment::Deserialize(a.Serialize());
  ASSERT_TRUE(round.ok());
  EXPECT_EQ(round->Hash(), a.Hash());
}

}  // namespace
}  // namespace amlcore

namespace amlcore {
namespace {

std::vector<std::string> SettingsOf(unsigned scope) {
  std::vector<std::string> names;
  for (const auto& s : AksServiceDeploymentConfiguration::Settings()) {
    if (s.scopes & scope) names.push_back(s.name);
  }
  return names;
}

TEST(DeploySettingsTest, TheTableListsAzuremlsParametersInOrder) {
  EXPECT_EQ(SettingsOf(DeploySettingScope::kWebservice), (std::vector<std::string>{
                       "autoscale_enabled", "autoscale_min_replicas", "autoscale_max_replicas",
                       "autoscale_refresh_seconds", "autoscale_target_utilization", "collect_model_data",
                       "auth_enabled", "cpu_cores", "memory_gb", "enable_app_insights", "scoring_timeout_ms",
                       "replica_max_concurrent_requests", "max_request_wait_time", "num_replicas", "primary_key",
                       "secondary_key", "tags", "properties", "description", "gpu_cores", "period_seconds",
                       "initial_delay_seconds", "timeout_seconds", "success_threshold", "failure_threshold",
                       "namespace", "token_auth_enabled", "compute_target_name", "cpu_cores_limit",
                       "memory_gb_limit", "blobfuse_enabled"}));
  // AksEndpoint.deploy_configuration: no blobfuse_enabled; version_name and traffic_percentile before
  // compute_target_name.
  std::vector<std::string> endpoint = SettingsOf(DeploySettingScope::kEndpoint);
  EXPECT_EQ(std::vector<std::string>(endpoint.end() - 6, endpoint.end()),
            (std::vector<std::string>{"token_auth_enabled", "version_name", "traffic_percentile", "compute_target_name",
                                      "cpu_cores_limit", "memory_gb_limit"}));
  // create_version and update_version.
  EXPECT_EQ(SettingsOf(DeploySettingScope::kVersion),
            (std::vector<std::string>{
                "autoscale_enabled", "autoscale_min_replicas", "autoscale_max_replicas", "autoscale_refresh_seconds",
                "autoscale_target_utilization", "collect_model_data", "cpu_cores", "memory_gb", "scoring_timeout_ms",
                "replica_max_concurrent_requests", "max_request_wait_time", "num_replicas", "tags", "properties",
                "description", "gpu_cores", "period_seconds", "initial_delay_seconds", "timeout_seconds",
                "success_threshold", "failure_threshold", "traffic_percentile", "cpu_cores_limit", "memory_gb_limit"}));
}

TEST(DeploySettingsTest, NumbersAreBoundedNotTruncated) {
  AksServiceDeploymentConfiguration config;
  config.num_replicas = (int64_t{1} << 32) + 1;
  config.scoring_timeout_ms = int64_t{1} << 31;
  config.cpu_cores = 5000;
  EXPECT_THAT(Lines(config.Validate()),
              ElementsAre("Invalid configuration, cpu_cores must be at most 1024.",
                          "Invalid configuration, scoring_timeout_ms must be at most 3600000.",
                          "Invalid configuration, num_replicas must be at most 100."));
  AksServiceDeploymentConfiguration autoscaled;
  autoscaled.autoscale_enabled = true;
  autoscaled.autoscale_max_replicas = 1000;
  autoscaled.autoscale_target_utilization = 101;
  EXPECT_THAT(Lines(autoscaled.Validate()),
              ElementsAre("Invalid configuration, autoscale_max_replicas must be at most 100.",
                          "Invalid configuration, autoscale_target_utilization must be at most 100."));
  AksServiceDeploymentConfiguration keys;
  keys.primary_key = "a";
  EXPECT_THAT(Lines(keys.Validate()),
              ElementsAre("Invalid configuration, primary_key must be 8 to 256 characters long."));
}

TEST(DeploySettingsTest, WireDocumentFollowsTheTableAndNamesBadFields) {
  AksServiceDeploymentConfiguration config;
  config.autoscale_enabled = true;
  config.autoscale_max_replicas = 4;
  config.memory_gb_limit = 2;
  config.primary_key = "primary-key";
  auto json = domain::DeployConfigToJson(config);
  EXPECT_EQ(json::Serialize(json),
            R"({"autoScaler":{"autoscaleEnabled":true,"maxReplicas":4},"keys":{"primaryKey":"primary-key"},)"
            R"("containerResourceRequirements":{"memoryInGBLimit":2E0}})");
  auto back = domain::DeployConfigFromJson(json);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->autoscale_max_replicas, 4);
  EXPECT_EQ(back->memory_gb_limit, 2);

  auto wrong = json::ParseObject(R"({"autoScaler": {"minReplicas": "two"}})", "x");
  EXPECT_EQ(domain::DeployConfigFromJson(*wrong).status().message(),
            "Field 'deploymentConfig.autoScaler.minReplicas' must be an integer.");
  auto unknown = json::ParseObject(R"({"containerResourceRequirements": {"cpus": 1}})", "x");
  EXPECT_THAT(std::string(domain::DeployConfigFromJson(*unknown).status().message()),
              HasSubstr("Unknown field 'deploymentConfig.containerResourceRequirements.cpus'"));
  auto huge = json::ParseObject(R"({"numReplicas": 18446744073709551615})", "x");
  EXPECT_EQ(domain::DeployConfigFromJson(*huge).status().message(),
            "Field 'deploymentConfig.numReplicas' must be an integer.");
}

TEST(DeploySettingsTest, ResolvedDocumentRoundTrips) {
  AksServiceDeploymentConfiguration config;
  config.num_replicas = 3;
  config.cpu_cores = 0.25;
  config.namespace_ = "team-a";
  domain::ResolvedDeployConfig resolved = domain::Resolve(config);
  auto back = domain::ResolvedFromJson(domain::ResolvedToJson(resolved));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->num_replicas, 3);
  EXPECT_TRUE(back->num_replicas_given);
  EXPECT_FALSE(back->autoscale_enabled);
  EXPECT_EQ(back->cpu_cores, 0.25);
  EXPECT_EQ(back->memory_gb_limit, 0.5);
  EXPECT_EQ(back->namespace_, "team-a");
  domain::ResolvedDeployConfig defaults = domain::Resolve({});
  auto autoscaled = domain::ResolvedFromJson(domain::ResolvedToJson(defaults));
  ASSERT_TRUE(autoscaled.ok());
  EXPECT_FALSE(autoscaled->num_replicas_given);
  EXPECT_TRUE(autoscaled->autoscale_enabled);
}

TEST(DeploySettingsTest, SettingsByNameCheckTheirType) {
  AksServiceDeploymentConfiguration config;
  EXPECT_TRUE(config.Set("cpu_cores", int64_t{2}).ok());
  EXPECT_EQ(config.cpu_cores, 2.0);
  EXPECT_TRUE(std::holds_alternative<double>(config.Get("cpu_cores")));
  EXPECT_TRUE(config.Set("tags", std::map<std::string, std::string>{{"a", "b"}}).ok());
  EXPECT_EQ(config.tags.at("a"), "b");
  EXPECT_EQ(config.Set("num_replicas", 1.5).message(), "Invalid configuration, num_replicas must be an integer.");
  EXPECT_EQ(config.Set("bogus", true).message(), "Invalid configuration, unknown setting 'bogus'.");
  EXPECT_TRUE(config.Set("cpu_cores", std::monostate{}).ok());
  EXPECT_FALSE(config.cpu_cores.has_value());
}

}  // namespace
}  // namespace amlcore
