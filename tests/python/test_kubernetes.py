"""The Kubernetes backend against the Kubernetes API server double (tests/k8s_double): the article's attach and
deploy code, run unchanged but for its imports, with kubectl, Debian's python3-kubernetes and Kubernetes'
published schemas checking what amlcore wrote. With AMLCORE_TEST_KUBECONFIG pointing at a real cluster's
kubeconfig (and AMLCORE_TEST_KUBE_CONTEXT naming its context), the same tests run against that cluster instead:
its nodes must pull the runtime image named by AMLCORE_TEST_IMAGE (see docker/README.md)."""

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import joblib
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

from amlcore import Environment, Model, Workspace
from amlcore.compute import AksCompute, ComputeTarget
from amlcore.conda_dependencies import CondaDependencies
from amlcore.exceptions import ComputeTargetException, WebserviceException
from amlcore.model import InferenceConfig
from amlcore.webservice import AksWebservice, Webservice
from services import get, post

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIABETES_SOURCE = os.path.join(ROOT, "examples", "python", "diabetes")
X, Y = load_diabetes(return_X_y=True)
SAMPLE = json.dumps({"data": [X[0].tolist()]})
KUBECTL = shutil.which("kubectl")
NAMESPACE = "azureml"


def wait_for(what, check, timeout=120.0, interval=0.2):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for " + what)
        time.sleep(interval)


class Cluster:
    """The double (or a real cluster), reached through a kubeconfig whose context is named `myaks`."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.pid = None
        real = os.environ.get("AMLCORE_TEST_KUBECONFIG")
        if real:
            self.kubeconfig = real
            self.context = os.environ.get("AMLCORE_TEST_KUBE_CONTEXT", "myaks")
            self.double = False
            return
        import amlcore
        # The runtime image as the double runs it: amlcore's programs from the installed package, on the host.
        image = os.path.join(tmp, "image")
        os.makedirs(os.path.join(image, "bin"))
        package_bin = os.path.join(os.path.dirname(amlcore.__file__), "bin")
        for program in ("amlcore-score", "amlcore-fe"):
            os.symlink(os.path.join(package_bin, program), os.path.join(image, "bin", program))
        self.kubeconfig = os.path.join(tmp, "kubeconfig")
        self.context = "myaks"
        self.double = True
        out = subprocess.run([os.path.join(ROOT, "scripts", "k8s-double.sh"), "--kubeconfig", self.kubeconfig,
                              "--state-dir", os.path.join(tmp, "state"), "--image", "amlcore/runtime=" + image,
                              "--backoff-base", "1", "--exit-with", str(os.getpid())],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120, text=True)
        assert out.returncode == 0, out.stderr
        self.pid = int(out.stdout.strip())

    def kubectl(self, *args, check=True, timeout=120):
        r = subprocess.run([KUBECTL, "--kubeconfig", self.kubeconfig, "--context", self.context] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
        if check:
            assert r.returncode == 0, "kubectl {} failed: {}{}".format(" ".join(args), r.stdout, r.stderr)
        return r

    def get_json(self, *args):
        return json.loads(self.kubectl("get", "-o", "json", *args).stdout)

    def double_api(self, method, path, body=None):
        """The double's own endpoints (what clients wrote, permissions to deny), with the kubeconfig's token."""
        import ssl
        import urllib.request
        import yaml
        with open(self.kubeconfig) as f:
            config = yaml.safe_load(f)
        cluster = config["clusters"][0]["cluster"]
        token = [u for u in config["users"] if "token" in u["user"]][0]["user"]["token"]
        context = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
        request = urllib.request.Request(cluster["server"] + path, method=method,
                                         data=None if body is None else json.dumps(body).encode())
        request.add_header("Authorization", "Bearer " + token)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, context=context, timeout=60) as r:
            return json.loads(r.read() or b"null")

    def stop(self):
        if self.pid:
            subprocess.run(["kill", str(self.pid)])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if KUBECTL is None:
        pytest.skip("needs kubectl")
    c = Cluster(str(tmp_path_factory.mktemp("kubernetes")))
    yield c
    c.stop()


@pytest.fixture
def kube_ws(home, cluster, monkeypatch):
    """A workspace whose server reads the cluster's kubeconfig (KUBECONFIG, as after az aks get-credentials)."""
    monkeypatch.setenv("KUBECONFIG", cluster.kubeconfig)
    return Workspace.create("kube-ws", exist_ok=True, resource_group="rg")


