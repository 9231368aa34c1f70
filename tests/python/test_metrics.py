"""/metrics on the front end and on amlcored, as an operator scrapes them: every response by its real status code,
the workspace server's probes apart, rejections, timeouts, restarts, per-replica latency, process metrics, and
the control plane's calls and operations."""

import json
import os
import re
import threading
import time

import pytest

from amlcore.exceptions import WebserviceException
from services import deploy, get, head_only, post, script_dir

SAMPLE_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$')

# Echoes, sleeps or exits when asked to.
SCRIPT = """
    import json, os, time
    def init():
        pass
    def run(raw):
        data = json.loads(raw)
        if data.get("exit"):
            os._exit(3)
        if data.get("sleep"):
            time.sleep(data["sleep"])
        if data.get("fail"):
            raise ValueError("asked to fail")
        return data
"""


def scrape(url, token):
    """The exposition as {series: value}, after checking that every line follows the text format and that each
    family is described once, before its samples."""
    status, body = get(url, token)
    assert status == 200, body
    samples, described = {}, {}
    for line in body.decode().splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            kind, name = line.split(" ")[1:3]
            assert (kind, name) not in described, "described twice: " + line
            described[(kind, name)] = line
            continue
        m = SAMPLE_LINE.match(line)
        assert m, "not a sample line: " + line
        family = re.sub(r"_(bucket|sum|count)$", "", m.group(1))
        assert ("TYPE", m.group(1)) in described or ("TYPE", family) in described, "undescribed: " + line
        assert line.rsplit(" ", 1)[0] not in samples, "duplicate series: " + line
        samples[line.rsplit(" ", 1)[0]] = float(m.group(3))
    for (kind, name), line in described.items():
        if kind == "TYPE" and line.endswith(" counter"):
            assert name.endswith("_total"), line
    return samples


def front_end_metrics(target, home):
    return scrape(target.scoring_endpoint + "/metrics", home.cluster_admin_token())


def server_metrics(home):
    with open(os.path.join(home.path, "server.json")) as f:
        server = json.load(f)
    return server["endpoint"], server["token"]


