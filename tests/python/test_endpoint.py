"""AksEndpoint: controlled rollout with versions, traffic percentiles, a default, control and treatments, as in
Azure ML's deploy-to-AKS article; real front end and replicas."""

import collections
import glob
import json
import os
import signal
import time
import urllib.request

import pytest

from amlcore import Model, Webservice, Workspace
from amlcore.compute import AksCompute, ComputeTarget
from amlcore.environment import Environment
from amlcore.exceptions import WebserviceException
from amlcore.model import InferenceConfig
from amlcore.webservice import AksEndpoint, AksEndpointDeploymentConfiguration, AksWebservice
from services import Traffic, get, post, script_dir

# Answers with the version that runs it (from the model file it was deployed with), or fails init() when asked.
VERSIONED = """
    import json, os
    def init():
        global tag
        with open(os.path.join(os.getenv("AZUREML_MODEL_DIR"), "tag.txt")) as f:
            tag = f.read().strip()
        if tag == "broken":
            raise RuntimeError("this version cannot start")
    def run(raw):
        return {"tag": tag}
"""


@pytest.fixture
def rollout(home, tmp_path):
    """A workspace, a cluster, and what a version needs: an inference config and a model per tag."""
    ws = Workspace.create("rollout-ws")
    target = ComputeTarget.create(ws, "rollout-aks", AksCompute.provisioning_configuration(
        agent_count=1, vm_size="Standard_D4_v2", cluster_purpose="DevTest"))
    target.wait_for_completion()
    inference = InferenceConfig(entry_script="score.py", source_directory=script_dir(tmp_path, VERSIONED),
                                environment=Environment("rollout-env"))

    def model(tag):
        path = tmp_path / "models" / tag / "tag.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(tag)
        return Model.register(ws, model_path=str(path), model_name="tag-" + tag)
    return ws, target, inference, model


def deploy_endpoint(ws, target, inference, model, **config):
    config.setdefault("version_name", "versiona")
    config.setdefault("traffic_percentile", 20)
    endpoint = Model.deploy(ws, "rollout-ep", [model], inference, AksEndpoint.deploy_configuration(
        cpu_cores=0.1, memory_gb=0.2, **config), target)
    endpoint.wait_for_deployment()
    return endpoint


def shares(endpoint, count, pin=None):
    """How many of `count` requests each version answered, by the response header that names it."""
    key = endpoint.get_keys()[0]
    seen = collections.Counter()
    for _ in range(count):
        headers = {"azureml-model-deployment": pin} if pin else None
        status, body, response_headers = post(endpoint.scoring_uri, "{}", key, headers)
        assert status == 200, body
        version = response_headers["azureml-model-deployment"]
        seen[version] += 1
    return seen


def metric_values(target):
    """The front end's /metrics as {series: value}."""
    # /metrics names every service: it takes the cluster's admin token.
    [token_file] = glob.glob(os.path.join(os.environ["AMLCORE_HOME"], "clusters", "*", "admin_token"))
    with open(token_file) as f:
        status, body = get(target.scoring_endpoint + "/metrics", f.read().strip())
    assert status == 200, body
    text = body.decode()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line and not line.startswith("#")}


