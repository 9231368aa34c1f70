// The rules of ACI and local services (domain/container_rules.h).
#include "domain/container_rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace amlcore::domain {
namespace {

using ::testing::HasSubstr;

std::string Message(const absl::Status& status) { return std::string(status.message()); }

ServiceRequest Aci() {
  ServiceRequest r;
  r.name = "aci-svc";
  r.compute_type = "ACI";
  return r;
}

TEST(ContainerRulesTest, OnlyAciAndLocalRunInContainerGroups) {
  EXPECT_TRUE(IsContainerGroupType("ACI"));
  EXPECT_TRUE(IsContainerGroupType("Local"));
  EXPECT_FALSE(IsContainerGroupType("AKS"));
  EXPECT_FALSE(IsContainerGroupType("AKSENDPOINT"));
}

TEST(ContainerRulesTest, AciConfigurationsFollowAzureml) {
  EXPECT_TRUE(ValidateAciConfiguration({}).ok());
  EXPECT_EQ(Message(ValidateAciConfiguration({.cpu_cores = 0})), "Invalid configuration, cpu_cores must be positive.");
  EXPECT_EQ(Message(ValidateAciConfiguration({.memory_gb = -1})), "Invalid configuration, memory_gb must be positive.");
  EXPECT_EQ(Message(ValidateAciConfiguration({.ssl_enabled = true, .ssl_cname = "x.example"})),
            "SSL is enabled, you must provide a SSL certificate, key, and cname.");
  EXPECT_EQ(Message(ValidateAciConfiguration(
                {.ssl_enabled = true, .ssl_cert_pem_file = "/no/cert.pem", .ssl_key_pem_file = "/no/key.pem",
                 .ssl_cname = "x.example"})),
            "Error, unable to find SSL cert pem file provided paths:\n/no/cert.pem");
  EXPECT_THAT(Message(ValidateAciConfiguration({.cmk_key_name = "k"})),
              HasSubstr("key_name and key_version must all have values"));
  EXPECT_THAT(Message(ValidateAciConfiguration({.vnet_name = "v"})), HasSubstr("vnet_name and subnet_name"));
  EXPECT_THAT(Message(ValidateAciConfiguration({.vnet_name = "v", .subnet_name = "s"})),
              HasSubstr("joins no Azure virtual network"));
}

TEST(ContainerRulesTest, DnsNameLabels) {
  EXPECT_TRUE(ValidateDnsNameLabel("my-label-1").ok());
  for (const char* bad : {"abcd", "1abcde", "abcde-", "ab_cde", "ABCDE", std::string(64, 'a').c_str()}) {
    EXPECT_THAT(Message(ValidateDnsNameLabel(bad)), HasSubstr("must be 5 to 63 lowercase letters")) << bad;
  }
}

TEST(ContainerRulesTest, TheServerRefusesWhatAContainerGroupCannotBe) {
  ServiceRequest r = Aci();
  ApplyContainerGroupDefaults(r);
  EXPECT_EQ(r.config.num_replicas, 1);
  EXPECT_EQ(r.config.auth_enabled, false);
  EXPECT_EQ(r.config.autoscale_enabled, false);
  EXPECT_TRUE(ValidateContainerGroupRequest(r).ok());

  r.compute_name = "my-aks";
  r.config.cpu_cores = 8;
  r.config.memory_gb = 32;
  r.config.num_replicas = 3;
  r.config.token_auth_enabled = true;
  r.container.port = 8080;
  std::string message = Message(ValidateContainerGroupRequest(r));
  // Every rule at once, one line each.
  EXPECT_THAT(message, HasSubstr("deploy it without a deployment_target (it was given my-aks)"));
  EXPECT_THAT(message, HasSubstr("num_replicas must be 1, not 3"));
  EXPECT_THAT(message, HasSubstr("token authentication is a setting of AKS services"));
  EXPECT_THAT(message, HasSubstr("cpu_cores must be at most 4 for a container group"));
  EXPECT_THAT(message, HasSubstr("memory_gb must be at most 16 for a container group"));
  EXPECT_THAT(message, HasSubstr("port is a LocalWebservice setting"));

  ServiceRequest local = Aci();
  local.compute_type = "Local";
  local.config.auth_enabled = true;
  local.container.ssl_enabled = true;
  local.container.port = 70000;
  message = Message(ValidateContainerGroupRequest(local));
  EXPECT_THAT(message, HasSubstr("A local web service has no authentication"));
  EXPECT_THAT(message, HasSubstr("SSL is a setting of ACI and AKS"));
  EXPECT_THAT(message, HasSubstr("port must be between 1 and 65535, not 70000"));
}

TEST(ContainerRulesTest, SslNeedsACertificateThatIsOne) {
  ServiceRequest r = Aci();
  r.container.ssl_enabled = true;
  EXPECT_EQ(Message(ValidateContainerGroupRequest(r)),
            "SSL is enabled, you must provide a SSL certificate, key, and cname.");
  r.container.ssl_certificate = "not a certificate";
  r.container.ssl_key = "not a key";
  r.container.ssl_cname = "x.example";
  EXPECT_THAT(Message(ValidateContainerGroupRequest(r)),
              HasSubstr("Invalid configuration, the SSL certificate and key: "));
}

}  // namespace
}  // namespace amlcore::domain
