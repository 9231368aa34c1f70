"""Autoscaling end to end: the front end's autoscaler follows a service's load between its minimum and maximum
replicas, as far as the cluster holds capacity, with no failed request while it scales; the counts show in the
service's document."""

import time

import pytest

from amlcore import Workspace
from amlcore.compute import AksCompute, ComputeTarget
from services import ECHO, Traffic, deploy, script_dir


@pytest.fixture
def quick_scale_down(home, monkeypatch):
    """A server (started by the test) whose front ends scale down after 2 s of low load instead of 60 s."""
    monkeypatch.setenv("AMLCORE_AUTOSCALE_STABILIZATION_SECONDS", "2")
    return home


def cluster(agents=2, vm_size="Standard_D4_v2"):
    ws = Workspace.create("scale-ws")
    target = ComputeTarget.create(ws, "scale-aks", AksCompute.provisioning_configuration(
        agent_count=agents, vm_size=vm_size, cluster_purpose="DevTest"))
    target.wait_for_completion()
    return ws, target


def replicas(service):
    service.update_deployment_state()
    document = service.serialize()
    return document.get("readyReplicas"), document.get("desiredReplicas"), document.get("wantedReplicas")


def wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


def test_replicas_follow_the_load_up_and_back_down_without_failed_requests(quick_scale_down, tmp_path):
    ws, target = cluster()
    service = deploy(ws, target, script_dir(tmp_path, ECHO), name="scaled", num_replicas=None,
                     autoscale_enabled=True, autoscale_min_replicas=1, autoscale_max_replicas=3,
                     autoscale_refresh_seconds=1, autoscale_target_utilization=70, max_request_wait_time=10000)
    service.wait_for_deployment()
    assert wait_until(lambda: replicas(service)[1] == 1, 20, "the service's replica counts")
    # Four clients, each always waiting for a 0.2 s answer: four requests in flight for one replica at a time.
    with Traffic(service.scoring_uri, key=service.get_keys()[0], body=b'{"sleep": 0.2}', connections=4,
                 max_seconds=90) as load:
        wait_until(lambda: replicas(service)[0] == 3, 60, "three ready replicas under load")
        assert replicas(service)[1:] == (3, 3) or replicas(service)[2] >= 3
        load.wait_for(len(load.records) + 20)
    assert load.failures() == []
    # Idle: after the stabilization window, back to the minimum.
    wait_until(lambda: replicas(service)[1] == 1, 60, "the minimum of one replica once idle")
    assert service.state == "Healthy"
    assert service.run('{"after": true}') == {"echo": {"after": True}}
    # Each change is in the deployment's operation log, with what the load asked for.
    log = service.get_logs(init=True)
    assert "Service scaled scaled from 1 to " in log and " replicas: its load asks for " in log, log
    assert " to 1 replicas: its load asks for " in log, log


def test_a_scale_up_waits_for_capacity_and_says_what_the_load_asks_for(quick_scale_down, tmp_path):
    # One agent of 8 vCPUs: room for two replicas of 3.5 CPU, the load asks for three.
    ws, target = cluster(agents=1)
    service = deploy(ws, target, script_dir(tmp_path, ECHO), name="capped", num_replicas=None, cpu_cores=3.5,
                     autoscale_enabled=True, autoscale_min_replicas=1, autoscale_max_replicas=3,
                     autoscale_refresh_seconds=1, max_request_wait_time=10000)
    service.wait_for_deployment()
    with Traffic(service.scoring_uri, key=service.get_keys()[0], body=b'{"sleep": 0.2}', connections=4,
                 max_seconds=90) as load:
        wait_until(lambda: replicas(service) == (2, 2, 3), 60, "two replicas running and three wanted")
    assert load.failures() == []


def test_a_service_scales_to_zero_when_idle_and_wakes_for_a_request(home, monkeypatch, tmp_path):
    # An amlcore extension: autoscale_min_replicas=0. Idle for 3 s, the last replica stops.
    monkeypatch.setenv("AMLCORE_SCALE_TO_ZERO_IDLE_SECONDS", "3")
    monkeypatch.setenv("AMLCORE_AUTOSCALE_STABILIZATION_SECONDS", "1")
    ws, target = cluster()
    service = deploy(ws, target, script_dir(tmp_path, ECHO), name="to-zero", num_replicas=None,
                     autoscale_enabled=True, autoscale_min_replicas=0, autoscale_max_replicas=2,
                     autoscale_refresh_seconds=1, max_request_wait_time=30000)
    service.wait_for_deployment()
    assert service.run('{"first": 1}') == {"echo": {"first": 1}}
    wait_until(lambda: replicas(service)[:2] == (0, 0), 60, "the service scaled to zero")
    # Scaled to zero is not a failure: the service is Healthy with no replica, and the cluster has none of it.
    assert service.state == "Healthy"
    assert home.replicas("to-zero") == []
    assert ("Service to-zero scaled to zero: it had no request for its idle period; the next request starts a "
            "replica.") in service.get_logs(init=True)
    # The next request waits in the queue while a replica starts, and is answered.
    assert service.run('{"again": 2}') == {"echo": {"again": 2}}
    assert len(home.replicas("to-zero")) == 1


def test_scale_to_zero_needs_autoscaling_and_a_wait_long_enough(ws, tmp_path):
    from amlcore.exceptions import WebserviceException
    from amlcore.webservice import AksWebservice
    with pytest.raises(WebserviceException, match="autoscale_min_replicas provided without enabling autoscaling"):
        AksWebservice.deploy_configuration(autoscale_min_replicas=0, num_replicas=1)
    with pytest.raises(WebserviceException, match="autoscale_min_replicas must be greater than or equal to zero"):
        AksWebservice.deploy_configuration(autoscale_enabled=True, autoscale_min_replicas=-1)


def test_the_autoscaling_policy_changes_in_place(quick_scale_down, tmp_path):
    ws, target = cluster()
    service = deploy(ws, target, script_dir(tmp_path, ECHO), name="policy", num_replicas=None,
                     autoscale_enabled=True, autoscale_min_replicas=1, autoscale_max_replicas=1,
                     autoscale_refresh_seconds=1, max_request_wait_time=10000)
    service.wait_for_deployment()
    before = sorted(p["pid"] for p in quick_scale_down.replicas("policy"))
    # A new maximum (with autoscale_enabled as it is) needs no new replicas: the running one stays.
    service.update(autoscale_enabled=True, autoscale_max_replicas=3)
    service.wait_for_deployment()
    assert sorted(p["pid"] for p in quick_scale_down.replicas("policy")) == before
    assert service.serialize()["autoScaler"]["maxReplicas"] == 3
    with Traffic(service.scoring_uri, key=service.get_keys()[0], body=b'{"sleep": 0.2}', connections=4,
                 max_seconds=90) as load:
        wait_until(lambda: replicas(service)[0] == 3, 60, "three ready replicas under the new maximum")
    assert load.failures() == []
