"""Reliability under steady load: processes killed or frozen under traffic, a storm of overlapping operations,
malformed HTTP thrown at the front end and at a replica, and hostile scripts (exits, forks, floods of output,
writes to the model, SIGSTOP, looking for secrets) while another service is measured. Every loop is bounded in
count and time; all traffic stays on loopback."""

import glob
import json
import os
import random
import signal
import subprocess
import socket
import threading
import time
import urllib.parse

import pytest

from amlcore import Webservice
from amlcore.exceptions import WebserviceException
from conftest import _alive
from services import ECHO, Traffic, deploy, get, post, script_dir


def wait_until(predicate, timeout, message):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(message)


@pytest.fixture
def steady(aks, tmp_path):
    """A two-replica echo service, each replica taking two requests at a time."""
    ws, target = aks
    service = deploy(ws, target, script_dir(tmp_path, ECHO), name="steady-svc", num_replicas=2,
                     replica_max_concurrent_requests=2, period_seconds=1, initial_delay_seconds=1)
    service.wait_for_deployment()
    assert service.state == "Healthy"
    return ws, service


def test_a_killed_replica_fails_only_the_requests_it_was_serving(steady, home):
    ws, service = steady
    victim = home.replica_pids()[0]
    # Requests that take a few milliseconds, so the replica is caught serving some.
    with Traffic(service.scoring_uri, service.get_keys()[0], body=b'{"sleep": 0.004}', connections=4) as traffic:
        traffic.wait_for(50)
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: len(home.replica_pids()) == 2 and victim not in home.replica_pids(), 30,
                   "the killed replica was not restarted")
        after = len(traffic.records)
        traffic.wait_for(after + 50)
    failures = traffic.failures()
    # At most replica_max_concurrent_requests were in flight on the replica when it died; everything else
    # went to the other replica, or waited for it.
    assert len(failures) <= 2, failures
    assert all(status == 502 and start <= killed_at + 0.05 for start, _, status in failures), failures
    assert len(traffic.successes()) > 100

    # The service was Unhealthy while a replica was missing, and says Healthy again once it is back.
    def healthy():
        service.update_deployment_state()
        return service.state == "Healthy"

    wait_until(healthy, 30, "the service did not turn Healthy again after its replica restarted")
    assert service.run({"k": 1}) == {"echo": {"k": 1}}


def test_services_keep_answering_while_amlcored_is_killed(steady, home):
    ws, service = steady
    with Traffic(service.scoring_uri, service.get_keys()[0], connections=2) as traffic:
        traffic.wait_for(20)
        os.kill(home.server_pid(), signal.SIGKILL)
        served = len(traffic.records)
        traffic.wait_for(served + 200)
    assert traffic.failures() == [] and len(traffic.successes()) > 220
    # The next SDK call starts a new server, which adopts what runs.
    again = Webservice(ws, "steady-svc")
    assert again.state == "Healthy" and again.run({"k": 2}) == {"echo": {"k": 2}}


def test_a_killed_front_end_comes_back_with_its_state(steady, home):
    ws, service = steady
    keys = service.get_keys()
    replicas = sorted(home.replica_pids())
    [front_end] = home.frontend_pids()
    with Traffic(service.scoring_uri, keys[0], connections=2) as traffic:
        traffic.wait_for(20)
        killed_at = time.monotonic()
        os.kill(front_end, signal.SIGKILL)
        # amlcored notices within its reconciliation interval and starts a new one on the same port.
        wait_until(lambda: any(start > killed_at and status == 200 for start, _, status in traffic.records), 30,
                   "no request succeeded after the front end was killed")
        served = len(traffic.records)
        traffic.wait_for(served + 50)
    back_at = min(start for start, _, status in traffic.records if start > killed_at and status == 200)
    failures = traffic.failures()
    assert failures, "the front end was down for a while; some requests must have failed"
    assert all(killed_at - 0.05 <= start <= back_at for start, _, _ in failures), (killed_at, back_at, failures)
    assert back_at - killed_at < 15
    # The same replicas serve (adopted, not restarted), with the same keys and URI.
    assert home.frontend_pids() != [front_end] and len(home.frontend_pids()) == 1
    assert sorted(home.replica_pids()) == replicas
    again = Webservice(ws, "steady-svc")
    assert again.state == "Healthy" and again.get_keys() == keys and again.scoring_uri == service.scoring_uri
    assert again.run({"k": 3}) == {"echo": {"k": 3}}