def poll(read, check, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if check(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_the_front_end_counts_every_response_by_its_status_code(aks, home, tmp_path):
    ws, target = aks
    service = deploy(ws, target, script_dir(tmp_path, SCRIPT), name="metered")
    service.wait_for_deployment()
    key = service.get_keys()[0]
    uri = service.scoring_uri
    labels = 'service="metered",version="metered"'

    for _ in range(3):
        assert post(uri, '{"n": 1}', key)[0] == 200
    assert post(uri, '{"fail": true}', key)[0] == 502
    assert post(uri, "{}", "wrong-key")[0] == 401
    assert post(uri, "{}")[0] == 401
    assert post(uri.replace("/metered/", "/made-up-name/"), "{}", key)[0] == 404
    assert post(uri, "{}", key, {"azureml-model-deployment": "nope"})[0] == 404
    assert head_only(uri, 100 * 1024 * 1024 + 1, {"Authorization": "Bearer " + key}).split(" ")[1] == "413"
    assert get(target.scoring_endpoint + "/")[0] == 200
    assert get(target.scoring_endpoint + "/nowhere")[0] == 404

    m = front_end_metrics(target, home)
    # The amlcored probes that found the service ready are counted apart from users' requests.
    assert m['amlcore_fe_requests_total{' + labels + ',code="200"}'] == 3
    assert m['amlcore_fe_probe_requests_total{' + labels + ',code="200"}'] >= 1
    assert m['amlcore_fe_requests_total{' + labels + ',code="502"}'] == 1
    # Refused before a version was chosen: version "", and a name the cluster does not serve makes no series.
    assert m['amlcore_fe_requests_total{service="metered",version="",code="401"}'] == 2
    assert m['amlcore_fe_requests_total{service="metered",version="",code="404"}'] == 1
    assert m['amlcore_fe_requests_total{service="metered",version="",code="413"}'] == 1
    assert m['amlcore_fe_requests_total{service="",version="",code="404"}'] == 1
    assert not any("made-up-name" in series for series in m)
    assert m['amlcore_fe_other_requests_total{handler="health",code="200"}'] >= 1
    assert m['amlcore_fe_other_requests_total{handler="",code="404"}'] == 1
    # Real codes only: no status classes, no second error counter.
    assert not any('code="2xx"' in series or "errors_total" in series for series in m)
    # Latency of users' requests that reached the version, and per replica.
    assert m['amlcore_fe_request_duration_seconds_count{' + labels + '}'] == 4
    [replica_count] = [v for k, v in m.items()
                       if k.startswith('amlcore_fe_replica_request_duration_seconds_count{' + labels)]
    assert replica_count >= 4
    assert m['amlcore_fe_ready_replicas{' + labels + '}'] == 1
    assert m['amlcore_fe_desired_replicas{' + labels + '}'] == 1
    assert not any(k.startswith("amlcore_fe_wanted_replicas{" + labels) for k in m)  # not autoscaled
    assert m["process_resident_memory_bytes"] > 1e6
    assert abs(m["process_start_time_seconds"] - time.time()) < 3600
    assert m["process_open_fds"] > 0 and m["process_cpu_seconds_total"] > 0

    # A replica that exits is restarted and counted under its reason.
    post(uri, '{"exit": true}', key)
    series = 'amlcore_fe_replica_restarts_total{' + labels + ',reason="Error"}'
    m = poll(lambda: front_end_metrics(target, home), lambda m: m.get(series) == 1)
    assert m.get(series) == 1, sorted(k for k in m if "restarts" in k)


def test_rejections_and_timeouts_are_counted_with_their_reason(aks, home, tmp_path):
    ws, target = aks
    service = deploy(ws, target, script_dir(tmp_path, SCRIPT), name="slow-svc", scoring_timeout_ms=1000,
                     max_request_wait_time=200)
    service.wait_for_deployment()
    key = service.get_keys()[0]
    labels = 'service="slow-svc",version="slow-svc"'
    results = []
    slow = threading.Thread(target=lambda: results.append(post(service.scoring_uri, '{"sleep": 3}', key)[0]))
    slow.start()
    poll(lambda: front_end_metrics(target, home),
         lambda m: m.get('amlcore_fe_inflight_requests{' + labels + '}') == 1, timeout=10)
    # The replica runs the slow request: the next one waits longer than max_request_wait_time.
    assert post(service.scoring_uri, "{}", key)[0] == 503
    slow.join(30)
    assert results == [504]
    m = front_end_metrics(target, home)
    assert m['amlcore_fe_rejected_requests_total{' + labels + ',reason="wait_expired"}'] == 1
    assert m['amlcore_fe_rejected_requests_total{' + labels + ',reason="no_ready_replica"}'] == 0
    assert m['amlcore_fe_request_timeouts_total{' + labels + '}'] == 1
    assert m['amlcore_fe_requests_total{' + labels + ',code="503"}'] == 1
    assert m['amlcore_fe_requests_total{' + labels + ',code="504"}'] == 1


def test_a_failed_service_keeps_its_series(aks, home, tmp_path):
    ws, target = aks
    broken = script_dir(tmp_path, """
        def init():
            raise RuntimeError("this service cannot start")
        def run(raw):
            return raw
    """)
    service = deploy(ws, target, broken, name="broken-svc")
    with pytest.raises(WebserviceException):
        service.wait_for_deployment()
    labels = 'service="broken-svc",version="broken-svc"'
    m = front_end_metrics(target, home)
    assert m['amlcore_fe_ready_replicas{' + labels + '}'] == 0
    assert m['amlcore_fe_desired_replicas{' + labels + '}'] == 1
    assert m['amlcore_fe_replica_restarts_total{' + labels + ',reason="UserScriptInitFailed"}'] >= 1


def test_amlcored_counts_its_calls_and_operations(aks, home, tmp_path):
    ws, target = aks
    endpoint, token = server_metrics(home)
    assert get(endpoint + "/metrics")[0] == 401
    service = deploy(ws, target, script_dir(tmp_path, SCRIPT), name="counted")
    service.wait_for_deployment()
    service.delete()
    m = scrape(endpoint + "/metrics", token)
    assert m['amlcore_server_operations_started_total{kind="ServiceCreate"}'] >= 1
    assert m['amlcore_server_operations_total{kind="ServiceCreate",result="Succeeded"}'] >= 1
    assert m['amlcore_server_operation_duration_seconds_count{kind="ServiceCreate",result="Succeeded"}'] >= 1
    assert m['amlcore_server_operations_total{kind="ComputeProvision",result="Succeeded"}'] == 1
    # Calls by route pattern, never by the names in a path.
    routes = [k for k in m if k.startswith("amlcore_server_http_requests_total{")]
    assert any('code="401"' in k for k in routes)
    assert any('method="DELETE"' in k and "/services/{name}" in k and 'code="202"' in k for k in routes), routes
    assert not any("counted" in k for k in routes)
    assert m["process_resident_memory_bytes"] > 1e6