def test_the_articles_controlled_rollout(rollout):
    ws, target, inference, model = rollout
    a, b = model("a"), model("b")
    endpoint_deployment_config = AksEndpoint.deploy_configuration(
        cpu_cores=0.1, memory_gb=0.2, enable_app_insights=True, tags={"sckitlearn": "demo"},
        description="testing versions", version_name="versiona", traffic_percentile=20)
    assert isinstance(endpoint_deployment_config, AksEndpointDeploymentConfiguration)
    endpoint = Model.deploy(ws, "mynewendpoint", [a], inference, endpoint_deployment_config, target)
    endpoint.wait_for_deployment(True)
    assert isinstance(endpoint, AksEndpoint) and endpoint.compute_type == "AKSENDPOINT"
    assert endpoint.state == "Healthy" and list(endpoint.versions) == ["versiona"]
    assert endpoint.versions["versiona"].is_default and endpoint.versions["versiona"].traffic_percentile == 20

    endpoint.create_version(version_name="versionb", inference_config=inference, models=[b],
                            tags={"modelVersion": "b"}, description="my second version", traffic_percentile=10)
    endpoint.wait_for_deployment(True)
    versions = endpoint.versions
    assert [(v.name, v.traffic_percentile, v.is_default, v.version_type, v.state) for v in versions.values()] == [
        ("versiona", 20, True, "Treatment", "Healthy"), ("versionb", 10, False, "Treatment", "Healthy")]
    assert versions["versionb"].tags == {"modelVersion": "b"}

    # The default takes what no percentile claims: a 90 %, b 10 %.
    seen = shares(endpoint, 1000)
    assert abs(seen["versionb"] / 1000 - 0.10) < 0.04, seen

    endpoint.update_version(version_name=endpoint.versions["versionb"].name, description="my second version update",
                            traffic_percentile=40, is_default=True, is_control_version_type=True)
    endpoint.wait_for_deployment(True)
    versions = endpoint.versions
    assert versions["versionb"].is_default and versions["versionb"].is_control_version_type
    assert not versions["versiona"].is_default and versions["versiona"].version_type == "Treatment"
    # b is the default now: a keeps its 20 %, b takes the 80 % left.
    seen = shares(endpoint, 1000)
    assert abs(seen["versiona"] / 1000 - 0.20) < 0.05, seen
    # Each version has its own logs.
    logs_b = endpoint.versions["versionb"].get_logs()
    assert "mynewendpoint.versionb." in logs_b and "mynewendpoint.versiona." not in logs_b

    endpoint.delete_version(version_name="versionb")
    endpoint.wait_for_deployment(True)
    assert list(endpoint.versions) == ["versiona"] and endpoint.versions["versiona"].is_default
    assert shares(endpoint, 20) == {"versiona": 20}
    assert isinstance(Webservice(ws, "mynewendpoint"), AksEndpoint)
    assert isinstance(AksEndpoint(ws, "mynewendpoint"), AksEndpoint)
    assert [type(s).__name__ for s in Webservice.list(ws, compute_type="AKSENDPOINT")] == ["AksEndpoint"]
    assert Webservice.list(ws, compute_type="AKS") == []
    endpoint.delete()
    with pytest.raises(WebserviceException, match="WebserviceNotFound"):
        Webservice(ws, "mynewendpoint")


def test_pinning_a_version_and_the_header_that_names_it(rollout):
    ws, target, inference, model = rollout
    endpoint = deploy_endpoint(ws, target, inference, model("a"))
    endpoint.create_version("versionb", inference_config=inference, models=[model("b")], traffic_percentile=50)
    endpoint.wait_for_deployment()
    before = metric_values(target)
    assert shares(endpoint, 30, pin="versionb") == {"versionb": 30}
    assert shares(endpoint, 30, pin="versiona") == {"versiona": 30}
    status, body, _ = post(endpoint.scoring_uri, "{}", endpoint.get_keys()[0],
                           {"azureml-model-deployment": "versionz"})
    assert status == 404
    assert json.loads(body)["message"] == (
        "Service rollout-ep has no version versionz (azureml-model-deployment); its versions are versiona, "
        "versionb.")
    # A version object scores with its own version.
    assert endpoint.versions["versionb"].run("{}") == {"tag": "b"}
    # /metrics counts per endpoint and version.
    after = metric_values(target)
    for version, count in (("versiona", 30), ("versionb", 31)):
        labels = 'service="rollout-ep",version="{}"'.format(version)
        assert after['amlcore_fe_requests_total{' + labels + ',code="200"}'] - before.get(
            'amlcore_fe_requests_total{' + labels + ',code="200"}', 0) == count
        assert after['amlcore_fe_request_duration_seconds_count{' + labels + '}'] - before.get(
            'amlcore_fe_request_duration_seconds_count{' + labels + '}', 0) == count


@pytest.fixture
def quick_to_zero(monkeypatch):
    """Set before the server starts: versions that may scale to zero do so after 2 s without a request."""
    monkeypatch.setenv("AMLCORE_SCALE_TO_ZERO_IDLE_SECONDS", "2")
    monkeypatch.setenv("AMLCORE_AUTOSCALE_STABILIZATION_SECONDS", "1")


