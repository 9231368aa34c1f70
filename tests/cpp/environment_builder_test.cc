// What an environment build does with each requirement, and the messages it gives: pure functions, tested
// without Python or pip.
#include "backend/local/environment_builder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "backend/local/layout.h"
#include "backend/local/local_workload.h"
#include "common/environment_config.h"
#include "common/files.h"
#include "common/json_fields.h"
#include "test_support.h"

namespace amlcore::backend::local {
namespace {
using ::testing::ElementsAre;

ProbedRequirement Probed(std::string text, std::string name, std::string installed, bool matches) {
  return ProbedRequirement{.text = text, .pip_spec = text, .name = name, .installed = installed, .matches = matches};
}

TEST(ProvidedByAmlcoreTest, OnlyWhatTheReplicaRuntimeShips) {
  for (const char* name : {"azureml-defaults", "azureml-core", "azureml-contrib-services",
                           "azureml-inference-server-http", "inference-schema"}) {
    EXPECT_TRUE(ProvidedByAmlcore(name)) << name;
  }
  // Distribution names compare as pip compares them.
  EXPECT_TRUE(ProvidedByAmlcore("AzureML_Defaults"));
  EXPECT_TRUE(ProvidedByAmlcore("inference_schema"));
  for (const char* name : {"azureml-dataprep", "azureml-train-automl-runtime", "azureml-sdk", "azureml-monitoring",
                           "azureml", "azureml-core-extra", "scikit-learn"}) {
    EXPECT_FALSE(ProvidedByAmlcore(name)) << name;
  }
}

TEST(DecideRequirementTest, ProvidedWhateverTheRuntimeHas) {
  auto defaults = Probed("azureml-defaults==1.50.0", "azureml-defaults", "", false);
  EXPECT_EQ(DecideRequirement(defaults, false, false), RequirementAction::kProvided);
  auto schema = Probed("inference-schema[numpy-support]", "inference-schema", "1.0", true);
  EXPECT_EQ(DecideRequirement(schema, false, true), RequirementAction::kProvided);
}

TEST(DecideRequirementTest, SatisfiedOnlyByAMatchingInstalledVersion) {
  EXPECT_EQ(DecideRequirement(Probed("scikit-learn", "scikit-learn", "1.2.1", true), false, false),
            RequirementAction::kSatisfied);
  EXPECT_EQ(DecideRequirement(Probed("scikit-learn==1.2.1", "scikit-learn", "1.2.1", true), false, false),
            RequirementAction::kSatisfied);
  // A pin the runtime's Python does not satisfy is installed, offline environments or not.
  auto pin = Probed("scikit-learn==0.22.1", "scikit-learn", "1.2.1", false);
  EXPECT_EQ(DecideRequirement(pin, false, false), RequirementAction::kInstall);
  EXPECT_EQ(DecideRequirement(pin, false, true), RequirementAction::kInstall);
  EXPECT_EQ(DecideRequirement(Probed("lightgbm", "lightgbm", "", false), false, true), RequirementAction::kInstall);
}

TEST(DecideRequirementTest, WhatPipCouldNotInstallIsSubstitutedOnlyOfflineAndOnlyWhenInstalled) {
  auto pin = Probed("scikit-learn==0.22.1", "scikit-learn", "1.2.1", false);
  EXPECT_EQ(DecideRequirement(pin, true, false), RequirementAction::kUnavailable);
  EXPECT_EQ(DecideRequirement(pin, true, true), RequirementAction::kSubstitute);
  auto missing = Probed("lightgbm==3.3.5", "lightgbm", "", false);
  EXPECT_EQ(DecideRequirement(missing, true, false), RequirementAction::kUnavailable);
  EXPECT_EQ(DecideRequirement(missing, true, true), RequirementAction::kUnavailable);
}

TEST(DecideRequirementTest, OtherAzuremlPackagesAreRequirementsLikeAny) {
  EXPECT_EQ(DecideRequirement(Probed("azureml-dataprep", "azureml-dataprep", "", false), false, false),
            RequirementAction::kInstall);
  EXPECT_EQ(DecideRequirement(Probed("azureml-dataprep", "azureml-dataprep", "4.10.1", true), false, false),
            RequirementAction::kSatisfied);
  EXPECT_EQ(DecideRequirement(Probed("azureml-train-automl-runtime==1.50.0", "azureml-train-automl-runtime", "", false),
                              true, true),
            RequirementAction::kUnavailable);
}

TEST(CondaToPipTest, ASingleEqualsMeansTheVersionAndItsPatchReleases) {
  EXPECT_EQ(CondaToPip("numpy=1.24"), "numpy==1.24.*");
  EXPECT_EQ(CondaToPip("scikit-learn=0.22.1"), "scikit-learn==0.22.1.*");
  EXPECT_EQ(CondaToPip("numpy=1.24.*"), "numpy==1.24.*");
  // With a build string the version is exact.
  EXPECT_EQ(CondaToPip("numpy=1.16.2=py36h7e9f1db_0"), "numpy==1.16.2");
  for (const char* pip : {"numpy", "scikit-learn==0.22.1", "numpy>=1.20", "numpy<2", "pandas~=1.5.0", "scipy!=1.9"}) {
    EXPECT_EQ(CondaToPip(pip), pip);
  }
}

TEST(RequirementMessagesTest, NameTheRequirementAndTheVersionAvailable) {
  auto pin = Probed("scikit-learn==0.22.1", "scikit-learn", "1.2.1", false);
  EXPECT_EQ(SubstitutionWarning(pin),
            "WARNING: requirement scikit-learn==0.22.1 is not installed; using scikit-learn 1.2.1 instead "
            "(AMLCORE_OFFLINE_ENVIRONMENTS=1)");
  EXPECT_EQ(UnavailableExplanation(pin),
            "requirement scikit-learn==0.22.1: pip could not install it; the version available is scikit-learn 1.2.1 "
            "(in the runtime's Python), which does not satisfy it.");
  EXPECT_EQ(UnavailableExplanation(Probed("azureml-dataprep", "azureml-dataprep", "", false)),
            "requirement azureml-dataprep: pip could not install it, and the runtime's Python has no "
            "azureml-dataprep.");
  // The environment's own spelling (conda's) is what the messages quote.
  ProbedRequirement conda{.text = "scikit-learn=0.22.1", .pip_spec = "scikit-learn==0.22.1.*",
                          .name = "scikit-learn", .installed = "1.2.1"};
  EXPECT_EQ(SubstitutionWarning(conda),
            "WARNING: requirement scikit-learn=0.22.1 is not installed; using scikit-learn 1.2.1 instead "
            "(AMLCORE_OFFLINE_ENVIRONMENTS=1)");
}

TEST(LocalWorkloadTest, CarriesTheEnvironmentsWarningsToTheFrontEnd) {
  LocalWorkload workload;
  workload.environment_warnings = {"WARNING: requirement a==1 is not installed; using a 2 instead"};
  auto decoded = json::DecodeText<LocalWorkload>(json::EncodeText(workload), "Workload");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_THAT(decoded->environment_warnings,
              ElementsAre("WARNING: requirement a==1 is not installed; using a 2 instead"));
}

TEST(EnvironmentCacheTest, ABuildWithSubstitutesIsReusedOnlyWhereTheyAreAllowed) {
  amlcore::testing::TempHome home;
  const std::string hash(64, 'e');
  const std::string warning =
      "WARNING: requirement scikit-learn==0.22.1 is not installed; using scikit-learn 1.2.1 instead "
      "(AMLCORE_OFFLINE_ENVIRONMENTS=1)";
  ASSERT_TRUE(MakeDirectories(absl::StrCat(EnvironmentsDirectory(home.path()), "/", hash)).ok());
  ASSERT_TRUE(WriteFileAtomic(absl::StrCat(EnvironmentsDirectory(home.path()), "/", hash, "/amlcore-environment.json"),
                              absl::StrCat(R"({"python": "/usr/bin/python3", "hash": ")", hash,
                                           R"(", "warnings": [")", warning, R"("]})"),
                              0644)
                  .ok());
  Environment environment;
  std::vector<std::string> log;
  auto remember = [&](const std::string& line) { log.push_back(line); };