def real_cluster_settings(cluster, **settings):
    """A real cluster may name its context otherwise, and needs an image its nodes can pull (AMLCORE_TEST_IMAGE)."""
    if not cluster.double:
        settings.setdefault("context", cluster.context)
        if os.environ.get("AMLCORE_TEST_IMAGE"):
            settings.setdefault("image", os.environ["AMLCORE_TEST_IMAGE"])
    return settings


def attach(ws, cluster, name="myaks", **settings):
    # The article's code: attach the cluster az aks get-credentials made a context for.
    settings = real_cluster_settings(cluster, **settings)
    attach_config = AksCompute.attach_configuration(resource_group="rg", cluster_name="myaks", **settings)
    aks_target = ComputeTarget.attach(ws, name, attach_config)
    aks_target.wait_for_completion(show_output=True)
    return aks_target


def diabetes_model(ws, tmp_path):
    path = tmp_path / "sklearn_regression_model.pkl"
    joblib.dump(Ridge().fit(X, Y), path)
    return Model.register(ws, str(path), "diabetes", tags={"area": "health"})


def amlcore_writes(cluster):
    """Every object amlcore wrote to the double, as the double stored it."""
    items = cluster.double_api("GET", "/_double/writes")["items"]
    return [w["object"] for w in items
            if "delete" not in w.get("verb", "") and isinstance(w.get("object"), dict) and
            w["object"].get("metadata", {}).get("labels", {}).get("app.kubernetes.io/managed-by") == "amlcore"]


