"""Adaptive batching end to end: a score.py with run_batch() behind a front end that sends a replica several
requests at once (replica_max_concurrent_requests > 1)."""

import json
import os
import re
import threading

import joblib
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

from amlcore import Environment, Model
from amlcore.conda_dependencies import CondaDependencies
from amlcore.exceptions import WebserviceException
from amlcore.model import InferenceConfig
from amlcore.webservice import AksWebservice
from services import ECHO, deploy, get, post, script_dir

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Says, for each request, which batch it came in and the largest batch so far; fails the batches it is asked to.
BATCHING = """
    import json
    sizes = []
    BATCH_MAX_SIZE = 16
    BATCH_MAX_WAIT_MS = 50

    def init():
        pass

    def run(raw):
        return {"run": json.loads(raw)}

    def run_batch(requests):
        sizes.append(len(requests))
        data = [json.loads(raw) for raw in requests]
        print("batch of", len(requests))
        if any(d.get("raise") for d in data):
            raise ValueError("refusing this batch")
        if any(d.get("short") for d in data):
            return data[:-1]
        return [{"id": d.get("id"), "batch": len(requests), "largest": max(sizes)} for d in data]
"""


def at_once(uri, bodies, key=None):
    """POSTs `bodies` concurrently, each on its own connection with the request id "req-<i>": the replies."""
    replies = [None] * len(bodies)

    def send(i):
        replies[i] = post(uri, bodies[i], key, {"x-request-id": "req-{}".format(i)})

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(r is not None for r in replies)
    return replies


def test_concurrent_requests_are_batched_and_each_gets_its_own_answer(aks, tmp_path):
    ws, target = aks
    service = deploy(ws, target, script_dir(tmp_path, BATCHING), name="batch-svc",
                     replica_max_concurrent_requests=16, max_request_wait_time=30000)
    service.wait_for_deployment()
    key = service.get_keys()[0]
    uri = service.scoring_uri

    replies = at_once(uri, [json.dumps({"id": i}) for i in range(64)], key)
    largest = 0
    for i, (status, body, headers) in enumerate(replies):
        assert status == 200, body
        answer = json.loads(body)
        assert answer["id"] == i, "request {} got {}".format(i, answer)
        assert 1 <= answer["batch"] <= 16
        assert headers["x-request-id"] == "req-{}".format(i)
        assert headers["x-ms-run-function-failed"] == "False" and float(headers["x-ms-run-fn-exec-ms"]) >= 0
        largest = max(largest, answer["largest"])
    assert largest > 1, "64 requests at once, 16 a replica, never made a batch of more than one"

    # GET with query parameters goes through run_batch() too; the largest batch is remembered.
    status, body = get(uri + "?id=last", key)
    assert status == 200 and json.loads(body) == {"id": "last", "batch": 1, "largest": largest}
    # service.run() is a client like any other.
    assert service.run({"id": "sdk"})["id"] == "sdk"
    # What run_batch() printed carries the ids of its batch's requests.
    logs = service.get_logs()
    assert "run_batch() takes every request, up to 16 at once, waiting up to 50 ms" in logs
    assert re.search(r"\breq-\d+(,req-\d+)+ batch of \d+\n", logs), logs[-2000:]

    # A batch that raises, or returns too few results, fails each of its requests with the cause; requests in
    # other batches are answered.
    bodies = [json.dumps({"id": i, "raise": i in (5, 20)}) for i in range(32)]
    for i, (status, body, headers) in enumerate(at_once(uri, bodies, key)):
        if i in (5, 20) or status != 200:
            assert status == 502, body
            assert json.loads(body)["message"].startswith(
                "An unexpected error occurred in scoring script: run_batch() raised ValueError for a batch of "), body
            assert headers["x-ms-run-function-failed"] == "True"
        else:
            assert json.loads(body)["id"] == i
    assert "ValueError: refusing this batch" in service.get_logs()
    bodies = [json.dumps({"id": i, "short": i == 3}) for i in range(8)]
    status, body, _ = at_once(uri, bodies, key)[3]
    assert status == 502
    message = json.loads(body)["message"]
    assert "run_batch() returned " in message and " for a batch of " in message, message
    assert "it must return one result per request, in order" in message


def test_with_the_default_cap_a_batching_replica_is_sent_a_batch_at_once(aks, tmp_path):
    # replica_max_concurrent_requests left unset: the front end sends a replica whose run_batch() takes 16 at once
    # up to 16 requests at once, so its batches fill; a script without run_batch() keeps one at a time.
    ws, target = aks
    service = deploy(ws, target, script_dir(tmp_path, BATCHING), name="batch-default", max_request_wait_time=30000)
    service.wait_for_deployment()
    replies = at_once(service.scoring_uri, [json.dumps({"id": i}) for i in range(48)], service.get_keys()[0])
    assert all(status == 200 for status, _, _ in replies)
    largest = max(json.loads(body)["largest"] for _, body, _ in replies)
    assert 1 < largest <= 16