def test_a_frozen_replica_stalls_no_other_service(aks, tmp_path, home):
    """A replica stopped with SIGSTOP fails its liveness probes by timing out; while it does, another service
    on the same front end keeps answering promptly and amlcored's calls to that front end keep working."""
    ws, target = aks
    # Long probe timeouts, tried every second: a probe that held the supervisor would hold it most of the time.
    frozen = deploy(ws, target, script_dir(tmp_path, ECHO, name="frozen"), name="frozen-svc",
                    period_seconds=1, initial_delay_seconds=1, timeout_seconds=8, failure_threshold=100)
    other = deploy(ws, target, script_dir(tmp_path, ECHO, name="other"), name="other-svc")
    frozen.wait_for_deployment()
    other.wait_for_deployment()
    [victim] = [r["pid"] for r in home.replicas("frozen-svc")]
    os.kill(victim, signal.SIGSTOP)
    try:
        with Traffic(other.scoring_uri, other.get_keys()[0], connections=2, max_seconds=40) as traffic:
            traffic.wait_for(20)
            # amlcored reads the front end's workloads for every reconciliation and every deployment.
            again = Webservice(ws, "other-svc")
            assert again.state == "Healthy"
            third = deploy(ws, target, script_dir(tmp_path, ECHO, name="third"), name="third-svc")
            third.wait_for_deployment(timeout_sec=60)
            assert third.state == "Healthy" and third.run({"k": 1}) == {"echo": {"k": 1}}
            # Long enough for several probes of the frozen replica to time out.
            served = len(traffic.records)
            deadline = time.monotonic() + 12
            while time.monotonic() < deadline:
                time.sleep(0.2)
            traffic.wait_for(served + 20)
    finally:
        os.kill(victim, signal.SIGCONT)
    assert traffic.failures() == []
    slowest = max(end - start for start, end, _ in traffic.records)
    assert slowest < 5, "a request to another service took {:.1f} s".format(slowest)


def test_the_front_end_serves_on_every_core(aks, home):
    """One I/O thread a core (2 to 8): a request that waits holds back one thread, not the whole cluster."""
    [front_end] = home.frontend_pids()
    names = []
    for task in os.listdir("/proc/{}/task".format(front_end)):
        with open("/proc/{}/task/{}/comm".format(front_end, task)) as f:
            names.append(f.read().strip())
    expected = min(8, max(2, len(os.sched_getaffinity(0))))
    assert names.count("amlcore-io") == expected, names
    [log] = glob.glob(os.path.join(home.path, "clusters", "*", "frontend.log"))
    with open(log) as f:
        assert "with {} I/O threads".format(expected) in f.read()