def test_a_version_scaled_to_zero_keeps_its_share_and_wakes_for_it(quick_to_zero, rollout):
    # An amlcore extension: a version with autoscale_min_replicas=0 stops its last replica when idle, and the
    # requests its percentile sends it (not only pinned ones) wait in the queue while a replica starts.
    ws, target, inference, model = rollout
    endpoint = deploy_endpoint(ws, target, inference, model("a"), traffic_percentile=0)
    endpoint.create_version("versionb", inference_config=inference, models=[model("b")], traffic_percentile=50,
                            autoscale_enabled=True, autoscale_min_replicas=0, autoscale_max_replicas=1,
                            autoscale_refresh_seconds=1, max_request_wait_time=30000, cpu_cores=0.1, memory_gb=0.2)
    endpoint.wait_for_deployment()
    assert shares(endpoint, 40)["versionb"] > 0

    def scaled_to_zero():
        endpoint.update_deployment_state()
        return endpoint.versions["versionb"].serialize().get("desiredReplicas") == 0
    deadline = time.monotonic() + 60
    while not scaled_to_zero():
        assert time.monotonic() < deadline, "versionb did not scale to zero"
        time.sleep(0.2)
    seen = shares(endpoint, 60)
    assert seen["versionb"] > 0 and seen["versiona"] > 0, seen


@pytest.mark.parametrize("change, message", [
    (dict(version_name="versionb", traffic_percentile=90),
     "Error, the traffic percentiles of endpoint rollout-ep would add up to 110 (versiona=20, versionb=90); "
     "together they must be at most 100."),
    (dict(version_name="versiona", traffic_percentile=10),
     "Error, endpoint rollout-ep already has a version versiona; change it with update_version."),
    (dict(version_name="Version_B", traffic_percentile=10),
     "Error, version name 'Version_B' is invalid."),
    (dict(version_name="versionb", traffic_percentile=101),
     "Invalid configuration, traffic_percentile cannot be negative or greater than 100."),
    (dict(version_name="versionb", auth_enabled=False), "unexpected keyword argument 'auth_enabled'"),
    (dict(version_name=None), "No name is provided to create a version in an Endpoint rollout-ep"),
])
def test_version_rules_refuse_and_change_nothing(rollout, change, message):
    ws, target, inference, model = rollout
    endpoint = deploy_endpoint(ws, target, inference, model("a"))
    with pytest.raises((WebserviceException, TypeError)) as error:
        endpoint.create_version(inference_config=inference, **change)
    assert message in str(error.value)
    endpoint.update_deployment_state()
    assert list(endpoint.versions) == ["versiona"] and endpoint.state == "Healthy"


def test_at_most_six_versions_one_control_and_the_last_cannot_go(rollout, capsys):
    ws, target, inference, model = rollout
    endpoint = deploy_endpoint(ws, target, inference, model("a"), traffic_percentile=0)
    for name in ("versionb", "versionc", "versiond", "versione", "versionf"):
        endpoint.create_version(name, inference_config=inference, models=[model("a")], cpu_cores=0.1,
                                memory_gb=0.1)
        endpoint.wait_for_deployment()
    with pytest.raises(WebserviceException) as error:
        endpoint.create_version("versiong", inference_config=inference, cpu_cores=0.1, memory_gb=0.1)
    assert "Error, endpoint rollout-ep would have 7 versions; an endpoint has at most 6." in str(error.value)
    endpoint.update_version("versionb", is_control_version_type=True)
    endpoint.wait_for_deployment()
    endpoint.update_version("versionc", is_control_version_type=True)  # the control moves
    endpoint.wait_for_deployment()
    assert [n for n, v in endpoint.versions.items() if v.is_control_version_type] == ["versionc"]
    # Deleting the default hands it to the control version, and the operation log says so.
    capsys.readouterr()
    endpoint.delete_version("versiona")
    endpoint.wait_for_deployment(show_output=True)
    assert "Version versiona was the default; version versionc (the control version) is the default now" in (
        capsys.readouterr().out)
    assert "versiona" not in endpoint.versions and endpoint.versions["versionc"].is_default
    for name in ("versionb", "versiond", "versione", "versionf"):
        endpoint.delete_version(name)
        endpoint.wait_for_deployment()
    with pytest.raises(WebserviceException, match="Error, versionc is the last version of endpoint rollout-ep; "
                                                  "delete the endpoint instead."):
        endpoint.delete_version("versionc")
    with pytest.raises(WebserviceException, match="has no version nosuch"):
        endpoint.delete_version("nosuch")


