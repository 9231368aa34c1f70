"""Web services end to end: deploy, score through the front end, keys, logs, updates, failures and limits."""

import json
import os
import signal
import textwrap
import threading
import time

import joblib
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

from amlcore import Environment, Model, Webservice, Workspace
from amlcore.compute import AksCompute, AksUpdateConfiguration, ComputeTarget
from amlcore.conda_dependencies import CondaDependencies
from amlcore.exceptions import (ComputeTargetException, ModelNotFoundException, UserErrorException,
                                WebserviceException, WebserviceTimeoutException)
from amlcore.model import InferenceConfig
from amlcore.webservice import AksWebservice
from services import ECHO, Traffic, deploy, get, head_only, post, script_dir

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIABETES_SOURCE = os.path.join(ROOT, "examples", "python", "diabetes")
X, Y = load_diabetes(return_X_y=True)
SAMPLE = json.dumps({"data": [X[0].tolist()]})


@pytest.fixture
def diabetes_model(aks, tmp_path):
    ws, _ = aks
    path = tmp_path / "sklearn_regression_model.pkl"
    joblib.dump(Ridge().fit(X, Y), path)
    return Model.register(ws, str(path), "diabetes", tags={"area": "health"})


def test_diabetes_service_end_to_end(aks, diabetes_model, capsys, home):
    ws, target = aks
    env = Environment("sklearn-env")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["scikit-learn", "joblib"])
    config = InferenceConfig(entry_script="score.py", source_directory=DIABETES_SOURCE, environment=env)
    service = Model.deploy(ws, "diabetes", [diabetes_model], config,
                           AksWebservice.deploy_configuration(num_replicas=2), target)
    assert isinstance(service, AksWebservice) and service.state == "Transitioning"
    service.wait_for_deployment(show_output=True)
    out = capsys.readouterr().out
    assert out.startswith("Running")
    assert "cache miss" in out and "satisfied scikit-learn" in out and "skipped azureml-defaults" in out
    assert out.rstrip().endswith('AKS service creation operation finished, operation "Succeeded"')
    assert service.state == "Healthy" and service.phase == "Ready"
    assert service.scoring_uri.startswith("http://127.0.0.1:") and service.scoring_uri.endswith(
        "/api/v1/service/diabetes/score")
    assert service.swagger_uri.endswith("/api/v1/service/diabetes/swagger.json")
    assert service.num_replicas == 2 and service.auth_enabled

    prediction = service.run(SAMPLE)
    assert len(prediction) == 1 and abs(prediction[0] - Ridge().fit(X, Y).predict(X[:1])[0]) < 1e-6
    primary, secondary = service.get_keys()
    status, body, headers = post(service.scoring_uri, SAMPLE, primary)
    assert status == 200 and json.loads(body) == prediction
    assert headers["azureml-model-deployment"] == "diabetes"
    assert headers["x-ms-run-function-failed"] == "False" and float(headers["x-ms-run-fn-exec-ms"]) >= 0
    assert post(service.scoring_uri, SAMPLE, secondary)[0] == 200
    for key in (None, "wrong-key"):
        status, body, _ = post(service.scoring_uri, SAMPLE, key)
        assert status == 401 and b"Authorization: Bearer <credential>" in body
    status, body = get(service.swagger_uri, primary)
    assert status == 200, body
    swagger = json.loads(body)
    assert swagger["swagger"] == "2.0" and "ServiceInput" in swagger["definitions"]

    # Keys: regenerate the primary; the old one stops working, run() recovers on its own.
    service.regen_key("Primary")
    new_primary, same_secondary = service.get_keys()
    assert new_primary != primary and same_secondary == secondary
    assert post(service.scoring_uri, SAMPLE, primary)[0] == 401
    assert post(service.scoring_uri, SAMPLE, new_primary)[0] == 200
    assert service.run(SAMPLE) == prediction
    service.regen_key("Secondary", set_key="my-own-secondary-key")
    assert service.get_keys()[1] == "my-own-secondary-key"
    with pytest.raises(WebserviceException, match="Error, invalid key Tertiary"):
        service.regen_key("Tertiary")

    # Logs of the replica, and of the deployment.
    assert "Loaded " in service.get_logs()
    # Two replicas: the log shown is named on a line of its own, then its last num_lines lines.
    header, *lines = service.get_logs(num_lines=1).strip().splitlines()
    assert header.startswith("Replica diabetes.") and header.endswith(", 1 of 2; all_replicas=True shows every one):")
    assert len(lines) == 1
    init_log = service.get_logs(init=True)
    assert "Deployment log:" in init_log and "satisfied joblib" in init_log and "amlcore-score: ready on" in init_log

    # Lookups.
    again = Webservice(ws, "diabetes")
    assert type(again) is AksWebservice and again.scoring_uri == service.scoring_uri
    assert list(ws.webservices) == ["diabetes"]
    assert [s.name for s in Webservice.list(ws, model_name="diabetes")] == ["diabetes"]
    assert Webservice.list(ws, model_name="other") == []
    assert [s.name for s in Webservice.list(ws, compute_type="AKS")] == ["diabetes"]
    assert [m.id for m in service.models] == ["diabetes:1"]
    with pytest.raises(WebserviceException) as missing:
        Webservice(ws, "nope-svc")
    assert str(missing.value) == "WebserviceNotFound: Webservice with name nope-svc not found in provided workspace"

    # A deployed model cannot be deleted.
    with pytest.raises(WebserviceException, match="Model diabetes:1 is deployed by service diabetes"):
        diabetes_model.delete()
    with pytest.raises(ComputeTargetException_or_any(), match="still runs web service diabetes"):
        target.delete()

    status, metrics = get(target.scoring_endpoint + "/metrics", home.cluster_admin_token())
    assert status == 200, metrics
    metrics = metrics.decode()
    assert 'amlcore_fe_requests_total{service="diabetes",version="diabetes",code="200"}' in metrics
    assert 'amlcore_fe_ready_replicas{service="diabetes",version="diabetes"} 2' in metrics

    service.delete()
    assert post(service.scoring_uri, SAMPLE, new_primary)[0] == 404
    assert home.replica_pids() == []
    diabetes_model.delete()
    with pytest.raises(ModelNotFoundException):
        Model(ws, "diabetes")


