import os
import signal
import threading
import time
import urllib.request

import pytest

from amlcore import Workspace
from amlcore.compute import AksCompute, AksUpdateConfiguration, ComputeTarget, SslConfiguration
from amlcore.exceptions import AzureMLException, ComputeTargetException, ComputeTargetTimeoutException

SSL_MESSAGE = ("Invalid configuration, not all ssl information provided. To enable SSL validation please provide "
               "the cname, cert pem file, and key pem file.")
VNET_MESSAGE = ("Invalid configuration, not all virtual net information provided. To use a custom virtual net "
                "with aks, please provide vnet name, vnet resource group, subnet name, service cidr, dns service "
                "ip and docker bridge cidr")
VNET = dict(vnet_resourcegroup_name="net-rg", vnet_name="vnet", subnet_name="aks", service_cidr="10.0.0.0/16",
            dns_service_ip="10.0.0.10", docker_bridge_cidr="172.17.0.1/16")


def healthy(endpoint):
    try:
        with urllib.request.urlopen(endpoint + "/", timeout=2) as response:
            return response.status == 200 and response.read() == b"Healthy"
    except OSError:
        return False


def test_create_attach_detach_delete_as_in_azureml(ws, home, capsys):
    aks = ComputeTarget.create(ws, "my-aks", AksCompute.provisioning_configuration())
    assert isinstance(aks, AksCompute)
    assert aks.provisioning_state == "Creating"
    aks.wait_for_completion(show_output=True)
    out = capsys.readouterr().out
    assert out.startswith("Creating")
    assert out.endswith("\nSucceeded\nProvisioning operation finished, operation \"Succeeded\"\n")
    assert aks.provisioning_state == "Succeeded"
    assert aks.provisioning_errors is None
    assert (aks.agent_count, aks.agent_vm_size, aks.cluster_purpose) == (3, "Standard_D3_v2", "FastProd")
    assert (aks.load_balancer_type, aks.load_balancer_subnet) == ("PublicIp", "aks-subnet")
    assert aks.type == "AKS" and aks.is_attached is False
    assert aks.cluster_resource_id.startswith(
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/default/providers/"
        "Microsoft.ContainerService/managedClusters/my-aks-")
    assert healthy(aks.scoring_endpoint)
    assert len(home.frontend_pids()) == 1

    # The constructor is a getter that returns the subclass.
    again = ComputeTarget(ws, "my-aks")
    assert type(again) is AksCompute and again.id == aks.id
    assert AksCompute(ws, "my-aks").scoring_endpoint == aks.scoring_endpoint
    assert list(ws.compute_targets) == ["my-aks"]
    assert [t.name for t in ComputeTarget.list(ws)] == ["my-aks"]
    assert "AksCompute(workspace=Workspace.create(name='test-ws'" in repr(aks)

    # Attach the same cluster to another workspace.
    other = Workspace.create("other-ws")
    config = AksCompute.attach_configuration(resource_id=aks.cluster_resource_id)
    attached = ComputeTarget.attach(other, "shared-aks", config)
    attached.wait_for_completion(show_output=True)
    assert attached.is_attached and attached.scoring_endpoint == aks.scoring_endpoint
    with pytest.raises(ComputeTargetException) as refused:
        ComputeTarget.attach(other, "shared-again", config)
    assert "is already attached to workspace other-ws as compute target shared-aks" in str(refused.value)
    assert refused.value.http_status == 409 and refused.value.error_code == "ClusterAlreadyAttached"

    with pytest.raises(ComputeTargetException, match=r"delete\(\) is refused. Use detach\(\)"):
        attached.delete()
    attached.detach()
    attached.wait_for_completion(is_delete_operation=True)
    assert healthy(aks.scoring_endpoint), "detach leaves the cluster running"
    with pytest.raises(ComputeTargetException) as missing:
        ComputeTarget(other, "shared-aks")
    assert str(missing.value) == ("ComputeTargetNotFound: Compute Target with name shared-aks not found in "
                                  "provided workspace")
    assert missing.value.http_status == 404

    endpoint = aks.scoring_endpoint
    aks.delete()
    assert aks.provisioning_state == "Deleting"
    aks.wait_for_completion(show_output=True, is_delete_operation=True)
    assert not healthy(endpoint)
    assert home.frontend_pids() == []
    assert ws.compute_targets == {}