  EnvironmentBuilder offline(home.path(), "/usr/bin/python3", /*offline_environments=*/true);
  auto hit = offline.FromCache(environment, hash, remember);
  ASSERT_TRUE(hit.has_value() && hit->ok());
  EXPECT_EQ((*hit)->python, "/usr/bin/python3");
  EXPECT_THAT((*hit)->warnings, ElementsAre(warning));
  EXPECT_THAT(log, ElementsAre("Environment eeeeeeeeeeee: cache hit (machine-wide), using /usr/bin/python3", warning));
  EXPECT_THAT(offline.Warnings(hash), ElementsAre(warning));

  log.clear();
  EnvironmentBuilder strict(home.path(), "/usr/bin/python3", /*offline_environments=*/false);
  EXPECT_FALSE(strict.FromCache(environment, hash, remember).has_value());
  EXPECT_THAT(log, ElementsAre("Environment eeeeeeeeeeee: the cached build uses installed versions in place of a "
                               "requirement pip could not install, which only AMLCORE_OFFLINE_ENVIRONMENTS=1 allows; "
                               "building it again"));
  // Replicas already running it still say what they run.
  EXPECT_THAT(strict.Warnings(hash), ElementsAre(warning));
  EXPECT_TRUE(strict.Warnings(std::string(64, 'f')).empty());
}

class OfflineEnvironmentsSettingTest : public ::testing::Test {
 protected:
  void TearDown() override { unsetenv("AMLCORE_OFFLINE_ENVIRONMENTS"); }
};

TEST_F(OfflineEnvironmentsSettingTest, IsOffUnlessSetToOne) {
  unsetenv("AMLCORE_OFFLINE_ENVIRONMENTS");
  EXPECT_FALSE(EnvironmentConfig::Load().offline_environments);
  for (const char* on : {"1", "true", "TRUE"}) {
    setenv("AMLCORE_OFFLINE_ENVIRONMENTS", on, 1);
    auto config = EnvironmentConfig::LoadChecked();
    ASSERT_TRUE(config.ok()) << config.status();
    EXPECT_TRUE(config->offline_environments) << on;
  }
  setenv("AMLCORE_OFFLINE_ENVIRONMENTS", "0", 1);
  EXPECT_FALSE(EnvironmentConfig::LoadChecked()->offline_environments);
}

TEST_F(OfflineEnvironmentsSettingTest, AnotherValueIsAnErrorNamingTheVariable) {
  setenv("AMLCORE_OFFLINE_ENVIRONMENTS", "yes please", 1);
  auto config = EnvironmentConfig::LoadChecked();
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().message(),
            "AMLCORE_OFFLINE_ENVIRONMENTS must be 1 (use installed versions when pip cannot install a requirement) "
            "or 0, not 'yes please'.");
  EXPECT_FALSE(EnvironmentConfig::Load().offline_environments);
}

}  // namespace
}  // namespace amlcore::backend::local