def test_a_failing_version_leaves_the_others_serving(rollout):
    ws, target, inference, model = rollout
    endpoint = deploy_endpoint(ws, target, inference, model("a"))
    endpoint.create_version("broken", inference_config=inference, models=[model("broken")], traffic_percentile=50)
    with pytest.raises(WebserviceException) as error:
        endpoint.wait_for_deployment()
    assert "UserScriptInitFailed" in str(error.value)
    endpoint.update_deployment_state()
    assert endpoint.versions["broken"].state == "Failed"
    assert endpoint.versions["versiona"].state == "Healthy"
    assert endpoint.state == "Unhealthy" and "Version broken:" in endpoint.error["message"]
    # Its share goes to the default: every request is answered by versiona.
    assert shares(endpoint, 40) == {"versiona": 40}
    assert "this version cannot start" in endpoint.versions["broken"].get_logs()
    # Pinned, the failed version answers 503, and /metrics counts it under its name and status.
    status, body, headers = post(endpoint.scoring_uri, "{}", endpoint.get_keys()[0],
                                 {"azureml-model-deployment": "broken"})
    assert status == 503 and headers["azureml-model-deployment"] == "broken", body
    metrics = metric_values(target)
    assert metrics['amlcore_fe_requests_total{service="rollout-ep",version="broken",code="503"}'] == 1
    assert metrics['amlcore_fe_rejected_requests_total{service="rollout-ep",version="broken",'
                   'reason="no_ready_replica"}'] == 1
    assert metrics['amlcore_fe_ready_replicas{service="rollout-ep",version="broken"}'] == 0


def test_versions_join_change_and_go_under_traffic_without_a_failed_request(rollout, home):
    ws, target, inference, model = rollout
    endpoint = deploy_endpoint(ws, target, inference, model("a"), traffic_percentile=0)
    versiona = [r["pid"] for r in home.replicas("rollout-ep")]
    with Traffic(endpoint.scoring_uri, endpoint.get_keys()[0], connections=4) as traffic:
        traffic.wait_for(100)
        # A new version joins when its replicas are ready; until then the default answers.
        endpoint.create_version("versionb", inference_config=inference, models=[model("b")], traffic_percentile=50)
        endpoint.wait_for_deployment()
        traffic.wait_for(len(traffic.records) + 200)
        # A new model for versionb: new replicas, then the old ones drain.
        endpoint.update_version("versionb", models=[model("c")])
        endpoint.wait_for_deployment()
        assert endpoint.versions["versionb"].run("{}") == {"tag": "c"}
        traffic.wait_for(len(traffic.records) + 200)
        # Traffic moves, and versionb goes.
        endpoint.update_version("versionb", traffic_percentile=90)
        endpoint.wait_for_deployment()
        traffic.wait_for(len(traffic.records) + 100)
        endpoint.delete_version("versionb")
        endpoint.wait_for_deployment()
        traffic.wait_for(len(traffic.records) + 100)
    assert traffic.failures() == []
    assert len(traffic.successes()) > 700
    # None of that restarted versiona (its autoscaler may have added replicas for the load).
    assert set(versiona) <= {r["pid"] for r in home.replicas("rollout-ep")}
    assert endpoint.versions["versiona"].run("{}") == {"tag": "a"}


def test_deleting_an_endpoint_leaves_no_process(rollout, home):
    ws, target, inference, model = rollout
    endpoint = deploy_endpoint(ws, target, inference, model("a"))
    endpoint.create_version("versionb", inference_config=inference, models=[model("b")], traffic_percentile=30)
    endpoint.wait_for_deployment()
    assert len(home.replicas("rollout-ep")) == 2
    endpoint.delete()
    assert home.replicas("rollout-ep") == []


