"""ACI and local web services: services in a container group of their own (no compute target to create), with
ACI's defaults, limits and scoring URI shape, and azureml's LocalWebservice on a fixed port with reload(); and
no-code deployment of a registered scikit-learn model."""

import json
import os
import socket
import ssl
import urllib.request

import pytest

from amlcore import Model, Webservice
from amlcore.exceptions import WebserviceException
from amlcore.model import InferenceConfig
from amlcore.webservice import AciWebservice, AksWebservice, LocalWebservice
from services import ECHO, get, post, script_dir


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def echo_config(tmp_path):
    return InferenceConfig(entry_script="score.py", source_directory=script_dir(tmp_path, ECHO))


def test_an_aci_service_runs_without_a_compute_target(ws, tmp_path, capsys):
    config = AciWebservice.deploy_configuration(cpu_cores=0.5, memory_gb=1, tags={"area": "demo"},
                                                description="echo on ACI")
    service = Model.deploy(ws, "aci-echo", [], echo_config(tmp_path), config)
    assert isinstance(service, AciWebservice) and service.compute_type == "ACI"
    service.wait_for_deployment(show_output=True)
    assert 'ACI service creation operation finished, operation "Succeeded"' in capsys.readouterr().out
    assert service.state == "Healthy"
    # ACI's shape: the container group's own address, /score at its root; auth is off by default.
    assert service.scoring_uri.startswith("http://127.0.0.1:") and service.scoring_uri.endswith("/score")
    assert service.swagger_uri == service.scoring_uri[:-len("score")] + "swagger.json"
    assert service.auth_enabled is False
    assert service.run(json.dumps({"x": 1})) == {"echo": {"x": 1}}
    status, body, _ = post(service.scoring_uri, '{"y": 2}')
    assert status == 200 and json.loads(body) == {"echo": {"y": 2}}
    assert get(service.swagger_uri)[0] == 200
    requirements = service.container_resource_requirements
    assert (requirements.cpu, requirements.memory_in_gb) == (0.5, 1.0)
    assert service.location == ws.location and service.tags == {"area": "demo"}
    # No compute target was made for it; Webservice(ws, name) and list() know its class.
    assert ws.compute_targets == {}
    again = Webservice(ws, "aci-echo")
    assert isinstance(again, AciWebservice) and again.scoring_uri == service.scoring_uri
    assert [s.name for s in Webservice.list(ws, compute_type="ACI")] == ["aci-echo"]
    assert Webservice.list(ws, compute_type="AKS") == []
    service.delete()
    with pytest.raises(WebserviceException, match="WebserviceNotFound"):
        Webservice(ws, "aci-echo")
    # Its container group went with it: nothing answers on its address any more.
    with pytest.raises(OSError):
        urllib.request.urlopen(service.scoring_uri.replace("/score", "/"), timeout=5)


def test_model_deploy_with_no_configuration_and_no_target_deploys_to_aci(ws, tmp_path):
    service = Model.deploy(ws, "aci-default", [], echo_config(tmp_path))
    assert isinstance(service, AciWebservice)
    service.wait_for_deployment()
    assert service.run('{"a": 1}') == {"echo": {"a": 1}}
    service.delete()


def test_aci_keys_update_and_overwrite(ws, tmp_path):
    service = Model.deploy(ws, "aci-keys", [], echo_config(tmp_path),
                           AciWebservice.deploy_configuration(auth_enabled=True))
    service.wait_for_deployment()
    primary, _ = service.get_keys()
    status, _, _ = post(service.scoring_uri, "{}")
    assert status == 401
    assert post(service.scoring_uri, "{}", key=primary)[0] == 200
    uri = service.scoring_uri
    # Auth off again: a change of routes only.
    service.update(auth_enabled=False, tags={"v": "2"})
    service.wait_for_deployment()
    assert service.auth_enabled is False and service.tags == {"v": "2"}
    assert post(uri, "{}")[0] == 200
    # overwrite=True replaces what runs and keeps the address and keys.
    other = script_dir(tmp_path, ECHO.replace('{"echo": data}', '{"v2": data}'), name="v2")
    replaced = Model.deploy(ws, "aci-keys", [], InferenceConfig(entry_script="score.py", source_directory=other),
                            AciWebservice.deploy_configuration(), overwrite=True)
    replaced.wait_for_deployment()
    assert replaced.scoring_uri == uri and replaced.get_keys()[0] == primary
    assert replaced.run("{}") == {"v2": {}}
    with pytest.raises(WebserviceException, match="already a service with name aci-keys"):
        Model.deploy(ws, "aci-keys", [], echo_config(tmp_path), AciWebservice.deploy_configuration())
    with pytest.raises(WebserviceException, match="It is of type ACI; delete it first to deploy it as Local"):
        Model.deploy(ws, "aci-keys", [], echo_config(tmp_path), LocalWebservice.deploy_configuration(),
                     overwrite=True)
    replaced.delete()


