#include "domain/names.h"

#include "domain/vm_sizes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace amlcore::domain {
namespace {
using ::testing::HasSubstr;

TEST(ComputeNameTest, AcceptsNamesThatFollowTheRule) {
  for (const char* name : {"aks", "my-aks-01", "A23456789012345678901234", "x-y"}) {
    EXPECT_TRUE(ValidateComputeName(name).ok()) << name;
  }
}

TEST(ComputeNameTest, RefusesBadNamesAndStatesTheRule) {
  for (const char* name : {"ab", "1aks", "aks-", "my_aks", "a234567890123456789012345", "aks.prod", ""}) {
    absl::Status s = ValidateComputeName(name);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(std::string(s.message()), HasSubstr("must be 3 to 24 characters long, contain only letters, digits and hyphens, "
                                       "start with a letter and end with a letter or digit"))
        << name;
  }
}

TEST(ComputeNameTest, RefusesReservedNames) {
  for (const char* name : {"local", "amlcompute", "containerinstance", "Local"}) {
    absl::Status s = ValidateComputeName(name);
    EXPECT_THAT(std::string(s.message()), HasSubstr("the names amlcompute, local, containerinstance are reserved")) << name;
  }
}

TEST(WorkspaceNameTest, Rule) {
  EXPECT_TRUE(ValidateWorkspaceName("my_ws-1").ok());
  EXPECT_THAT(std::string(ValidateWorkspaceName("-ws").message()), HasSubstr("must be 3 to 33 characters long"));
  EXPECT_THAT(std::string(ValidateWorkspaceName("w s").message()), HasSubstr("letters, digits, hyphens and underscores"));
}

TEST(SubscriptionIdTest, MustBeAGuid) {
  EXPECT_TRUE(ValidateSubscriptionId("00000000-0000-0000-0000-000000000000").ok());
  EXPECT_THAT(std::string(ValidateSubscriptionId("sub-1").message()), HasSubstr("is a GUID"));
}

TEST(ResourceGroupNameTest, Rule) {
  EXPECT_TRUE(ValidateResourceGroupName("rg.(prod)_1").ok());
  EXPECT_THAT(std::string(ValidateResourceGroupName("rg.").message()), HasSubstr("not end with a period"));
}

TEST(VmSizeTest, KnowsTheSpecSizes) {
  struct Want {
    const char* name;
    int vcpus;
    double memory;
    int gpus;
  };
  for (Want w : {Want{"Standard_D2_v2", 2, 7, 0}, Want{"Standard_D3_v2", 4, 14, 0}, Want{"Standard_D4_v2", 8, 28, 0},
                 Want{"Standard_D5_v2", 16, 56, 0}, Want{"Standard_DS2_v2", 2, 7, 0}, Want{"Standard_DS3_v2", 4, 14, 0},
                 Want{"Standard_D2s_v3", 2, 8, 0}, Want{"Standard_D4s_v3", 4, 16, 0}, Want{"Standard_D8s_v3", 8, 32, 0},
                 Want{"Standard_F4s_v2", 4, 8, 0}, Want{"Standard_NC6", 6, 56, 1}, Want{"Standard_NC6s_v3", 6, 112, 1}}) {
    auto size = FindVmSize(w.name);
    ASSERT_TRUE(size.ok()) << w.name;
    EXPECT_EQ(size->vcpus, w.vcpus) << w.name;
    EXPECT_EQ(size->memory_gib, w.memory) << w.name;
    EXPECT_EQ(size->gpus, w.gpus) << w.name;
  }
  EXPECT_TRUE(FindVmSize("standard_d3_v2").ok());
}

TEST(VmSizeTest, UnknownSizeListsTheKnownOnes) {
  auto size = FindVmSize("Standard_Z9");
  EXPECT_EQ(size.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(size.status().message()), HasSubstr("unknown vm_size 'Standard_Z9'. Known sizes: Standard_A2_v2"));
  EXPECT_THAT(std::string(size.status().message()), HasSubstr("Standard_NC6s_v3"));
}

}  // namespace
}  // namespace amlcore::domain