def test_attach_by_resource_group_and_cluster_name(ws):
    aks = ComputeTarget.create(ws, "dev-aks", AksCompute.provisioning_configuration(
        agent_count=1, cluster_purpose=AksCompute.ClusterPurpose.DEV_TEST))
    aks.wait_for_completion()
    cluster_name = aks.cluster_resource_id.rsplit("/", 1)[1]
    other = Workspace.create("team-ws")
    config = AksCompute.attach_configuration(resource_group="default", cluster_name=cluster_name,
                                             cluster_purpose=AksCompute.ClusterPurpose.DEV_TEST)
    attached = ComputeTarget.attach(other, "borrowed", config)
    attached.wait_for_completion()
    assert attached.cluster_resource_id == aks.cluster_resource_id
    # A FastProd attachment needs 12 vCPUs; this cluster has 4.
    with pytest.raises(ComputeTargetException, match="a FastProd cluster needs at least 12 vCPUs in total, but "
                                                     r"agent_count 1 x Standard_D3_v2 \(4 vCPUs each\) gives 4"):
        ComputeTarget.attach(Workspace.create("prod-ws"), "prod",
                             AksCompute.attach_configuration(resource_group="default", cluster_name=cluster_name))


@pytest.mark.parametrize("kwargs, message", [
    (dict(agent_count=0), "Invalid configuration, agent count must be a positive integer."),
    (dict(agent_count=-3), "Invalid configuration, agent count must be a positive integer."),
    (dict(ssl_cname="a.b"), SSL_MESSAGE),
    (dict(ssl_cname="a.b", ssl_cert_pem_file="c.pem"), SSL_MESSAGE),
    (dict(ssl_key_pem_file="k.pem"), SSL_MESSAGE),
    (dict(vnet_name="vnet"), VNET_MESSAGE),
    (dict(VNET, docker_bridge_cidr=None), VNET_MESSAGE),
    (dict(VNET, service_cidr="10.0.0.0"), "Invalid configuration, service_cidr '10.0.0.0' is not an IPv4 CIDR "
                                          "such as 10.0.0.0/16."),
    (dict(VNET, dns_service_ip="10.9.0.10"), "Invalid configuration, dns_service_ip 10.9.0.10 is not inside "
                                             "service_cidr 10.0.0.0/16."),
    (dict(VNET, docker_bridge_cidr="10.0.1.0/24"), "Invalid configuration, docker_bridge_cidr 10.0.1.0/24 overlaps "
                                                   "service_cidr 10.0.0.0/16."),
    (dict(cluster_purpose="Production"), "Invalid configuration, cluster purpose 'Production' is not one of "
                                         "\"FastProd\" or \"DevTest\"."),
    (dict(load_balancer_type="Private"), "Invalid configuration. Load balancer type should be either \"PublicIp\" "
                                         "or \"InternalLoadBalancer\"."),
    (dict(load_balancer_subnet="sub"), "Invalid configuration, load balancer subnet can be changed from default "
                                       "when load balancer type is \"InternalLoadBalancer\"."),
    (dict(agent_count="3"), "Invalid configuration, agent_count must be an integer, not str."),
    (dict(vm_size=4), "Invalid configuration, vm_size must be a string, not int."),
])
def test_provisioning_configuration_rules(kwargs, message):
    with pytest.raises(ComputeTargetException) as error:
        AksCompute.provisioning_configuration(**kwargs)
    assert str(error.value) == message


def test_valid_provisioning_configurations():
    AksCompute.provisioning_configuration(**VNET)
    config = AksCompute.provisioning_configuration(load_balancer_type="InternalLoadBalancer",
                                                   load_balancer_subnet="inner")
    with pytest.raises(ComputeTargetException, match="leaf domain label should not be provided"):
        config.enable_ssl(ssl_cname="a.b", ssl_cert_pem_file="c", ssl_key_pem_file="k", leaf_domain_label="x")