def test_aci_configuration_rules(ws, tmp_path, certificate):
    with pytest.raises(WebserviceException, match=r"^Invalid configuration, cpu_cores must be positive\.$"):
        AciWebservice.deploy_configuration(cpu_cores=0)
    with pytest.raises(WebserviceException, match=r"^Invalid configuration, memory_gb must be positive\.$"):
        AciWebservice.deploy_configuration(memory_gb=-1)
    with pytest.raises(WebserviceException,
                       match=r"^SSL is enabled, you must provide a SSL certificate, key, and cname\.$"):
        AciWebservice.deploy_configuration(ssl_enabled=True, ssl_cname="x.example")
    with pytest.raises(WebserviceException, match="unable to find SSL cert pem file provided paths:\n/nope.pem"):
        AciWebservice.deploy_configuration(ssl_enabled=True, ssl_cert_pem_file="/nope.pem",
                                           ssl_key_pem_file="/nope.key", ssl_cname="x.example")
    with pytest.raises(WebserviceException, match="vnet_name and subnet_name must all have values"):
        AciWebservice.deploy_configuration(vnet_name="v")
    with pytest.raises(WebserviceException, match="joins no Azure virtual network"):
        AciWebservice.deploy_configuration(vnet_name="v", subnet_name="s")
    with pytest.raises(WebserviceException, match="key_name and key_version must all have values"):
        AciWebservice.deploy_configuration(cmk_vault_base_url="https://vault")
    with pytest.raises(WebserviceException, match="dns_name_label 'Bad_Label' must be 5 to 63 lowercase"):
        AciWebservice.deploy_configuration(dns_name_label="Bad_Label")
    with pytest.raises(WebserviceException, match="cpu_cores must be a number, not 'two'"):
        AciWebservice.deploy_configuration(cpu_cores="two")
    # ACI's limits of a container group, checked by the server; nothing is created.
    with pytest.raises(WebserviceException, match="cpu_cores must be at most 4 for a container group"):
        Model.deploy(ws, "aci-big", [], echo_config(tmp_path), AciWebservice.deploy_configuration(cpu_cores=8))
    with pytest.raises(WebserviceException, match="memory_gb must be at most 16 for a container group"):
        Model.deploy(ws, "aci-big", [], echo_config(tmp_path), AciWebservice.deploy_configuration(memory_gb=32))
    assert Webservice.list(ws) == []
    # A certificate that is not one is refused by the server too.
    cert, key = certificate("aci.example")
    with pytest.raises(WebserviceException, match="SSL certificate and key"):
        Model.deploy(ws, "aci-badcert", [], echo_config(tmp_path),
                     AciWebservice.deploy_configuration(ssl_enabled=True, ssl_cert_pem_file=key,
                                                        ssl_key_pem_file=key, ssl_cname="aci.example"))


def test_an_aci_service_with_ssl_serves_https_for_its_cname(ws, tmp_path, certificate):
    cert, key = certificate("aci-ssl.example")
    service = Model.deploy(ws, "aci-ssl", [], echo_config(tmp_path),
                           AciWebservice.deploy_configuration(ssl_enabled=True, ssl_cert_pem_file=cert,
                                                              ssl_key_pem_file=key, ssl_cname="aci-ssl.example",
                                                              dns_name_label="aci-ssl-label"))
    service.wait_for_deployment()
    assert service.scoring_uri.startswith("https://aci-ssl.example:") and service.ssl_enabled
    assert service.cname == "aci-ssl.example" and service.dns_name_label == "aci-ssl-label"
    port = int(service.scoring_uri.split(":")[2].split("/")[0])
    context = ssl.create_default_context(cafile=cert)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="aci-ssl.example") as tls:
            tls.sendall(b"POST /score HTTP/1.1\r\nHost: aci-ssl.example\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")
            answer = b""
            while chunk := tls.recv(65536):
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 200") and b'{"echo": {}}' in answer
    service.delete()


