"""The Kubernetes API server double, checked by independent clients: the real kubectl and Debian's
python3-kubernetes. Needs no amlcore build. Run with
`timeout 600 /usr/bin/python3 -m pytest tests/python/test_k8s_double.py -q -p no:cacheprovider`."""

import json
import os
import shutil
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import pytest

kubernetes = pytest.importorskip("kubernetes", reason="needs Debian's python3-kubernetes")
from kubernetes import client, config, watch  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KUBECTL = shutil.which("kubectl")
PY = "/usr/bin/python3"
NS = "default"
# Three Standard_D3_v2-like nodes (4 CPU, 14 GiB) and one Standard_NC6-like node with a GPU.
NODES = ["--node", "aks-nodepool1-0=4,14Gi", "--node", "aks-nodepool1-1=4,14Gi", "--node", "aks-nodepool1-2=4,14Gi",
         "--node", "aks-gpupool-0=6,56Gi,1"]


def wait_for(what, check, timeout=60.0, interval=0.1):
    """Polls check() until it returns something truthy; fails naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except client.ApiException as e:
            last = e
            if e.status != 404:
                raise
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    pytest.fail("timed out waiting for {} (last: {!r})".format(what, last))


def alive(pid):
    try:
        with open("/proc/{}/stat".format(pid)) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


class Double:
    def __init__(self, tmp):
        self.tmp = tmp
        self.kubeconfig = os.path.join(tmp, "kubeconfig")
        self.state = os.path.join(tmp, "state")
        image = os.path.join(tmp, "image")
        os.makedirs(os.path.join(image, "bin"))
        with open(os.path.join(image, "bin", "hello"), "w") as f:
            f.write("#!/bin/sh\necho hello from the image \"$@\"\n")
        os.chmod(os.path.join(image, "bin", "hello"), 0o755)
        out = subprocess.run([os.path.join(ROOT, "scripts", "k8s-double.sh"), "--kubeconfig", self.kubeconfig,
                              "--state-dir", self.state, "--image", "busybox=host", "--image",
                              "example.com/tools=" + image, "--backoff-base", "1", "--exit-with",
                              str(os.getpid())] + NODES,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120, text=True)
        assert out.returncode == 0, out.stderr
        self.pid = int(out.stdout.strip())
        self.api_client = config.new_client_from_config(config_file=self.kubeconfig, context="myaks")
        self.core = client.CoreV1Api(self.api_client)
        self.apps = client.AppsV1Api(self.api_client)
        with open(self.kubeconfig) as f:
            import yaml
            self.config = yaml.safe_load(f)
        self.server = self.config["clusters"][0]["cluster"]["server"]
        self.token = self.config["users"][0]["user"]["token"]
        self.ssl = ssl.create_default_context(cafile=os.path.join(self.state, "pki", "ca.crt"))
        self.seen_pids = set()

    def kubectl(self, *args, timeout=60, check=True):
        env = dict(os.environ, HOME=self.tmp, KUBECONFIG=self.kubeconfig)
        r = subprocess.run([KUBECTL] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout, env=env)
        if check:
            assert r.returncode == 0, "kubectl {} failed: {}{}".format(" ".join(args), r.stdout, r.stderr)
        return r

    def raw(self, method, path, body=None, token=True, content_type="application/json", headers=None):
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        req = urllib.request.Request(self.server + path, data=data, method=method)
        req.add_header("Content-Type", content_type)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        if token:
            req.add_header("Authorization", "Bearer " + self.token)
        try:
            with urllib.request.urlopen(req, context=self.ssl, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def apply(self, path, obj, manager, force=False):
        q = "?fieldManager=" + manager + ("&force=true" if force else "")
        return self.raw("PATCH", path + q, json.dumps(obj).encode(), content_type="application/apply-patch+yaml")

    def pids(self):
        pids = self.raw("GET", "/_double/processes")[1]["pids"]
        self.seen_pids.update(pids)
        return pids

    def stop(self):
        self.pids()
        os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while alive(self.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if alive(self.pid):
            os.kill(self.pid, signal.SIGKILL)
            pytest.fail("the double did not stop within 60 s of SIGTERM")


@pytest.fixture(scope="module")
def double(tmp_path_factory):
    if KUBECTL is None:
        pytest.skip("needs kubectl")
    d = Double(str(tmp_path_factory.mktemp("k8s")))
    yield d
    d.stop()
    left = [p for p in d.seen_pids if alive(p)]
    assert not left, "pod processes left after SIGTERM: {}".format(left)


def web_deployment(name, replicas=2, extra_env=(), probe_path="/", surge=1, unavailable=0, deadline=None,
                   labels=None):
    labels = labels or {"app": name}
    spec = {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge,
                                                                    "maxUnavailable": unavailable}},
            "template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": [{
                "name": "web", "image": "busybox",
                "command": [PY, "-m", "http.server", "--bind", "$(POD_IP)", "8080"],
                "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}] +
                       list(extra_env),
                "ports": [{"containerPort": 8080, "name": "http"}],
                "readinessProbe": {"httpGet": {"path": probe_path, "port": 8080}, "periodSeconds": 1,
                                   "timeoutSeconds": 5},
                "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}}}]}}}
    if deadline is not None:
        spec["progressDeadlineSeconds"] = deadline
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": dict(labels)},
            "spec": spec}


def test_without_credentials_answers_401_and_certificates_and_exec_plugins_work(double):
    code, body = double.raw("GET", "/api/v1/namespaces/default/pods", token=False)
    assert code == 401
    code, body = double.raw("GET", "/api/v1/namespaces/default/pods", token=False,
                            headers={"Authorization": "Bearer wrong"})
    assert code == 401
    assert body["kind"] == "Status" and body["reason"] == "Unauthorized" and body["code"] == 401
    for context in ("myaks-cert", "myaks-exec"):
        r = double.kubectl("--context", context, "get", "nodes", "-o", "name")
        assert r.stdout.count("node/") == 4
    code, body = double.raw("GET", "/version")
    assert code == 200 and body["major"] == "1"


def test_kubectl_creates_namespaces_secrets_and_config_maps(double):
    # kubectl sends these as protobuf; the double reads them.
    double.kubectl("create", "namespace", "made-by-kubectl")
    double.kubectl("create", "secret", "generic", "keys", "-n", "made-by-kubectl", "--from-literal=primary=abc")
    double.kubectl("create", "configmap", "conf", "-n", "made-by-kubectl", "--from-literal=a=1")
    secret = double.core.read_namespaced_secret("keys", "made-by-kubectl")
    assert secret.type == "Opaque" and secret.data == {"primary": "YWJj"}
    assert double.core.read_namespaced_config_map("conf", "made-by-kubectl").data == {"a": "1"}
    double.kubectl("delete", "namespace", "made-by-kubectl")
    wait_for("the namespace to go", lambda: "made-by-kubectl" not in [
        n.metadata.name for n in double.core.list_namespace().items])
    assert not double.core.list_secret_for_all_namespaces(field_selector="metadata.namespace=made-by-kubectl").items


def test_kubectl_gets_describes_logs_and_waits_for_a_rollout(double):
    double.apps.create_namespaced_deployment(NS, web_deployment("web"))
    r = double.kubectl("rollout", "status", "deployment/web", "--timeout=90s", timeout=120)
    assert 'deployment "web" successfully rolled out' in r.stdout
    pods = json.loads(double.kubectl("get", "pods", "-l", "app=web", "-o", "json").stdout)["items"]
    assert len(pods) == 2 and all(p["status"]["phase"] == "Running" for p in pods)
    assert len({p["status"]["podIP"] for p in pods}) == 2
    assert all(p["metadata"]["labels"]["pod-template-hash"] for p in pods)
    table = double.kubectl("get", "deployments", "web").stdout
    assert "2/2" in table.splitlines()[1]
    dep = double.kubectl("get", "deployment", "web", "-o", "yaml").stdout
    assert "kind: Deployment" in dep and "availableReplicas: 2" in dep
    assert "No resources found" in double.kubectl("get", "pods", "-l", "app notin (web),app").stderr
    d = double.kubectl("describe", "deployment", "web").stdout
    assert "Replicas:" in d and "2 desired | 2 updated | 2 total | 2 available | 0 unavailable" in d
    assert "NewReplicaSetAvailable" in d and "ScalingReplicaSet" in d
    name = pods[0]["metadata"]["name"]
    p = double.kubectl("describe", "pod", name).stdout
    assert "Status:       Running" in p and "Started container web" in p and "Controlled By:  ReplicaSet/web-" in p
    # The server answers on the pod IP; its request log is the container's log.
    ip = pods[0]["status"]["podIP"]
    with urllib.request.urlopen("http://{}:8080/".format(ip), timeout=10) as resp:
        assert resp.status == 200
    logs = wait_for("a request in the pod's log",
                    lambda: "GET / HTTP/1.1" in double.kubectl("logs", name).stdout and
                    double.kubectl("logs", name, "--tail=1").stdout)
    assert logs.count("\n") == 1


def test_rollout_status_fails_past_the_progress_deadline(double):
    double.apps.create_namespaced_deployment(NS, web_deployment("never", replicas=1, probe_path="/missing",
                                                                deadline=2))
    r = double.kubectl("rollout", "status", "deployment/never", "--timeout=60s", timeout=90, check=False)
    assert r.returncode != 0
    assert 'deployment "never" exceeded its progress deadline' in r.stderr
    dep = double.apps.read_namespaced_deployment("never", NS)
    progressing = [c for c in dep.status.conditions if c.type == "Progressing"][0]
    assert progressing.status == "False" and progressing.reason == "ProgressDeadlineExceeded"


def test_python_client_round_trips_every_kind(double):
    core, apps, api = double.core, double.apps, double.api_client
    labels = {"app": "rt", "amlcore.io/service": "rt"}
    secret = core.create_namespaced_secret(NS, {"metadata": {"name": "rt-keys", "labels": labels},
                                                "stringData": {"primary": "k1"}})
    assert secret.data == {"primary": "azE="} and secret.type == "Opaque"
    cm = core.create_namespaced_config_map(NS, {"metadata": {"name": "rt-conf", "labels": labels},
                                                "data": {"a": "1"}})
    assert cm.metadata.uid and cm.metadata.creation_timestamp
    svc = core.create_namespaced_service(NS, {"metadata": {"name": "rt", "labels": labels}, "spec": {
        "selector": {"app": "rt"}, "ports": [{"port": 80, "targetPort": "http"}]}})
    assert svc.spec.cluster_ip and svc.spec.type == "ClusterIP"
    pod = core.create_namespaced_pod(NS, {"metadata": {"name": "rt-pod", "labels": labels}, "spec": {
        "restartPolicy": "Never", "containers": [{"name": "c", "image": "example.com/tools:1.0",
                                                  "command": ["hello", "world"]}]}})
    assert pod.spec.containers[0].image_pull_policy == "IfNotPresent"
    dep = web_deployment("rt", labels={"app": "rt"})
    dep["metadata"]["labels"] = labels
    created = apps.create_namespaced_deployment(NS, dep)
    assert created.metadata.generation == 1

    # Server-side apply through the generic call, as amlcore's backend writes.
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "rt-conf", "labels": labels},
            "data": {"a": "2", "b": "3"}}
    applied = api.call_api("/api/v1/namespaces/{namespace}/configmaps/{name}", "PATCH",
                           path_params={"namespace": NS, "name": "rt-conf"},
                           query_params=[("fieldManager", "amlcore"), ("force", "true")],
                           header_params={"Content-Type": "application/apply-patch+yaml",
                                          "Accept": "application/json"},
                           body=json.dumps(body), response_type="V1ConfigMap", auth_settings=["BearerToken"],
                           _return_http_data_only=True)
    assert applied.data == {"a": "2", "b": "3"}
    assert {m.manager for m in applied.metadata.managed_fields} >= {"amlcore"}

    # Apply creates what does not exist. (This client version's dynamic server_side_apply cannot send a dict
    # body, so the generic call is used again; the dynamic client reads it back through discovery.)
    api.call_api("/api/v1/namespaces/{namespace}/secrets/{name}", "PATCH",
                 path_params={"namespace": NS, "name": "rt-applied"}, query_params=[("fieldManager", "amlcore")],
                 header_params={"Content-Type": "application/apply-patch+yaml", "Accept": "application/json"},
                 body="apiVersion: v1\nkind: Secret\nmetadata:\n  name: rt-applied\n  labels: {app: rt, "
                      "amlcore.io/service: rt}\nstringData:\n  token: t\n",
                 response_type="V1Secret", auth_settings=["BearerToken"], _return_http_data_only=True)
    from kubernetes import dynamic
    dyn = dynamic.DynamicClient(api)
    made = dyn.get(dyn.resources.get(api_version="v1", kind="Secret"), name="rt-applied", namespace=NS)
    assert made.data.token == "dA==" and made.metadata.managedFields[0].operation == "Apply"

    wait_for("the pod to succeed", lambda: core.read_namespaced_pod("rt-pod", NS).status.phase == "Succeeded")
    assert core.read_namespaced_pod_log("rt-pod", NS) == "hello from the image world\n"
    wait_for("rt to be available", lambda: (apps.read_namespaced_deployment("rt", NS).status.available_replicas
                                            or 0) == 2)

    # Every kind read back through its typed model, then changed by server-side apply with the typed response.
    def ssa(path, obj, model):
        return api.call_api(path, "PATCH", query_params=[("fieldManager", "amlcore"), ("force", "true")],
                            header_params={"Content-Type": "application/apply-patch+yaml",
                                           "Accept": "application/json"},
                            body=json.dumps(obj), response_type=model, auth_settings=["BearerToken"],
                            _return_http_data_only=True)
    base = "/api/v1/namespaces/default/"
    assert core.read_namespaced_secret("rt-keys", NS).data == {"primary": "azE="}
    s2 = ssa(base + "secrets/rt-keys", {"apiVersion": "v1", "kind": "Secret", "metadata": {
        "name": "rt-keys", "labels": labels}, "stringData": {"primary": "k1", "secondary": "k2"}}, "V1Secret")
    assert s2.data == {"primary": "azE=", "secondary": "azI="}
    assert core.read_namespaced_config_map("rt-conf", NS).data == {"a": "2", "b": "3"}
    svc2 = ssa(base + "services/rt", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "rt", "labels": labels},
                                      "spec": {"selector": {"app": "rt"}, "ports": [
                                          {"port": 80, "targetPort": "http", "name": "http"}]}}, "V1Service")
    assert svc2.spec.cluster_ip == svc.spec.cluster_ip and svc2.spec.ports[0].name == "http"
    assert core.read_namespaced_service("rt", NS).spec.ports[0].target_port == "http"
    dep2 = dict(dep, spec=dict(dep["spec"], replicas=3))
    d2 = ssa("/apis/apps/v1/namespaces/default/deployments/rt", dep2, "V1Deployment")
    assert d2.spec.replicas == 3 and d2.metadata.generation == 2
    assert apps.read_namespaced_deployment("rt", NS).spec.template.spec.containers[0].ports[0].name == "http"
    p2 = ssa(base + "pods/rt-pod", {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "rt-pod", "labels": dict(labels, extra="yes")}}, "V1Pod")
    assert p2.metadata.labels["extra"] == "yes" and p2.status.phase == "Succeeded"
    wait_for("rt to have 3 available", lambda: (apps.read_namespaced_deployment("rt", NS).status.
                                                available_replicas or 0) == 3)

    sel = "amlcore.io/service=rt"
    assert {s.metadata.name for s in core.list_namespaced_secret(NS, label_selector=sel).items} == \
        {"rt-keys", "rt-applied"}
    assert [c.metadata.name for c in core.list_namespaced_config_map(NS, label_selector=sel).items] == ["rt-conf"]
    assert [d.metadata.name for d in apps.list_namespaced_deployment(NS, label_selector=sel).items] == ["rt"]
    assert [s.metadata.name for s in core.list_namespaced_service(NS, label_selector=sel).items] == ["rt"]
    assert [p.metadata.name for p in core.list_namespaced_pod(NS, label_selector="extra=yes").items] == ["rt-pod"]
    assert len(core.list_namespaced_pod(NS, label_selector="app=rt,pod-template-hash").items) == 3
    running = core.list_namespaced_pod(NS, label_selector="app in (rt)", field_selector="status.phase=Running")
    assert len(running.items) == 3
    ep = wait_for("endpoints", lambda: core.read_namespaced_endpoints("rt", NS).subsets and
                  len(core.read_namespaced_endpoints("rt", NS).subsets[0].addresses or []) == 3 and
                  core.read_namespaced_endpoints("rt", NS).subsets)
    assert ep[0].ports[0].port == 8080
    with urllib.request.urlopen("http://{}:80/".format(svc.spec.cluster_ip), timeout=10) as resp:
        assert resp.status == 200
    for fn, name in ((core.delete_namespaced_secret, "rt-keys"), (core.delete_namespaced_secret, "rt-applied"),
                     (core.delete_namespaced_config_map, "rt-conf"), (core.delete_namespaced_service, "rt"),
                     (apps.delete_namespaced_deployment, "rt"), (core.delete_namespaced_pod, "rt-pod")):
        fn(name, NS)
    wait_for("rt's pods to go", lambda: not core.list_namespaced_pod(NS, label_selector="app=rt").items)
    with pytest.raises(client.ApiException) as e:
        core.read_namespaced_secret("rt-keys", NS)
    assert e.value.status == 404 and json.loads(e.value.body)["message"] == 'secrets "rt-keys" not found'


def test_a_pod_that_fits_nowhere_is_unschedulable_with_the_schedulers_message(double):
    double.core.create_namespaced_pod(NS, {"metadata": {"name": "big"}, "spec": {"containers": [{
        "name": "c", "image": "busybox", "command": ["sleep", "30"],
        "resources": {"requests": {"cpu": "7", "memory": "1Gi"}}}]}})

    def unschedulable():
        conds = double.core.read_namespaced_pod("big", NS).status.conditions or []
        return [c for c in conds if c.type == "PodScheduled" and c.reason == "Unschedulable"]
    cond = wait_for("the pod to be unschedulable", unschedulable)[0]
    assert cond.status == "False"
    assert cond.message.startswith("0/4 nodes are available: 4 Insufficient cpu.")
    events = double.core.list_namespaced_event(NS, field_selector="involvedObject.name=big,reason="
                                                                  "FailedScheduling").items
    assert events and events[0].type == "Warning"
    assert double.core.read_namespaced_pod("big", NS).status.phase == "Pending"
    double.core.delete_namespaced_pod("big", NS)

    # GPUs are an extended resource: one pod gets the only GPU, the next waits for it.
    for name in ("gpu-a", "gpu-b"):
        double.core.create_namespaced_pod(NS, {"metadata": {"name": name}, "spec": {
            "terminationGracePeriodSeconds": 1, "containers": [{
                "name": "c", "image": "busybox", "command": ["sleep", "60"],
                "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}})
        if name == "gpu-a":
            bound = wait_for("gpu-a to be bound", lambda: double.core.read_namespaced_pod("gpu-a", NS).spec.node_name)
            assert bound == "aks-gpupool-0"

    def gpu_b_unschedulable():
        conds = double.core.read_namespaced_pod("gpu-b", NS).status.conditions or []
        return [c for c in conds if c.type == "PodScheduled" and c.reason == "Unschedulable"]
    msg = wait_for("gpu-b to wait for the GPU", gpu_b_unschedulable)[0].message
    assert msg.startswith("0/4 nodes are available: 4 Insufficient nvidia.com/gpu.")
    double.core.delete_namespaced_pod("gpu-a", NS)
    wait_for("gpu-b to get the GPU", lambda: double.core.read_namespaced_pod("gpu-b", NS).spec.node_name)
    double.core.delete_namespaced_pod("gpu-b", NS, grace_period_seconds=0)


def test_crash_loop_back_off_with_restart_count_and_previous_logs(double):
    double.core.create_namespaced_pod(NS, {"metadata": {"name": "crash"}, "spec": {"containers": [{
        "name": "c", "image": "busybox", "command": ["sh", "-c", "echo attempt; echo failing >&2; exit 3"]}]}})

    def backing_off():
        st = double.core.read_namespaced_pod("crash", NS).status.container_statuses or []
        return st and st[0].restart_count >= 1 and st[0].state.waiting and \
            st[0].state.waiting.reason == "CrashLoopBackOff" and st[0]
    st = wait_for("CrashLoopBackOff", backing_off)
    assert st.last_state.terminated.exit_code == 3 and st.last_state.terminated.reason == "Error"
    assert "back-off" in st.state.waiting.message and "restarting failed container=c pod=crash" in \
        st.state.waiting.message
    prev = double.kubectl("logs", "crash", "--previous")
    assert prev.stdout == "attempt\nfailing\n"
    assert "CrashLoopBackOff" in double.kubectl("get", "pod", "crash").stdout
    double.core.delete_namespaced_pod("crash", NS, grace_period_seconds=0)

    double.core.create_namespaced_pod(NS, {"metadata": {"name": "nocmd"}, "spec": {"containers": [{
        "name": "c", "image": "busybox", "command": ["no-such-binary-anywhere"]}]}})

    def start_error():
        st = double.core.read_namespaced_pod("nocmd", NS).status.container_statuses or []
        return st and st[0].last_state.terminated and st[0].last_state.terminated
    term = wait_for("a StartError", start_error)
    assert term.reason == "StartError" and term.exit_code == 128
    assert 'exec: "no-such-binary-anywhere": executable file not found in $PATH' in term.message
    double.core.delete_namespaced_pod("nocmd", NS, grace_period_seconds=0)


def test_rolling_update_with_max_unavailable_0_never_drops_below_desired(double):
    apps = double.apps
    apps.create_namespaced_deployment(NS, web_deployment("roll", replicas=3, surge=1, unavailable=0))
    wait_for("roll to be available", lambda: (apps.read_namespaced_deployment("roll", NS).status.available_replicas
                                              or 0) == 3)
    start = apps.read_namespaced_deployment("roll", NS)
    patch = {"spec": {"template": {"metadata": {"annotations": {"rev": "2"}}}}}
    updated = apps.patch_namespaced_deployment("roll", NS, patch)
    generation = updated.metadata.generation
    assert generation == start.metadata.generation + 1
    lowest = 3
    seen_old_and_new = False
    done = False
    w = watch.Watch()
    for ev in w.stream(apps.list_namespaced_deployment, NS, field_selector="metadata.name=roll",
                       resource_version=start.metadata.resource_version, timeout_seconds=90):
        st = ev["object"].status
        lowest = min(lowest, st.available_replicas or 0, st.ready_replicas or 0)
        if (st.updated_replicas or 0) and (st.replicas or 0) > (st.updated_replicas or 0):
            seen_old_and_new = True
        if (st.observed_generation or 0) >= generation and st.updated_replicas == 3 and st.replicas == 3 and \
                st.available_replicas == 3:
            done = True
            w.stop()
    assert done, "the rollout did not finish"
    assert lowest == 3 and seen_old_and_new
    rses = apps.list_namespaced_replica_set(NS, label_selector="app=roll").items
    assert sorted(rs.spec.replicas for rs in rses) == [0, 3]
    assert {rs.metadata.annotations["deployment.kubernetes.io/revision"] for rs in rses} == {"1", "2"}


def test_deleting_a_deployment_cascades_to_its_replica_sets_and_pods(double):
    apps, core = double.apps, double.core
    for name, policy in (("gc-bg", "Background"), ("gc-fg", "Foreground")):
        apps.create_namespaced_deployment(NS, web_deployment(name, replicas=1))
        wait_for(name + " pods", lambda: core.list_namespaced_pod(NS, label_selector="app=" + name).items)
        apps.delete_namespaced_deployment(name, NS, body=client.V1DeleteOptions(propagation_policy=policy))
        if policy == "Foreground":
            # The owner stays, marked for deletion, until its dependents are gone.
            try:
                d = apps.read_namespaced_deployment(name, NS)
                assert d.metadata.deletion_timestamp and "foregroundDeletion" in d.metadata.finalizers
            except client.ApiException as e:
                assert e.status == 404
        wait_for(name + " to be gone", lambda: not core.list_namespaced_pod(NS, label_selector="app=" + name).items
                 and not apps.list_namespaced_replica_set(NS, label_selector="app=" + name).items)
        with pytest.raises(client.ApiException):
            apps.read_namespaced_deployment(name, NS)


def test_orphaning_and_finalizers(double):
    apps, core = double.apps, double.core
    apps.create_namespaced_deployment(NS, web_deployment("orphan", replicas=1))
    wait_for("orphan's pod", lambda: core.list_namespaced_pod(NS, label_selector="app=orphan").items)
    apps.delete_namespaced_deployment("orphan", NS, body=client.V1DeleteOptions(propagation_policy="Orphan"))
    rs = wait_for("the orphaned ReplicaSet", lambda: [r for r in apps.list_namespaced_replica_set(
        NS, label_selector="app=orphan").items if not r.metadata.owner_references])
    assert len(core.list_namespaced_pod(NS, label_selector="app=orphan").items) == 1
    apps.delete_namespaced_replica_set(rs[0].metadata.name, NS)
    wait_for("the orphan's pod to go", lambda: not core.list_namespaced_pod(NS, label_selector="app=orphan").items)

    core.create_namespaced_config_map(NS, {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}})
    core.delete_namespaced_config_map("held", NS)
    held = core.read_namespaced_config_map("held", NS)
    assert held.metadata.deletion_timestamp and held.metadata.finalizers == ["example.com/hold"]
    core.patch_namespaced_config_map("held", NS, {"metadata": {"finalizers": None}})
    with pytest.raises(client.ApiException) as e:
        core.read_namespaced_config_map("held", NS)
    assert e.value.status == 404


def test_server_side_apply_conflicts_between_field_managers(double):
    path = "/apis/apps/v1/namespaces/default/deployments/ssa"
    dep = web_deployment("ssa", replicas=1)
    dep["metadata"]["labels"]["team"] = "a"
    code, body = double.apply(path, dep, "amlcore")
    assert code == 201, body
    code, body = double.apply(path, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ssa"},
                                     "spec": {"replicas": 3}}, "autoscaler")
    assert code == 409 and body["reason"] == "Conflict"
    assert body["message"] == 'Apply failed with 1 conflict: conflict with "amlcore": .spec.replicas'
    assert body["details"]["causes"] == [{"reason": "FieldManagerConflict", "message": 'conflict with "amlcore"',
                                          "field": ".spec.replicas"}]
    code, body = double.apply(path, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ssa"},
                                     "spec": {"replicas": 3}}, "autoscaler", force=True)
    assert code == 200 and body["spec"]["replicas"] == 3
    owners = {m["manager"]: m["fieldsV1"] for m in body["metadata"]["managedFields"]}
    assert "f:replicas" in owners["autoscaler"]["f:spec"] and "f:replicas" not in owners["amlcore"]["f:spec"]
    # The same manager leaving out a field it applied before removes it; fields it never owned stay.
    del dep["spec"]["replicas"]
    del dep["metadata"]["labels"]["team"]
    code, body = double.apply(path, dep, "amlcore")
    assert code == 200 and "team" not in body["metadata"]["labels"] and body["spec"]["replicas"] == 3
    # An Update (here a merge patch) makes its manager own what it changed; an apply that disagrees conflicts.
    code, body = double.raw("PATCH", path + "?fieldManager=editor", {"spec": {"minReadySeconds": 1,
                                                                            "revisionHistoryLimit": 5}},
                            content_type="application/merge-patch+json")
    assert code == 200
    dep["spec"]["minReadySeconds"] = 0
    dep["spec"]["revisionHistoryLimit"] = 3
    code, body = double.apply(path, dep, "amlcore")
    assert code == 409
    assert body["message"].startswith('Apply failed with 2 conflicts: conflicts with "editor" using apps/v1 at ')
    assert body["message"].endswith(":\n- .spec.minReadySeconds\n- .spec.revisionHistoryLimit")
    del dep["spec"]["minReadySeconds"], dep["spec"]["revisionHistoryLimit"]
    code, body = double.raw("PATCH", path, b"{}", content_type="application/apply-patch+yaml")
    assert code == 422 and "fieldManager: Required value" in body["message"]
    # A stale resourceVersion on PUT is a 409 Conflict.
    current = double.apps.read_namespaced_deployment("ssa", NS)
    current.metadata.resource_version = str(int(current.metadata.resource_version) - 1)
    with pytest.raises(client.ApiException) as e:
        double.apps.replace_namespaced_deployment("ssa", NS, current)
    assert e.value.status == 409 and "the object has been modified" in json.loads(e.value.body)["message"]
    double.apps.delete_namespaced_deployment("ssa", NS)


def test_invalid_objects_get_422_with_every_cause(double):
    bad = web_deployment("Bad_Name")
    bad["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    bad["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["memory"] = "lots"
    del bad["spec"]["template"]["spec"]["containers"][0]["image"]
    code, body = double.raw("POST", "/apis/apps/v1/namespaces/default/deployments", bad)
    assert code == 422 and body["reason"] == "Invalid" and body["status"] == "Failure"
    fields = {c["field"]: c for c in body["details"]["causes"]}
    assert fields["metadata.name"]["reason"] == "FieldValueInvalid"
    assert fields["spec.template.metadata.labels"]["message"].endswith("`selector` does not match template `labels`")
    assert fields["spec.template.spec.containers[0].image"]["reason"] == "FieldValueRequired"
    assert "spec.template.spec.containers[0].resources.requests[memory]" in fields
    assert body["message"].startswith('Deployment.apps "Bad_Name" is invalid: ')
    code, body = double.raw("POST", "/api/v1/namespaces/default/pods", {"metadata": {"name": "p"}, "spec": {}})
    assert code == 422 and body["details"]["causes"][0]["field"] == "spec.containers"
    code, body = double.raw("POST", "/api/v1/namespaces/nowhere/configmaps", {"metadata": {"name": "c"}})
    assert code == 404 and body["message"] == 'namespaces "nowhere" not found'


def test_selectors(double):
    core = double.core
    for name, labels in (("s1", {"tier": "a", "x": "1"}), ("s2", {"tier": "b"}), ("s3", {"other": "y"})):
        core.create_namespaced_config_map(NS, {"metadata": {"name": name, "labels": labels}})

    def names(**kw):
        return sorted(c.metadata.name for c in core.list_namespaced_config_map(NS, **kw).items
                      if c.metadata.name in ("s1", "s2", "s3"))
    assert names(label_selector="tier=a") == ["s1"]
    assert names(label_selector="tier==b") == ["s2"]
    assert names(label_selector="tier!=a") == ["s2", "s3"]
    assert names(label_selector="tier in (a,b)") == ["s1", "s2"]
    assert names(label_selector="tier notin (a)") == ["s2", "s3"]
    assert names(label_selector="tier") == ["s1", "s2"]
    assert names(label_selector="!tier") == ["s3"]
    assert names(label_selector="tier,x=1") == ["s1"]
    assert names(field_selector="metadata.name=s2") == ["s2"]
    assert names(field_selector="metadata.namespace=default,metadata.name!=s2") == ["s1", "s3"]
    code, body = double.raw("GET", "/api/v1/configmaps?fieldSelector=data.x%3D1")
    assert code == 400 and body["reason"] == "BadRequest"
    page = core.list_namespaced_config_map(NS, limit=1)
    assert len(page.items) == 1 and page.metadata._continue


def test_volumes_env_and_images(double):
    core = double.core
    core.create_namespaced_secret(NS, {"metadata": {"name": "vol-secret"}, "stringData": {"key": "s3cret"}})
    core.create_namespaced_config_map(NS, {"metadata": {"name": "vol-conf"}, "data": {"app.conf": "mode=fast"}})
    mount = "/tmp/k8s-double-test-mounts"
    script = ("cat {m}/secret/key; echo; cat {m}/conf/app.conf; echo; echo $FROM_SECRET $FROM_CONF $POD_NAME; "
              "echo data > {m}/scratch/file && cat {m}/scratch/file; cat /var/run/secrets/kubernetes.io/"
              "serviceaccount/namespace; echo; pwd").format(m=mount)
    core.create_namespaced_pod(NS, {"metadata": {"name": "vols"}, "spec": {
        "restartPolicy": "Never",
        "volumes": [{"name": "s", "secret": {"secretName": "vol-secret"}},
                    {"name": "c", "configMap": {"name": "vol-conf"}}, {"name": "e", "emptyDir": {}}],
        "initContainers": [{"name": "init", "image": "busybox", "command": ["sh", "-c", "echo init ran"]}],
        "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", script], "workingDir": "/tmp",
                        "env": [{"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "vol-secret",
                                                                                      "key": "key"}}},
                                {"name": "FROM_CONF", "valueFrom": {"configMapKeyRef": {"name": "vol-conf",
                                                                                       "key": "app.conf"}}},
                                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                        "volumeMounts": [{"name": "s", "mountPath": mount + "/secret", "readOnly": True},
                                         {"name": "c", "mountPath": mount + "/conf"},
                                         {"name": "e", "mountPath": mount + "/scratch"}]}]}})
    wait_for("vols to finish", lambda: core.read_namespaced_pod("vols", NS).status.phase in ("Succeeded",
                                                                                            "Failed"))
    log = core.read_namespaced_pod_log("vols", NS, container="main")
    assert log == "s3cret\nmode=fast\ns3cret mode=fast vols\ndata\ndefault\n/tmp\n", log
    assert core.read_namespaced_pod_log("vols", NS, container="init") == "init ran\n"
    assert core.read_namespaced_pod("vols", NS).status.phase == "Succeeded"
    # The mounts lived in the container's own mount namespace only.
    assert not os.path.exists(os.path.join(mount, "secret", "key"))

    core.create_namespaced_pod(NS, {"metadata": {"name": "noimage"}, "spec": {"containers": [{
        "name": "c", "image": "registry.example.com/missing:1", "command": ["true"]}]}})

    def pull_back_off():
        st = core.read_namespaced_pod("noimage", NS).status.container_statuses or []
        return st and st[0].state.waiting and st[0].state.waiting.reason == "ImagePullBackOff" and st[0]
    st = wait_for("ImagePullBackOff", pull_back_off)
    assert 'Back-off pulling image "registry.example.com/missing:1"' == st.state.waiting.message
    events = core.list_namespaced_event(NS, field_selector="involvedObject.name=noimage").items
    assert any(e.reason == "Failed" and "Failed to pull image" in e.message for e in events)
    core.delete_namespaced_pod("noimage", NS)
    core.delete_namespaced_pod("vols", NS)


def test_liveness_failure_restarts_and_memory_limit_reports_oom(double):
    core = double.core
    core.create_namespaced_pod(NS, {"metadata": {"name": "live"}, "spec": {
        "terminationGracePeriodSeconds": 1, "containers": [{
            "name": "c", "image": "busybox", "command": ["sleep", "600"],
            "livenessProbe": {"exec": {"command": ["false"]}, "periodSeconds": 1, "failureThreshold": 1}}]}})

    def restarted():
        st = core.read_namespaced_pod("live", NS).status.container_statuses or []
        return st and st[0].restart_count >= 1 and st[0]
    st = wait_for("a liveness restart", restarted)
    assert st.last_state.terminated is not None
    events = core.list_namespaced_event(NS, field_selector="involvedObject.name=live,reason=Killing").items
    assert any("failed liveness probe, will be restarted" in e.message for e in events)
    core.delete_namespaced_pod("live", NS, grace_period_seconds=0)

    core.create_namespaced_pod(NS, {"metadata": {"name": "oom"}, "spec": {"restartPolicy": "Never", "containers": [{
        "name": "c", "image": "busybox", "command": [PY, "-c", "x = bytearray(400 * 2**20); print(len(x))"],
        "resources": {"limits": {"memory": "64Mi"}}}]}})

    def ended():
        st = core.read_namespaced_pod("oom", NS).status.container_statuses or []
        return st and st[0].state.terminated and st[0].state.terminated
    term = wait_for("the memory hog to end", ended)
    if term.exit_code == 0:
        pytest.skip("no memory cgroup on this machine: limits are not enforced (see tests/k8s_double/README.md)")
    assert term.reason == "OOMKilled" and term.exit_code == 137
    core.delete_namespaced_pod("oom", NS)


def test_access_reviews_and_denied_verbs(double):
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": {
        "resourceAttributes": {"verb": "create", "group": "apps", "resource": "deployments", "namespace": NS}}}
    code, body = double.raw("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review)
    assert code == 201 and body["status"]["allowed"] is True
    rule = {"verb": "create", "group": "apps", "resource": "deployments", "namespace": NS}
    double.raw("POST", "/_double/deny", rule)
    try:
        code, body = double.raw("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review)
        assert body["status"]["allowed"] is False
        r = double.kubectl("auth", "can-i", "create", "deployments.apps", check=False)
        assert r.stdout.startswith("no") and r.returncode != 0
        with pytest.raises(client.ApiException) as e:
            double.apps.create_namespaced_deployment(NS, web_deployment("denied"))
        assert e.value.status == 403
        assert json.loads(e.value.body)["message"] == ('deployments.apps is forbidden: User "admin" cannot create '
                                                       'resource "deployments" in API group "apps" in the namespace '
                                                       '"default"')
    finally:
        double.raw("DELETE", "/_double/deny", rule)
    assert double.kubectl("auth", "can-i", "create", "deployments.apps").stdout.strip() == "yes"


def test_load_balancer_service_and_the_dump_of_written_objects(double):
    core = double.core
    double.apps.create_namespaced_deployment(NS, web_deployment("lb", replicas=1))
    core.create_namespaced_service(NS, {"metadata": {"name": "lb"}, "spec": {
        "type": "LoadBalancer", "selector": {"app": "lb"}, "ports": [{"port": 80, "targetPort": 8080}]}})
    svc = wait_for("an ingress IP", lambda: (core.read_namespaced_service("lb", NS).status.load_balancer.ingress
                                            and core.read_namespaced_service("lb", NS)))
    ip = svc.status.load_balancer.ingress[0].ip
    node_port = svc.spec.ports[0].node_port
    assert ip.startswith("127.") and 30000 <= node_port <= 32767
    wait_for("lb to be ready", lambda: core.read_namespaced_endpoints("lb", NS).subsets and
             core.read_namespaced_endpoints("lb", NS).subsets[0].addresses)
    for url in ("http://{}:80/".format(ip), "http://127.0.0.1:{}/".format(node_port)):
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert resp.status == 200
    listed = double.kubectl("get", "services", "-l", "app!=none", "-o", "wide").stdout
    assert "LoadBalancer" in listed and "80:{}/TCP".format(node_port) in listed
    described = double.kubectl("describe", "service", "lb").stdout
    assert "LoadBalancer Ingress:     {}".format(ip) in described and ":8080" in described
    writes = double.raw("GET", "/_double/writes")[1]["items"]
    kinds = {(w["verb"], w["object"]["kind"]) for w in writes}
    assert ("create", "Service") in kinds and ("create", "Deployment") in kinds
    with open(os.path.join(double.state, "writes.jsonl")) as f:
        assert len(f.read().splitlines()) == len(writes)
    objects = double.raw("GET", "/_double/objects")[1]["items"]
    assert any(o["kind"] == "ReplicaSet" and o["metadata"]["name"].startswith("lb-") for o in objects)
    assert double.pids()


def validate_manifests(objs):
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("needs node and npm for the schema validator")
    return subprocess.run([os.path.join(ROOT, "scripts", "validate-manifests.sh")], input=json.dumps(objs),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)


def test_the_schema_validator_passes_a_good_deployment_and_explains_a_bad_one():
    good = web_deployment("good")
    r = validate_manifests([good, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "good"},
                                   "spec": {"selector": {"app": "good"}, "ports": [{"port": 80,
                                                                                    "targetPort": "http"}]}}])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 of 2 manifests valid" in r.stderr
    bad = web_deployment("bad")
    bad["spec"]["replicas"] = "three"
    del bad["spec"]["selector"]
    bad["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "8080"
    r = validate_manifests(bad)
    assert r.returncode == 1
    assert "<stdin>: Deployment bad: /spec: must have required property selector" in r.stdout
    assert "<stdin>: Deployment bad: /spec/replicas: must be integer" in r.stdout
    assert "/spec/template/spec/containers/0/ports/0/containerPort: must be integer" in r.stdout
    r = validate_manifests({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})
    assert r.returncode == 1 and "no published schema for example.com/v1 Widget" in r.stdout


def test_everything_written_and_stored_matches_the_published_schemas(double):
    # What clients wrote in this module, and what the double's controllers and kubelet made of it.
    double.apps.create_namespaced_deployment(NS, web_deployment("schema", replicas=1))
    double.core.create_namespaced_service(NS, {"metadata": {"name": "schema"}, "spec": {
        "type": "NodePort", "selector": {"app": "schema"}, "ports": [{"port": 80, "targetPort": "http"}]}})
    wait_for("schema to be available", lambda: double.apps.read_namespaced_deployment(
        "schema", NS).status.available_replicas == 1)
    writes = [w["object"] for w in double.raw("GET", "/_double/writes")[1]["items"]]
    stored = double.raw("GET", "/_double/objects")[1]["items"]
    assert len(writes) >= 2 and len(stored) > 10
    r = validate_manifests(writes + stored)
    assert r.returncode == 0, r.stdout[-4000:]


def test_injected_failures_are_answered_and_kubectl_retries_after_them(double):
    fault = {"code": 503, "count": 2, "method": "GET", "pathPrefix": "/api/v1/namespaces/default/configmaps",
             "retryAfterSeconds": 1}
    double.raw("POST", "/_double/faults", fault)
    code, body = double.raw("GET", "/api/v1/namespaces/default/configmaps")
    assert code == 503 and body["reason"] == "ServiceUnavailable" and body["details"]["retryAfterSeconds"] == 1
    r = double.kubectl("get", "configmaps", "-v=6")
    assert "Got a Retry-After 1s response" in r.stderr
    code, _ = double.raw("GET", "/api/v1/namespaces/default/configmaps")
    assert code == 200


def test_the_double_stops_with_the_process_it_was_told_to_follow(tmp_path):
    holder = subprocess.Popen(["sleep", "300"])
    try:
        out = subprocess.run([os.path.join(ROOT, "scripts", "k8s-double.sh"), "--kubeconfig",
                              str(tmp_path / "kc"), "--context", "other", "--exit-with", str(holder.pid)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        pid = int(out.stdout)
        import yaml
        with open(tmp_path / "kc") as f:
            kc = yaml.safe_load(f)
        assert kc["current-context"] == "other" and kc["clusters"][0]["name"] == "other"
        assert kc["clusters"][0]["cluster"]["server"].startswith("https://127.0.0.1:")
        assert alive(pid)
    finally:
        holder.kill()
        holder.wait()
    wait_for("the double to stop", lambda: not alive(pid), timeout=30)
