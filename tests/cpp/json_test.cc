#include "common/json.h"

#include "common/errors.h"
#include "domain/compute_wire.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace amlcore {
namespace {
using ::testing::HasSubstr;

TEST(JsonTest, MalformedJsonNamesTheOffset) {
  auto parsed = json::Parse("{\"a\": }");
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("Malformed JSON at offset"));
  EXPECT_FALSE(json::Parse("{} {}").ok());
  EXPECT_FALSE(json::Parse("{").ok());
}

TEST(JsonTest, ReaderReportsWrongTypesAndUnknownFields) {
  auto object = json::ParseObject(R"({"a": "x", "b": 1, "c": {"d": true, "e": 2}})", "body");
  ASSERT_TRUE(object.ok());
  json::ObjectReader reader(&*object, "");
  EXPECT_EQ(reader.String("a"), "x");
  EXPECT_EQ(reader.Int("b"), 1);
  json::ObjectReader c = reader.Object("c");
  EXPECT_EQ(c.Bool("d"), true);
  EXPECT_THAT(std::string(c.Finish().message()), HasSubstr("Unknown field 'c.e'; allowed fields of 'c': d."));

  json::ObjectReader typed(&*object, "");
  EXPECT_EQ(typed.Int("a"), std::nullopt);
  typed.Ignore("b");
  typed.Ignore("c");
  EXPECT_EQ(typed.Finish().message(), "Field 'a' must be an integer.");
}

TEST(ComputeWireTest, PutRequestRoundTripsAndRefusesUnknownFields) {
  domain::ComputePutRequest request;
  request.compute_type = "AKS";
  request.location = "local";
  request.agent_count = 2;
  request.agent_vm_size = "Standard_D2_v2";
  request.cluster_purpose = "DevTest";
  auto parsed = domain::ParseComputePutRequest(domain::SerializeComputePutRequest(request));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->agent_count, 2);
  EXPECT_EQ(parsed->agent_vm_size, "Standard_D2_v2");
  EXPECT_EQ(parsed->cluster_purpose, "DevTest");

  auto unknown = domain::ParseComputePutRequest(R"({"properties": {"computeType": "AKS", "nodes": 3}})");
  EXPECT_THAT(std::string(unknown.status().message()), HasSubstr("Unknown field 'properties.nodes'"));
  auto typed = domain::ParseComputePutRequest(
      R"({"properties": {"computeType": "AKS", "properties": {"agentCount": "three"}}})");
  EXPECT_EQ(typed.status().message(), "Field 'properties.properties.agentCount' must be an integer.");
}

TEST(ErrorsTest, HttpErrorBodyBecomesStatusWithDetails) {
  absl::Status s = StatusFromHttpError(409, R"({"error": {"code": "Conflict", "message": "busy"}})", "rid-1");
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(s.message(), "busy");
  EXPECT_EQ(ErrorCodeOf(s), "Conflict");
  EXPECT_EQ(HttpStatusOf(s), 409);
  EXPECT_EQ(RequestIdOf(s), "rid-1");
  EXPECT_EQ(HttpStatusFromCode(absl::StatusCode::kNotFound), 404);
  EXPECT_EQ(StatusFromHttpError(502, "upstream died", "").message(), "upstream died");
}

}  // namespace
}  // namespace amlcore