def test_the_article_attaches_deploys_scores_updates_and_deletes(kube_ws, cluster, home, tmp_path, capsys):
    ws = kube_ws
    aks_target = attach(ws, cluster)
    out = capsys.readouterr().out
    assert 'Provisioning operation finished, operation "Succeeded"' in out
    assert aks_target.provisioning_state == "Succeeded" and aks_target.is_attached
    assert aks_target.scoring_endpoint.startswith("http://")
    router = cluster.get_json("deployment", "amlcore-router", "-n", NAMESPACE)
    assert router["status"]["availableReplicas"] >= 1

    model = diabetes_model(ws, tmp_path)
    env = Environment("sklearn-env")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["scikit-learn", "joblib"])
    inference_config = InferenceConfig(entry_script="score.py", source_directory=DIABETES_SOURCE, environment=env)
    deployment_config = AksWebservice.deploy_configuration(cpu_cores=0.5, memory_gb=0.5)
    service = Model.deploy(ws, "diabetes", [model], inference_config, deployment_config, aks_target)
    service.wait_for_deployment(show_output=True)
    assert service.state == "Healthy", service.get_logs()
    assert service.scoring_uri == aks_target.scoring_endpoint + "/api/v1/service/diabetes/score"

    prediction = service.run(SAMPLE)
    assert abs(prediction[0] - Ridge().fit(X, Y).predict(X[:1])[0]) < 1e-6
    primary, _ = service.get_keys()
    status, body, _ = post(service.scoring_uri, SAMPLE, primary)
    assert status == 200, body
    assert post(service.scoring_uri, SAMPLE)[0] == 401
    assert get(aks_target.scoring_endpoint + "/")[0] == 200

    # What Kubernetes itself says, through kubectl.
    deployments = cluster.get_json("deployments", "-n", NAMESPACE, "-l", "amlcore.io/endpoint=diabetes")["items"]
    assert len(deployments) == 1
    name = deployments[0]["metadata"]["name"]
    assert deployments[0]["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    scoring = deployments[0]["spec"]["template"]["spec"]["containers"][0]
    assert scoring["resources"]["requests"] == {"cpu": "500m", "memory": "512Mi"}
    assert "rolled out" in cluster.kubectl("rollout", "status", "deployment/" + name, "-n", NAMESPACE,
                                           "--timeout=60s").stdout
    assert cluster.get_json("service", name, "-n", NAMESPACE)["spec"]["type"] == "ClusterIP"
    assert "Fetched the source snapshot and 1 model file" in cluster.kubectl(
        "logs", "deployment/" + name, "-c", "fetch-artifacts", "-n", NAMESPACE).stdout
    described = cluster.kubectl("describe", "pods", "-l", "amlcore.io/endpoint=diabetes", "-n", NAMESPACE).stdout
    assert "fetch-artifacts:" in described and "scoring:" in described and "Ready" in described
    assert cluster.kubectl("get", "pods", "-l", "amlcore.io/endpoint=diabetes", "-n", NAMESPACE,
                           "--no-headers").stdout.startswith(name + "-")

    # A rolling update to two replicas, and the logs of the one that shows the service.
    service.update(num_replicas=2)
    service.wait_for_deployment()
    assert service.state == "Healthy"
    assert cluster.get_json("deployment", name, "-n", NAMESPACE)["spec"]["replicas"] == 2
    assert service.run(SAMPLE) == prediction
    logs = service.get_logs()
    assert "1 of 2" in logs and "diabetes" in logs, logs

    # Scoring goes on while the workspace server is down, and after its router restarted meanwhile: the router
    # reads its routes, keys and replicas from the cluster.
    os.kill(home.server_pid(), signal.SIGKILL)
    assert post(service.scoring_uri, SAMPLE, primary)[0] == 200
    cluster.kubectl("delete", "pods", "-l", "app.kubernetes.io/component=router", "-n", NAMESPACE, "--wait=false")
    def served():
        try:
            return post(service.scoring_uri, SAMPLE, primary)[0] == 200
        except OSError:  # no router listens for a moment
            return False
    wait_for("the new router to serve", served)
    assert post(service.scoring_uri, SAMPLE)[0] == 401
    # The next SDK call starts a new server, which finds the service as it runs.
    again = Webservice(ws, "diabetes")
    assert again.state == "Healthy" and again.run(SAMPLE) == prediction

    if cluster.double:
        written = amlcore_writes(cluster)
        kinds = {o.get("kind") for o in written}
        assert {"Deployment", "Service", "Secret", "ConfigMap", "ServiceAccount", "Role", "RoleBinding"} <= kinds
        # Every manifest amlcore wrote validates against Kubernetes' published schemas.
        manifests = tmp_path / "written.json"
        manifests.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": written}))
        r = subprocess.run([os.path.join(ROOT, "scripts", "validate-manifests.sh"), str(manifests)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
        assert r.returncode == 0, r.stdout
        # Debian's python3-kubernetes reads back every object amlcore wrote through its typed models.
        from kubernetes import client, config
        api = config.new_client_from_config(config_file=cluster.kubeconfig, context=cluster.context)
        core, apps, rbac = client.CoreV1Api(api), client.AppsV1Api(api), client.RbacAuthorizationV1Api(api)
        readers = {"Deployment": apps.read_namespaced_deployment, "Service": core.read_namespaced_service,
                   "Secret": core.read_namespaced_secret, "ConfigMap": core.read_namespaced_config_map,
                   "ServiceAccount": core.read_namespaced_service_account, "Role": rbac.read_namespaced_role,
                   "RoleBinding": rbac.read_namespaced_role_binding, "Namespace": None}
        for o in written:
            read = readers.get(o["kind"])
            if read is None:
                continue
            md = o["metadata"]
            try:
                back = read(md["name"], md["namespace"])
            except client.exceptions.ApiException as e:
                assert e.status == 404  # deleted since (a replaced blob, a scaled-away object)
                continue
            assert back.metadata.labels["app.kubernetes.io/managed-by"] == "amlcore"

    service.delete()
    wait_for("the version's objects to go", lambda: not cluster.get_json(
        "deployments,services", "-n", NAMESPACE, "-l", "amlcore.io/endpoint=diabetes")["items"])
    # Detaching removes nothing from the cluster: the router stays.
    aks_target.detach()
    assert cluster.get_json("deployment", "amlcore-router", "-n", NAMESPACE)["metadata"]["name"] == "amlcore-router"


def test_attach_names_what_is_missing(kube_ws, cluster):
    ws = kube_ws
    with pytest.raises(ComputeTargetException) as e:
        ComputeTarget.attach(ws, "nosuch", AksCompute.attach_configuration(resource_group="rg", cluster_name="nosuch"))
    assert "nosuch" in str(e.value) and "az aks get-credentials" in str(e.value)
    with pytest.raises(ComputeTargetException) as e:
        AksCompute.attach_configuration(resource_group="rg", cluster_name="myaks", namespace="Bad_NS")
    assert "is not a Kubernetes namespace name" in str(e.value)
    with pytest.raises(ComputeTargetException) as e:
        AksCompute.attach_configuration(resource_group="rg", cluster_name="myaks", kubeconfig="relative/config")
    assert "must be absolute" in str(e.value)
    # The resource id form reaches the same cluster (its last part names the context).
    by_id = ComputeTarget.attach(ws, "byid", AksCompute.attach_configuration(
        resource_id="/subscriptions/{}/resourcegroups/rg/providers/Microsoft.ContainerService/managedClusters/"
                    "myaks".format(ws.subscription_id),
        **real_cluster_settings(cluster)))
    by_id.wait_for_completion()
    assert by_id.provisioning_state == "Succeeded" and by_id.is_attached
    by_id.detach()
    if not cluster.double:
        return
    # Permissions: the user may not create Deployments in the namespace asked for.
    rule = {"verb": "create", "group": "apps", "resource": "deployments", "namespace": "locked"}
    cluster.double_api("POST", "/_double/deny", rule)
    try:
        with pytest.raises(ComputeTargetException) as e:
            attach(ws, cluster, "locked", namespace="locked")
        assert "may not create deployments.apps in namespace locked" in str(e.value)
    finally:
        cluster.double_api("DELETE", "/_double/deny", rule)


def test_a_failing_init_fails_the_deployment_with_its_log_and_delete_of_an_attached_cluster_is_refused(
        kube_ws, cluster, tmp_path):
    ws = kube_ws
    aks_target = attach(ws, cluster, "crashy")
    source = tmp_path / "src"
    source.mkdir()
    (source / "score.py").write_text("def init():\n    raise RuntimeError('no model for you')\n\n"
                                     "def run(data):\n    return data\n")
    config = InferenceConfig(entry_script="score.py", source_directory=str(source))
    service = Model.deploy(ws, "crashy", [], config, AksWebservice.deploy_configuration(cpu_cores=0.1,
                                                                                       memory_gb=0.25), aks_target)
    with pytest.raises(WebserviceException) as e:
        service.wait_for_deployment()
    message = str(e.value)
    assert "UserScriptInitFailed" in message and "no model for you" in message, message
    service.delete()
    with pytest.raises(ComputeTargetException) as e:
        aks_target.delete()
    assert "attached" in str(e.value)
    aks_target.detach()


ECHO = """
import json, time
def init():
    pass
def run(raw):
    data = json.loads(raw)
    if data.get("sleep"):
        time.sleep(data["sleep"])
    return {"echo": data}
"""

VERSIONED = """
import os
def init():
    global tag
    root = os.environ["AZUREML_MODEL_DIR"]
    tag = open(os.path.join(root, "tag.txt")).read()
def run(raw):
    return {"version": tag}
"""


def test_endpoint_versions_split_traffic_token_auth_and_autoscaling_on_kubernetes(kube_ws, cluster, tmp_path):
    from amlcore.webservice import AksEndpoint
    from services import Traffic, script_dir
    import collections
    ws = kube_ws
    aks_target = attach(ws, cluster, "versions")

    # Controlled rollout: two versions of an endpoint, their shares of traffic through the router in the cluster.
    def model(tag):
        path = tmp_path / "models" / tag / "tag.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(tag)
        return Model.register(ws, model_path=str(path), model_name="tag-" + tag)
    inference = InferenceConfig(entry_script="score.py", source_directory=script_dir(tmp_path, VERSIONED, "v"))
    endpoint = Model.deploy(ws, "rollout-ep", [model("a")], inference, AksEndpoint.deploy_configuration(
        cpu_cores=0.1, memory_gb=0.2, version_name="versiona", traffic_percentile=20), aks_target)
    endpoint.wait_for_deployment()
    endpoint.create_version(version_name="versionb", inference_config=inference, models=[model("b")],
                            traffic_percentile=30)
    endpoint.wait_for_deployment()
    key = endpoint.get_keys()[0]
    seen = collections.Counter()
    for _ in range(200):
        status, body, headers = post(endpoint.scoring_uri, "{}", key)
        assert status == 200, body
        seen[json.loads(body)["version"]] += 1
        assert headers["azureml-model-deployment"] == "version" + json.loads(body)["version"]
    assert 35 <= seen["b"] <= 85 and seen["a"] + seen["b"] == 200, seen
    assert len(cluster.get_json("deployments", "-n", NAMESPACE, "-l", "amlcore.io/endpoint=rollout-ep")["items"]) == 2
    endpoint.delete_version(version_name="versionb")
    endpoint.wait_for_deployment()
    wait_for("version b's Deployment to go", lambda: len(cluster.get_json(
        "deployments", "-n", NAMESPACE, "-l", "amlcore.io/endpoint=rollout-ep")["items"]) == 1)

    # Token authentication: the router checks the workspace's tokens offline, with the keys in its route table.
    token_service = Model.deploy(ws, "token-svc", [], InferenceConfig(
        entry_script="score.py", source_directory=script_dir(tmp_path, ECHO, "e")),
        AksWebservice.deploy_configuration(cpu_cores=0.1, memory_gb=0.2, token_auth_enabled=True), aks_target)
    token_service.wait_for_deployment()
    token = token_service.get_access_token().access_token
    assert post(token_service.scoring_uri, '{"n": 1}', token)[0] == 200
    assert post(token_service.scoring_uri, '{"n": 1}', "not-a-token")[0] == 401

    # Autoscaling: the router's autoscaler sets the Deployment's replicas as the load asks.
    scaled = Model.deploy(ws, "scaled", [], InferenceConfig(
        entry_script="score.py", source_directory=script_dir(tmp_path, ECHO, "s")),
        AksWebservice.deploy_configuration(cpu_cores=0.1, memory_gb=0.2, autoscale_enabled=True,
                                           autoscale_min_replicas=1, autoscale_max_replicas=3,
                                           autoscale_refresh_seconds=1, autoscale_target_utilization=70,
                                           max_request_wait_time=10000), aks_target)
    scaled.wait_for_deployment()
    [deployment] = cluster.get_json("deployments", "-n", NAMESPACE, "-l", "amlcore.io/endpoint=scaled")["items"]
    name = deployment["metadata"]["name"]
    with Traffic(scaled.scoring_uri, key=scaled.get_keys()[0], body=b'{"sleep": 0.2}', connections=4,
                 max_seconds=90) as load:
        wait_for("three ready replicas under load", lambda: cluster.get_json(
            "deployment", name, "-n", NAMESPACE).get("status", {}).get("readyReplicas", 0) == 3, timeout=60)
        load.wait_for(len(load.records) + 20)
    assert load.failures() == []
    assert cluster.get_json("deployment", name, "-n", NAMESPACE)["spec"]["replicas"] == 3
    for service in (endpoint, token_service, scaled):
        service.delete()
    aks_target.detach()


def test_the_articles_command_lines_attach_and_deploy_to_kubernetes(home, cluster, tmp_path, monkeypatch):
    """az ml → amlcore ml, against the cluster of the kubeconfig context az aks get-credentials made."""
    import sys
    monkeypatch.setenv("KUBECONFIG", cluster.kubeconfig)
    cli = os.path.join(os.path.dirname(sys.executable), "amlcore")

    def ok(*args):
        done = subprocess.run([cli, *args], cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, "amlcore {} failed:\n{}{}".format(" ".join(args), done.stdout, done.stderr)
        return json.loads(done.stdout) if done.stdout.strip() else None

    (tmp_path / "score.py").write_text(ECHO)
    (tmp_path / "inferenceconfig.json").write_text(json.dumps({"entryScript": "score.py", "sourceDirectory": "."}))
    (tmp_path / "deploymentconfig.json").write_text(json.dumps({
        "computeType": "aks", "containerResourceRequirements": {"cpu": 0.1, "memoryInGB": 0.2}}))
    ok("ml", "workspace", "create", "-w", "myworkspace", "-g", "rg")
    ok("ml", "folder", "attach", "-w", "myworkspace", "-g", "rg")
    extra = [] if cluster.double else ["--context", cluster.context] + (
        ["--image", os.environ["AMLCORE_TEST_IMAGE"]] if os.environ.get("AMLCORE_TEST_IMAGE") else [])
    attached = ok("ml", "computetarget", "attach", "aks", "-n", "myaks", "--cluster-name", "myaks",
                  "--cluster-resource-group", "rg", *extra)
    assert attached["properties"]["isAttachedCompute"] is True
    assert attached["properties"]["provisioningState"] == "Succeeded"
    service = ok("ml", "model", "deploy", "-ct", "myaks", "-n", "cliservice", "-ic", "inferenceconfig.json",
                 "-dc", "deploymentconfig.json")
    assert service["state"] == "Healthy"
    assert ok("ml", "service", "run", "-n", "cliservice", "-d", '{"x": 1}') == {"echo": {"x": 1}}
    assert "cliservice" in ok("ml", "service", "get-logs", "-n", "cliservice", "--init")
    assert ok("ml", "service", "delete", "-n", "cliservice") is None
    ok("ml", "computetarget", "detach", "-n", "myaks")


def test_a_replica_that_fits_no_node_shows_the_schedulers_message(kube_ws, cluster, tmp_path):
    from services import script_dir
    if not cluster.double:
        pytest.skip("needs to know the nodes' size")
    ws = kube_ws
    aks_target = attach(ws, cluster, "big")
    service = Model.deploy(ws, "too-big", [], InferenceConfig(
        entry_script="score.py", source_directory=script_dir(tmp_path, ECHO)),
        AksWebservice.deploy_configuration(cpu_cores=8, memory_gb=1), aks_target)

    def unschedulable():
        service.update_deployment_state()
        return service.state == "Unschedulable" and service.error
    wait_for("the service to be Unschedulable", unschedulable, timeout=60)
    assert "Insufficient cpu" in json.dumps(service.error), service.error
    service.delete()
    wait_for("its pods to go", lambda: not cluster.get_json(
        "pods", "-n", NAMESPACE, "-l", "amlcore.io/endpoint=too-big")["items"])
    aks_target.detach()


def test_an_image_the_nodes_cannot_pull_fails_the_attachment_with_kubelets_message(home, cluster, monkeypatch):
    if not cluster.double:
        pytest.skip("would leave a broken router in the real cluster's namespace")
    monkeypatch.setenv("KUBECONFIG", cluster.kubeconfig)
    ws = Workspace.create("pull-ws", exist_ok=True, resource_group="rg")
    with pytest.raises(ComputeTargetException) as e:
        attach(ws, cluster, "nopull", namespace="nopull", image="registry.invalid/amlcore/runtime:0")
    message = str(e.value)
    assert "The router cannot start in namespace nopull" in message and "registry.invalid/amlcore/runtime:0" in message
    assert "ErrImagePull" in message or "ImagePullBackOff" in message, message
    cluster.kubectl("delete", "namespace", "nopull", "--wait=false")


def test_a_replica_over_its_memory_limit_fails_the_deployment_as_oomkilled(kube_ws, cluster, tmp_path):
    from services import script_dir
    ws = kube_ws
    aks_target = attach(ws, cluster, "oom")
    hog = """
def init():
    global hoard
    hoard = bytearray(1536 * 1024 * 1024)
    for i in range(0, len(hoard), 4096):
        hoard[i] = 1
def run(raw):
    return raw
"""
    service = Model.deploy(ws, "hog", [], InferenceConfig(
        entry_script="score.py", source_directory=script_dir(tmp_path, hog)),
        AksWebservice.deploy_configuration(cpu_cores=0.1, memory_gb=0.25, memory_gb_limit=0.5), aks_target)
    try:
        service.wait_for_deployment()
        failure = ""
    except WebserviceException as e:
        failure = str(e)
    if "UserScriptInitFailed" in failure and "MemoryError" in failure:
        pytest.skip("Python's allocation failed before the kernel's OOM killer ran")
    if not failure:
        pytest.skip("no memory cgroup on this machine: the double does not enforce limits")
    assert "OOMKilled" in failure, failure
    service.delete()
    aks_target.detach()


def test_new_credentials_in_the_kubeconfig_are_used_without_restarting_amlcored(kube_ws, cluster, tmp_path):
    import yaml
    from services import script_dir
    if not cluster.double:
        pytest.skip("rewrites the kubeconfig's token")
    ws = kube_ws
    kubeconfig = tmp_path / "kubeconfig"
    shutil.copy(cluster.kubeconfig, kubeconfig)
    aks_target = attach(ws, cluster, "rotated", kubeconfig=str(kubeconfig))
    config = yaml.safe_load(kubeconfig.read_text())
    user = [u for u in config["users"] if "token" in u["user"]][0]
    good, user["user"]["token"] = user["user"]["token"], "revoked"
    kubeconfig.write_text(yaml.safe_dump(config))
    inference = InferenceConfig(entry_script="score.py", source_directory=script_dir(tmp_path, ECHO))
    service = Model.deploy(ws, "rotated", [], inference, AksWebservice.deploy_configuration(
        cpu_cores=0.1, memory_gb=0.2), aks_target)
    with pytest.raises(WebserviceException) as e:
        service.wait_for_deployment()
    assert "Unauthorized" in str(e.value) or "401" in str(e.value), str(e.value)
    service.delete()
    # The credentials az aks get-credentials would write again: the next deployment uses them.
    user["user"]["token"] = good
    kubeconfig.write_text(yaml.safe_dump(config))
    service = Model.deploy(ws, "rotated", [], inference, AksWebservice.deploy_configuration(
        cpu_cores=0.1, memory_gb=0.2), aks_target)
    service.wait_for_deployment()
    assert service.run('{"k": 1}') == {"echo": {"k": 1}}
    service.delete()
    aks_target.detach()