def test_an_endpoint_survives_a_restart_of_amlcored(rollout, home):
    ws, target, inference, model = rollout
    endpoint = deploy_endpoint(ws, target, inference, model("a"))
    endpoint.create_version("versionb", inference_config=inference, models=[model("b")], traffic_percentile=30)
    endpoint.wait_for_deployment()
    os.kill(home.server_pid(), signal.SIGKILL)
    # The data plane keeps serving both versions while the server is down.
    assert shares(endpoint, 20, pin="versionb") == {"versionb": 20}
    again = AksEndpoint(ws, "rollout-ep")  # the SDK starts the server again
    assert list(again.versions) == ["versiona", "versionb"]
    assert again.versions["versionb"].traffic_percentile == 30 and again.state == "Healthy"
    again.update_version("versionb", traffic_percentile=60)
    again.wait_for_deployment()
    assert again.versions["versionb"].traffic_percentile == 60


def test_the_endpoints_own_settings_keys_swagger_and_serialize(rollout):
    ws, target, inference, model = rollout
    endpoint = deploy_endpoint(ws, target, inference, model("a"))
    endpoint.create_version("versionb", inference_config=inference, models=[model("b")], traffic_percentile=30)
    endpoint.wait_for_deployment()
    old_key = endpoint.get_keys()[0]
    endpoint.regen_key("Primary")
    new_key = endpoint.get_keys()[0]
    assert new_key != old_key
    assert post(endpoint.scoring_uri, "{}", old_key)[0] == 401
    assert post(endpoint.scoring_uri, "{}", new_key)[0] == 200
    swagger = urllib.request.Request(endpoint.swagger_uri, headers={"Authorization": "Bearer " + new_key})
    with urllib.request.urlopen(swagger) as response:
        assert response.status == 200 and response.headers["azureml-model-deployment"] in ("versiona", "versionb")

    endpoint.update(auth_enabled=False, description="open for a demo", tags={"stage": "demo"})
    endpoint.wait_for_deployment()
    assert post(endpoint.scoring_uri, "{}", None)[0] == 200
    again = AksEndpoint(ws, "rollout-ep")
    assert (again.auth_enabled, again.description, again.tags) == (False, "open for a demo", {"stage": "demo"})
    # The versions' own settings are untouched.
    assert again.versions["versionb"].traffic_percentile == 30
    with pytest.raises(WebserviceException, match="tags must be a dict of strings to strings"):
        endpoint.update(tags=["stage"])
    with pytest.raises(WebserviceException, match="auth_enabled"):
        endpoint.update(auth_enabled="yes")

    document = endpoint.serialize()
    assert document["computeType"] == "AKSENDPOINT" and set(document["versions"]) == {"versiona", "versionb"}
    versionb = document["versions"]["versionb"]
    assert (versionb["trafficPercentile"], versionb["isDefault"], versionb["type"]) == (30, False, "Treatment")
    assert versionb["models"] == [{"id": "tag-b:1", "name": "tag-b", "version": 1}]


def test_version_signatures_are_azuremls():
    import inspect
    create = list(inspect.signature(AksEndpoint.create_version).parameters)
    assert create[:3] == ["self", "version_name", "autoscale_enabled"]
    assert create[create.index("description") + 1:create.index("description") + 3] == ["models", "inference_config"]
    assert create[create.index("traffic_percentile"):create.index("traffic_percentile") + 5] == [
        "traffic_percentile", "is_default", "is_control_version_type", "cpu_cores_limit", "memory_gb_limit"]
    assert list(inspect.signature(AksEndpoint.update_version).parameters) == create
    deploy = list(inspect.signature(AksEndpoint.deploy_configuration).parameters)
    assert "blobfuse_enabled" not in deploy and deploy[deploy.index("token_auth_enabled") + 1:][:3] == [
        "version_name", "traffic_percentile", "compute_target_name"]
    assert AksEndpoint.VersionType.control.value == "Control"
    assert AksEndpoint.VersionType.treatment.value == "Treatment"
    with pytest.raises(WebserviceException, match="traffic_percentile cannot be negative or greater than 100"):
        AksEndpoint.deploy_configuration(traffic_percentile=-1)
    with pytest.raises(TypeError):
        AksEndpoint.deploy_configuration(blobfuse_enabled=True)
    with pytest.raises(TypeError):
        AksWebservice.deploy_configuration(version_name="a")