def test_a_local_service_on_a_fixed_port_reloads_its_script(ws, tmp_path, capsys):
    port = free_port()
    source = script_dir(tmp_path, ECHO)
    config = InferenceConfig(entry_script="score.py", source_directory=source)
    service = Model.deploy(ws, "local-echo", [], config, LocalWebservice.deploy_configuration(port=port),
                           show_output=True)
    # As azureml's, deploying a local service returns once it runs.
    assert 'Local service creation operation finished, operation "Succeeded"' in capsys.readouterr().out
    assert isinstance(service, LocalWebservice) and service.state == "Healthy"
    assert service.port == port and service.scoring_uri == "http://localhost:{}/score".format(port)
    assert service.run('{"n": 1}') == {"echo": {"n": 1}}
    assert post("http://127.0.0.1:{}/score".format(port), "{}")[0] == 200
    # Edit score.py, reload: the new script answers on the same port.
    with open(os.path.join(source, "score.py"), "a") as f:
        f.write("\n\ndef run(raw):\n    return {'reloaded': True}\n")
    service.reload(wait=True)
    assert service.run("{}") == {"reloaded": True}
    # Reload also works from another object, which knows where the files are from the server.
    Webservice(ws, "local-echo").reload(wait=True)
    # Another local service cannot take the port.
    with pytest.raises(WebserviceException, match="port {} is in use by another local web service".format(port)):
        Model.deploy(ws, "local-two", [], config, LocalWebservice.deploy_configuration(port=port))
    # update() moves it to another port.
    other = free_port()
    service.update(deployment_config=LocalWebservice.deploy_configuration(port=other), wait=True)
    assert service.port == other and service.run("{}") == {"reloaded": True}
    service.delete()
    # The port is free again once delete() returns.
    with socket.socket() as s:
        s.bind(("127.0.0.1", other))


def test_local_service_rules_and_a_port_the_machine_uses(ws, tmp_path):
    with pytest.raises(WebserviceException, match="port must be between 1 and 65535, not 70000"):
        LocalWebservice.deploy_configuration(port=70000)
    with pytest.raises(WebserviceException, match="port must be an integer"):
        LocalWebservice.deploy_configuration(port="80")
    with pytest.raises(WebserviceException, match="deploy them without a deployment_target"):
        Model.deploy(ws, "local-x", [], echo_config(tmp_path), LocalWebservice.deploy_configuration(),
                     deployment_target=object())
    # Something else listens on the port: the deployment fails and says so.
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(WebserviceException) as failed:
            Model.deploy(ws, "local-busy", [], echo_config(tmp_path), LocalWebservice.deploy_configuration(port=port))
        message = str(failed.value)
        assert "ContainerGroupFailed" in message and "container group could not start on port {}".format(port) in message
    Webservice(ws, "local-busy").delete()


def test_no_code_deployment_of_a_scikit_learn_model(ws, tmp_path):
    import joblib
    import sklearn
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge
    x, y = load_diabetes(return_X_y=True)
    model_file = tmp_path / "sklearn_regression_model.pkl"
    joblib.dump(Ridge().fit(x, y), model_file)
    model = Model.register(ws, str(model_file), "sklearn-nocode", model_framework=Model.Framework.SCIKITLEARN,
                           model_framework_version=sklearn.__version__)
    service = Model.deploy(ws, "nocode-svc", [model])
    assert isinstance(service, AciWebservice)
    service.wait_for_deployment()
    expected = Ridge().fit(x, y).predict(x[:2]).tolist()
    answer = service.run(json.dumps({"data": x[:2].tolist(), "method": "predict"}))
    assert answer == pytest.approx(expected)
    with pytest.raises(WebserviceException, match="Received bad response"):
        service.run(json.dumps({"data": x[:2].tolist(), "method": "predict_proba"}))
    service.delete()
    # Without a framework with defaults (or with several models) an inference configuration is needed.
    custom = Model.register(ws, str(model_file), "custom-model")
    with pytest.raises(WebserviceException, match="You must provide an InferenceConfig when deploying a model with "
                                                  "model_framework set to None. Default environments are only "
                                                  "provided for these frameworks: ScikitLearn, Onnx."):
        Model.deploy(ws, "nocode-bad", [custom])
    with pytest.raises(WebserviceException, match="no-code deployment\\) takes exactly one model"):
        Model.deploy(ws, "nocode-bad", [model, model])
    assert Webservice.list(ws) == []
