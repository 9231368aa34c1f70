"""The `amlcore` command line, as installed by pip, against a real amlcored: every command, the deploy-to-AKS
article's `az ml` lines with `az` replaced by `amlcore` (and the docs' inferenceconfig.json / deploymentconfig.json),
bad flags and bad files with their messages, and a --help snapshot of every command.

Update the snapshots after changing a command's help:
    AMLCORE_UPDATE_CLI_HELP=1 .venv/bin/python -m pytest tests/python/test_cli.py -k help -q -p no:cacheprovider
"""

import json
import os
import re
import subprocess
import sys
import textwrap
import time

import pytest

AMLCORE = os.path.join(os.path.dirname(sys.executable), "amlcore")
HELP_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cli_help")

# The docs' inferenceconfig.json (an environment document) and deploymentconfig.json for AKS, as published, but for
# one pip requirement: azureml-telemetry, which amlcore does not provide and no package index reaches from here.
INFERENCE_CONFIG = {
    "entryScript": "score.py",
    "sourceDirectory": "./",
    "environment": {
        "docker": {"arguments": [], "baseDockerfile": None,
                   "baseImage": "mcr.microsoft.com/azureml/base:intelmpi2018.3-ubuntu16.04", "enabled": False,
                   "sharedVolumes": True, "shmSize": None},
        "environmentVariables": {"EXAMPLE_ENV_VAR": "EXAMPLE_VALUE"},
        "name": "my-deploy-env",
        "python": {"baseCondaEnvironment": None,
                   "condaDependencies": {"channels": ["conda-forge"],
                                         "dependencies": ["python=3.6.2",
                                                          {"pip": ["azureml-defaults", "scikit-learn",
                                                                   "inference-schema[numpy-support]"]}],
                                         "name": "project_environment"},
                   "condaDependenciesFile": None, "interpreterPath": "python", "userManagedDependencies": False},
        "version": "1",
    },
}
DEPLOYMENT_CONFIG = {
    "computeType": "aks",
    "autoScaler": {"autoscaleEnabled": True, "minReplicas": 1, "maxReplicas": 3, "refreshPeriodInSeconds": 1,
                   "targetUtilization": 70},
    "dataCollection": {"storageEnabled": True},
    "authEnabled": True,
    "containerResourceRequirements": {"cpu": 0.5, "memoryInGB": 1.0},
}
# The article's token authentication: key auth off, token auth on.
TOKEN_DEPLOYMENT_CONFIG = {"computeType": "aks", "authEnabled": False, "tokenAuthEnabled": True, "numReplicas": 1,
                           "containerResourceRequirements": {"cpu": 0.1, "memoryInGB": 0.5}}
SCORE = """
    import json, os
    def init():
        print("init", os.environ.get("EXAMPLE_ENV_VAR"))
    def run(raw):
        return {"echo": json.loads(raw), "env": os.environ.get("EXAMPLE_ENV_VAR")}
"""


