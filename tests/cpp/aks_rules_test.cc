#include "domain/aks_rules.h"

#include "amlcore/compute.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace amlcore {
namespace {
using ::testing::HasSubstr;

constexpr char kSsl[] =
    "Invalid configuration, not all ssl information provided. To enable SSL validation please provide the cname, "
    "cert pem file, and key pem file.";
constexpr char kVnet[] =
    "Invalid configuration, not all virtual net information provided. To use a custom virtual net with aks, please "
    "provide vnet name, vnet resource group, subnet name, service cidr, dns service ip and docker bridge cidr";

AksProvisioningConfiguration WithVnet() {
  AksProvisioningConfiguration c;
  c.vnet_resourcegroup_name = "net-rg";
  c.vnet_name = "vnet";
  c.subnet_name = "aks";
  c.service_cidr = "10.0.0.0/16";
  c.dns_service_ip = "10.0.0.10";
  c.docker_bridge_cidr = "172.17.0.1/16";
  return c;
}

TEST(ProvisioningConfigurationTest, DefaultsAreValid) { EXPECT_TRUE(AksProvisioningConfiguration{}.Validate().ok()); }

TEST(ProvisioningConfigurationTest, AgentCountMustBePositive) {
  for (int64_t count : {0, -1}) {
    AksProvisioningConfiguration c;
    c.agent_count = count;
    EXPECT_EQ(c.Validate().message(), "Invalid configuration, agent count must be a positive integer.");
  }
}

TEST(ProvisioningConfigurationTest, SslNeedsAllThree) {
  AksProvisioningConfiguration c;
  c.ssl_cname = "www.contoso.com";
  EXPECT_EQ(c.Validate().message(), kSsl);
  c.ssl_cert_pem_file = "cert.pem";
  EXPECT_EQ(c.Validate().message(), kSsl);
  c.ssl_key_pem_file = "key.pem";
  EXPECT_TRUE(c.Validate().ok());
  c.leaf_domain_label = "contoso";
  EXPECT_THAT(std::string(c.Validate().message()), HasSubstr("leaf domain label should not be provided"));
}

TEST(ProvisioningConfigurationTest, VnetNeedsAllSix) {
  EXPECT_TRUE(WithVnet().Validate().ok());
  AksProvisioningConfiguration c = WithVnet();
  c.docker_bridge_cidr.clear();
  EXPECT_EQ(c.Validate().message(), kVnet);
  AksProvisioningConfiguration only_name;
  only_name.vnet_name = "vnet";
  EXPECT_EQ(only_name.Validate().message(), kVnet);
}

TEST(ProvisioningConfigurationTest, CidrsMustParse) {
  AksProvisioningConfiguration c = WithVnet();
  c.service_cidr = "10.0.0.0/33";
  EXPECT_EQ(c.Validate().message(),
            "Invalid configuration, service_cidr '10.0.0.0/33' is not an IPv4 CIDR such as 10.0.0.0/16.");
  c = WithVnet();
  c.docker_bridge_cidr = "172.17.0.1";
  EXPECT_THAT(std::string(c.Validate().message()), HasSubstr("docker_bridge_cidr '172.17.0.1' is not an IPv4 CIDR"));
  c = WithVnet();
  c.dns_service_ip = "10.0.0.256";
  EXPECT_THAT(std::string(c.Validate().message()), HasSubstr("dns_service_ip '10.0.0.256' is not an IPv4 address"));
}

TEST(ProvisioningConfigurationTest, DnsServiceIpMustLieInServiceCidr) {
  AksProvisioningConfiguration c = WithVnet();
  c.dns_service_ip = "10.1.0.10";
  EXPECT_EQ(c.Validate().message(),
            "Invalid configuration, dns_service_ip 10.1.0.10 is not inside service_cidr 10.0.0.0/16.");
}

TEST(ProvisioningConfigurationTest, DockerBridgeMustNotOverlapServiceCidr) {
  AksProvisioningConfiguration c = WithVnet();
  c.docker_bridge_cidr = "10.0.128.0/17";
  EXPECT_EQ(c.Validate().message(),
            "Invalid configuration, docker_bridge_cidr 10.0.128.0/17 overlaps service_cidr 10.0.0.0/16.");
}

TEST(ProvisioningConfigurationTest, PurposeAndLoadBalancer) {
  AksProvisioningConfiguration c;
  c.cluster_purpose = "Prod";
  EXPECT_THAT(std::string(c.Validate().message()), HasSubstr("cluster purpose 'Prod' is not one of \"FastProd\" or \"DevTest\""));
  c = {};
  c.load_balancer_type = "Private";
  EXPECT_EQ(c.Validate().message(),
            "Invalid configuration. Load balancer type should be either \"PublicIp\" or \"InternalLoadBalancer\".");
  c = {};
  c.load_balancer_subnet = "my-subnet";
  EXPECT_THAT(std::string(c.Validate().message()), HasSubstr("load balancer subnet can be changed from default when load balancer "
                                                "type is \"InternalLoadBalancer\""));
  c.load_balancer_type = "InternalLoadBalancer";
  EXPECT_TRUE(c.Validate().ok());
}

TEST(AttachConfigurationTest, AzuremlRules) {
  AksAttachConfiguration c;
  EXPECT_THAT(std::string(c.Validate().message()), HasSubstr("Please provide resource_group and cluster_name"));
  c.resource_group = "rg";
  EXPECT_EQ(c.Validate().message(), "cluster_name is not provided.");
  c = {};
  c.cluster_name = "aks";
  EXPECT_EQ(c.Validate().message(), "resource_group is not provided.");
  c = {};
  c.resource_id = "/subscriptions/x/resourcegroups/rg/providers/Microsoft.Compute/managedClusters/aks";
  EXPECT_EQ(c.Validate().message(),
            "Invalid resource_id provided, resource type Microsoft.Compute does not match for AKS");
  c.resource_id = "/subscriptions/x/resourcegroups/rg";
  EXPECT_EQ(c.Validate().message(), "Invalid resource_id provided: /subscriptions/x/resourcegroups/rg");
  c.resource_id = "/subscriptions/x/resourcegroups/rg/providers/Microsoft.ContainerService/managedClusters/aks";
  EXPECT_TRUE(c.Validate().ok());
  c.resource_group = "rg";
  EXPECT_EQ(c.Validate().message(), "Since resource_id is provided, please do not provide resource_group.");
  c.resource_group.clear();
  c.cluster_name = "aks";
  EXPECT_EQ(c.Validate().message(), "Since resource_id is provided, please do not provide cluster_name.");
  c.cluster_name.clear();
  c.load_balancer_type = "PublicIp";
  c.load_balancer_subnet = "s";
  EXPECT_THAT(std::string(c.Validate().message()), HasSubstr("load balancer subnet can be changed from default"));
}

TEST(UpdateConfigurationTest, Rules) {
  AksUpdateConfiguration c;
  EXPECT_TRUE(c.Validate().ok());
  c.load_balancer_type = "PublicIp";
  c.load_balancer_subnet = "s";
  EXPECT_EQ(c.Validate().message(), "Invalid configuration, load balancer subnet cannot be used with a Public IP.");
  c = {};
  c.ssl_configuration = SslConfiguration{.cname = "a.b"};
  EXPECT_EQ(c.Validate().message(), kSsl);
  c = {};
  c.agent_count = 0;
  EXPECT_EQ(c.Validate().message(), "Invalid configuration, agent count must be a positive integer.");
}

TEST(PurposeCapacityTest, FastProdNeedsTwelveVcpus) {
  auto d3 = domain::FindVmSize("Standard_D3_v2");
  ASSERT_TRUE(d3.ok());
  EXPECT_TRUE(domain::CheckPurposeCapacity("FastProd", 3, *d3).ok());
  EXPECT_TRUE(domain::CheckPurposeCapacity("DevTest", 1, *d3).ok());
  EXPECT_EQ(domain::CheckPurposeCapacity("FastProd", 2, *d3).message(),
            "Invalid configuration, a FastProd cluster needs at least 12 vCPUs in total, but agent_count 2 x "
            "Standard_D3_v2 (4 vCPUs each) gives 8. Use more or larger agents, or cluster_purpose \"DevTest\".");
}

TEST(ClusterResourceIdTest, RoundTrip) {
  domain::ClusterResourceId id{"00000000-0000-0000-0000-000000000000", "rg", "aks-1"};
  std::string text = domain::FormatClusterResourceId(id);
  EXPECT_EQ(text, "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/rg/providers/"
                  "Microsoft.ContainerService/managedClusters/aks-1");
  auto parsed = domain::ParseClusterResourceId(text);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->cluster_name, "aks-1");
  EXPECT_THAT(std::string(domain::ParseClusterResourceId("/subscriptions/x/resourcegroups/rg/providers/"
                                             "Microsoft.ContainerService/managedClusters/aks")
                  .status()
                  .message()),
              HasSubstr("is a GUID"));
}

}  // namespace
}  // namespace amlcore