def test_a_storm_of_overlapping_operations_ends_consistent(aks, tmp_path, home):
    ws, target = aks
    source = script_dir(tmp_path, ECHO)
    names = ["storm-a", "storm-b", "storm-c"]
    rng = random.Random(20261127)
    plans = [[(rng.choice(["deploy", "update", "delete"]), rng.choice(names), rng.randint(1, 2)) for _ in range(8)]
             for _ in range(4)]
    outcomes, unexpected = [], []

    def worker(plan):
        deadline = time.monotonic() + 90
        for action, name, replicas in plan:
            if time.monotonic() > deadline:
                return
            try:
                if action == "deploy":
                    deploy(ws, target, source, name=name, num_replicas=replicas, overwrite=True)
                elif action == "update":
                    Webservice(ws, name).update(num_replicas=replicas)
                else:
                    Webservice(ws, name).delete()
                outcomes.append((action, name, "accepted"))
            except WebserviceException as e:
                text = str(e)
                # What a storm may meet: someone else's operation, or a service that is not there (yet / any more).
                if "has a running" in text or "not found" in text or "WebserviceNotFound" in text:
                    outcomes.append((action, name, "refused"))
                else:
                    unexpected.append(text)
            except Exception as e:  # anything else is a defect the assertion below reports
                unexpected.append(repr(e))
            time.sleep(rng.random() * 0.2)

    threads = [threading.Thread(target=worker, args=(plan,)) for plan in plans]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert unexpected == []
    assert any(o[2] == "accepted" for o in outcomes) and any(o[2] == "refused" for o in outcomes), outcomes

    def settled():
        return all(s.state in ("Healthy", "Failed", "Unschedulable") for s in Webservice.list(ws))

    wait_until(settled, 120, "operations did not finish")
    services = {s.name: s for s in Webservice.list(ws)}
    assert set(ws.webservices) == set(services) <= set(names)
    for name, service in services.items():
        assert service.state == "Healthy", (name, service.state, service.error)
        assert service.run({"name": name}) == {"echo": {"name": name}}
    # What runs is exactly what the records say: no orphan replicas, none missing.
    expected = sum(s.num_replicas for s in services.values())
    wait_until(lambda: len(home.processes("amlcore-score")) == expected, 30,
               "replica processes do not match the services")
    assert sorted(home.processes("amlcore-score")) == sorted(home.replica_pids())
    status, metrics = get(target.scoring_endpoint + "/metrics", home.cluster_admin_token())
    assert status == 200, metrics
    metrics = metrics.decode()
    for name, service in services.items():
        assert 'amlcore_fe_ready_replicas{{service="{0}",version="{0}"}} {1}'.format(
            name, service.num_replicas) in metrics
    for service in services.values():
        service.delete()
    assert Webservice.list(ws) == []
    wait_until(lambda: home.processes("amlcore-score") == [], 30, "replicas outlived their services")


def malformed_requests(rng, host, path, count):
    """`count` broken or hostile HTTP requests, each as the bytes to send."""
    valid = ("POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: 8\r\n\r\n"
             '{{"n": 1}}').format(path, host).encode()
    fixed = [
        b"\x00\x01\x02\xff" * 64,
        b"GET\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET / HTTP/1.1\r\nNoColonHere\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n",
        b"GET / HTTP/1.1\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(5000)) + b"\r\n",
        "POST {} HTTP/1.1\r\nContent-Length: -5\r\n\r\n".format(path).encode(),
        "POST {} HTTP/1.1\r\nContent-Length: abc\r\n\r\n".format(path).encode(),
        "POST {} HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n".format(path).encode(),
        "POST {} HTTP/1.1\r\nContent-Length: 100\r\n\r\nshort".format(path).encode(),
        "POST {} HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nxx\r\n0\r\n\r\n".format(path).encode(),
        "POST {} HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        .format(path).encode(),
        "POST {} HTTP/1.1\r\nContent-Length: 4\r\n\r\n\xff\xfe\xfd\xfc".format(path).encode("latin-1"),
        b"GET /api/v1/service/../../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /%00%ff%2e%2e HTTP/1.1\r\nHost: x\r\n\r\n",
        b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET " + b"/a" * 40000 + b" HTTP/1.1\r\n\r\n",
        valid * 20,
        "POST {} HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 8\r\n\r\n".format(path).encode(),
    ]
    for i in range(count):
        if i < len(fixed):
            yield fixed[i]
            continue
        data = bytearray(valid)
        kind = rng.randrange(4)
        if kind == 0:  # flip bytes
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif kind == 1:  # cut short
            data = data[:rng.randrange(len(data))]
        elif kind == 2:  # insert junk
            at = rng.randrange(len(data))
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        else:  # random bytes
            data = bytearray(rng.randrange(256) for _ in range(rng.randint(1, 512)))
        yield bytes(data)