def ComputeTargetException_or_any():
    from amlcore.exceptions import ComputeTargetException
    return ComputeTargetException


def test_cached_environment_is_reused(aks, tmp_path, capsys):
    ws, target = aks
    env = Environment("numpy-env")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["numpy"])
    source = script_dir(tmp_path, ECHO)
    for name in ("first-svc", "second-svc"):
        config = InferenceConfig(entry_script="score.py", source_directory=source, environment=env)
        service = Model.deploy(ws, name, [], config, AksWebservice.deploy_configuration(num_replicas=1), target)
        start = time.monotonic()
        service.wait_for_deployment(show_output=True)
        elapsed = time.monotonic() - start
    out = capsys.readouterr().out
    assert "cache miss" in out and "cache hit (workspace)" in out
    assert service.run({"x": 1}) == {"echo": {"x": 1}}
    print("deploy with a cached environment took {:.2f}s".format(elapsed))


@pytest.mark.parametrize("script, reason, visible", [
    ("import helper\ndef init(): pass\ndef run(d): return d\n", "UserScriptImportFailed", "SyntaxError"),
    ("def init():\n    raise RuntimeError('no model here')\ndef run(d): return d\n", "UserScriptInitFailed",
     "RuntimeError: no model here"),
    ("def init(): pass\n", "UserScriptImportFailed", "defines no run() function"),
])
def test_broken_scripts_fail_with_their_cause(aks, tmp_path, script, reason, visible):
    ws, target = aks
    source = script_dir(tmp_path, script)
    (tmp_path / "src" / "helper.py").write_text("def broken(:\n    pass\n")
    service = deploy(ws, target, source, name="broken-svc")
    with pytest.raises(WebserviceException) as error:
        service.wait_for_deployment(timeout_sec=60)
    message = str(error.value)
    assert message.startswith("Service deployment polling reached non-successful terminal state, current service "
                              "state: Failed\nOperation ID: ")
    assert '"code": "{}"'.format(reason) in message
    assert "Phase " in message and visible in message
    assert "Last lines of the replica's log" in message
    assert service.state == "Failed" and service.reason == reason
    assert visible in service.get_logs()


def test_syntax_error_in_entry_script_is_caught_before_deploying(tmp_path):
    source = script_dir(tmp_path, "def init(:\n    pass\n")
    with pytest.raises(UserErrorException, match=r"is not valid Python: .*score.py, line 1"):
        InferenceConfig(entry_script="score.py", source_directory=source)


def test_run_errors_timeouts_and_limits(aks, tmp_path):
    ws, target = aks
    source = script_dir(tmp_path, ECHO)
    service = deploy(ws, target, source, scoring_timeout_ms=1000, max_request_wait_time=200)
    service.wait_for_deployment()
    key = service.get_keys()[0]
    uri = service.scoring_uri

    status, body, headers = post(uri, json.dumps({"fail": True}), key)
    assert status == 502 and json.loads(body)["message"] == (
        "An unexpected error occurred in scoring script. Check the logs for more info.")
    assert headers["x-ms-run-function-failed"] == "True"
    with pytest.raises(WebserviceException, match="Response Code: 502"):
        service.run({"fail": True})
    assert "ValueError: asked to fail" in service.get_logs()

    assert post(uri, b"\xff\xfe", key)[0] == 400
    status, body, _ = post(uri, b"x" * (100 * 1024 * 1024 + 1), key)
    assert status == 413
    status, body, _ = post(uri.replace("/echo-svc/", "/no-such-svc/"), "{}", key)
    assert status == 404 and b"Service no-such-svc not found" in body
    long_id = {"x-request-id": "r" * 101}
    assert post(uri, "{}", key, long_id)[0] == 431
    status, _, headers = post(uri, "{}", key, {"x-request-id": "my-request-1", "x-ms-client-request-id": "c-7"})
    assert headers["x-request-id"] == "my-request-1" and headers["x-ms-client-request-id"] == "c-7"
    assert "my-request-1 " not in service.get_logs()  # only print() output of run() carries request ids

    # Overload: one replica, one request at a time, 200 ms of queueing, then 503.
    results = []
    threads = [threading.Thread(target=lambda: results.append(post(uri, json.dumps({"sleep": 1}), key)))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r[0] for r in results)
    assert 503 in codes, codes
    assert any(b"Too many requests for service echo-svc (overloaded)" in r[1] for r in results)

    # The front end answered the requests that waited too long, but the replica may still hold one it was
    # delivered (pipelined) until it refuses it unrun: a quick request answered 200 shows it is free again.
    for _ in range(50):
        if post(uri, "{}", key)[0] == 200:
            break
    else:
        pytest.fail("the replica did not become free after the overload")

    # A run() longer than the scoring timeout: 504 from the front end.
    status, body, headers = post(uri, json.dumps({"sleep": 3}), key, {"x-request-id": "slow-1"})
    assert status == 504 and b"did not answer within 1000 ms" in body
    assert headers["x-request-id"] == "slow-1"