def run(*args, cwd=None, timeout=180):
    """Runs `amlcore args...`: (exit code, stdout, stderr)."""
    done = subprocess.run([AMLCORE, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return done.returncode, done.stdout, done.stderr


def ok(*args, cwd=None, timeout=180):
    """Runs a command that must succeed; its stdout parsed as JSON (None when it printed nothing)."""
    code, out, err = run(*args, cwd=cwd, timeout=timeout)
    assert code == 0, "amlcore {} failed ({}):\n{}{}".format(" ".join(args), code, out, err)
    return json.loads(out) if out.strip() else None


def fails(*args, cwd=None, code=1):
    """Runs a command that must fail with `code`; its stderr."""
    got, out, err = run(*args, cwd=cwd)
    assert got == code, "amlcore {} exited {} (expected {}):\n{}{}".format(" ".join(args), got, code, out, err)
    assert out == ""
    return err


@pytest.fixture
def project(home, tmp_path):
    """A project folder with the docs' files, a score.py, a model file, and a workspace attached to it."""
    (tmp_path / "score.py").write_text(textwrap.dedent(SCORE))
    (tmp_path / "model.pkl").write_bytes(b"not really a pickle")
    (tmp_path / "inferenceconfig.json").write_text(json.dumps(INFERENCE_CONFIG, indent=4))
    (tmp_path / "deploymentconfig.json").write_text(json.dumps(DEPLOYMENT_CONFIG, indent=4))
    (tmp_path / "tokenconfig.json").write_text(json.dumps(TOKEN_DEPLOYMENT_CONFIG))
    ok("ml", "workspace", "create", "-w", "myworkspace", "-g", "myresourcegroup")
    attached = ok("ml", "folder", "attach", "-w", "myworkspace", "-g", "myresourcegroup", cwd=tmp_path)
    assert attached["workspace_name"] == "myworkspace"
    return tmp_path


def wait_for(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.1)


def test_article_cli_flow(project):
    """The article's command lines, with az replaced by amlcore."""
    cwd = project
    created = ok("ml", "computetarget", "create", "aks", "-n", "myaks", cwd=cwd)
    assert created["name"] == "myaks"
    assert created["properties"]["provisioningState"] == "Succeeded"
    assert created["properties"]["properties"]["agentCount"] == 3

    # A cluster of another workspace, attached by its resource id as the article does.
    ok("ml", "workspace", "create", "-w", "otherworkspace", "-g", "otherresourcegroup")
    other = ok("ml", "computetarget", "create", "aks", "-n", "otheraks", "-p", "DevTest", "-a", "1",
               "-w", "otherworkspace", "-g", "otherresourcegroup")
    code, aksresourceid, _ = run("ml", "computetarget", "show", "-n", "otheraks", "-w", "otherworkspace", "--query",
                                 "properties.resourceId", "-o", "tsv")
    assert code == 0 and aksresourceid.strip() == other["properties"]["resourceId"]
    aksresourceid = aksresourceid.strip()
    attached = ok("ml", "computetarget", "attach", "aks", "-n", "myattached", "-i", aksresourceid,
                  "-g", "myresourcegroup", "-w", "myworkspace", "-p", "DevTest", cwd=cwd)
    assert attached["properties"]["isAttachedCompute"] is True

    model = ok("ml", "model", "register", "-n", "mymodel", "-p", "model.pkl", cwd=cwd)
    assert model["id"] == "mymodel:1"
    service = ok("ml", "model", "deploy", "-ct", "myaks", "-m", "mymodel:1", "-n", "myservice", "-ic",
                 "inferenceconfig.json", "-dc", "deploymentconfig.json", cwd=cwd)
    assert service["state"] == "Healthy"
    assert service["environment"]["environmentVariables"] == {"EXAMPLE_ENV_VAR": "EXAMPLE_VALUE"}

    keys = ok("ml", "service", "get-keys", "-n", "myservice", cwd=cwd)
    assert len(keys["primaryKey"]) >= 8 and keys["primaryKey"] != keys["secondaryKey"]
    answer = ok("ml", "service", "run", "-n", "myservice", "-d", '{"data": [1, 2]}', cwd=cwd)
    assert answer == {"echo": {"data": [1, 2]}, "env": "EXAMPLE_VALUE"}

    ok("ml", "model", "deploy", "-ct", "myattached", "-m", "mymodel:1", "-n", "tokenservice", "-ic",
       "inferenceconfig.json", "-dc", "tokenconfig.json", cwd=cwd)
    token = ok("ml", "service", "get-access-token", "-n", "tokenservice", cwd=cwd)
    assert token["tokenType"] == "Bearer" and token["accessToken"].count(".") == 2
    assert token["refreshAfter"] < token["expiryOn"]
    assert ok("ml", "service", "run", "-n", "tokenservice", "-d", '{"x": 1}', cwd=cwd)["echo"] == {"x": 1}

    for name in ("myservice", "tokenservice"):
        assert ok("ml", "service", "delete", "-n", name, cwd=cwd) is None
    assert ok("ml", "computetarget", "detach", "-n", "myattached", "-g", "myresourcegroup", "-w", "myworkspace",
              cwd=cwd) is None
    assert ok("ml", "computetarget", "delete", "-n", "myaks", cwd=cwd) is None
    assert ok("ml", "computetarget", "list", cwd=cwd) == []
    err = fails("ml", "service", "show", "-n", "myservice", cwd=cwd)
    assert err == ("ERROR: WebserviceNotFound: Webservice with name myservice not found in provided workspace\n")


def test_workspace_commands(home, tmp_path):
    created = ok("ml", "workspace", "create", "-w", "ws-one", "-g", "group-a", "-l", "local", "-f", "First")
    assert created["name"] == "ws-one" and created["resourceGroup"] == "group-a"
    assert created["friendlyName"] == "First"
    fails("ml", "workspace", "create", "-w", "ws-one", "-g", "group-a")
    assert ok("ml", "workspace", "create", "-w", "ws-one", "-g", "group-a", "--exist-ok")["name"] == "ws-one"
    ok("ml", "workspace", "create", "-w", "ws-two", "-g", "group-b")
    assert sorted(w["name"] for w in ok("ml", "workspace", "list")) == ["ws-one", "ws-two"]
    assert [w["name"] for w in ok("ml", "workspace", "list", "-g", "group-b")] == ["ws-two"]
    assert ok("ml", "workspace", "show", "-w", "ws-two")["resourceGroup"] == "group-b"

    # Without -w the workspace comes from .azureml/config.json, found upward from the working directory.
    ok("ml", "folder", "attach", "-w", "ws-one", "-g", "group-a", cwd=tmp_path)
    with open(tmp_path / ".azureml" / "config.json") as f:
        assert json.load(f)["workspace_name"] == "ws-one"
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert ok("ml", "workspace", "show", cwd=nested)["name"] == "ws-one"
    assert ok("ml", "workspace", "show", "--path", str(tmp_path))["name"] == "ws-one"
    elsewhere = tmp_path.parent / (tmp_path.name + "-elsewhere")
    elsewhere.mkdir()
    err = fails("ml", "workspace", "show", cwd=elsewhere)
    assert err.startswith("ERROR: No workspace given: pass -w/--workspace-name")

    assert ok("ml", "workspace", "delete", "-w", "ws-two", "-g", "group-b") is None
    assert [w["name"] for w in ok("ml", "workspace", "list")] == ["ws-one"]


def test_compute_commands(home, slow_home, tmp_path):
    """slow_home: cluster creation takes 3 s, so that --no-wait can be seen to return before it ends."""
    ok("ml", "workspace", "create", "-w", "cli-ws", "-g", "rg")
    ws = ["-w", "cli-ws", "-g", "rg"]
    started = ok("ml", "computetarget", "create", "aks", "-n", "devaks", "-a", "1", "-s", "Standard_D4_v2", "-p",
                 "DevTest", "--no-wait", *ws)
    assert started["properties"]["provisioningState"] == "Creating"
    wait_for(lambda: ok("ml", "computetarget", "show", "-n", "devaks", *ws)["properties"]["provisioningState"]
             == "Succeeded", 60, "the cluster to be created")
    code, out, err = run("ml", "computetarget", "update", "aks", "-n", "devaks", "--agent-count", "2", *ws)
    assert code == 0, err
    assert json.loads(out)["properties"]["properties"]["agentCount"] == 2
    assert "Succeeded" in err  # progress goes to stderr, the result to stdout
    shown = ok("ml", "computetarget", "update", "aks", "-n", "devaks", "--access-log", "true", *ws)
    assert shown["properties"]["properties"]["accessLog"] is True
    err = fails("ml", "computetarget", "update", "aks", "-n", "devaks", "--access-log", "maybe", *ws, code=2)
    assert "--access-log" in err and "maybe" in err, err

    table = ok_text("ml", "computetarget", "list", "-o", "table", *ws)
    assert table.splitlines()[0].split() == ["Name", "Type", "State", "Attached"]
    assert table.splitlines()[2].split() == ["devaks", "AKS", "Succeeded", "False"]
    assert ok_text("ml", "computetarget", "list", "--query", "[].name", "-o", "tsv", *ws) == "devaks\n"

    err = fails("ml", "computetarget", "create", "aks", "-n", "bigaks", "-a", "0", *ws)
    assert err == "ERROR: Invalid configuration, agent count must be a positive integer.\n"
    err = fails("ml", "computetarget", "create", "aks", "-n", "x", "-a", "1", "-p", "DevTest", *ws)
    assert err == ("ERROR: Invalid compute name 'x': a compute name must be 3 to 24 characters long, contain only "
                   "letters, digits and hyphens, start with a letter and end with a letter or digit.\n")
    err = fails("ml", "computetarget", "attach", "aks", "-n", "att", "-i", "/not/a/resource/id", *ws)
    assert err == "ERROR: Invalid resource_id provided: /not/a/resource/id\n"
    err = fails("ml", "computetarget", "show", "-n", "nothere", *ws)
    assert err == ("ERROR: ComputeTargetNotFound: Compute Target with name nothere not found in provided "
                   "workspace\n")
    assert ok("ml", "computetarget", "delete", "-n", "devaks", *ws) is None
    assert ok("ml", "computetarget", "list", *ws) == []


def ok_text(*args, cwd=None):
    code, out, err = run(*args, cwd=cwd)
    assert code == 0, err
    return out


def test_models_services_and_endpoints(project):
    cwd = project
    ok("ml", "computetarget", "create", "aks", "-n", "devaks", "-a", "2", "-s", "Standard_D4_v2", "-p", "DevTest",
       cwd=cwd)
    first = ok("ml", "model", "register", "-n", "mymodel", "-p", "model.pkl", "--tag", "area=health", "--property",
               "owner=me", "-d", "first", "--model-framework", "ScikitLearn", "--model-framework-version", "1.2.1",
               "-t", "model.json", cwd=cwd)
    assert first["tags"] == {"area": "health"} and first["properties"] == {"owner": "me"}
    with open(project / "model.json") as f:
        assert json.load(f)["id"] == "mymodel:1"
    ok("ml", "model", "register", "-n", "mymodel", "-p", "model.pkl", cwd=cwd)
    assert sorted(m["id"] for m in ok("ml", "model", "list", "-n", "mymodel", cwd=cwd)) == ["mymodel:1", "mymodel:2"]
    assert [m["id"] for m in ok("ml", "model", "list", "--latest", cwd=cwd)] == ["mymodel:2"]
    assert [m["id"] for m in ok("ml", "model", "list", "--tag", "area=health", cwd=cwd)] == ["mymodel:1"]
    assert ok("ml", "model", "show", "-n", "mymodel", cwd=cwd)["version"] == 2
    assert ok("ml", "model", "show", "-i", "mymodel:1", cwd=cwd)["description"] == "first"
    downloaded = ok("ml", "model", "download", "-i", "mymodel:1", "-t", str(project / "down"), cwd=cwd)
    with open(downloaded["path"], "rb") as f:
        assert f.read() == b"not really a pickle"
    err = fails("ml", "model", "show", "-i", "nomodel:1", cwd=cwd)
    assert err == "ERROR: ModelNotFound: Model with id nomodel:1 not found in provided workspace\n"

    # Flags instead of files, and flags over a file's values.
    svc = ok("ml", "model", "deploy", "-n", "flagsvc", "-m", "mymodel:1", "--ct", "devaks", "--es", "score.py",
             "--sd", ".", "--nr", "1", "--cc", "0.2", "--gb", "0.3", "--tag", "team=a", "-d", "by flags", cwd=cwd)
    assert svc["state"] == "Healthy" and svc["kvTags"] == {"team": "a"}
    assert svc["numReplicas"] == 1 and svc["containerResourceRequirements"]["cpu"] == 0.2
    listed = ok_text("ml", "service", "list", "-o", "table", cwd=cwd).splitlines()
    assert listed[0].split() == ["Name", "ComputeType", "State", "ScoringUri"]
    assert listed[2].split()[:3] == ["flagsvc", "AKS", "Healthy"]
    assert ok("ml", "service", "list", "--compute-type", "ACI", cwd=cwd) == []
    assert ok("ml", "service", "show", "-n", "flagsvc", "--query", "{n: name, s: state}", cwd=cwd) == \
        {"n": "flagsvc", "s": "Healthy"}

    keys = ok("ml", "service", "regen-key", "-n", "flagsvc", "--key", "Secondary", "--set-key", "my-own-secret-key",
              cwd=cwd)
    assert keys["secondaryKey"] == "my-own-secret-key"
    err = fails("ml", "service", "regen-key", "-n", "flagsvc", "--key", "Tertiary", cwd=cwd)
    assert err == "ERROR: Error, invalid key Tertiary. Valid keys are Primary and Secondary.\n"
    logs = ok("ml", "service", "get-logs", "-n", "flagsvc", cwd=cwd)
    assert "init" in logs
    (project / "input.json").write_text('{"from": "file"}')
    assert ok("ml", "service", "run", "-n", "flagsvc", "-f", "input.json", cwd=cwd)["echo"] == {"from": "file"}

    updated = ok("ml", "service", "update", "-n", "flagsvc", "--nr", "2", "-m", "mymodel:2", "--ae", "false",
                 cwd=cwd)
    assert updated["numReplicas"] == 2 and updated["models"][0]["id"] == "mymodel:2"
    assert updated["authEnabled"] is False
    err = fails("ml", "model", "delete", "-i", "mymodel:2", cwd=cwd)
    assert err == ("ERROR: Model mymodel:2 is deployed by service flagsvc; delete or update those services "
                   "first.\n")
    assert ok("ml", "model", "delete", "-i", "mymodel:1", cwd=cwd) is None

    # An endpoint from a -dc file of computeType aksendpoint, then its versions.
    (project / "endpointconfig.json").write_text(json.dumps({
        "computeType": "aksendpoint", "versionName": "versiona", "trafficPercentile": 20, "numReplicas": 1,
        "containerResourceRequirements": {"cpu": 0.1, "memoryInGB": 0.2}}))
    endpoint = ok("ml", "model", "deploy", "-ct", "devaks", "-m", "mymodel:2", "-n", "myendpoint", "-ic",
                  "inferenceconfig.json", "-dc", "endpointconfig.json", cwd=cwd)
    assert endpoint["computeType"] == "AKSENDPOINT"
    ok("ml", "endpoint", "realtime", "create-version", "-n", "myendpoint", "--version-name", "versionb", "-m",
       "mymodel:2", "-ic", "inferenceconfig.json", "--tp", "10", "--nr", "1", "--cc", "0.1", "--gb", "0.2", cwd=cwd)
    ok("ml", "endpoint", "realtime", "update-version", "-n", "myendpoint", "--version-name", "versionb", "--tp", "40",
       "--is-default", "true", "--cvt", "true", cwd=cwd)
    versions = ok("ml", "service", "show", "-n", "myendpoint", "--query", "versions", cwd=cwd)
    assert (versions["versiona"]["trafficPercentile"], versions["versiona"]["isDefault"]) == (20, False)
    assert (versions["versionb"]["trafficPercentile"], versions["versionb"]["isDefault"]) == (40, True)
    assert versions["versionb"]["type"] == "Control"
    ok("ml", "endpoint", "realtime", "delete-version", "-n", "myendpoint", "--version-name", "versionb", cwd=cwd)
    assert list(ok("ml", "service", "show", "-n", "myendpoint", "--query", "versions", cwd=cwd)) == ["versiona"]
    assert [e["name"] for e in ok("ml", "endpoint", "realtime", "list", cwd=cwd)] == ["myendpoint"]
    switched = ok("ml", "endpoint", "realtime", "update", "-n", "myendpoint", "--ae", "false",
                  "--token-auth-enabled", "true", "-d", "rolled out", cwd=cwd)
    assert (switched["authEnabled"], switched["aadAuthEnabled"], switched["description"]) == (False, True,
                                                                                            "rolled out")
    assert ok("ml", "service", "get-access-token", "-n", "myendpoint", cwd=cwd)["tokenType"] == "Bearer"
    assert ok("ml", "endpoint", "realtime", "show", "-n", "myendpoint", cwd=cwd)["computeType"] == "AKSENDPOINT"
    assert ok("ml", "endpoint", "realtime", "delete", "-n", "myendpoint", cwd=cwd) is None
    assert ok("ml", "endpoint", "realtime", "list", cwd=cwd) == []
    err = fails("ml", "endpoint", "realtime", "show", "-n", "flagsvc", cwd=cwd)
    assert err == ("ERROR: flagsvc is not an AKS endpoint (its compute type is AKS); deploy one with a -dc file of "
                   "computeType aksendpoint.\n")
    err = fails("ml", "endpoint", "realtime", "create-version", "-n", "flagsvc", "--vn", "v2", cwd=cwd)
    assert err == ("ERROR: flagsvc is not an AKS endpoint (its compute type is AKS); deploy one with a -dc file of "
                   "computeType aksendpoint.\n")


def test_failures_exit_non_zero_with_the_services_message(project):
    cwd = project
    ok("ml", "computetarget", "create", "aks", "-n", "devaks", "-a", "1", "-p", "DevTest", cwd=cwd)
    (project / "broken").mkdir()
    (project / "broken" / "score.py").write_text("def init():\n    raise ValueError('no model here')\n"
                                                 "def run(raw):\n    return raw\n")
    code, out, err = run("ml", "model", "deploy", "-n", "brokensvc", "--ct", "devaks", "--es", "score.py", "--sd",
                         "broken", "--nr", "1", cwd=cwd)
    assert code == 1 and out == ""
    assert "ERROR: Service deployment polling reached non-successful terminal state" in err
    assert "no model here" in err
    # --no-wait returns at once; the service's failure shows in its state.
    started = ok("ml", "model", "deploy", "-n", "brokensvc", "--ct", "devaks", "--es", "score.py", "--sd", "broken",
                 "--nr", "1", "--overwrite", "--no-wait", cwd=cwd)
    assert started["name"] == "brokensvc"


def test_debug_shows_rest_calls(project):
    code, out, err = run("ml", "workspace", "show", "--debug", cwd=project)
    assert code == 0
    assert json.loads(out)["name"] == "myworkspace"
    assert re.search(r"DEBUG: GET http://127\.0\.0\.1:\d+/subscriptions/.*/workspaces/myworkspace", err)
    assert re.search(r"DEBUG:   -> 200 in \d+ ms, x-ms-request-id ", err)
    assert "Bearer" not in err


def test_bad_flags(project):
    cwd = project
    err = fails("ml", "model", "show", "-i", "m:1", "--bogus", code=2, cwd=cwd)
    assert err.startswith("ERROR: The following argument was not expected: --bogus")
    err = fails("ml", "model", "register", "-p", "model.pkl", code=2, cwd=cwd)
    assert err.startswith("ERROR: --name is required")
    err = fails("ml", "workspace", "show", "-o", "yaml", code=2, cwd=cwd)
    assert "yaml" in err and "json" in err and "table" in err
    err = fails("ml", "model", "deploy", "-n", "svc", "-ct", "devaks", "--es", "score.py", "--nr", "two", cwd=cwd)
    assert err == "ERROR: --nr: 'two' is not a whole number.\n"
    err = fails("ml", "model", "deploy", "-n", "svc", "-ct", "devaks", "--es", "score.py", "--ae", "maybe", cwd=cwd)
    assert err == "ERROR: --ae: 'maybe' is not a boolean; allowed: true, false.\n"
    err = fails("ml", "model", "register", "-n", "m", "-p", "model.pkl", "--tag", "novalue", cwd=cwd)
    assert err == ("ERROR: --tag: 'novalue' is not key=value; give one pair per flag, e.g. --tag area=health\n")
    err = fails("ml", "workspace", "show", "--query", "[?name=", code=2, cwd=cwd)
    assert err.startswith("ERROR: --query: ") and "supported:" in err
    err = fails("ml", "model", "deploy", "-n", "svc", cwd=cwd)
    assert err == ("ERROR: No inference configuration: give -ic inferenceconfig.json, or --es score.py (with --sd "
                   "and -e).\n")
    assert fails("ml", "nothing", code=2).startswith("ERROR: The following argument was not expected: nothing")


BAD_INFERENCE = [
    ('{"entryScrpt": "score.py"}',
     "Unknown field 'entryScrpt'; allowed fields: baseImage, baseImageRegistry, condaFile, cudaVersion, description, "
     "enableGpu, entryScript, environment, extraDockerfileSteps, runtime, sourceDirectory."),
    ('{"entryScript": 7}', "Field 'entryScript' must be a string."),
    ('{"sourceDirectory": "."}', "'entryScript' is required: the path of the scoring script (score.py)."),
    ('{"entryScript": "score.py", "enableGpu": "yes"}', "Field 'enableGpu' must be true or false."),
    ('{"entryScript": "score.py", "environment": {"python": {"condaDependencies": {"dependencies": 3}}}}',
     "Field 'dependencies' must be a list."),
    ('{"entryScript": "score.py", "environment": {"pythn": {}}}', "Unknown field 'environment.pythn'"),
    ('[1, 2]', "it must hold one JSON object ({...})."),
    ('{"entryScript": "score.py",', "Malformed JSON"),
]
BAD_DEPLOYMENT = [
    ('{"autoScaler": {}}', "'computeType' is required and must be a string: \"aks\", \"aksendpoint\", \"aci\" or "
                           "\"local\"."),
    ('{"computeType": "batch"}', "'computeType' is \"batch\"; allowed: \"aks\", \"aksendpoint\", \"aci\" or \"local\"."),
    ('{"computeType": "aks", "autoScaler": {"minReplica": 1}}',
     "Unknown field 'autoScaler.minReplica'; allowed fields of 'autoScaler': autoscaleEnabled, maxReplicas, "
     "minReplicas, refreshPeriodInSeconds, targetUtilization."),
    ('{"computeType": "aks", "numReplicas": "two"}', "Field 'numReplicas' must be an integer."),
    ('{"computeType": "aks", "authEnabled": "yes"}', "Field 'authEnabled' must be true or false."),
    ('{"computeType": "aks", "containerResourceRequirements": {"cpu": "1"}}',
     "Field 'containerResourceRequirements.cpu' must be a number."),
    ('{"computeType": "aks", "containerResourceRequirements": {"cpu_limit": 1, "cpuLimit": 2}}',
     "Fields 'containerResourceRequirements.cpu_limit' and 'containerResourceRequirements.cpuLimit' name the same "
     "setting; give one of them."),
    ('{"computeType": "aks", "trafficPercentile": 10}', "Unknown field 'trafficPercentile'"),
    ('{"computeType": "aci", "autoScaler": {}}', "Unknown field 'autoScaler'"),
    ('{"computeType": "local", "port": "80"}', "Field 'port' must be an integer."),
]


@pytest.mark.parametrize("text,message", BAD_INFERENCE)
def test_bad_inference_config_files(home, tmp_path, text, message):
    project = tmp_path
    (project / "bad.json").write_text(text)
    err = fails("ml", "model", "deploy", "-n", "svc", "-ic", "bad.json", "-w", "myworkspace", cwd=project)
    assert err.startswith("ERROR: Reading the inference configuration file bad.json: " + message), err
    assert home.server_pid() is None  # refused before anything was sent: no server was even started
    # The Python SDK reads the file with the same parser, so it says the same.
    from amlcore.exceptions import UserErrorException
    from amlcore.model import InferenceConfig
    with pytest.raises(UserErrorException) as raised:
        InferenceConfig.from_file(str(project / "bad.json"))
    assert message in str(raised.value)


@pytest.mark.parametrize("text,message", BAD_DEPLOYMENT)
def test_bad_deployment_config_files(home, tmp_path, text, message):
    project = tmp_path
    (project / "bad.json").write_text(text)
    err = fails("ml", "model", "deploy", "-n", "svc", "--es", "score.py", "-dc", "bad.json", "-w", "myworkspace",
                cwd=project)
    assert err.startswith("ERROR: Reading the deployment configuration file bad.json: " + message), err
    assert home.server_pid() is None
    from amlcore.exceptions import UserErrorException
    from amlcore.webservice import deploy_configuration_from_file
    with pytest.raises(UserErrorException) as raised:
        deploy_configuration_from_file(str(project / "bad.json"))
    assert message in str(raised.value)


def test_python_loaders_read_the_docs_files(project, monkeypatch):
    from amlcore.model import InferenceConfig
    from amlcore.webservice import (AciServiceDeploymentConfiguration, AksEndpointDeploymentConfiguration,
                                    AksServiceDeploymentConfiguration, LocalWebserviceDeploymentConfiguration,
                                    deploy_configuration_from_file)
    monkeypatch.chdir(project)
    config = InferenceConfig.from_file("inferenceconfig.json")
    assert config.entry_script == "score.py" and config.source_directory == "./"
    assert config.environment.name == "my-deploy-env"
    assert config.environment.environment_variables == {"EXAMPLE_ENV_VAR": "EXAMPLE_VALUE"}
    aks = deploy_configuration_from_file("deploymentconfig.json")
    assert isinstance(aks, AksServiceDeploymentConfiguration)
    assert (aks.autoscale_max_replicas, aks.cpu_cores, aks.memory_gb, aks.collect_model_data) == (3, 0.5, 1.0, True)
    token = deploy_configuration_from_file("tokenconfig.json")
    assert (token.auth_enabled, token.token_auth_enabled, token.num_replicas) == (False, True, 1)
    (project / "more.json").write_text(json.dumps({
        "computeType": "AKSENDPOINT", "versionName": "a", "trafficPercentile": 20, "gpuCores": 0,
        "containerResourceRequirements": {"cpu": 1, "memoryInGB": 2, "cpu_limit": 2, "memory_limit": 3},
        "livenessProbeRequirements": {"periodSeconds": 5, "failureThreshold": 4}, "keys": {"primaryKey": "k" * 8},
        "tags": {"a": "b"}, "namespace": "team-a"}))
    endpoint = deploy_configuration_from_file("more.json")
    assert isinstance(endpoint, AksEndpointDeploymentConfiguration)
    assert (endpoint.version_name, endpoint.traffic_percentile, endpoint.cpu_cores_limit, endpoint.memory_gb_limit,
            endpoint.period_seconds, endpoint.failure_threshold, endpoint.primary_key, endpoint.tags,
            endpoint.namespace) == ("a", 20, 2.0, 3.0, 5, 4, "k" * 8, {"a": "b"}, "team-a")
    (project / "aci.json").write_text(json.dumps({"computeType": "aci", "containerResourceRequirements": {
        "cpu": 0.5, "memoryInGB": 1.0}, "authEnabled": True, "location": "local"}))
    aci = deploy_configuration_from_file("aci.json")
    assert isinstance(aci, AciServiceDeploymentConfiguration) and (aci.cpu_cores, aci.auth_enabled) == (0.5, True)
    # The older form of the docs, with a conda file.
    (project / "myenv.yml").write_text("name: project_environment\ndependencies:\n  - python=3.6.2\n  - pip:\n"
                                       "    - azureml-defaults\n")
    (project / "older.json").write_text(json.dumps({
        "entryScript": "score.py", "runtime": "python", "condaFile": "myenv.yml", "extraDockerfileSteps": None,
        "sourceDirectory": None, "enableGpu": False, "baseImage": None, "baseImageRegistry": None}))
    older = InferenceConfig.from_file("older.json")
    assert (older.entry_script, older.runtime, older.conda_file, older.enable_gpu) == ("score.py", "python",
                                                                                        "myenv.yml", False)
    (project / "local.json").write_text('{"computeType": "local", "port": 6789}')
    local = deploy_configuration_from_file("local.json")
    assert isinstance(local, LocalWebserviceDeploymentConfiguration) and local.port == 6789


def command_paths():
    """Every command and group, found by walking the help the CLI prints (so a new command cannot be missed)."""
    paths, todo = [], [[]]
    while todo:
        path = todo.pop(0)
        paths.append(path)
        code, out, _ = run(*path, "--help")
        assert code == 0
        if "Subcommands:" in out:
            section = out.split("Subcommands:", 1)[1].split("\n\n", 1)[0]
            for line in section.splitlines():
                if line.strip():
                    todo.append(path + [line.split()[0]])
    return paths


def test_help_snapshots():
    """`amlcore <command> --help` for every command matches tests/python/cli_help/ (see the module's docstring to
    update them); every command's help has an example."""
    update = os.environ.get("AMLCORE_UPDATE_CLI_HELP") == "1"
    paths = command_paths()
    assert len([p for p in paths if p and p[-1] in ("create", "deploy", "get-access-token", "create-version")]) >= 4
    seen = set()
    for path in paths:
        _, out, _ = run(*path, "--help")
        name = ("_".join(path) or "amlcore") + ".txt"
        seen.add(name)
        snapshot = os.path.join(HELP_DIR, name)
        if update:
            os.makedirs(HELP_DIR, exist_ok=True)
            with open(snapshot, "w") as f:
                f.write(out)
            continue
        assert os.path.exists(snapshot), "no snapshot for `amlcore {}`: update the snapshots".format(" ".join(path))
        with open(snapshot) as f:
            assert out == f.read(), "`amlcore {} --help` changed: update the snapshots".format(" ".join(path))
        if "Subcommands:" not in out:
            assert "Example:\n  amlcore " + " ".join(path) in out
    if update:
        for stale in set(os.listdir(HELP_DIR)) - seen:
            os.remove(os.path.join(HELP_DIR, stale))
    else:
        assert set(os.listdir(HELP_DIR)) == seen, "snapshots of commands that no longer exist"


def test_version():
    code, out, _ = run("--version")
    assert code == 0
    with open(os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                           "VERSION")) as f:
        assert out.strip() == "amlcore " + f.read().strip()


def test_deploy_with_a_registered_environment(project):
    """-e/--ev (also -ev) deploy with an environment registered in the workspace, as az ml model deploy does."""
    from amlcore import Environment, Workspace
    ws = Workspace.from_config(path=str(project))
    env = Environment("cli-env")
    env.environment_variables = {"EXAMPLE_ENV_VAR": "from the registered environment"}
    env.register(ws)
    ok("ml", "computetarget", "create", "aks", "-n", "devaks", "-a", "1", "-p", "DevTest", cwd=project)
    svc = ok("ml", "model", "deploy", "-n", "envsvc", "-ct", "devaks", "--es", "score.py", "--sd", ".", "-e",
             "cli-env", "-ev", "1", "--nr", "1", cwd=project)
    assert svc["environment"]["name"] == "cli-env"
    answer = ok("ml", "service", "run", "-n", "envsvc", "-d", "{}", cwd=project)
    assert answer["env"] == "from the registered environment"
    err = fails("ml", "model", "deploy", "-n", "envsvc2", "-ct", "devaks", "--es", "score.py", "--ev", "1",
                cwd=project)
    assert err == "ERROR: --ev/--environment-version needs -e/--environment-name.\n"
    err = fails("ml", "model", "deploy", "-n", "envsvc2", "-ct", "devaks", "--es", "score.py", "-e", "no-env",
                cwd=project)
    assert err.startswith("ERROR: ") and "no-env" in err


def test_service_update_of_aci_and_local_services(project):
    cwd = project
    ok("ml", "model", "register", "-n", "mymodel", "-p", "model.pkl", cwd=cwd)
    (project / "aci.json").write_text(json.dumps({"computeType": "aci", "containerResourceRequirements": {
        "cpu": 0.1, "memoryInGB": 0.5}, "authEnabled": True}))
    created = ok("ml", "model", "deploy", "-n", "acisvc", "-m", "mymodel:1", "-ic", "inferenceconfig.json",
                 "-dc", "aci.json", cwd=cwd)
    assert created["computeType"] == "ACI" and created["authEnabled"] is True
    updated = ok("ml", "service", "update", "-n", "acisvc", "--ae", "false", "-d", "open now", "-m", "mymodel:1",
                 "-ic", "inferenceconfig.json", cwd=cwd)
    assert updated["authEnabled"] is False and updated["description"] == "open now"
    assert updated["state"] == "Healthy"
    err = fails("ml", "service", "update", "-n", "acisvc", "--nr", "2", cwd=cwd)
    assert err == ("ERROR: service update cannot change num_replicas of ACI service acisvc; it takes new models (-m) "
                   "and an inference configuration (-ic, or --es/--sd/-e), and auth_enabled, enable_app_insights, "
                   "description, tags and properties.\n")

    import socket
    with socket.socket() as probe:  # a port free now, for the local service
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (project / "local.json").write_text(json.dumps({"computeType": "local", "port": port}))
    ok("ml", "model", "deploy", "-n", "localsvc", "-m", "mymodel:1", "-ic", "inferenceconfig.json",
       "-dc", "local.json", cwd=cwd)
    updated = ok("ml", "service", "update", "-n", "localsvc", "-ic", "inferenceconfig.json", cwd=cwd)
    assert updated["computeType"] == "Local" and updated["state"] == "Healthy"
    err = fails("ml", "service", "update", "-n", "localsvc", "-d", "x", cwd=cwd)
    assert err == ("ERROR: service update cannot change description of Local service localsvc; it takes new models "
                   "(-m) and an inference configuration (-ic, or --es/--sd/-e).\n")
    ok("ml", "service", "delete", "-n", "acisvc", cwd=cwd)
    ok("ml", "service", "delete", "-n", "localsvc", cwd=cwd)
