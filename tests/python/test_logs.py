"""Logs as an operator reads them: every line amlcored, a front end and a replica's runtime write about
themselves carries its time and level, and get_logs() names the replica it shows or shows them all."""

import glob
import os
import re

from services import deploy, post, script_dir

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO|WARNING|ERROR) (amlcored|amlcore-fe|amlcore-score): ")

SCRIPT = """
    import json
    def init():
        print("initialized")
    def run(raw):
        if json.loads(raw).get("fail"):
            raise ValueError("asked to fail")
        print("scored")
        return raw
"""


def test_every_log_line_of_amlcore_has_its_time_and_level(aks, home, tmp_path):
    ws, target = aks
    service = deploy(ws, target, script_dir(tmp_path, SCRIPT), name="logged")
    service.wait_for_deployment()
    key = service.get_keys()[0]
    assert post(service.scoring_uri, "{}", key, {"x-request-id": "ok-1"})[0] == 200
    assert post(service.scoring_uri, '{"fail": true}', key, {"x-request-id": "bad-1"})[0] == 502

    with open(os.path.join(home.path, "amlcored.log")) as f:
        server_lines = f.read().splitlines()
    [frontend_log] = glob.glob(os.path.join(home.path, "clusters", "*", "frontend.log"))
    with open(frontend_log) as f:
        frontend_lines = f.read().splitlines()
    assert any("amlcored: serving" in line for line in server_lines), server_lines
    assert any("amlcore-fe: cluster" in line for line in frontend_lines), frontend_lines
    for line in server_lines + frontend_lines:
        assert LINE.match(line), line

    logs = service.get_logs()
    # What the script printed keeps its form (with the request id during a request); the runtime's own lines
    # carry time and level, and the failure's traceback is ERROR lines tagged with the request id.
    assert "\ninitialized\n" in logs and "\nok-1 scored\n" in logs
    runtime = [line for line in logs.splitlines()[1:] if "amlcore-score" in line]
    assert any(" INFO amlcore-score: ready on " in line for line in runtime), logs
    assert all(LINE.match(line) for line in runtime), runtime
    errors = [line for line in runtime if " ERROR amlcore-score: bad-1 " in line]
    assert errors[0].endswith("ERROR amlcore-score: bad-1 Exception in run():")
    assert errors[-1].endswith("ERROR amlcore-score: bad-1 ValueError: asked to fail")


def test_get_logs_names_its_replica_or_shows_them_all(aks, home, tmp_path):
    # A lone replica's log is as it is: num_lines lines, as azureml gives.
    lone = deploy(ws=aks[0], target=aks[1], source=script_dir(tmp_path, SCRIPT, "lone"), name="lone-log")
    lone.wait_for_deployment()
    assert len(lone.get_logs(num_lines=1).strip().splitlines()) == 1
    assert lone.get_logs(all_replicas=True).startswith("Replica ")

    ws, target = aks
    service = deploy(ws, target, script_dir(tmp_path, SCRIPT), name="two-logs", num_replicas=2)
    service.wait_for_deployment()
    ids = sorted(r["name"] for r in home.replicas("two-logs"))
    assert len(ids) == 2, ids

    header = re.compile(r"^Replica (\S+) \((\w+)\):$", re.M)
    one = service.get_logs()
    [(shown, state)] = re.findall(r"^Replica (\S+) \((\w+), 1 of 2; all_replicas=True shows every one\):$", one,
                                  re.M)
    assert one.startswith("Replica ") and shown in ids and state == "Ready"

    every = service.get_logs(all_replicas=True)
    assert sorted(name for name, _ in header.findall(every)) == ids, every
    assert every.count("INFO amlcore-score: ready on ") == 2

    start_up = service.get_logs(init=True, all_replicas=True)
    assert start_up.startswith("Deployment log:\n")
    assert sorted(re.findall(r"^Start-up of replica (\S+) \(Ready\):$", start_up, re.M)) == ids


def test_the_access_log_is_switched_per_cluster(aks, home, tmp_path):
    import time
    import pytest
    from amlcore.compute import AksUpdateConfiguration
    from amlcore.exceptions import ComputeTargetException

    ws, target = aks
    service = deploy(ws, target, script_dir(tmp_path, SCRIPT), name="accessed")
    service.wait_for_deployment()
    key = service.get_keys()[0]
    [frontend_log] = glob.glob(os.path.join(home.path, "clusters", "*", "frontend.log"))

    def log():
        with open(frontend_log) as f:
            return f.read()

    def logged_soon(request_id, timeout=30):
        """Sends requests tagged request_id-<n> until one is in the access log (the router takes the switch at
        the cluster's next reconcile); the line."""
        deadline = time.monotonic() + timeout
        n = 0
        while time.monotonic() < deadline:
            n += 1
            tag = "{}-{}".format(request_id, n)
            assert post(service.scoring_uri, "{}", key, {"x-request-id": tag})[0] == 200
            lines = [line for line in log().splitlines() if "request_id={} ".format(tag) in line]
            if lines:
                return lines[0]
            time.sleep(0.1)
        return None

    with pytest.raises(ComputeTargetException, match="access_log must be True or False, not 'yes'"):
        AksUpdateConfiguration(access_log="yes")
    assert target.access_log is False
    assert post(service.scoring_uri, "{}", key, {"x-request-id": "before-on"})[0] == 200

    target.update(AksUpdateConfiguration(access_log=True))
    target.wait_for_completion()
    assert target.access_log is True
    line = logged_soon("on")
    assert line is not None, log()[-2000:]
    assert re.match(r"^\S+Z INFO amlcore-fe: access request_id=on-\d+ service=accessed version=accessed status=200 "
                    r"latency_ms=\d+\.\d{3} method=POST path=/api/v1/service/accessed/score$", line), line
    assert post(service.scoring_uri, "{}", "wrong-key", {"x-request-id": "denied-1"})[0] == 401
    assert re.search(r"access request_id=denied-1 service=accessed version=- status=401 ", log())
    assert "request_id=before-on" not in log()

    target.update(AksUpdateConfiguration(access_log=False))
    target.wait_for_completion()
    assert target.access_log is False
    deadline = time.monotonic() + 30
    while "INFO amlcore-fe: access log off" not in log() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert post(service.scoring_uri, "{}", key, {"x-request-id": "after-off"})[0] == 200
    assert "request_id=after-off" not in log()