def test_credentials_are_checked_before_a_body_is_read(aks, tmp_path):
    ws, target = aks
    service = deploy(ws, target, script_dir(tmp_path, ECHO), name="guarded-svc")
    service.wait_for_deployment()
    key = service.get_keys()[0]
    uri = service.scoring_uri
    # Each refusal comes while the announced 90 MB are still unsent: the front end never buffers them.
    assert head_only(uri, 90 << 20) == "HTTP/1.1 401 Unauthorized"
    assert head_only(uri, 90 << 20, {"Authorization": "Bearer not-a-key"}) == "HTTP/1.1 401 Unauthorized"
    assert head_only(uri.replace("/guarded-svc/", "/no-such-svc/"), 90 << 20) == "HTTP/1.1 404 Not Found"
    assert head_only(target.scoring_endpoint + "/admin/routes", 90 << 20) == "HTTP/1.1 401 Unauthorized"
    status, body, _ = post(uri, b"x" * (1 << 20), "not-a-key")
    assert status == 401 and b"expects 'Authorization: Bearer <credential>' with one of its keys" in body
    assert post(uri, "{}", key)[0] == 200


def test_file_names_with_dots_links_inside_and_outside_and_the_bearer_scheme(aks, tmp_path):
    ws, target = aks
    outside = tmp_path / "secret.txt"
    outside.write_text("not for the server")
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "weights..bin").write_bytes(b"\x00\x01")
    (folder / "same.bin").symlink_to("weights..bin")  # a link inside: its content is uploaded as same.bin
    model = Model.register(ws, str(folder), "dotted-model")
    downloaded = model.download(str(tmp_path / "download"))
    assert sorted(os.listdir(downloaded)) == ["same.bin", "weights..bin"]
    assert open(os.path.join(downloaded, "same.bin"), "rb").read() == b"\x00\x01"

    (folder / "leak.txt").symlink_to(outside)
    with pytest.raises(UserErrorException) as refused:
        Model.register(ws, str(folder), "leaky-model")
    assert ("The model folder {} holds a symbolic link that points outside it: 'leak.txt' -> '{}'. Links may "
            "point only inside the model folder (what they point to is uploaded in their place); copy the file into "
            "the folder instead.").format(folder, outside) in str(refused.value)

    source = tmp_path / "src"
    source.mkdir()
    (source / "score.py").write_text(textwrap.dedent(ECHO))
    (source / "notes.txt").symlink_to(outside)
    with pytest.raises(UserErrorException, match="The source directory .* holds a symbolic link that points "
                                                 "outside it: 'notes.txt' -> "):
        deploy(ws, target, str(source), name="leaky-svc")
    (source / "notes.txt").unlink()
    service = deploy(ws, target, str(source), name="scheme-svc")
    service.wait_for_deployment()
    key = service.get_keys()[0]
    for scheme in ("Bearer", "bearer", "BEARER"):
        assert post(service.scoring_uri, "{}", headers={"Authorization": scheme + " " + key})[0] == 200, scheme


def test_auth_disabled_and_own_keys(aks, tmp_path):
    ws, target = aks
    source = script_dir(tmp_path, ECHO)
    open_service = deploy(ws, target, source, name="open-svc", auth_enabled=False)
    keyed = deploy(ws, target, source, name="keyed-svc", primary_key="primary-key-123",
                   secondary_key="secondary-key-456")
    open_service.wait_for_deployment()
    keyed.wait_for_deployment()
    assert post(open_service.scoring_uri, "{}")[0] == 200
    assert open_service.run({}) == {"echo": {}}
    assert keyed.get_keys() == ("primary-key-123", "secondary-key-456")
    assert post(keyed.scoring_uri, "{}", "secondary-key-456")[0] == 200