@pytest.mark.parametrize("kwargs, message", [
    (dict(), "Please provide resource_group and cluster_name for the AKS compute resource being attached. Or please "
             "provide resource_id for the resource being attached."),
    (dict(resource_group="rg"), "cluster_name is not provided."),
    (dict(cluster_name="aks"), "resource_group is not provided."),
    (dict(resource_id="/subscriptions/s/resourcegroups/rg"), "Invalid resource_id provided: "
                                                             "/subscriptions/s/resourcegroups/rg"),
    (dict(resource_id="/subscriptions/s/resourcegroups/rg/providers/Microsoft.Compute/virtualMachines/vm"),
     "Invalid resource_id provided, resource type Microsoft.Compute does not match for AKS"),
    (dict(resource_id="/subscriptions/s/resourcegroups/rg/providers/Microsoft.ContainerService/managedClusters/a",
          resource_group="rg"), "Since resource_id is provided, please do not provide resource_group."),
    (dict(resource_id="/subscriptions/s/resourcegroups/rg/providers/Microsoft.ContainerService/managedClusters/a",
          cluster_name="a"), "Since resource_id is provided, please do not provide cluster_name."),
    (dict(resource_group="rg", cluster_name="a", load_balancer_type="Nope"),
     "Invalid configuration. Load balancer type should be either \"PublicIp\" or \"InternalLoadBalancer\"."),
    (dict(resource_group="rg", cluster_name="a", load_balancer_type="PublicIp", load_balancer_subnet="s"),
     "Invalid configuration, load balancer subnet can be changed from default when load balancer type is "
     "\"InternalLoadBalancer\"."),
])
def test_attach_configuration_rules(kwargs, message):
    with pytest.raises(ComputeTargetException) as error:
        AksCompute.attach_configuration(**kwargs)
    assert str(error.value) == message


def test_update_configuration_rules():
    with pytest.raises(ComputeTargetException, match="load balancer subnet cannot be used with a Public IP"):
        AksUpdateConfiguration(load_balancer_type="PublicIp", load_balancer_subnet="s")
    with pytest.raises(ComputeTargetException) as error:
        AksUpdateConfiguration(SslConfiguration(cname="a.b"))
    assert str(error.value) == SSL_MESSAGE
    with pytest.raises(ComputeTargetException, match="agent count must be a positive integer"):
        AksUpdateConfiguration(agent_count=0)


def test_server_rules_name_the_rule_and_the_numbers(ws):
    def create(name, **kwargs):
        return ComputeTarget.create(ws, name, AksCompute.provisioning_configuration(**kwargs))

    with pytest.raises(ComputeTargetException) as small:
        create("small-aks", agent_count=2)
    assert str(small.value).startswith("Invalid configuration, a FastProd cluster needs at least 12 vCPUs in total, "
                                       "but agent_count 2 x Standard_D3_v2 (4 vCPUs each) gives 8.")
    assert small.value.http_status == 400
    with pytest.raises(ComputeTargetException, match="unknown vm_size 'Standard_Q1'. Known sizes: Standard_A2_v2"):
        create("odd-aks", vm_size="Standard_Q1")
    for reserved in ("local", "amlcompute", "containerinstance"):
        with pytest.raises(ComputeTargetException, match="are reserved"):
            create(reserved)
    for bad in ("ab", "1-aks", "aks-", "has_underscore", "a" * 25):
        with pytest.raises(ComputeTargetException, match="must be 3 to 24 characters long, contain only letters, "
                                                         "digits and hyphens, start with a letter and end with a "
                                                         "letter or digit"):
            create(bad)
    create("gpu-aks", vm_size="Standard_NC6", agent_count=2).wait_for_completion()
    with pytest.raises(ComputeTargetException, match="A compute target named gpu-aks already exists"):
        create("gpu-aks", vm_size="Standard_NC6", agent_count=2)
    with pytest.raises(ComputeTargetException, match="No AKS cluster with resource id"):
        ComputeTarget.attach(ws, "ghost", AksCompute.attach_configuration(resource_group="default",
                                                                          cluster_name="no-such-cluster"))
    # Only the valid request left a trace.
    assert list(ws.compute_targets) == ["gpu-aks"]


