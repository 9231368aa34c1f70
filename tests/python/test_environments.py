"""Environments end to end: requirements are honoured exactly or the build fails saying why; offline environments
(AMLCORE_OFFLINE_ENVIRONMENTS=1) use the versions the runtime's Python has and say so where users look; amlcore
provides only the azureml distributions its replica runtime ships. pip only ever reaches an index on loopback."""

import os
import subprocess
import textwrap

import pytest

from amlcore import Environment, Model
from amlcore.conda_dependencies import CondaDependencies
from amlcore.exceptions import WebserviceException, WebserviceTimeoutException
from amlcore.model import InferenceConfig
from amlcore.webservice import AksWebservice
from services import ECHO, script_dir

RUNTIME_PYTHON = os.environ.get("AMLCORE_RUNTIME_PYTHON", "/usr/bin/python3")

# Answers with the versions the replica imports.
VERSIONS = """
    import numpy, sklearn
    def init():
        pass
    def run(raw):
        return {"sklearn": sklearn.__version__, "numpy": numpy.__version__}
"""


def installed(distribution, python=RUNTIME_PYTHON):
    """The version of `distribution` that `python` has."""
    return subprocess.run([python, "-c", "from importlib.metadata import version; print(version({!r}))".format(
        distribution)], capture_output=True, text=True, timeout=60, check=True).stdout.strip()


def deploy_with(ws, target, source, name, pip_packages, conda_packages=()):
    env = Environment(name + "-env")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=list(pip_packages),
                                                             conda_packages=list(conda_packages))
    config = InferenceConfig(entry_script="score.py", source_directory=source, environment=env)
    return Model.deploy(ws, name, [], config, AksWebservice.deploy_configuration(num_replicas=1), target)


@pytest.fixture
def offline_environments(home, monkeypatch):
    """The server runs with AMLCORE_OFFLINE_ENVIRONMENTS=1: request it before the fixtures that start it."""
    monkeypatch.setenv("AMLCORE_OFFLINE_ENVIRONMENTS", "1")


def test_a_pin_pip_cannot_install_fails_the_build_naming_the_version_available(silent_index, aks, tmp_path, capsys):
    ws, target = aks
    sklearn = installed("scikit-learn")
    assert sklearn != "0.22.1"
    service = deploy_with(ws, target, script_dir(tmp_path, ECHO), "pinned-svc", ["scikit-learn==0.22.1"])
    # The index never answers and pip's own defaults would wait 600 s ten times over: the build bounds pip, so the
    # deployment fails well within this wait instead of outlasting it.
    with pytest.raises(WebserviceException) as error:
        service.wait_for_deployment(show_output=True, timeout_sec=120)
    assert not isinstance(error.value, WebserviceTimeoutException), str(error.value)
    message = str(error.value)
    assert '"code": "EnvironmentBuildFailed"' in message
    assert "pip could not install scikit-learn==0.22.1. Tried: " in message
    assert "-m pip install --disable-pip-version-check --no-input --retries 0 --timeout 15 scikit-learn==0.22.1" \
        " (with the machine's pip configuration, no retries, a 15 s socket timeout)." in message
    assert ("requirement scikit-learn==0.22.1: pip could not install it; the version available is scikit-learn {} "
            "(in the runtime's Python), which does not satisfy it.").format(sklearn) in message
    assert "to use the versions available instead, start amlcored with AMLCORE_OFFLINE_ENVIRONMENTS=1" in message
    assert "No matching distribution found for scikit-learn==0.22.1" in message
    assert service.state == "Failed" and service.phase == "BuildingEnvironment"
    assert service.reason == "EnvironmentBuildFailed"
    out = capsys.readouterr().out
    assert "installing scikit-learn==0.22.1 into " in out
    # Nothing was substituted: it failed.
    assert "is not installed; using" not in out and "satisfied scikit-learn" not in out