def test_what_the_front_end_answers_without_a_credential(aks, tmp_path, home):
    """As on azureml-fe: a service's swagger.json takes the same key as its scoring URI when its auth is on;
    /metrics, which names every service of the cluster, takes the cluster's admin token; health is public."""
    ws, target = aks
    source = script_dir(tmp_path, ECHO)
    keyed = deploy(ws, target, source, name="keyed-svc")
    open_service = deploy(ws, target, source, name="open-svc", auth_enabled=False)
    keyed.wait_for_deployment()
    open_service.wait_for_deployment()
    key, admin = keyed.get_keys()[0], home.cluster_admin_token()

    for credential in (None, "wrong-key-123"):
        status, body = get(keyed.swagger_uri, credential)
        assert status == 401 and b"Authorization: Bearer <credential>" in body, (credential, status, body)
    for credential in (key, admin):
        status, body = get(keyed.swagger_uri, credential)
        assert status == 200 and json.loads(body)["swagger"] == "2.0", body
    assert get(open_service.swagger_uri)[0] == 200

    metrics = target.scoring_endpoint + "/metrics"
    for credential in (None, key, "wrong-token"):
        status, body = get(metrics, credential)
        assert status == 401 and b"admin token" in body and b"keyed-svc" not in body, (credential, status, body)
    status, body = get(metrics, admin)
    assert status == 200 and b'service="keyed-svc"' in body and b'service="open-svc"' in body
    assert get(target.scoring_endpoint + "/") == (200, b"Healthy")


def test_memory_limit_kills_the_replica(aks, tmp_path):
    ws, target = aks
    source = script_dir(tmp_path, """
        import time
        def init():
            global ballast
            ballast = b"x" * (300 * 1024 * 1024)
            time.sleep(5)
        def run(d):
            return d
    """)
    service = deploy(ws, target, source, name="hungry-svc", memory_gb=0.1, memory_gb_limit=0.2)
    with pytest.raises(WebserviceException) as error:
        service.wait_for_deployment(timeout_sec=60)
    assert '"code": "OOMKilled"' in str(error.value)
    assert "memory limit of 0.2 GB" in str(error.value)


def test_model_path_and_model_dir_inside_the_replica(aks, tmp_path):
    ws, target = aks
    folder = tmp_path / "outputs"
    folder.mkdir()
    (folder / "a.txt").write_text("alpha")
    (folder / "sub").mkdir()
    (folder / "sub" / "b.txt").write_text("beta")
    first = Model.register(ws, str(folder), "folder-model")
    second = Model.register(ws, str(folder), "folder-model", description="again")
    assert (first.version, second.version) == (1, 2)
    other = tmp_path / "other.txt"
    other.write_text("other")
    single = Model.register(ws, str(other), "single-model")
    source = script_dir(tmp_path, """
        import os
        from azureml.core.model import Model
        import amlcore
        def init():
            pass
        def run(raw):
            return {
                "model_dir": os.getenv("AZUREML_MODEL_DIR"),
                "folder": Model.get_model_path("folder-model"),
                "folder_v1": Model.get_model_path("folder-model", version=1),
                "single": Model.get_model_path("single-model"),
                "content": open(os.path.join(Model.get_model_path("folder-model"), "sub", "b.txt")).read(),
                "cwd": os.getcwd(),
                "app_root": os.getenv("AML_APP_ROOT"),
            }
    """)
    service = deploy(ws, target, source, name="paths-svc", models=[second, first, single])
    service.wait_for_deployment()
    answer = service.run("{}")
    root = answer["app_root"]
    assert os.path.isabs(answer["model_dir"]) and answer["model_dir"] == os.path.join(root, "azureml-models")
    assert answer["folder"] == os.path.join(root, "azureml-models", "folder-model", "2", "outputs")
    assert answer["folder_v1"] == os.path.join(root, "azureml-models", "folder-model", "1", "outputs")
    assert answer["single"] == os.path.join(root, "azureml-models", "single-model", "1", "other.txt")
    assert answer["content"] == "beta" and answer["cwd"] == root

    solo_source = script_dir(tmp_path, """
        import os
        def init():
            pass
        def run(raw):
            return [os.getenv("AZUREML_MODEL_DIR"), os.getenv("AML_APP_ROOT")]
    """, name="solo")
    solo = deploy(ws, target, solo_source, name="solo-svc", models=[single])
    solo.wait_for_deployment()
    model_dir, app_root = solo.run("{}")
    assert model_dir == os.path.join(app_root, "azureml-models", "single-model", "1")
    listed = Model.list(ws, name="folder-model")
    assert [m.version for m in listed] == [2, 1]
    assert [m.id for m in Model.list(ws, latest=True)] == ["folder-model:2", "single-model:1"]
    downloaded = second.download(target_dir=str(tmp_path / "down"))
    assert open(os.path.join(downloaded, "a.txt")).read() == "alpha"
    with pytest.raises(WebserviceException, match="already exists"):
        second.download(target_dir=str(tmp_path / "down"))


def test_amlignore_keeps_files_out_of_the_snapshot(aks, tmp_path):
    ws, target = aks
    source = script_dir(tmp_path, """
        import os
        def init():
            pass
        def run(raw):
            return sorted(os.listdir(os.path.dirname(os.path.abspath(__file__))))
    """)
    (tmp_path / "src" / "keep.txt").write_text("keep")
    (tmp_path / "src" / "big.bin").write_bytes(b"0" * 1000)
    (tmp_path / "src" / "data").mkdir()
    (tmp_path / "src" / "data" / "x.csv").write_text("1,2")
    (tmp_path / "src" / ".gitignore").write_text("keep.txt\n")
    (tmp_path / "src" / ".amlignore").write_text("*.bin\ndata/\n")
    service = deploy(ws, target, source, name="ignore-svc")
    service.wait_for_deployment()
    assert service.run("{}") == [".amlignore", ".gitignore", "keep.txt", "score.py"]