def test_update_scaling_ssl_and_load_balancer(ws, certificate):
    aks = ComputeTarget.create(ws, "up-aks", AksCompute.provisioning_configuration())
    aks.wait_for_completion()
    aks.update(AksUpdateConfiguration(agent_count=6))
    assert aks.provisioning_state == "Updating"
    aks.wait_for_completion()
    assert aks.agent_count == 6
    with pytest.raises(ComputeTargetException, match=r"agent_count 2 x Standard_D3_v2 \(4 vCPUs each\) gives 8"):
        aks.update(AksUpdateConfiguration(agent_count=2))

    cert, key = certificate("svc.contoso.com")
    other_cert, other_key = certificate("other.contoso.com")
    read = lambda path: open(path).read()
    aks.update(AksUpdateConfiguration(SslConfiguration(status="Enabled", cert=read(cert), key=read(key),
                                                       cname="svc.contoso.com")))
    aks.wait_for_completion()
    assert aks.ssl_configuration.status == "Enabled"
    assert aks.ssl_configuration.cname == "svc.contoso.com"
    assert aks.ssl_configuration.key is None
    with pytest.raises(ComputeTargetException, match="The SSL key does not belong to the SSL certificate."):
        aks.update(AksUpdateConfiguration(SslConfiguration(status="Enabled", cert=read(cert), key=read(other_key),
                                                           cname="svc.contoso.com")))
    aks.update(AksUpdateConfiguration(load_balancer_type="InternalLoadBalancer", load_balancer_subnet="inner"))
    aks.wait_for_completion()
    assert (aks.load_balancer_type, aks.load_balancer_subnet) == ("InternalLoadBalancer", "inner")

    config = AksCompute.provisioning_configuration(agent_count=1, cluster_purpose="DevTest")
    config.enable_ssl(ssl_cname="svc.contoso.com", ssl_cert_pem_file=cert, ssl_key_pem_file=key)
    secure = ComputeTarget.create(ws, "ssl-aks", config)
    secure.wait_for_completion()
    assert secure.ssl_configuration.cname == "svc.contoso.com"
    config.ssl_key_pem_file = os.path.join(os.path.dirname(cert), "missing.pem")
    with pytest.raises(ComputeTargetException, match="Error while reading ssl information:\nCannot read"):
        ComputeTarget.create(ws, "no-key", config)


def test_serialize_deserialize_and_credentials(ws):
    aks = ComputeTarget.create(ws, "ser-aks", AksCompute.provisioning_configuration(agent_count=1,
                                                                                   cluster_purpose="DevTest"))
    aks.wait_for_completion()
    data = aks.serialize()
    assert data["name"] == "ser-aks" and data["properties"]["computeType"] == "AKS"
    assert data["properties"]["properties"]["agentCount"] == 1
    copy = AksCompute.deserialize(ws, data)
    assert copy.serialize() == data
    with pytest.raises(ComputeTargetException, match="does not belong to workspace"):
        AksCompute.deserialize(Workspace.create("elsewhere"), data)
    assert aks.get_status() == "Succeeded"
    credentials = aks.get_credentials()
    assert credentials["scoringEndpoint"] == aks.scoring_endpoint
    assert credentials["userKubeConfig"] is None


def test_concurrent_creates_of_one_name(ws, home):
    results = []

    def create():
        try:
            ComputeTarget.create(ws, "race-aks", AksCompute.provisioning_configuration(agent_count=1,
                                                                                      cluster_purpose="DevTest"))
            results.append("created")
        except ComputeTargetException as e:
            results.append(str(e))

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("created") == 1
    assert all("A compute target named race-aks already exists" in r for r in results if r != "created")
    ComputeTarget(ws, "race-aks").wait_for_completion()
    assert len(home.frontend_pids()) == 1


def test_wait_timeout_raises_a_timeout_error_and_the_operation_continues(slow_home):
    ws = Workspace.create("slow-ws")
    aks = ComputeTarget.create(ws, "slow-aks", AksCompute.provisioning_configuration(agent_count=1,
                                                                                    cluster_purpose="DevTest"))
    start = time.monotonic()
    with pytest.raises(TimeoutError) as error:
        aks.wait_for_completion(timeout=0.5)
    assert time.monotonic() - start < 2
    assert isinstance(error.value, ComputeTargetTimeoutException)
    assert isinstance(error.value, ComputeTargetException)
    assert "exceeded timeout override of 0.5s" in str(error.value)
    with pytest.raises(ComputeTargetException, match="has a running ComputeProvision operation"):
        aks.delete()
    with pytest.raises(ComputeTargetException, match="timeout must be a positive number"):
        aks.wait_for_completion(timeout=0)
    aks.wait_for_completion()
    assert aks.provisioning_state == "Succeeded"


def test_ctrl_c_interrupts_a_wait_within_a_second(slow_home):
    ws = Workspace.create("int-ws")
    aks = ComputeTarget.create(ws, "int-aks", AksCompute.provisioning_configuration(agent_count=1,
                                                                                   cluster_purpose="DevTest"))
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        aks.wait_for_completion(show_output=True)
    assert time.monotonic() - start < 1.3
    timer.join()
    aks.wait_for_completion()
    assert aks.provisioning_state == "Succeeded"


def test_exceptions_carry_details(ws):
    with pytest.raises(AzureMLException) as error:
        ComputeTarget(ws, "absent")
    assert error.value.error_code == "ComputeTargetNotFound"
    assert error.value.http_status == 404
    assert error.value.request_id