def connect(address):
    """A connection to a port on 127.0.0.1, or to a Unix socket (a path)."""
    if isinstance(address, str):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        s.connect(address)
        return s
    return socket.create_connection(("127.0.0.1", address), timeout=2)


def throw(address, payload):
    """Sends `payload` and reads what comes back until the peer closes or goes quiet."""
    with connect(address) as s:
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):
                pass
        except OSError:
            pass  # the peer may close as soon as it sees the request is bad


@pytest.mark.parametrize("target_kind", ["front end", "replica"])
def test_malformed_http_crashes_nothing(steady, home, target_kind):
    ws, service = steady
    parts = urllib.parse.urlsplit(service.scoring_uri)
    if target_kind == "front end":
        address, host, path = parts.port, parts.netloc, parts.path
        [victim] = home.frontend_pids()
    else:
        replica = home.replica_pids()[0]
        address, host = replica_socket(home, replica), "localhost"
        path, victim = "/score", replica
    rng = random.Random(target_kind)
    deadline = time.monotonic() + 40
    sent = 0
    for payload in malformed_requests(rng, host, path, 400):
        if time.monotonic() > deadline:
            break
        throw(address, payload)
        sent += 1
    assert sent >= 100
    assert victim in (home.frontend_pids() if target_kind == "front end" else home.replica_pids())
    assert service.run({"after": sent}) == {"echo": {"after": sent}}


def replica_socket(home, pid):
    """The Unix socket a replica listens on."""
    for replica in home.replicas():
        if replica["pid"] == pid and replica["socket"]:
            return replica["socket"]
    raise AssertionError("replica {} is not running".format(pid))