def test_failed_environment_build_shows_the_installer_output(refusing_index, aks, tmp_path, monkeypatch):
    ws, target = aks
    env = Environment("missing-env")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["amlcore-no-such-package==9.9"])
    source = script_dir(tmp_path, ECHO)
    service = Model.deploy(ws, "env-svc", [], InferenceConfig(entry_script="score.py", source_directory=source,
                                                              environment=env),
                           AksWebservice.deploy_configuration(num_replicas=1), target)
    with pytest.raises(WebserviceException) as error:
        service.wait_for_deployment(timeout_sec=120)
    message = str(error.value)
    assert '"code": "EnvironmentBuildFailed"' in message
    assert "pip could not install amlcore-no-such-package==9.9" in message
    assert "No matching distribution found" in message or "Could not find a version" in message
    assert service.state == "Failed" and service.phase == "BuildingEnvironment"
    # Never routed, the service still exists: run() says what state it is in, not "not found".
    with pytest.raises(WebserviceException, match="Current State: Failed") as error:
        service.run({"n": 1})
    assert "EnvironmentBuildFailed" in str(error.value) and "not found" not in str(error.value)


def test_update_under_traffic_loses_no_request_and_overwrite_keeps_uri_and_keys(aks, tmp_path):
    ws, target = aks
    source = script_dir(tmp_path, ECHO)
    service = deploy(ws, target, source, name="rolling-svc", num_replicas=2)
    service.wait_for_deployment()
    key = service.get_keys()[0]
    uri = service.scoring_uri
    with Traffic(uri, key, connections=2) as traffic:
        traffic.wait_for(20)
        service.update(num_replicas=3, description="scaled")
        service.wait_for_deployment()
        assert service.num_replicas == 3 and service.description == "scaled"
        # A new script version rolls out the same way.
        source2 = script_dir(tmp_path, ECHO.replace('{"echo": data}', '{"echo": data, "v": 2}'), name="src2")
        service.update(inference_config=InferenceConfig(entry_script="score.py", source_directory=source2))
        service.wait_for_deployment()
        time.sleep(0.3)
    assert traffic.failures() == [] and len(traffic.successes()) > 50
    assert service.run({"n": 2}) == {"echo": {"n": 2}, "v": 2}

    with pytest.raises(WebserviceException, match="Error, cpu_cores must be greater than zero."):
        service.update(cpu_cores=0)
    with pytest.raises(WebserviceException, match="No parameters provided to update."):
        service.update()

    keys = service.get_keys()
    with pytest.raises(WebserviceException, match="Error, there is already a service with name rolling-svc"):
        deploy(ws, target, source, name="rolling-svc", num_replicas=1)
    replaced = Model.deploy(ws, "rolling-svc", [], InferenceConfig(entry_script="score.py", source_directory=source),
                            AksWebservice.deploy_configuration(num_replicas=1), target, overwrite=True)
    replaced.wait_for_deployment()
    assert replaced.scoring_uri == uri and replaced.get_keys() == keys
    assert replaced.run({"n": 3}) == {"echo": {"n": 3}}


def test_a_failed_update_keeps_the_service_running(aks, tmp_path):
    ws, target = aks
    source = script_dir(tmp_path, ECHO)
    service = deploy(ws, target, source, name="keep-svc")
    service.wait_for_deployment()
    broken = script_dir(tmp_path, "def init():\n    raise ValueError('bad update')\ndef run(d): return d\n",
                        name="broken")
    service.update(inference_config=InferenceConfig(entry_script="score.py", source_directory=broken))
    with pytest.raises(WebserviceException, match="UserScriptInitFailed"):
        service.wait_for_deployment()
    assert service.state == "Healthy"
    assert service.run({"still": "up"}) == {"echo": {"still": "up"}}


def test_second_operation_while_one_runs_is_refused(aks, tmp_path):
    ws, target = aks
    source = script_dir(tmp_path, ECHO)
    service = deploy(ws, target, source, name="busy-svc")
    with pytest.raises(WebserviceException) as busy:
        service.update(num_replicas=2)
    assert busy.value.http_status == 409 and "has a running ServiceCreate operation" in str(busy.value)
    service.wait_for_deployment()


def test_unschedulable_until_capacity_frees_up(home, tmp_path):
    ws = Workspace.create("cap-ws")
    target = ComputeTarget.create(ws, "small-aks", AksCompute.provisioning_configuration(
        agent_count=1, vm_size="Standard_D2_v2", cluster_purpose="DevTest"))
    target.wait_for_completion()
    source = script_dir(tmp_path, ECHO)
    big = deploy(ws, target, source, name="big-svc", cpu_cores=1.5)
    big.wait_for_deployment()
    waiting = deploy(ws, target, source, name="wait-svc", cpu_cores=1, memory_gb=1)
    with pytest.raises(WebserviceTimeoutException) as timeout:
        waiting.wait_for_deployment(timeout_sec=2)
    assert isinstance(timeout.value, TimeoutError)
    assert "Deployment polling exceeded timeout override of 2" in str(timeout.value)
    waiting.update_deployment_state()
    assert (waiting.state, waiting.reason) == ("Unschedulable", "InsufficientCapacity")
    assert "requests 1 CPU and 1 GB; cluster small-aks-" in waiting.error["message"]
    assert "0.5 CPU and 6.5 GB free of 2 CPU and 7 GB" in waiting.error["message"]
    big.delete()
    waiting.wait_for_deployment(timeout_sec=60)
    assert waiting.state == "Healthy"
    with pytest.raises(WebserviceException, match="one agent of cluster small-aks-.* has 2 vCPUs"):
        deploy(ws, target, source, name="huge-svc", cpu_cores=4)


