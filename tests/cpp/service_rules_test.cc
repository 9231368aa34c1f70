#include "domain/service_rules.h"

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
