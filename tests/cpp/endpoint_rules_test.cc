// The rules of an AksEndpoint's versions and how traffic is shared among them (domain/endpoint_rules.h).
#include "domain/endpoint_rules.h"

#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace amlcore::domain {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

VersionRouting V(std::string name, int64_t percentile, bool is_default = false,
                 std::string type = VersionType::kTreatment) {
  return {std::move(name), percentile, is_default, std::move(type)};
}

std::string Message(const absl::Status& status) { return std::string(status.message()); }

TEST(EndpointRulesTest, TheArticlesVersionsAreValid) {
  EXPECT_TRUE(ValidateEndpointVersions("ep", {V("versiona", 20, true)}).ok());
  EXPECT_TRUE(ValidateEndpointVersions("ep", {V("versiona", 20, true), V("versionb", 10)}).ok());
  EXPECT_TRUE(
      ValidateEndpointVersions("ep", {V("versiona", 20), V("versionb", 40, true, VersionType::kControl)}).ok());
  // Percentiles may add up to exactly 100; the default then gets none.
  EXPECT_TRUE(ValidateEndpointVersions("ep", {V("v-a", 0, true), V("v-b", 60), V("v-c", 40)}).ok());
}

TEST(EndpointRulesTest, EachBrokenRuleHasItsMessage) {
  std::vector<VersionRouting> seven;
  for (char c = 'a'; c <= 'g'; ++c) seven.push_back(V(std::string("version") + c, 0, c == 'a'));
  EXPECT_EQ(Message(ValidateEndpointVersions("ep", seven)),
            "Error, endpoint ep would have 7 versions; an endpoint has at most 6.");
  EXPECT_EQ(Message(ValidateEndpointVersions("ep", {V("v-a", 60, true), V("v-b", 50)})),
            "Error, the traffic percentiles of endpoint ep would add up to 110 (v-a=60, v-b=50); together they must be "
            "at most 100.");
  EXPECT_EQ(Message(ValidateEndpointVersions("ep", {V("v-a", 101, true)})),
            "Error, traffic_percentile of version v-a is 101; it must be from 0 to 100.\n"
            "Error, the traffic percentiles of endpoint ep would add up to 101 (v-a=101); together they must be at "
            "most 100.");
  EXPECT_EQ(Message(ValidateEndpointVersions("ep", {V("v-a", -1, true)})),
            "Error, traffic_percentile of version v-a is -1; it must be from 0 to 100.");
  EXPECT_EQ(Message(ValidateEndpointVersions("ep", {V("v-a", 10), V("v-b", 10)})),
            "Error, endpoint ep must have exactly one default version, not 0.");
  EXPECT_EQ(Message(ValidateEndpointVersions("ep", {V("v-a", 10, true), V("v-b", 10, true)})),
            "Error, endpoint ep must have exactly one default version, not 2 (v-a, v-b).");
  EXPECT_EQ(Message(ValidateEndpointVersions(
                "ep", {V("v-a", 10, true, VersionType::kControl), V("v-b", 10, false, VersionType::kControl)})),
            "Error, endpoint ep would have 2 control versions (v-a, v-b); at most one version is the control.");
  EXPECT_EQ(Message(ValidateEndpointVersions("ep", {V("v-a", 10, true), V("v-a", 10)})),
            "Error, version v-a appears twice in endpoint ep.");
  EXPECT_EQ(Message(ValidateEndpointVersions("ep", {V("v-a", 10, true, "Canary")})),
            "Error, version v-a has type 'Canary'; the types are Control and Treatment.");
  EXPECT_THAT(Message(ValidateEndpointVersions("ep", {V("Version_A", 10, true)})),
              HasSubstr("Error, version name 'Version_A' is invalid."));
}

TEST(EndpointRulesTest, RemovingTheDefaultPassesItToTheControlElseTheOldest) {
  std::vector<VersionRouting> versions = {V("v-a", 20, true), V("v-b", 10), V("v-c", 40, false, VersionType::kControl)};
  auto note = RemoveVersion("ep", "v-a", versions);
  ASSERT_TRUE(note.ok());
  EXPECT_EQ(*note, "Version v-a was the default; version v-c (the control version) is the default now");
  EXPECT_TRUE(versions[1].is_default);
  EXPECT_EQ(versions[1].name, "v-c");

  versions = {V("v-a", 20, true), V("v-b", 10), V("v-c", 40)};
  note = RemoveVersion("ep", "v-a", versions);
  ASSERT_TRUE(note.ok());
  EXPECT_EQ(*note, "Version v-a was the default; version v-b (the oldest remaining one) is the default now");
  EXPECT_TRUE(versions[0].is_default);

  // Removing another version leaves the default where it is, and says nothing.
  note = RemoveVersion("ep", "v-c", versions);
  ASSERT_TRUE(note.ok());
  EXPECT_EQ(*note, "");
  ASSERT_EQ(versions.size(), 1u);
}

TEST(EndpointRulesTest, RemovingAnUnknownOrTheLastVersionIsRefusedAndChangesNothing) {
  std::vector<VersionRouting> versions = {V("v-a", 20, true), V("v-b", 10)};
  auto missing = RemoveVersion("ep", "v-z", versions);
  EXPECT_EQ(Message(missing.status()), "Error, endpoint ep has no version v-z; its versions are v-a, v-b.");
  EXPECT_EQ(versions.size(), 2u);
  versions = {V("v-a", 20, true)};
  auto last = RemoveVersion("ep", "v-a", versions);
  EXPECT_EQ(Message(last.status()), "Error, v-a is the last version of endpoint ep; delete the endpoint instead.");
  ASSERT_EQ(versions.size(), 1u);
  EXPECT_TRUE(versions[0].is_default);
}

