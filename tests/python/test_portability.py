"""What Microsoft's azureml deployment notebooks and entry scripts use, under amlcore's names: azureml.core's
VERSION, the compute_target module, environments that start with a specification, the default images, raw HTTP
entry scripts (AMLRequest, rawhttp, AMLResponse), and a clear error when a service that exists is not serving."""

import json
import os

import pytest

import amlcore
from amlcore import Environment, Model
from amlcore.compute import ComputeTarget
from amlcore.exceptions import WebserviceException
from amlcore.model import InferenceConfig
from amlcore.webservice import AksWebservice
from services import ECHO, get, post, script_dir


def test_version_and_the_compute_target_module(ws):
    assert amlcore.VERSION == amlcore.__version__ and amlcore.VERSION.count(".") >= 2
    from amlcore.compute_target import ComputeTargetException
    from amlcore import exceptions
    assert ComputeTargetException is exceptions.ComputeTargetException
    # The samples' pattern: look the cluster up, create it when it is not there.
    with pytest.raises(ComputeTargetException, match="ComputeTargetNotFound"):
        ComputeTarget(workspace=ws, name="not-made-yet")


def test_a_new_environment_has_a_specification_to_add_packages_to():
    from amlcore.environment import DEFAULT_CPU_IMAGE, DEFAULT_GPU_IMAGE
    assert DEFAULT_CPU_IMAGE.startswith("mcr.microsoft.com/azureml/") and "cuda" in DEFAULT_GPU_IMAGE
    env = Environment("notebook-env")
    plain_hash = env.get_hash()
    env.python.conda_dependencies.add_pip_package("scikit-learn")
    assert list(env.python.conda_dependencies.pip_packages) == ["scikit-learn"]
    assert env.get_hash() != plain_hash
    # An empty specification is the same environment as none: it builds nothing new.
    bare = Environment("bare-env")
    bare.python.conda_dependencies = None
    assert bare.get_hash() == plain_hash


RAW = """
    import json
    from azureml.contrib.services.aml_request import AMLRequest, rawhttp
    from azureml.contrib.services.aml_response import AMLResponse

    def init():
        pass

    @rawhttp
    def run(request):
        assert isinstance(request, AMLRequest)
        if request.method == "GET":
            return AMLResponse({"q": request.args.get("q"), "all": request.args.getlist("q"),
                                "path": request.path}, 200, json_str=True)
        if request.headers.get("content-type") == "application/json":
            return {"json": request.get_json(), "agent": request.headers.get("X-Agent")}
        return AMLResponse(request.get_data()[::-1], 201, {"X-Length": str(len(request.data))})
"""


def test_a_rawhttp_entry_script_gets_the_request_and_chooses_its_answer(aks, tmp_path):
    ws, target = aks
    service = Model.deploy(ws, "raw-svc", [], InferenceConfig(entry_script="score.py",
                                                              source_directory=script_dir(tmp_path, RAW)),
                           AksWebservice.deploy_configuration(num_replicas=1, auth_enabled=False), target)
    service.wait_for_deployment()
    status, body = get(service.scoring_uri + "?q=one&q=two")
    assert status == 200 and json.loads(body) == {"q": "one", "all": ["one", "two"], "path": "/score"}
    binary = bytes(range(256))
    status, body, headers = post(service.scoring_uri, binary, headers={"Content-Type": "application/octet-stream"})
    assert status == 201 and body == binary[::-1] and headers["X-Length"] == "256"
    status, body, _ = post(service.scoring_uri, '{"a": 1}', headers={"X-Agent": "tests"})
    assert status == 200 and json.loads(body) == {"json": {"a": 1}, "agent": "tests"}
    assert service.run({"a": 2}) == {"json": {"a": 2}, "agent": None}


def test_run_on_a_service_that_is_not_serving_says_its_state(aks, tmp_path):
    ws, target = aks
    broken = """
        def init():
            raise RuntimeError("no model here")
        def run(raw):
            return raw
    """
    service = Model.deploy(ws, "failed-svc", [], InferenceConfig(entry_script="score.py",
                                                                 source_directory=script_dir(tmp_path, broken)),
                           AksWebservice.deploy_configuration(num_replicas=1), target)
    with pytest.raises(WebserviceException):
        service.wait_for_deployment()
    with pytest.raises(WebserviceException) as raised:
        service.run({"a": 1})
    message = str(raised.value)
    assert "Current State: Failed" in message and "not found" not in message, message


def test_an_environment_saved_to_a_directory_loads_back_the_same(tmp_path):
    from amlcore.exceptions import UserErrorException
    env = Environment("saved-env")
    env.python.conda_dependencies.add_pip_package("scikit-learn")
    env.python.conda_dependencies.set_python_version("3.11")
    env.environment_variables = {"MODE": "fast"}
    env.docker.base_image = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04"
    folder = str(tmp_path / "env")
    env.save_to_directory(folder)
    assert sorted(os.listdir(folder)) == ["azureml_environment.json", "conda_dependencies.yml"]
    loaded = Environment.load_from_directory(folder)
    assert loaded.name == "saved-env" and loaded.environment_variables == {"MODE": "fast"}
    assert list(loaded.python.conda_dependencies.pip_packages) == ["scikit-learn"]
    assert loaded.python.conda_dependencies.get_python_version() == "3.11"
    assert loaded.get_hash() == env.get_hash()
    with pytest.raises(UserErrorException, match="already exists. Set overwrite=True"):
        env.save_to_directory(folder)
    Environment("plain-env").save_to_directory(folder, overwrite=True)
    assert os.listdir(folder) == ["azureml_environment.json"]
    assert Environment.load_from_directory(folder).python.conda_dependencies._is_empty()
    with pytest.raises(UserErrorException, match="Cannot read"):
        Environment.load_from_directory(str(tmp_path / "nowhere"))