def test_a_script_without_run_batch_serves_concurrent_requests_as_before(aks, tmp_path):
    ws, target = aks
    service = deploy(ws, target, script_dir(tmp_path, ECHO), name="plain-svc", replica_max_concurrent_requests=8,
                     auth_enabled=False)
    service.wait_for_deployment()
    for i, (status, body, _) in enumerate(at_once(service.scoring_uri, [json.dumps({"n": i}) for i in range(24)])):
        assert status == 200 and json.loads(body) == {"echo": {"n": i}}
    assert "run_batch()" not in service.get_logs()


def test_bad_batch_settings_fail_the_deployment_with_what_is_allowed(aks, tmp_path):
    ws, target = aks
    script = "def init():\n    pass\ndef run(raw):\n    return raw\ndef run_batch(requests):\n    return requests\n"
    for setting, says in [
            ("BATCH_MAX_SIZE = 0", "BATCH_MAX_SIZE must be a whole number from 1 to 1024; it is 0."),
            ("BATCH_MAX_SIZE = '8'", "BATCH_MAX_SIZE must be a whole number from 1 to 1024; it is '8'."),
            ("BATCH_MAX_WAIT_MS = 5000",
             "BATCH_MAX_WAIT_MS must be a number of milliseconds from 0 to 1000; it is 5000.")]:
        service = deploy(ws, target, script_dir(tmp_path, script + setting + "\n"), name="bad-batch-svc")
        with pytest.raises(WebserviceException) as error:
            service.wait_for_deployment(timeout_sec=60)
        assert '"code": "UserScriptImportFailed"' in str(error.value) and says in str(error.value), setting
        assert service.reason == "UserScriptImportFailed"
        service.delete()


RAW_BATCH = """
    import json
    from azureml.contrib.services.aml_request import AMLRequest, rawhttp
    from azureml.contrib.services.aml_response import AMLResponse

    def init():
        pass

    @rawhttp
    def run(request):
        return AMLResponse("run", 200)

    def run_batch(requests):
        assert all(isinstance(r, AMLRequest) for r in requests)
        return [AMLResponse(r.get_data()[::-1], 201, {"X-Batch": str(len(requests))}) if r.method == "POST"
                else {"q": r.args.get("q")} for r in requests]
"""


def test_run_batch_takes_what_a_rawhttp_run_takes(aks, tmp_path):
    ws, target = aks
    service = deploy(ws, target, script_dir(tmp_path, RAW_BATCH), name="raw-batch-svc", auth_enabled=False,
                     replica_max_concurrent_requests=4)
    service.wait_for_deployment()
    status, body, headers = post(service.scoring_uri, b"\x00\x01binary", headers={"Content-Type": "application/x"})
    assert status == 201 and body == b"yranib\x01\x00" and headers["X-Batch"] == "1"
    status, body = get(service.scoring_uri + "?q=one")
    assert status == 200 and json.loads(body) == {"q": "one"}


def test_the_diabetes_example_predicts_per_request_in_batches(aks, tmp_path):
    ws, target = aks
    X, y = load_diabetes(return_X_y=True)
    ridge = Ridge().fit(X, y)
    path = tmp_path / "sklearn_regression_model.pkl"
    joblib.dump(ridge, path)
    model = Model.register(ws, str(path), "diabetes")
    env = Environment("sklearn-env")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["scikit-learn", "joblib"])
    config = InferenceConfig(entry_script="score.py", source_directory=os.path.join(ROOT, "examples", "python",
                                                                                     "diabetes"), environment=env)
    service = Model.deploy(ws, "diabetes-batch", [model], config, AksWebservice.deploy_configuration(
        num_replicas=1, replica_max_concurrent_requests=16, max_request_wait_time=30000), target)
    service.wait_for_deployment()
    key = service.get_keys()[0]
    # Requests of one to three rows, and some that cannot be read: those fail alone, as run() would fail them.
    bodies = [json.dumps({"data": X[i:i + 1 + i % 3].tolist()}) if i % 8 else '{"rows": []}' for i in range(48)]
    for i, (status, body, _) in enumerate(at_once(service.scoring_uri, bodies, key)):
        if i % 8 == 0:
            assert status == 502 and json.loads(body)["message"] == (
                "An unexpected error occurred in scoring script. Check the logs for more info.")
            continue
        assert status == 200, body
        expected = ridge.predict(X[i:i + 1 + i % 3])
        predicted = json.loads(body)
        assert len(predicted) == len(expected) and all(abs(p - e) < 1e-6 for p, e in zip(predicted, expected))
    assert "Exception in run_batch() for request req-0:" in service.get_logs()
    assert "KeyError: 'data'" in service.get_logs()
