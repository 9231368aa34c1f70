import json
import os

import pytest

from amlcore import Workspace
from amlcore.exceptions import UserErrorException


def test_create_get_list_and_delete(home):
    ws = Workspace.create("ml-ws", tags={"team": "ml"})
    assert (ws.name, ws.subscription_id, ws.resource_group, ws.location) == (
        "ml-ws", "00000000-0000-0000-0000-000000000000", "default", "local")
    assert ws.tags == {"team": "ml"}
    assert repr(ws) == ("Workspace.create(name='ml-ws', subscription_id='00000000-0000-0000-0000-000000000000', "
                        "resource_group='default')")
    with pytest.raises(UserErrorException) as exists:
        Workspace.create("ml-ws")
    assert str(exists.value) == "Workspace with name 'ml-ws' already exists under resource group with name 'default'."
    assert Workspace.create("ml-ws", exist_ok=True) == ws
    assert Workspace("00000000-0000-0000-0000-000000000000", "default", "ml-ws") == ws
    assert Workspace.get("ml-ws") == ws

    Workspace.create("ml-ws", resource_group="team-b")
    with pytest.raises(UserErrorException, match="Several workspaces are named ml-ws"):
        Workspace.get("ml-ws")
    listed = Workspace.list("00000000-0000-0000-0000-000000000000")
    assert list(listed) == ["ml-ws"] and len(listed["ml-ws"]) == 2
    assert len(Workspace.list(resource_group="team-b")["ml-ws"]) == 1

    with pytest.raises(UserErrorException, match="Resource group missing-rg could not be found"):
        Workspace.create("x-ws", resource_group="missing-rg", create_resource_group=False)
    with pytest.raises(UserErrorException, match="Invalid workspace name 'a b'"):
        Workspace.create("a b")
    with pytest.raises(UserErrorException, match="Workspace nope-ws not found"):
        Workspace.get("nope-ws")

    Workspace.get("ml-ws", resource_group="team-b").delete()
    assert len(Workspace.list()["ml-ws"]) == 1
    assert ws.compute_targets == {}


def test_write_config_and_from_config(home, tmp_path, capsys, monkeypatch):
    ws = Workspace.create("cfg-ws")
    written = ws.write_config(path=str(tmp_path))
    assert written == str(tmp_path / ".azureml" / "config.json")
    with open(written) as f:
        assert json.load(f) == {"subscription_id": ws.subscription_id, "resource_group": "default",
                                "workspace_name": "cfg-ws"}
    deep = tmp_path / "notebooks" / "week1"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    found = Workspace.from_config()
    assert found == ws
    assert "Found the config file in: {}".format(written) in capsys.readouterr().out
    assert Workspace.from_config(path=written) == ws
    with pytest.raises(UserErrorException, match="We could not find other.json in: / or in its parent directories"):
        Workspace.from_config(path="/", _file_name="other.json")


def test_the_sdk_starts_one_server_per_home(home):
    Workspace.create("one-ws")
    pid = home.server_pid()
    assert pid
    mode = os.stat(os.path.join(home.path, "server.json")).st_mode & 0o777
    assert mode == 0o600
    assert os.stat(os.path.join(home.path, "admin_token")).st_mode & 0o777 == 0o600
    Workspace.get("one-ws")
    assert home.server_pid() == pid