TEST(EndpointRulesTest, OneDefaultAndOneControlAtATime) {
  std::vector<VersionRouting> versions = {V("v-a", 20, true, VersionType::kControl), V("v-b", 10)};
  MakeDefault("v-b", versions);
  MakeControl("v-b", versions);
  EXPECT_FALSE(versions[0].is_default);
  EXPECT_EQ(versions[0].type, VersionType::kTreatment);
  EXPECT_TRUE(versions[1].is_default);
  EXPECT_EQ(versions[1].type, VersionType::kControl);
  EXPECT_TRUE(ValidateEndpointVersions("ep", versions).ok());
}

TEST(EndpointRulesTest, TheDefaultTakesWhatNoPercentileClaims) {
  EXPECT_THAT(EffectiveShares({V("v-a", 20, true), V("v-b", 10)}, {true, true}), ElementsAre(90, 10));
  EXPECT_THAT(EffectiveShares({V("v-a", 20), V("v-b", 40, true)}, {true, true}), ElementsAre(20, 80));
  EXPECT_THAT(EffectiveShares({V("v-a", 0, true), V("v-b", 60), V("v-c", 40)}, {true, true, true}),
              ElementsAre(0, 60, 40));
}

TEST(EndpointRulesTest, AVersionThatIsNotReadyGetsNothing) {
  // Its share goes to the default...
  EXPECT_THAT(EffectiveShares({V("v-a", 20, true), V("v-b", 10), V("v-c", 30)}, {true, false, true}),
              ElementsAre(70, 0, 30));
  // ...or, when the default is not ready either, to the ready versions in proportion.
  EXPECT_THAT(EffectiveShares({V("v-a", 20, true), V("v-b", 10), V("v-c", 30)}, {false, true, true}),
              ElementsAre(0, 25, 75));
  // Ready versions without a percentile share alike when nothing else is ready.
  EXPECT_THAT(EffectiveShares({V("v-a", 20, true), V("v-b", 0), V("v-c", 0)}, {false, true, true}),
              ElementsAre(0, 50, 50));
  EXPECT_THAT(EffectiveShares({V("v-a", 20, true), V("v-b", 10)}, {false, false}), ElementsAre(0, 0));
}

TEST(EndpointRulesTest, PickVersionFollowsTheShares) {
  std::vector<double> shares = {90, 0, 10};
  EXPECT_EQ(PickVersion(shares, 0), 0);
  EXPECT_EQ(PickVersion(shares, 89.999), 0);
  EXPECT_EQ(PickVersion(shares, 90), 2);
  EXPECT_EQ(PickVersion(shares, 100), 2);  // a sliver past the end lands on the last with a share
  EXPECT_EQ(PickVersion({0, 0}, 50), -1);
}

// With 100 000 requests the observed shares are within one point of the configuration (the front end draws
// uniformly in [0, 100) per request).
TEST(EndpointRulesTest, HundredThousandDrawsMatchTheConfiguredSplit) {
  struct Case {
    std::vector<VersionRouting> versions;
    std::vector<double> expected;
  };
  std::vector<Case> cases = {
      {{V("versiona", 20, true), V("versionb", 10)}, {90, 10}},
      {{V("versiona", 20), V("versionb", 40, true, VersionType::kControl)}, {20, 80}},
      {{V("v-a", 10, true), V("v-b", 15), V("v-c", 20), V("v-d", 25), V("v-e", 5), V("v-f", 1)}, {34, 15, 20, 25, 5, 1}},
  };
  std::mt19937_64 random(20261202);
  std::uniform_real_distribution<double> draw(0, 100);
  for (const auto& c : cases) {
    std::vector<double> shares = EffectiveShares(c.versions, std::vector<bool>(c.versions.size(), true));
    std::vector<int> seen(c.versions.size(), 0);
    constexpr int kRequests = 100000;
    for (int i = 0; i < kRequests; ++i) ++seen[PickVersion(shares, draw(random))];
    for (size_t v = 0; v < seen.size(); ++v) {
      EXPECT_NEAR(100.0 * seen[v] / kRequests, c.expected[v], 1.0) << c.versions[v].name;
    }
  }
}

VersionCondition C(std::string name, std::string state, std::string error = "") {
  return {std::move(name), std::move(state), "", "", std::move(error)};
}

TEST(EndpointRulesTest, TheServiceConditionFollowsItsVersions) {
  EXPECT_EQ(ServiceCondition({C("v-a", "Healthy"), C("v-b", "Healthy")}).state, "Healthy");
  EXPECT_EQ(ServiceCondition({C("v-a", "Healthy"), C("v-b", "Transitioning")}).state, "Transitioning");
  EXPECT_EQ(ServiceCondition({C("v-a", "Failed"), C("v-b", "Failed")}).state, "Failed");
  VersionCondition one_failed = ServiceCondition(
      {C("v-a", "Healthy"), C("v-b", "Failed", R"({"code":"UserScriptInitFailed","message":"init() raised"})")});
  EXPECT_EQ(one_failed.state, "Unhealthy");
  EXPECT_THAT(one_failed.error_json, HasSubstr("Version v-b: init() raised"));
  // A single version's error is the service's, word for word.
  EXPECT_THAT(ServiceCondition({C("v-a", "Failed", R"({"code":"X","message":"init() raised"})")}).error_json,
              HasSubstr(R"("message":"init() raised")"));
}

}  // namespace
}  // namespace amlcore::domain
