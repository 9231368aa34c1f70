"""amlcored as users run it: its REST API refuses unauthenticated calls, and a SIGKILL loses nothing."""

import json
import os
import signal
import time
import urllib.error
import urllib.request

import pytest

from amlcore import Workspace
from amlcore.compute import AksCompute, ComputeTarget
from services import head_only


def server_file(home):
    with open(os.path.join(home.path, "server.json")) as f:
        return json.load(f)


def call(endpoint, path, token, method="GET", body=None):
    request = urllib.request.Request(endpoint + path, method=method, data=body)
    if token is not None:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


WS_PATH = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/default/providers/"
           "Microsoft.MachineLearningServices/workspaces/rest-ws")


def test_rest_api_requires_the_admin_token(home):
    Workspace.create("rest-ws")
    info = server_file(home)
    for token in (None, "", "not-the-token", info["token"] + "x"):
        for method, path in (("GET", WS_PATH), ("GET", WS_PATH + "/computes"), ("DELETE", WS_PATH),
                             ("PUT", WS_PATH + "/computes/sneaky")):
            status, body = call(info["endpoint"], path, token, method, b"{}" if method == "PUT" else None)
            assert status == 401, (method, path, token)
            assert body["error"]["code"] == "Unauthorized"
    status, body = call(info["endpoint"], WS_PATH + "/computes", info["token"])
    assert status == 200 and body == {"value": [], "nextLink": None}
    # The scheme is case-insensitive, as HTTP's are.
    for scheme in ("bearer", "BEARER"):
        request = urllib.request.Request(info["endpoint"] + WS_PATH + "/computes",
                                         headers={"Authorization": scheme + " " + info["token"]})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
    assert info["endpoint"].startswith("http://127.0.0.1:")


def test_an_unauthenticated_upload_is_refused_before_its_body_is_read(home):
    Workspace.create("upload-ws")
    info = server_file(home)
    blob = info["endpoint"] + "/blobs/" + "0" * 64
    # The reply comes while the 90 MB body is still unsent: amlcored never buffers it.
    assert head_only(blob, 90 << 20) == "HTTP/1.1 401 Unauthorized"
    assert head_only(blob, 90 << 20, {"Authorization": "Bearer wrong"}) == "HTTP/1.1 401 Unauthorized"
    assert head_only(blob, 90 << 20, {"Authorization": "Bearer " + info["token"], "Expect": "100-continue"}) \
        .startswith("HTTP/1.1 100")


def test_sigkill_during_create_loses_nothing(slow_home):
    ws = Workspace.create("kill-ws")
    aks = ComputeTarget.create(ws, "kill-aks", AksCompute.provisioning_configuration(agent_count=1,
                                                                                    cluster_purpose="DevTest"))
    first = slow_home.server_pid()
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while os.path.exists("/proc/{}".format(first)) and open("/proc/{}/stat".format(first)).read().split()[2] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    # The SDK finds the server gone, starts another, which resumes the operation.
    aks.wait_for_completion(show_output=True)
    assert aks.provisioning_state == "Succeeded"
    assert slow_home.server_pid() != first
    assert len(slow_home.frontend_pids()) == 1
    assert ComputeTarget(ws, "kill-aks").provisioning_state == "Succeeded"


def test_deleted_cluster_front_end_is_gone(home):
    ws = Workspace.create("gone-ws")
    aks = ComputeTarget.create(ws, "gone-aks", AksCompute.provisioning_configuration(agent_count=1,
                                                                                    cluster_purpose="DevTest"))
    aks.wait_for_completion()
    pids = home.frontend_pids()
    assert len(pids) == 1
    aks.delete()
    aks.wait_for_completion(is_delete_operation=True)
    assert home.frontend_pids() == []
    with pytest.raises(OSError):
        urllib.request.urlopen(aks.scoring_endpoint + "/", timeout=2)