def test_offline_environments_use_the_installed_version_and_warn_in_both_logs(refusing_index, offline_environments,
                                                                               aks, tmp_path, capsys):
    ws, target = aks
    sklearn, numpy = installed("scikit-learn"), installed("numpy")
    numpy_series = ".".join(numpy.split(".")[:2])
    warning = ("WARNING: requirement scikit-learn==0.22.1 is not installed; using scikit-learn {} instead "
               "(AMLCORE_OFFLINE_ENVIRONMENTS=1)").format(sklearn)
    source = script_dir(tmp_path, VERSIONS)
    for name, cache in (("offline-svc", "cache miss"), ("offline-again-svc", "cache hit (workspace)")):
        service = deploy_with(ws, target, source, name, ["scikit-learn==0.22.1"],
                              conda_packages=["numpy=" + numpy_series])
        service.wait_for_deployment(show_output=True, timeout_sec=120)
        out = capsys.readouterr().out
        assert cache in out, out
        # The operation log, as wait_for_deployment prints it, and the replica's log both carry the warning.
        assert warning in out, out
        # In the replica's log, a warning-level line of the runtime.
        assert warning.replace("WARNING: ", "WARNING amlcore-score: ") in service.get_logs()
        assert service.state == "Healthy"
        assert service.run("{}") == {"sklearn": sklearn, "numpy": numpy}
        assert ("installing scikit-learn==0.22.1 into " in out) == (cache == "cache miss")
    # A conda pin of a release series is satisfied by any of its patch releases, offline or not.
    service = deploy_with(ws, target, source, "series-svc", [], conda_packages=["numpy=" + numpy_series])
    service.wait_for_deployment(show_output=True, timeout_sec=120)
    out = capsys.readouterr().out
    assert "satisfied numpy={}: numpy {}".format(numpy_series, numpy) in out, out
    assert "WARNING" not in out and "WARNING" not in service.get_logs()


def test_a_requirement_with_nothing_to_stand_in_fails_even_offline(refusing_index, offline_environments, aks,
                                                                  tmp_path, capsys):
    ws, target = aks
    service = deploy_with(ws, target, script_dir(tmp_path, ECHO), "dataprep-svc", ["azureml-dataprep"])
    with pytest.raises(WebserviceException) as error:
        service.wait_for_deployment(show_output=True, timeout_sec=120)
    message = str(error.value)
    assert '"code": "EnvironmentBuildFailed"' in message
    assert "pip could not install azureml-dataprep. Tried: " in message
    assert ("requirement azureml-dataprep: pip could not install it, and the runtime's Python has no "
            "azureml-dataprep.") in message
    assert "AMLCORE_OFFLINE_ENVIRONMENTS=1" not in message
    out = capsys.readouterr().out
    # azureml-defaults is amlcore's to provide; azureml-dataprep is not.
    assert "skipped azureml-defaults: provided by amlcore" in out
    assert "installing azureml-dataprep into " in out and "skipped azureml-dataprep" not in out


@pytest.fixture
def runtime_with_dataprep(home, tmp_path, monkeypatch):
    """A runtime Python (a virtual environment over Debian's) that has an azureml-dataprep distribution of its own,
    in the azureml namespace as the real one is."""
    venv = tmp_path / "runtime"
    subprocess.run([RUNTIME_PYTHON, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True,
                   timeout=120)
    python = str(venv / "bin" / "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    package = os.path.join(site, "azureml", "dataprep")
    os.makedirs(package)
    with open(os.path.join(package, "__init__.py"), "w") as f:
        f.write("__version__ = '9.9.9'\n")
    info = os.path.join(site, "azureml_dataprep-9.9.9.dist-info")
    os.makedirs(info)
    with open(os.path.join(info, "METADATA"), "w") as f:
        f.write("Metadata-Version: 2.1\nName: azureml-dataprep\nVersion: 9.9.9\n")
    monkeypatch.setenv("AMLCORE_RUNTIME_PYTHON", python)
    return python


def test_an_azureml_distribution_the_runtime_has_is_satisfied_and_importable(runtime_with_dataprep, aks, tmp_path,
                                                                              capsys):
    ws, target = aks
    assert installed("azureml-dataprep", runtime_with_dataprep) == "9.9.9"
    source = script_dir(tmp_path, textwrap.dedent("""
        import azureml.dataprep
        from azureml.core.model import Model
        def init():
            pass
        def run(raw):
            return {"dataprep": azureml.dataprep.__version__, "model": Model.__module__}
    """))
    service = deploy_with(ws, target, source, "has-dataprep-svc", ["azureml-dataprep"])
    service.wait_for_deployment(show_output=True, timeout_sec=120)
    out = capsys.readouterr().out
    assert "satisfied azureml-dataprep: azureml-dataprep 9.9.9" in out, out
    assert "nothing to install, using the runtime's Python " + runtime_with_dataprep in out
    # amlcore's azureml (azureml.core) and the runtime's (azureml.dataprep) side by side.
    assert service.run("{}") == {"dataprep": "9.9.9", "model": "amlcore.model"}
