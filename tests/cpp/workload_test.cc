// The workload model's codecs and the scheduler: pure functions, tested without processes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/json_fields.h"
#include "domain/scheduler.h"
#include "domain/workload.h"

namespace amlcore {
namespace {
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(WorkloadCodecTest, RouteTableRoundTrips) {
  domain::RouteTable table;
  table.generation = 7;
  domain::EndpointRoute endpoint;
  endpoint.name = "svc";
  endpoint.auth.keys = {"k1", "k2"};
  domain::VersionRoute version;
  version.name = "blue";
  version.workload = "svc.blue.1a2b";
  version.traffic_percentile = 30;
  version.is_default = false;
  endpoint.versions.push_back(version);
  table.endpoints.push_back(endpoint);

  auto parsed = json::DecodeText<domain::RouteTable>(json::EncodeText(table), "table");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->generation, 7);
  EXPECT_EQ(parsed->endpoints[0].auth.keys, (std::vector<std::string>{"k1", "k2"}));
  EXPECT_EQ(parsed->endpoints[0].versions[0].workload, "svc.blue.1a2b");
  EXPECT_EQ(parsed->endpoints[0].versions[0].traffic_percentile, 30);
  EXPECT_FALSE(parsed->endpoints[0].versions[0].is_default);
}

TEST(WorkloadCodecTest, WorkloadSpecRoundTripsWithModelFiles) {
  domain::WorkloadSpec spec;
  spec.key = {"diabetes", "diabetes", "00ff"};
  spec.revision = 3;
  spec.artifacts.entry_script = "score.py";
  spec.artifacts.models.push_back({"model", 2, {{"model.pkl", std::string(64, 'a'), 10}}});
  spec.environment_variables = {{"A", "1"}};
  spec.resources.memory_gb_limit = 0.75;
  spec.replicas = 2;
  auto parsed = json::DecodeText<domain::WorkloadSpec>(json::EncodeText(spec), "spec");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->key, spec.key);
  EXPECT_EQ(parsed->key.Name(), "diabetes.diabetes.00ff");
  EXPECT_EQ(parsed->artifacts.models[0].files[0].path, "model.pkl");
  EXPECT_EQ(parsed->resources.memory_gb_limit, 0.75);
  EXPECT_EQ(parsed->environment_variables.at("A"), "1");
  EXPECT_EQ(parsed->replicas, 2);
}

TEST(WorkloadCodecTest, TypeErrorsAndUnknownFieldsNameTheField) {
  auto wrong = json::DecodeText<domain::WorkloadSpec>(R"({"resources": {"cpu": "lots"}})", "spec");
  EXPECT_THAT(std::string(wrong.status().message()), HasSubstr("Field 'resources.cpu' must be a number."));
  auto fraction = json::DecodeText<domain::WorkloadSpec>(R"({"replicas": 1.5})", "spec");
  EXPECT_THAT(std::string(fraction.status().message()), HasSubstr("Field 'replicas' must be an integer."));
  auto unknown =
      json::DecodeText<domain::ProbeSpec>(R"({"periodSeconds": 1, "bogus": 2})", "probe", {.reject_unknown = true});
  EXPECT_THAT(std::string(unknown.status().message()), HasSubstr("Unknown field 'bogus'"));
  auto tolerated = json::DecodeText<domain::ProbeSpec>(R"({"periodSeconds": 4, "bogus": 2})", "probe");
  ASSERT_TRUE(tolerated.ok());
  EXPECT_EQ(tolerated->period_seconds, 4);
  EXPECT_EQ(tolerated->failure_threshold, 3);  // the default stays
}

TEST(SchedulerTest, PlacesWaitingVersionsInOrderWithoutHeadOfLineBlocking) {
  // 4 CPU; 1 held. Waiting: 2, 2, 1 CPU in that order: the first fits, the second not, the third does.
  auto placement = domain::Schedule({4, 16}, {1, 1}, {{1, {2, 1}}, {2, {2, 1}}, {3, {1, 1}}});
  EXPECT_THAT(placement.placed, ElementsAre(1, 3));
  EXPECT_DOUBLE_EQ(placement.free_after.cpu, 0);
}

TEST(SchedulerTest, AFreedClusterTakesWaitingVersionsInTheOrderTheyAsked) {
  // The reproduction: a 4-vCPU cluster ran a 3-CPU service; two 2-CPU services waited. Once the first is gone,
  // both fit.
  domain::Demand capacity{4, 14};
  EXPECT_TRUE(domain::Schedule(capacity, {3, 1}, {{1, {2, 1}}, {2, {2, 1}}}).placed.empty());
  EXPECT_THAT(domain::Schedule(capacity, {0, 0}, {{1, {2, 1}}, {2, {2, 1}}}).placed, ElementsAre(1, 2));
}

TEST(SchedulerTest, AnUpdateThatWaitsCountsWhatItHoldsAsFreeForItself) {
  // 4 CPU, of which 3 are held by the version itself (its running revision); the update asks for 4.
  auto placement = domain::Schedule({4, 14}, {3, 1}, {{1, {4, 1}, {3, 1}}});
  EXPECT_THAT(placement.placed, ElementsAre(1));
  // Another version's hold does not count for it.
  auto other = domain::Schedule({4, 14}, {3, 1}, {{1, {4, 1}, {0, 0}}});
  EXPECT_TRUE(other.placed.empty());
}

TEST(SchedulerTest, FractionsAddUpWithoutRoundingAway) {
  // 0.1 + 0.2 CPU in 0.3: fits despite floating point.
  auto placement = domain::Schedule({0.3, 1}, {0.1, 0}, {{1, {0.2, 0.5}}});
  EXPECT_THAT(placement.placed, ElementsAre(1));
}

TEST(SchedulerTest, InsufficientCapacityMessageHasTheNumbers) {
  EXPECT_EQ(domain::InsufficientCapacityMessage({2, 1}, "aks-1", {1, 13}, {4, 14}),
            "Insufficient capacity: the service requests 2 CPU and 1 GB; cluster aks-1 has 1 CPU and 13 GB free of "
            "4 CPU and 14 GB. It deploys when capacity frees up.");
}

}  // namespace
}  // namespace amlcore