def bounded(call, seconds=60):
    """Runs `call` on a thread and fails the test if it has not returned within `seconds`."""
    outcome = {}

    def target():
        try:
            outcome["value"] = call()
        except BaseException as e:  # noqa: BLE001 - re-raised below
            outcome["error"] = e
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "still running after {} s".format(seconds)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def wait_for_state(service, state, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        service.update_deployment_state()
        if service.state == state:
            return
        time.sleep(0.05)
    raise AssertionError("{} is {}, not {}".format(service.name, service.state, state))


def small_cluster(ws, name, vm_size):
    target = ComputeTarget.create(ws, name, AksCompute.provisioning_configuration(
        agent_count=1, vm_size=vm_size, cluster_purpose="DevTest"))
    target.wait_for_completion()
    return target


def test_deleting_a_service_lets_the_services_waiting_for_its_capacity_deploy(home, tmp_path):
    # A 4-vCPU cluster runs a 3.5-CPU service; three more, more than the server has workers, wait for capacity.
    # Waiting holds nothing: the deletion completes, and all three deploy in the capacity it freed.
    ws = Workspace.create("cap4-ws")
    target = small_cluster(ws, "cap4-aks", "Standard_D3_v2")
    source = script_dir(tmp_path, ECHO)
    running = deploy(ws, target, source, name="big-svc", cpu_cores=3.5)
    running.wait_for_deployment()
    waiting = [deploy(ws, target, source, name=name, cpu_cores=cpu)
               for name, cpu in (("wait-a", 1.5), ("wait-b", 1.5), ("wait-c", 1))]
    for service in waiting:
        wait_for_state(service, "Unschedulable")
    bounded(running.delete)
    with pytest.raises(WebserviceException, match="WebserviceNotFound"):
        Webservice(ws, "big-svc")
    for service in waiting:
        bounded(lambda: service.wait_for_deployment(timeout_sec=60))
        assert service.state == "Healthy"


def test_an_unschedulable_service_can_be_deleted(home, tmp_path):
    ws = Workspace.create("unsched-ws")
    target = small_cluster(ws, "unsched-aks", "Standard_D2_v2")
    source = script_dir(tmp_path, ECHO)
    deploy(ws, target, source, name="big-svc", cpu_cores=1.5).wait_for_deployment()
    waiting = deploy(ws, target, source, name="wait-svc", cpu_cores=1)
    wait_for_state(waiting, "Unschedulable")
    observer = Webservice(ws, "wait-svc")  # holds the deployment's operation
    bounded(waiting.delete)
    with pytest.raises(WebserviceException, match="WebserviceNotFound"):
        Webservice(ws, "wait-svc")
    # The deployment it was waiting in ended Cancelled.
    with pytest.raises(WebserviceException) as ended:
        bounded(lambda: observer.wait_for_deployment(timeout_sec=30))
    assert ended.value.operation_state == "Cancelled"


def test_a_service_and_a_compute_target_of_the_same_name_operate_independently(home, tmp_path):
    ws = Workspace.create("same-ws")
    target = small_cluster(ws, "same-name", "Standard_D2_v2")
    source = script_dir(tmp_path, ECHO)
    deploy(ws, target, source, name="big-svc", cpu_cores=1.5).wait_for_deployment()
    namesake = deploy(ws, target, source, name="same-name", cpu_cores=1)
    wait_for_state(namesake, "Unschedulable")
    # The compute target has no operation of its own running, whatever its namesake service does: it does not
    # hand out the service's.
    again = ComputeTarget(ws, "same-name")
    assert again.provisioning_state == "Succeeded"
    with pytest.raises(ComputeTargetException, match="Long running operation information not known"):
        again.wait_for_completion()
    # Scaling it out is not refused for the service's operation, and gives the service the room it waited for.
    target.update(AksUpdateConfiguration(agent_count=2))
    bounded(target.wait_for_completion)
    assert target.agent_count == 2
    bounded(lambda: namesake.wait_for_deployment(timeout_sec=60))
    assert namesake.state == "Healthy"


@pytest.mark.parametrize("kwargs, message", [
    (dict(cpu_cores=0), "Invalid configuration, cpu_cores must be greater than zero."),
    (dict(memory_gb=-1), "Invalid configuration, memory_gb must be greater than zero."),
    (dict(gpu_cores=-1), "Invalid configuration, gpu_cores must be greater than or equal to zero."),
    (dict(period_seconds=0), "Invalid configuration, period_seconds must be greater than zero."),
    (dict(initial_delay_seconds=0), "Invalid configuration, initial_delay_seconds must be greater than zero."),
    (dict(timeout_seconds=0), "Invalid configuration, timeout_seconds must be greater than zero."),
    (dict(success_threshold=0), "Invalid configuration, success_threshold must be greater than zero."),
    (dict(failure_threshold=0), "Invalid configuration, failure_threshold must be greater than zero."),
    (dict(namespace="Bad_NS"), "Invalid configuration, namespace must be a valid Kubernetes namespace. Regex for "
                               "valid namespaces is: ^[a-z0-9]([a-z0-9-]{,61}[a-z0-9])?$"),
    (dict(scoring_timeout_ms=0), "Invalid configuration, scoring_timeout_ms must be greater than zero."),
    (dict(replica_max_concurrent_requests=0),
     "Invalid configuration, replica_max_concurrent_requests must be greater than zero."),
    (dict(max_request_wait_time=0), "Invalid configuration, max_request_wait_time must be greater than zero."),
    (dict(num_replicas=0), "Invalid configuration, num_replicas must be greater than zero."),
    (dict(autoscale_enabled=True, num_replicas=2), "Invalid configuration, autoscale enabled and num_replicas "
                                                   "provided."),
    (dict(autoscale_enabled=True, autoscale_min_replicas=3, autoscale_max_replicas=2),
     "Invalid configuration, autoscale_min_replicas cannot be greater than autoscale_max_replicas."),
    (dict(autoscale_enabled=False), "Invalid configuration, autoscale disabled but num_replicas not provided."),
    (dict(autoscale_min_replicas=2), "Invalid configuration, autoscale_min_replicas provided without enabling "
                                     "autoscaling."),
    (dict(auth_enabled=True, token_auth_enabled=True), "Invalid configuration, auth_enabled and token_auth_enabled "
                                                       "cannot both be true."),
    (dict(cpu_cores=1, cpu_cores_limit=0.5), "Invalid configuration, cpu_cores_limit must be greater than or equal "
                                             "to cpu_cores."),
    (dict(memory_gb=1, memory_gb_limit=0.5), "Invalid configuration, memory_gb_limit must be greater than or equal "
                                             "to memory_gb."),
    (dict(cpu_cores="1"), "Invalid configuration, cpu_cores must be a number, not '1'."),
])
def test_deploy_configuration_rules(kwargs, message):
    with pytest.raises(WebserviceException) as error:
        AksWebservice.deploy_configuration(**kwargs)
    assert str(error.value) == message


def test_deploy_configuration_reports_every_violation_at_once():
    with pytest.raises(WebserviceException) as error:
        AksWebservice.deploy_configuration(cpu_cores=0, memory_gb=0, num_replicas=0)
    assert str(error.value).splitlines() == [
        "Invalid configuration, cpu_cores must be greater than zero.",
        "Invalid configuration, memory_gb must be greater than zero.",
        "Invalid configuration, num_replicas must be greater than zero.",
    ]


def test_names_and_inference_config_rules(aks, tmp_path):
    ws, target = aks
    source = script_dir(tmp_path, ECHO)
    for bad in ("ab", "Upper-case", "1starts-with-digit", "ends-", "a" * 33, "under_score"):
        with pytest.raises(WebserviceException, match="Error, provided service name is invalid. It must only "
                                                      "consist of lowercase letters, numbers, or dashes"):
            deploy(ws, target, source, name=bad)
    with pytest.raises(UserErrorException, match="Error, provided entry_script missing.py does not exist in "
                                                 "source_directory"):
        InferenceConfig(entry_script="missing.py", source_directory=source)
    (tmp_path / "src" / "notes.txt").write_text("x")
    with pytest.raises(UserErrorException, match="must be a Python file ending in .py"):
        InferenceConfig(entry_script="notes.txt", source_directory=source)
    with pytest.raises(UserErrorException, match="environment cannot be used together with runtime, conda_file"):
        InferenceConfig(entry_script="score.py", source_directory=source, runtime="python",
                        conda_file="env.yml", environment=Environment("e"))
    with pytest.raises(WebserviceException, match=r"Invalid model name 'bad name'"):
        Model.register(ws, str(tmp_path / "src" / "notes.txt"), "bad name")
    with pytest.raises(UserErrorException, match="cannot be found"):
        Model.register(ws, str(tmp_path / "absent.pkl"), "absent")
    with pytest.raises(ModelNotFoundException, match="ModelNotFound: Model with id nothing:4 not found"):
        Model(ws, "nothing", version=4)


def test_conda_specification_and_environment_registration(aks, tmp_path):
    ws, _ = aks
    spec = tmp_path / "env.yml"
    spec.write_text(textwrap.dedent("""
        name: project_environment
        channels:
          - conda-forge
        dependencies:
          - python=3.8
          - scikit-learn=1.2.1
          - pip:
            - azureml-defaults
            - joblib
    """))
    env = Environment.from_conda_specification("conda-env", str(spec))
    deps = env.python.conda_dependencies
    assert list(deps.conda_packages) == ["scikit-learn=1.2.1"]
    assert list(deps.pip_packages) == ["azureml-defaults", "joblib"]
    assert deps.get_python_version() == "3.8"
    registered = env.register(ws)
    assert registered.version == "1"
    assert env.register(ws).version == "1", "the same definition keeps its version"
    env.environment_variables = {"MODE": "fast"}
    assert env.register(ws).version == "2"
    assert Environment.get(ws, "conda-env").version == "2"
    assert Environment.get(ws, "conda-env", version=1).environment_variables == {}
    assert list(ws.environments) == ["conda-env"]
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("numpy\n# comment\nscikit-learn>=1.0\n")
    pip_env = Environment.from_pip_requirements("pip-env", str(requirements))
    assert list(pip_env.python.conda_dependencies.pip_packages) == ["numpy", "scikit-learn>=1.0"]
    assert pip_env.get_hash() != env.get_hash()


def test_killed_and_stuck_replicas_are_replaced(aks, tmp_path, home):
    ws, target = aks
    source = script_dir(tmp_path, ECHO)
    service = deploy(ws, target, source, name="sturdy-svc", initial_delay_seconds=1, period_seconds=1,
                     timeout_seconds=1, failure_threshold=2)
    service.wait_for_deployment()

    def wait_for_new_replica(old):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            pids = home.replica_pids()
            if pids and old not in pids:
                try:
                    if service.run({"ok": 1}) == {"echo": {"ok": 1}}:
                        return pids[0]
                except WebserviceException:
                    pass
            time.sleep(0.1)
        raise AssertionError("no replacement replica within 30 s")

    # A crashed replica restarts; its previous log stays readable while it is down.
    first = home.replica_pids()[0]
    os.kill(first, signal.SIGKILL)
    second = wait_for_new_replica(first)
    # A replica that stops answering its liveness probe is killed and replaced.
    os.kill(second, signal.SIGSTOP)
    third = wait_for_new_replica(second)
    assert third not in (first, second)
    # The server notices the service is whole again within its reconciliation interval.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        service.update_deployment_state()
        if service.state == "Healthy":
            break
        time.sleep(0.2)
    assert service.state == "Healthy"


def test_deploy_configuration_and_update_take_azuremls_parameters():
    import inspect
    deploy = list(inspect.signature(AksWebservice.deploy_configuration).parameters)
    assert deploy[:3] == ["autoscale_enabled", "autoscale_min_replicas", "autoscale_max_replicas"]
    assert deploy[-3:] == ["cpu_cores_limit", "memory_gb_limit", "blobfuse_enabled"] and len(deploy) == 31
    update = list(inspect.signature(AksWebservice.update).parameters)
    assert update[:2] == ["self", "image"]
    assert update[update.index("description") + 1:update.index("description") + 3] == ["models", "inference_config"]
    assert "primary_key" not in update and "blobfuse_enabled" not in update and update[-1] == "kwargs"
    # Positional arguments land where azureml puts them.
    config = AksWebservice.deploy_configuration(None, None, None, None, None, None, None, 0.5)
    assert config.cpu_cores == 0.5
    with pytest.raises(WebserviceException, match="num_replicas must be at most 100"):
        AksWebservice.deploy_configuration(num_replicas=2**32 + 1)
    with pytest.raises(WebserviceException, match="primary_key must be 8 to 256 characters long"):
        AksWebservice.deploy_configuration(primary_key="a")


# init() of a hostile script: it tries to rewrite its model file, first as it is (read-only), then after making
# its copy writable.
DAMAGING = """
    import os, stat
    def init():
        path = os.path.join(os.getenv("AZUREML_MODEL_DIR"), "weights.txt")
        try:
            with open(path, "w") as f:
                f.write("damaged")
            print("wrote without chmod")
        except OSError as e:
            print("refused:", e)
        try:
            os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
            with open(path, "w") as f:
                f.write("damaged")
        except OSError as e:
            print("refused again:", e)
    def run(raw):
        return "ok"
"""

READER = """
    import os
    def init():
        pass
    def run(raw):
        with open(os.path.join(os.getenv("AZUREML_MODEL_DIR"), "weights.txt")) as f:
            return f.read()
"""


def test_a_replica_cannot_change_a_registered_model(aks, tmp_path):
    ws, target = aks
    weights = tmp_path / "weights.txt"
    weights.write_text("original")
    model = Model.register(ws, model_path=str(weights), model_name="shared-weights")
    damaging = deploy(ws, target, script_dir(tmp_path, DAMAGING, "damaging"), name="damaging-svc", models=[model])
    damaging.wait_for_deployment()
    # Its model file is read-only (root, as in CI, may still write it: then only its own copy changes).
    assert "refused:" in damaging.get_logs() or os.geteuid() == 0
    reader = deploy(ws, target, script_dir(tmp_path, READER, "reader"), name="reader-svc", models=[model])
    reader.wait_for_deployment()
    assert reader.run("{}") == "original"
    # The registered model is intact, and registering the same bytes again reuses it.
    download = tmp_path / "download"
    model.download(target_dir=str(download))
    assert (download / "weights.txt").read_text() == "original"
    again = Model.register(ws, model_path=str(weights), model_name="shared-weights")
    assert again.version == 2
