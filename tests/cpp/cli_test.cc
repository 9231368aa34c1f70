// The command line's --query subset and output formats, and the SDK's reader of az ml's
// configuration files: what they accept, and the message of everything they refuse.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "amlcore/config_files.h"
#include "cli/output.h"
#include "cli/query.h"

namespace amlcore::cli {
namespace {
namespace bj = boost::json;

const bj::value kServices = bj::parse(R"([
  {"name": "a", "state": "Healthy", "props": {"n": 1}, "versions": [{"v": "x"}, {"v": "y"}]},
  {"name": "b", "state": "Failed", "props": {"n": 2}, "versions": []}
])");

std::string Query(const bj::value& v, absl::string_view q) {
  auto result = ApplyQuery(v, q);
  return result.ok() ? bj::serialize(*result) : std::string(result.status().message());
}

TEST(QueryTest, PicksFieldsIndexesProjectionsFiltersAndMultiselects) {
  EXPECT_EQ(Query(kServices, "[0].name"), R"("a")");
  EXPECT_EQ(Query(kServices, "[-1].props.n"), "2");
  EXPECT_EQ(Query(kServices, "[5].name"), "null");
  EXPECT_EQ(Query(kServices, "[*].name"), R"(["a","b"])");
  EXPECT_EQ(Query(kServices, "[].versions[].v"), R"(["x","y"])");
  EXPECT_EQ(Query(kServices, "[*].versions[0].v"), R"(["x"])");
  EXPECT_EQ(Query(kServices, "[].versions | [] | [].v"), R"(["x","y"])");
  EXPECT_EQ(Query(kServices, "[?state=='Healthy'].name"), R"(["a"])");
  EXPECT_EQ(Query(kServices, "[?state!='Healthy'].name"), R"(["b"])");
  EXPECT_EQ(Query(kServices, "[?props.n==`2`].name"), R"(["b"])");
  EXPECT_EQ(Query(kServices, "[?props.n==2].name"), R"(["b"])");
  EXPECT_EQ(Query(kServices, "[0].{n: name, s: state}"), R"({"n":"a","s":"Healthy"})");
  EXPECT_EQ(Query(kServices, "[].{n: name}"), R"([{"n":"a"},{"n":"b"}])");
  EXPECT_EQ(Query(kServices, "[0] | name"), R"("a")");
  EXPECT_EQ(Query(kServices, "[?versions].name"), R"(["a"])");
}

TEST(QueryTest, RefusesWhatItDoesNotSupportNamingThePosition) {
  EXPECT_EQ(
      Query(kServices, "[?name==x]"),
      "--query: a comparison needs a literal: 'text', `json` or a number at position 8 of "
      "'[?name==x]'; "
      "supported: name, a.b, [0], [*].name, [].name, [?field=='value'] (or !=, `json`, numbers), "
      "{alias: expression, ...}, a | b.");
  EXPECT_EQ(Query(kServices, "[?name==").substr(0, 47),
            "--query: a '[' without its ']' at position 0 of");
  EXPECT_EQ(Query(kServices, "length(@)").substr(0, 52),
            "--query: an unexpected character at position 6 of 'l");
  EXPECT_EQ(Query(kServices, "[0").substr(0, 47),
            "--query: a '[' without its ']' at position 0 of");
  EXPECT_EQ(Query(kServices, "[x]").substr(0, 41), "--query: an index must be a whole number ");
}

TEST(OutputTest, JsonTableAndTsv) {
  std::vector<TableColumn> columns = {{"Name", "name"}, {"N", "props.n"}};
  EXPECT_EQ(*Render(kServices, "table", columns), "Name  N\n----  -\na     1\nb     2\n");
  EXPECT_EQ(*Render(kServices, "tsv", columns), "a\tHealthy\nb\tFailed\n");
  EXPECT_EQ(*Render(bj::parse(R"({"k": [1, {"a": true}], "e": {}})"), "json", {}),
            "{\n  \"k\": [\n    1,\n    {\n      \"a\": true\n    }\n  ],\n  \"e\": {}\n}\n");
  EXPECT_EQ(*Render(bj::value("text"), "tsv", {}), "text\n");
  // Columns a reshaped result no longer has give way to its own scalar fields.
  EXPECT_EQ(*Render(bj::parse(R"([{"x": 1, "y": "z"}])"), "table", columns), "x  y\n-  -\n1  z\n");
  EXPECT_EQ(Render(kServices, "yaml", {}).status().message(),
            "-o/--output: 'yaml' is not an output format; allowed: json, table, tsv.");
}

TEST(ConfigFilesTest, ReadsTheDocumentedDeploymentSchema) {
  auto file = ParseDeploymentConfig(R"({
      "computeType": "AKS",
      "autoScaler": {"autoscaleEnabled": true, "minReplicas": 1, "maxReplicas": 3, "refreshPeriodInSeconds": 1,
                     "targetUtilization": 70},
      "dataCollection": {"storageEnabled": true}, "authEnabled": false, "tokenAuthEnabled": true,
      "containerResourceRequirements": {"cpu": 0.5, "memoryInGB": 1.0, "cpu_limit": 1, "memory_limit": 2, "gpu": 0},
      "appInsightsEnabled": false, "scoringTimeoutMs": 1000, "maxConcurrentRequestsPerContainer": 2,
      "maxQueueWaitMs": 300, "keys": {"primaryKey": "abcdefgh", "secondaryKey": "hgfedcba"},
      "livenessProbeRequirements": {"periodSeconds": 5, "initialDelaySeconds": 6, "timeoutSeconds": 7,
                                    "successThreshold": 1, "failureThreshold": 4},
      "namespace": "team", "tags": {"a": "b"}, "properties": {"c": "d"}, "description": "x",
      "computeTargetName": "myaks"})",
                                    "dc.json");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->compute_type, "aks");
  const AksServiceDeploymentConfiguration& c = file->aks;
  EXPECT_EQ(c.autoscale_max_replicas, 3);
  EXPECT_EQ(c.collect_model_data, true);
  EXPECT_EQ(c.token_auth_enabled, true);
  EXPECT_EQ(c.cpu_cores_limit, 1.0);
  EXPECT_EQ(c.memory_gb_limit, 2.0);
  EXPECT_EQ(c.gpu_cores, 0);
  EXPECT_EQ(c.secondary_key, "hgfedcba");
  EXPECT_EQ(c.failure_threshold, 4);
  EXPECT_EQ(c.tags.at("a"), "b");
  EXPECT_EQ(c.compute_target_name, "myaks");
  EXPECT_TRUE(c.Validate().ok()) << c.Validate();
}

