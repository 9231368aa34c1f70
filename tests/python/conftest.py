"""Fixtures: each test gets its own AMLCORE_HOME; the SDK starts amlcored there, and everything it started is
stopped afterwards."""

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest


def _alive(pid):
    try:
        with open("/proc/{}/stat".format(pid)) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def stop(pid, grace=5.0):
    if not pid or not _alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)


def server_pid(home):
    try:
        with open(os.path.join(home, "server.json")) as f:
            return json.load(f)["pid"]
    except (OSError, ValueError, KeyError):
        return None


def amlcored():
    import amlcore
    return os.path.join(os.path.dirname(amlcore.__file__), "bin", "amlcored")


def local_processes(home, kind=None):
    """The running front ends and replicas of a home, as `amlcored --processes` lists them."""
    out = subprocess.run([amlcored(), "--processes", "--home", home], capture_output=True, text=True, timeout=60,
                         check=True).stdout
    return [p for p in json.loads(out)["processes"] if kind is None or p["kind"] == kind]


def frontend_pids(home):
    return [p["pid"] for p in local_processes(home, "frontend")]


class Home:
    def __init__(self, path):
        self.path = path

    def server_pid(self):
        return server_pid(self.path)

    def frontend_pids(self):
        return frontend_pids(self.path)

    def stop_all(self):
        # amlcored --stop --with-clusters ends the server, front ends and replicas of this home.
        subprocess.run([amlcored(), "--stop", "--with-clusters", "--home", self.path], capture_output=True,
                       timeout=120)

    def processes(self, program):
        """Live processes of `program` (e.g. "amlcore-score") whose command line names this home: what the
        home's records say and what really runs can then be compared."""
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/{}/cmdline".format(entry), "rb") as f:
                    argv = f.read().decode(errors="replace").split("\0")
            except OSError:
                continue
            if argv and os.path.basename(argv[0]) == program and any(self.path in a for a in argv) \
                    and _alive(int(entry)):
                pids.append(int(entry))
        return sorted(pids)

    def cluster_admin_token(self):
        """The admin token of the home's one cluster: what /metrics and the front end's admin interface take."""
        [path] = glob.glob(os.path.join(self.path, "clusters", "*", "admin_token"))
        with open(path) as f:
            return f.read().strip()

    def replica_pids(self):
        return [p["pid"] for p in local_processes(self.path, "replica")]

    def replicas(self, service=None):
        """The running replicas ({"name", "service", "pid", "socket"}) of one service, or of all."""
        return [p for p in local_processes(self.path, "replica") if service is None or p["service"] == service]


@pytest.fixture
def home(monkeypatch):
    path = tempfile.mkdtemp(prefix="amlcore-pytest-")
    monkeypatch.setenv("AMLCORE_HOME", path)
    monkeypatch.delenv("AMLCORE_ENDPOINT", raising=False)
    monkeypatch.delenv("AMLCORE_TOKEN", raising=False)
    monkeypatch.delenv("AMLCORE_SIMULATED_PROVISIONING_SECONDS", raising=False)
    h = Home(path)
    yield h
    h.stop_all()
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def slow_home(home, monkeypatch):
    """A home whose server takes 3 s to provision a cluster."""
    monkeypatch.setenv("AMLCORE_SIMULATED_PROVISIONING_SECONDS", "3")
    return home


@pytest.fixture
def ws(home):
    from amlcore import Workspace
    return Workspace.create("test-ws", exist_ok=True)


@pytest.fixture
def aks(home):
    """A workspace with a Succeeded two-agent AKS compute target (4 vCPUs and 14 GB an agent)."""
    from amlcore import Workspace
    from amlcore.compute import AksCompute, ComputeTarget
    ws = Workspace.create("svc-ws")
    target = ComputeTarget.create(ws, "svc-aks", AksCompute.provisioning_configuration(
        agent_count=2, vm_size="Standard_D4_v2", cluster_purpose="DevTest"))
    target.wait_for_completion()
    return ws, target


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for `cname` (and 127.0.0.1) and its key, as PEM files."""
    def make(cname, subject=None):
        subject = subject or cname  # a self-signed certificate is its own issuer: distinct ones need distinct names
        cert, key = tmp_path / (subject + ".cert.pem"), tmp_path / (subject + ".key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                        "/CN=" + subject, "-addext", "subjectAltName=DNS:{},IP:127.0.0.1".format(cname),
                        "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
        return str(cert), str(key)
    return make


def _index_only(monkeypatch, listener):
    """pip, as the server runs it, sees one package index, on `listener`, and none of the machine's pip settings:
    tests never reach beyond loopback. Generous retry and timeout defaults show that builds bound pip themselves."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:{}/simple".format(listener.getsockname()[1]))
    monkeypatch.setenv("PIP_DEFAULT_TIMEOUT", "600")
    monkeypatch.setenv("PIP_RETRIES", "10")
    for name in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX", "http_proxy", "https_proxy", "all_proxy",
                 "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def refusing_index(home, monkeypatch):
    """A package index that refuses connections (a port held but not listened on): pip fails at once. Request it
    before the fixtures that start the server."""
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    _index_only(monkeypatch, held)
    yield
    held.close()


@pytest.fixture
def silent_index(home, monkeypatch):
    """A package index that accepts connections and never answers: what makes pip wait out its timeouts. Request
    it before the fixtures that start the server."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    _index_only(monkeypatch, listener)
    yield
    listener.close()
