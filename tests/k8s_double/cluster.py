"""One cluster: the store, API, controllers, kubelet and network wired together, the TLS material and the
kubeconfig, and the loops that drive them until SIGTERM."""

import base64
import os
import random
import secrets
import ssl
import subprocess
import threading
import time
import traceback

import yaml

from . import api as api_mod
from . import controllers
from . import kubelet as kubelet_mod
from . import meta
from . import network as net
from . import resources as res
from . import store as store_mod

GiB = 2 ** 30


def parse_node(text):
    """`NAME=cpu,memory[,gpu]`, e.g. `aks-nodepool1-0=4,14Gi` or `gpu0=6,56Gi,1`."""
    name, _, rest = text.partition("=")
    parts = [p.strip() for p in rest.split(",")]
    if not name or len(parts) < 2:
        raise ValueError("--node wants NAME=cpu,memory[,gpu], got " + text)
    meta.parse_quantity(parts[0])
    meta.parse_quantity(parts[1])
    return name, parts[0], parts[1], parts[2] if len(parts) > 2 else "0"


class Cluster:
    def __init__(self, state_dir, nodes, images, backoff_base=10.0, verbose=False, deny=()):
        self.state_dir = state_dir
        self.images = dict(images)
        self.backoff_base = backoff_base
        self.verbose = verbose
        self.stopping = threading.Event()
        self.store = store_mod.Store(os.path.join(state_dir, "writes.jsonl"))
        self.token = secrets.token_hex(24)
        self.network = net.Network(random.randrange(16, 240, 3))
        self.api = api_mod.Api(self)
        for d in deny:
            self.api.deny.add(d)
        self.gc = controllers.Controllers(self)
        self.kubelet = kubelet_mod.Kubelet(self)
        self.port = 0
        self.address = ""
        self._events = {}
        self.faults = []  # injected failures: {code, count, method?, pathPrefix?, retryAfterSeconds?, message?}
        self.fault_lock = threading.Lock()
        self.exit_with = None
        self._seed(nodes)

    def take_fault(self, method, path):
        """The next injected failure matching this request, counting it down; None when there is none."""
        with self.fault_lock:
            for f in self.faults:
                if f.get("method", method) == method and path.startswith(f.get("pathPrefix", "/")):
                    f["count"] -= 1
                    if f["count"] <= 0:
                        self.faults.remove(f)
                    return dict(f)
        return None

    def _seed(self, nodes):
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
            res.default(res.BY_KEY["/namespaces"], obj)
            self.store.create("/namespaces", obj)
            self.default_service_account(ns)
        for name, cpu, memory, gpu in nodes:
            uid = meta.new_uid().replace("-", "")
            capacity = {"cpu": cpu, "memory": memory, "pods": "110", "ephemeral-storage": "129886128Ki"}
            if gpu not in ("0", ""):
                capacity["nvidia.com/gpu"] = gpu
            node = {"apiVersion": "v1", "kind": "Node", "metadata": {
                "name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                         "kubernetes.io/arch": "amd64", "agentpool": "nodepool1"}},
                "spec": {},
                "status": {"capacity": capacity, "allocatable": dict(capacity),
                           "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                           "message": "kubelet is posting ready status",
                                           "lastHeartbeatTime": meta.now(), "lastTransitionTime": meta.now()}],
                           "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                                         {"type": "Hostname", "address": name}],
                           "nodeInfo": {"kubeletVersion": "v1.32.0-k8s-double", "kubeProxyVersion": "v1.32.0-k8s-double",
                                        "operatingSystem": "linux", "architecture": "amd64",
                                        "containerRuntimeVersion": "k8s-double://1", "kernelVersion":
                                            os.uname().release, "osImage": "k8s-double loopback node",
                                        "machineID": uid, "systemUUID": uid, "bootID": uid}}}
            self.store.create("/nodes", node)

    def default_service_account(self, namespace):
        # Every namespace has a `default` ServiceAccount, as the service-account controller makes one.
        self.store.create("/serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {
            "name": "default", "namespace": namespace}})

    def event(self, obj, etype, reason, message, component, field_path=None, host=None):
        md = obj["metadata"]
        ns = md.get("namespace") or "default"
        key = (md.get("uid"), reason, message, field_path)
        ts = meta.now()
        involved = {"kind": obj.get("kind", ""), "namespace": md.get("namespace", ""), "name": md["name"],
                    "uid": md.get("uid", ""), "apiVersion": obj.get("apiVersion", ""),
                    "resourceVersion": md.get("resourceVersion", "")}
        if field_path:
            involved["fieldPath"] = field_path
        with self.store.lock:
            name = self._events.get(key)
            existing = self.store.get("/events", ns, name) if name else None
            if existing is not None:
                existing["count"] = existing.get("count", 1) + 1
                existing["lastTimestamp"] = ts
                self.store.update("/events", existing)
                return
            name = "{}.{:x}".format(md["name"], time.time_ns())
            self._events[key] = name
            source = {"component": component}
            if host:
                source["host"] = host
            ev = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": ns},
                  "involvedObject": involved, "reason": reason, "message": message, "source": source,
                  "firstTimestamp": ts, "lastTimestamp": ts, "count": 1, "type": etype,
                  "eventTime": None, "reportingComponent": component, "reportingInstance": host or ""}
            self.store.create("/events", ev)

    # -- TLS --
    def make_tls(self):
        d = os.path.join(self.state_dir, "pki")
        os.makedirs(d, exist_ok=True)

        def run(*args):
            subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, cwd=d, timeout=60)

        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days",
            "30", "-subj", "/CN=k8s-double-ca", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature")
        with open(os.path.join(d, "server.ext"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,"
                    "DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,"
                    "keyEncipherment\n")
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj",
            "/CN=kube-apiserver")
        run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.crt", "-days", "30", "-extfile", "server.ext")
        with open(os.path.join(d, "client.ext"), "w") as f:
            f.write("extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n")
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr", "-subj",
            "/O=system:masters/CN=cluster-admin")
        run("x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "client.crt", "-days", "30", "-extfile", "client.ext")
        os.unlink(os.path.join(d, "ca.key"))  # nothing else is ever signed
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(os.path.join(d, "server.crt"), os.path.join(d, "server.key"))
        ctx.load_verify_locations(os.path.join(d, "ca.crt"))
        ctx.verify_mode = ssl.CERT_OPTIONAL  # a client certificate is one way to authenticate, a token the other
        ctx.set_alpn_protocols(["http/1.1"])
        with open(os.path.join(d, "ca.crt")) as f:
            self.ca_pem = f.read()
        self.pki = d
        return ctx

    def kubeconfig(self, context):
        def b64(name):
            with open(os.path.join(self.pki, name), "rb") as f:
                return base64.b64encode(f.read()).decode()
        cluster = {"server": self.address, "certificate-authority-data": b64("ca.crt")}
        return {"apiVersion": "v1", "kind": "Config", "preferences": {}, "current-context": context,
                "clusters": [{"name": context, "cluster": cluster}],
                "contexts": [{"name": context, "context": {"cluster": context, "user": "clusterUser_" + context,
                                                           "namespace": "default"}},
                             {"name": context + "-exec", "context": {"cluster": context,
                                                                     "user": "clusterUserExec_" + context,
                                                                     "namespace": "default"}},
                             {"name": context + "-cert", "context": {"cluster": context,
                                                                     "user": "clusterAdmin_" + context,
                                                                     "namespace": "default"}}],
                "users": [{"name": "clusterUser_" + context, "user": {"token": self.token}},
                          # The same token from an exec credential plugin, as kubelogin hands one out on AKS.
                          {"name": "clusterUserExec_" + context, "user": {"exec": {
                              "apiVersion": "client.authentication.k8s.io/v1", "command": "/bin/sh",
                              "args": ["-c", 'printf \'{"apiVersion":"client.authentication.k8s.io/v1",'
                                             '"kind":"ExecCredential","status":{"token":"%s"}}\' "$0"',
                                       self.token],
                              "interactiveMode": "Never", "provideClusterInfo": False}}},
                          {"name": "clusterAdmin_" + context, "user": {
                              "client-certificate-data": b64("client.crt"), "client-key-data": b64("client.key")}}]}

    # -- running --
    def serve(self, kubeconfig_path, context, ready):
        ctx = self.make_tls()
        server = api_mod.Server(("127.0.0.1", 0), self, ctx)
        self.port = server.server_address[1]
        self.address = "https://127.0.0.1:{}".format(self.port)
        tmp = kubeconfig_path + ".tmp"
        with open(tmp, "w") as f:
            yaml.safe_dump(self.kubeconfig(context), f, default_flow_style=False)
        os.chmod(tmp, 0o600)
        os.replace(tmp, kubeconfig_path)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True,
                         name="api").start()
        loops = threading.Thread(target=self._loops, daemon=True, name="controllers")
        loops.start()
        ready()
        while not self.stopping.wait(0.5):
            if self.exit_with and not _alive(self.exit_with):
                self.stopping.set()  # whoever started the double is gone: leave nothing behind
        server.shutdown()
        loops.join(timeout=10)
        self.kubelet.stop()
        self.network.stop()
        server.server_close()

    def _loops(self):
        while not self.stopping.is_set():
            with self.store.lock:
                before = self.store.resource_version
            self.gc.tick()
            try:
                self.kubelet.tick()
            except Exception:  # noqa: BLE001
                traceback.print_exc()
            with self.store.lock:
                if self.store.resource_version == before:
                    self.store.changed.wait(0.2)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/{}/stat".format(pid)) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def default_nodes():
    # Like an AKS node pool of three Standard_D3_v2 agents: 4 vCPUs and 14 GiB each.
    return [("aks-nodepool1-{}-vmss00000{}".format(12345678, i), "4", "14Gi", "0") for i in range(3)]