TEST(ConfigFilesTest, RefusesUnknownKeysAndWrongTypesNamingFileKeyAndWhatIsAllowed) {
  auto message = [](absl::string_view text) {
    return std::string(ParseDeploymentConfig(text, "dc.json").status().message());
  };
  EXPECT_EQ(message(R"({"computeType": "aks", "keys": {"primary": "x"}})"),
            "Reading the deployment configuration file dc.json: Unknown field 'keys.primary'; "
            "allowed fields of "
            "'keys': primaryKey, secondaryKey.");
  EXPECT_EQ(message(R"({"computeType": "aks", "keys": []})"),
            "Reading the deployment configuration file dc.json: Field 'keys' must be an object.");
  EXPECT_EQ(
      message(
          R"({"computeType": "aks", "gpuCores": 1, "containerResourceRequirements": {"gpu": 1}})"),
      "Reading the deployment configuration file dc.json: Fields "
      "'containerResourceRequirements.gpu' and "
      "'gpuCores' name the same setting; give one of them.");
  EXPECT_EQ(message(R"({"computeType": 3})"),
            "Reading the deployment configuration file dc.json: 'computeType' is required and must "
            "be a string: "
            "\"aks\", \"aksendpoint\", \"aci\" or \"local\".");
  auto inference = ParseInferenceConfig(
      R"({"entryScript": "s.py", "baseImageRegistry": {"adress": "x"}})", "ic.json");
  EXPECT_EQ(inference.status().message(),
            "Reading the inference configuration file ic.json: Unknown field "
            "'baseImageRegistry.adress'; allowed "
            "fields of 'baseImageRegistry': address, password, username.");
  auto conda = ParseInferenceConfig(
      R"({"entryScript": "s.py", "environment": {"python": {"condaDependenciesFile": "/no/such/env.yml"}}})",
      "ic.json");
  EXPECT_FALSE(conda.ok());
  EXPECT_NE(conda.status().message().find("/no/such/env.yml"), absl::string_view::npos)
      << conda.status();
}

}  // namespace
}  // namespace amlcore::cli