def listening_tcp_ports(pid):
    """The TCP ports process `pid` listens on (its socket descriptors that /proc/net/tcp* list as LISTEN)."""
    inodes = set()
    for fd in os.listdir("/proc/{}/fd".format(pid)):
        try:
            target = os.readlink("/proc/{}/fd/{}".format(pid, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:
                    ports.append(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def test_a_replica_listens_only_on_its_private_socket(steady, home):
    ws, service = steady
    for replica in home.replicas("steady-svc"):
        # No TCP port: nothing on this machine can call it past the front end's authentication.
        assert listening_tcp_ports(replica["pid"]) == []
        socket_path = replica["socket"]
        assert os.stat(socket_path).st_mode & 0o777 == 0o600
        assert os.stat(os.path.dirname(socket_path)).st_mode & 0o777 == 0o700
        # Its owner can still reach it there (the front end does).
        with connect(socket_path) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            assert s.recv(65536).startswith(b"HTTP/1.1 200")
    assert len(listening_tcp_ports(home.frontend_pids()[0])) == 1


# --- hostile score.py ------------------------------------------------------------------------------------
# Scripts that attack the process running them; each test checks that the damage stays inside that one replica.

EXITS = """
    import json, os
    def init():
        pass
    def run(raw):
        if json.loads(raw).get("exit"):
            os._exit(1)
        return {"pid": os.getpid()}
"""


def test_a_request_that_kills_its_replica_is_not_sent_to_another(aks, tmp_path, home):
    ws, target = aks
    service = deploy(ws, target, script_dir(tmp_path, EXITS), name="exit-svc", num_replicas=3,
                     period_seconds=1, initial_delay_seconds=1)
    service.wait_for_deployment()
    key = service.get_keys()[0]
    # Every replica answers first, so the front end holds a kept-alive connection to each: the fatal request
    # goes over a reused connection, the case that was taken for a stale one.
    answered_by = set()
    for _ in range(30):
        status, body, _ = post(service.scoring_uri, "{}", key)
        assert status == 200, body
        answered_by.add(json.loads(body)["pid"])
    before = set(home.replica_pids())
    assert answered_by == before and len(before) == 3

    status, body, _ = post(service.scoring_uri, '{"exit": true}', key)
    assert status == 502, body
    wait_until(lambda: len(home.replica_pids()) == 3 and set(home.replica_pids()) != before, 30,
               "the replica that exited was not restarted")
    assert len(before & set(home.replica_pids())) == 2, "the request was sent on to other replicas"
    assert post(service.scoring_uri, "{}", key)[0] == 200


FLOODS = """
    import json, os
    def init():
        pass
    def run(raw):
        n = json.loads(raw).get("flood", 0)
        line = "x" * 1023
        for _ in range(n):
            print(line)
        for _ in range(n):
            os.write(1, (line + "\\n").encode())
        if n and os.fork() == 0:
            os.write(2, b"the forked child writes here too\\n")
            os._exit(0)
        return {"flooded": n}
"""


def test_a_script_flooding_its_output_keeps_the_log_bounded(aks, tmp_path, home):
    ws, target = aks
    service = deploy(ws, target, script_dir(tmp_path, FLOODS), name="flood-svc")
    service.wait_for_deployment()
    key = service.get_keys()[0]
    # About 24 MB through print() and straight to descriptor 1, then a forked child's line.
    status, body, _ = post(service.scoring_uri, '{"flood": 12000}', key)
    assert status == 200, body
    [log] = glob.glob(os.path.join(home.path, "clusters", "*", "replicas", "*", "replica.log"))
    wait_until(lambda: "the forked child writes here too" in open(log, errors="replace").read(), 30,
               "the child's output did not reach the log")
    cap = 10 * 1024 * 1024
    assert os.path.getsize(log) <= cap and cap - (1 << 20) < os.path.getsize(log + ".1") <= cap
    assert sorted(os.listdir(os.path.dirname(log))) == sorted(
        ["app", "replica.json", "replica.log", "replica.log.1", "replica.sock", "status.json"])
    # The replica keeps serving, and its logs are readable.
    assert post(service.scoring_uri, "{}", key)[0] == 200
    assert "the forked child writes here too" in service.get_logs()


# init() forks a child that ignores SIGTERM, records its pid in `pid_file` (the first child to start does)
# and holds `megabytes`; init returns `linger` seconds after the child started.
FORKS = """
    import os, signal, time
    def init():
        if os.fork() == 0:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            if not os.path.exists({pid_file!r}):
                with open({pid_file!r} + ".tmp", "w") as f:
                    f.write(str(os.getpid()))
                os.rename({pid_file!r} + ".tmp", {pid_file!r})
            ballast = b"x" * ({megabytes} << 20)
            while True:
                time.sleep(1)
        while not os.path.exists({pid_file!r}):
            time.sleep(0.01)
        time.sleep({linger})
    def run(raw):
        return {{"pid": os.getpid()}}
"""


def _child_of(pid_file):
    wait_until(lambda: os.path.exists(pid_file), 30, "the script's child did not start")
    with open(pid_file) as f:
        return int(f.read())


def test_memory_of_what_a_replica_started_counts_against_its_limit(aks, tmp_path, home):
    ws, target = aks
    pid_file = str(tmp_path / "child.pid")
    source = script_dir(tmp_path, FORKS.format(megabytes=400, pid_file=pid_file, linger=5))
    service = deploy(ws, target, source, name="forker-svc", memory_gb=0.1, memory_gb_limit=0.25)
    with pytest.raises(WebserviceException) as error:
        service.wait_for_deployment(timeout_sec=60)
    assert '"code": "OOMKilled"' in str(error.value)
    assert "The replica and the processes it started used more than its memory limit of 0.25 GB" in str(error.value)
    # The first replica was killed for it, and the child holding the memory with it.
    child = _child_of(pid_file)
    wait_until(lambda: not _alive(child), 30, "the child holding the memory outlived its replica")


def test_nothing_a_replica_started_outlives_its_service_or_its_cluster(aks, tmp_path, home):
    ws, target = aks
    for ending in ("delete", "stop"):
        pid_file = str(tmp_path / (ending + ".pid"))
        source = script_dir(tmp_path, FORKS.format(megabytes=1, pid_file=pid_file, linger=0), name=ending)
        service = deploy(ws, target, source, name=ending + "-svc")
        service.wait_for_deployment()
        child = _child_of(pid_file)
        assert _alive(child)
        if ending == "delete":
            service.delete()
        else:
            home.stop_all()  # amlcored --stop --with-clusters
        wait_until(lambda: not _alive(child), 30, "the script's child outlived " + ending)


# Looks for the control plane's secrets from inside a replica, and uses what it finds: reads the home's admin
# token and server.json, every cluster's token and route table (all services' keys), other replicas'
# directories, the same files through /proc/<pid>/root of every process it can see, and the working
# directories and environments of the home's processes; then tries every token it found on amlcored's REST
# API, calls other replicas' sockets, and POSTs without a key to every TCP port the home's processes listen
# on. (Not to other ports of the machine: whatever else runs there is not amlcore's, and not this test's.)
SNOOPS = """
    import glob, json, os, socket, urllib.error, urllib.request

    def init():
        pass

    def read(path):
        try:
            with open(path, errors="replace") as f:
                return f.read()
        except OSError:
            return None

    def call(method, url, token=None, body=None):
        request = urllib.request.Request(url, data=body, method=method)
        if token:
            request.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as e:
            return e.code
        except (OSError, ValueError) as e:
            return type(e).__name__

    def unix_post(path):
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(5)
                s.connect(path)
                s.sendall(b"POST /score HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\n{}")
                return s.recv(100).decode(errors="replace")
        except OSError as e:
            return type(e).__name__

    def run(raw):
        ask = json.loads(raw)
        app = os.environ["AML_APP_ROOT"]
        mine = os.path.dirname(app)
        homes = {ask["home"], os.environ.get("AMLCORE_HOME", ""), os.path.normpath(os.path.join(mine, "../../../.."))}
        homes.discard("")
        names = ["admin_token", "server.json", "amlcore.db", "clusters/*/admin_token", "clusters/*/routes.json",
                 "clusters/*/workloads.json", "clusters/*/frontend.log", "clusters/*/replicas/*/replica.log",
                 "clusters/*/replicas/*/app/score.py"]
        roots = [""]
        for pid in os.listdir("/proc"):
            if pid.isdigit() and int(pid) != os.getpid():
                roots += ["/proc/{}/root".format(pid)]
        paths = set()
        for root in roots:
            for home in homes:
                for name in names:
                    paths.update(glob.glob(root + home + "/" + name))
        for pid in ask["pids"]:
            paths.update(["/proc/{}/cwd/admin_token".format(pid), "/proc/{}/cwd/routes.json".format(pid),
                          "/proc/{}/environ".format(pid)])
        found = {}
        for path in sorted(paths):
            if path.startswith(mine + "/") or path.startswith(tuple(r + mine + "/" for r in roots)):
                continue  # its own files
            text = read(path)
            if text is not None and (not path.endswith("/environ") or "AMLCORE_TOKEN" in text):
                found[path] = text
        tokens = set()
        for text in found.values():
            tokens.add(text.strip())
            try:
                tokens.add(json.loads(text).get("token", ""))
            except (ValueError, AttributeError):
                pass
        tokens = {t for t in tokens if t and t.isprintable() and len(t) < 200}
        deletes = {token[:8]: call("DELETE", ask["delete_url"], token) for token in sorted(tokens)}
        deletes["no token"] = call("DELETE", ask["delete_url"])
        sockets = {}
        for root in roots:
            for home in homes:
                for path in glob.glob(root + home + "/clusters/*/replicas/*/replica.sock"):
                    if not path.startswith(mine + "/"):
                        sockets[path] = unix_post(path)
        sockets[ask["victim_socket"]] = unix_post(ask["victim_socket"])
        answers = {}
        for port in ask["ports"]:
            for target in ("/score", "/api/v1/service/victim-svc/score"):
                answers["{}{}".format(port, target)] = call("POST", "http://127.0.0.1:{}{}".format(port, target),
                                                            body=b"{}")
        return {"found": sorted(found), "deletes": deletes, "sockets": sockets, "answers": answers}
"""


def namespaces_available():
    return subprocess.run(["unshare", "-Urm", "true"], capture_output=True).returncode == 0


def test_a_replica_finds_no_secret_and_reaches_nothing_past_the_front_end(aks, tmp_path, home):
    if not namespaces_available():
        pytest.skip("this machine does not allow user namespaces: replicas run without a private view")
    ws, target = aks
    victim = deploy(ws, target, script_dir(tmp_path, ECHO, name="victim"), name="victim-svc")
    snoop = deploy(ws, target, script_dir(tmp_path, SNOOPS, name="snoop"), name="snoop-svc")
    victim.wait_for_deployment()
    snoop.wait_for_deployment()
    with open(os.path.join(home.path, "server.json")) as f:
        endpoint = json.load(f)["endpoint"]
    delete_url = "{}/modelmanagement/v1.0/subscriptions/{}/resourceGroups/{}/providers/" \
                 "Microsoft.MachineLearningServices/workspaces/{}/services/victim-svc".format(
                     endpoint, ws.subscription_id, ws.resource_group, ws.name)
    [victim_replica] = home.replicas("victim-svc")
    pids = [home.server_pid()] + home.frontend_pids() + home.replica_pids()
    ports = sorted({port for pid in pids for port in listening_tcp_ports(pid)})
    assert len(ports) == 2  # amlcored's and the front end's
    status, body, _ = post(snoop.scoring_uri, json.dumps({
        "home": home.path, "delete_url": delete_url, "victim_socket": victim_replica["socket"], "pids": pids,
        "ports": ports}), snoop.get_keys()[0])
    assert status == 200, body
    report = json.loads(body)
    assert report["found"] == []
    assert report["deletes"] == {"no token": 401}
    assert all(not answer.startswith("HTTP/1.1 200") for answer in report["sockets"].values()), report["sockets"]
    assert report["sockets"][victim_replica["socket"]] in ("FileNotFoundError", "PermissionError")
    assert report["answers"] and 200 not in report["answers"].values(), report["answers"]
    # The victim is intact, and answers its own key.
    again = Webservice(ws, "victim-svc")
    assert again.state == "Healthy" and again.run({"k": 1}) == {"echo": {"k": 1}}


def test_replicas_get_none_of_amlcores_settings(aks, tmp_path, home, monkeypatch):
    """An admin token given to the SDK in the environment does not reach the scripts amlcored runs."""
    ws, target = aks
    monkeypatch.setenv("AMLCORE_TOKEN", "not-for-replicas")  # what amlcored and its front ends inherit
    home.stop_all()
    service = deploy(ws, target, script_dir(tmp_path, """
        import os
        def init():
            pass
        def run(raw):
            return sorted(k for k in os.environ if k.startswith("AMLCORE_"))
    """), name="env-svc")
    service.wait_for_deployment()
    assert service.run("{}") == ["AMLCORE_PYTHON", "AMLCORE_PYTHONPATH", "AMLCORE_REPLICA_ID", "AMLCORE_SERVICE_NAME"]


# One script that does, on request, each thing a hostile score.py may do to the process running it: flood its
# output, write the model file it was given, fork a child that ignores SIGTERM, exit in the middle of a
# request, stop itself with SIGSTOP.
HOSTILE = """
    import json, os, signal, time
    def init():
        pass
    def run(raw):
        action = json.loads(raw).get("do")
        if action == "flood":
            line = "x" * 1023
            for _ in range(4000):
                print(line)
            for _ in range(4000):
                os.write(1, (line + "\\n").encode())
        elif action == "write model":
            path = os.path.join(os.getenv("AZUREML_MODEL_DIR"), "weights.txt")
            try:
                os.chmod(path, 0o600)
                with open(path, "w") as f:
                    f.write("damaged")
            except OSError as e:
                return {"refused": str(e)}
        elif action == "fork":
            child = os.fork()
            if child == 0:
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                for _ in range(600):
                    time.sleep(0.1)
                os._exit(0)
            return {"child": child}
        elif action == "exit":
            os._exit(3)
        elif action == "stop":
            os.kill(os.getpid(), signal.SIGSTOP)
            time.sleep(10)  # the other threads may stop a moment later than this one returns from kill()
        return {"pid": os.getpid()}
"""

# The other service on the cluster: it echoes and reads the model file the hostile one was given.
BYSTANDER = """
    import json, os
    def init():
        pass
    def run(raw):
        with open(os.path.join(os.getenv("AZUREML_MODEL_DIR"), "weights.txt")) as f:
            return {"echo": json.loads(raw), "model": f.read()}
"""


def test_a_hostile_script_harms_only_its_own_replica(aks, tmp_path, home):
    """While one service's script floods its output, writes its model file, forks, exits mid-request and stops
    itself, another service on the same cluster keeps answering every request, promptly and unchanged."""
    from amlcore import Model
    ws, target = aks
    weights = tmp_path / "weights.txt"
    weights.write_text("original")
    model = Model.register(ws, model_path=str(weights), model_name="hostile-weights")
    bystander = deploy(ws, target, script_dir(tmp_path, BYSTANDER, name="bystander"), name="bystander-svc",
                       models=[model], num_replicas=2)
    hostile = deploy(ws, target, script_dir(tmp_path, HOSTILE, name="hostile"), name="hostile-svc",
                     models=[model], scoring_timeout_ms=2000, initial_delay_seconds=1, period_seconds=1,
                     timeout_seconds=1, failure_threshold=2)
    bystander.wait_for_deployment()
    hostile.wait_for_deployment()
    bystanders = sorted(r["pid"] for r in home.replicas("bystander-svc"))
    key = hostile.get_keys()[0]

    def attack(action):
        status, body, _ = post(hostile.scoring_uri, json.dumps({"do": action}), key)
        return status, json.loads(body) if status == 200 else body

    def answers_again():
        # A replica of the hostile service is back and serving.
        wait_until(lambda: post(hostile.scoring_uri, "{}", key)[0] == 200, 60,
                   "the hostile service did not come back")

    with Traffic(bystander.scoring_uri, bystander.get_keys()[0], connections=2, max_seconds=150) as traffic:
        traffic.wait_for(20)
        assert attack("flood")[0] == 200
        status, answer = attack("write model")
        assert status == 200 and ("refused" in answer or os.geteuid() == 0), answer
        status, answer = attack("fork")
        assert status == 200, answer
        child = answer["child"]
        assert _alive(child)
        [replica] = home.replicas("hostile-svc")
        # Exiting in the middle of a request fails that request, and only that one.
        assert attack("exit")[0] == 502
        answers_again()
        wait_until(lambda: not _alive(child), 30, "the script's child outlived its replica")
        wait_until(lambda: not _alive(replica["pid"]), 30, "the replica that exited is still there")
        # A replica that stops itself times its request out, fails its liveness probe and is replaced.
        [stopping] = home.replicas("hostile-svc")
        assert attack("stop")[0] == 504
        wait_until(lambda: [r["pid"] for r in home.replicas("hostile-svc")] not in ([], [stopping["pid"]]), 60,
                   "the replica that stopped itself was not replaced")
        answers_again()
        served = len(traffic.records)
        traffic.wait_for(served + 20)
    # The other service answered every request, none slowly, from the same replicas, with the model as registered.
    assert traffic.failures() == [], traffic.failures()[:5]
    slowest = max(end - start for start, end, _ in traffic.records)
    assert slowest < 5, "a request to the other service took {:.1f} s".format(slowest)
    assert sorted(r["pid"] for r in home.replicas("bystander-svc")) == bystanders
    assert bystander.run({"k": 1}) == {"echo": {"k": 1}, "model": "original"}
    download = tmp_path / "download"
    model.download(target_dir=str(download))
    assert (download / "weights.txt").read_text() == "original"
