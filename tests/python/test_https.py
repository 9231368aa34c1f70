"""HTTPS on a cluster's front end, as the article configures it: the cluster's own certificate and cname, scoring
URIs with https://, curl and the SDK against the certificate, bad certificate files refused before anything
changes, and a certificate rotated under steady traffic without one failed request."""

import json
import os
import ssl
import subprocess
import urllib.request

import pytest

from amlcore.compute import AksCompute, AksUpdateConfiguration, ComputeTarget, SslConfiguration
from amlcore.exceptions import ComputeTargetException, WebserviceException
from services import ECHO, Traffic, deploy, post, script_dir


def served_certificate(port, name):
    """The PEM certificate the front end presents to a client that names `name`."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with context.wrap_socket(__import__("socket").create_connection(("127.0.0.1", port), timeout=10),
                             server_hostname=name) as s:
        return ssl.DER_cert_to_PEM_cert(s.getpeercert(binary_form=True))


def same_certificate(a, b):
    return ssl.PEM_cert_to_DER_cert(a) == ssl.PEM_cert_to_DER_cert(b)


@pytest.fixture
def secure(ws, certificate, tmp_path, monkeypatch):
    """A cluster serving HTTPS for cname localhost (it resolves here) with a service on it, and the SDK trusting
    the certificate the way a requests user does (REQUESTS_CA_BUNDLE)."""
    cert, key = certificate("localhost")
    config = AksCompute.provisioning_configuration(agent_count=1, cluster_purpose="DevTest")
    config.enable_ssl(ssl_cname="localhost", ssl_cert_pem_file=cert, ssl_key_pem_file=key)
    aks = ComputeTarget.create(ws, "tls-aks", config)
    aks.wait_for_completion()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert)
    service = deploy(ws, aks, script_dir(tmp_path, ECHO), name="tls-svc")
    service.wait_for_deployment()
    return aks, service, cert, key


def port_of(uri):
    return int(uri.split("://")[1].split("/")[0].rsplit(":", 1)[1])


def test_scoring_over_https_with_curl_and_the_sdk(secure):
    aks, service, cert, key = secure
    assert aks.scoring_endpoint.startswith("https://localhost:")
    assert service.scoring_uri.startswith("https://localhost:") and service.scoring_uri.endswith(
        "/api/v1/service/tls-svc/score")
    assert service.swagger_uri.startswith("https://localhost:")
    primary = service.get_keys()[0]
    out = subprocess.run(["curl", "-sS", "--cacert", cert, "-H", "Authorization: Bearer " + primary,
                          "-H", "Content-Type: application/json", "-d", '{"n": 1}', service.scoring_uri],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"echo": {"n": 1}}
    # TLS 1.2 at least, and nothing older.
    for version, works in (("--tlsv1.2", True), ("--tls-max", False)):
        args = ["curl", "-sS", "-o", "/dev/null", "--cacert", cert, service.swagger_uri]
        args[2:2] = [version] if works else ["--tlsv1.0", "--tls-max", "1.1"]
        result = subprocess.run(args, capture_output=True, text=True, timeout=30)
        assert (result.returncode == 0) == works, (version, result.stderr)
    assert service.run('{"n": 2}') == {"echo": {"n": 2}}
    # Plain HTTP to the same port answers health checks, but carries no credentials for scoring.
    plain = service.scoring_uri.replace("https://", "http://")
    status, body, _ = post(plain, "{}", primary)
    assert status == 403 and b"served over HTTPS" in body
    with urllib.request.urlopen(plain.split("/api/")[0] + "/", timeout=10) as response:
        assert response.status == 200


def test_a_cname_that_is_not_this_machine_works_with_the_address_given(ws, certificate, tmp_path):
    """As on Azure, the cname's DNS record is the user's to make; curl --resolve stands in for it."""
    cert, key = certificate("svc.contoso.com")
    config = AksCompute.provisioning_configuration(agent_count=1, cluster_purpose="DevTest")
    config.enable_ssl(ssl_cname="svc.contoso.com", ssl_cert_pem_file=cert, ssl_key_pem_file=key)
    aks = ComputeTarget.create(ws, "contoso-aks", config)
    aks.wait_for_completion()
    service = deploy(ws, aks, script_dir(tmp_path, ECHO), name="contoso-svc", auth_enabled=False)
    service.wait_for_deployment()
    port = port_of(service.scoring_uri)
    assert service.scoring_uri == "https://svc.contoso.com:{}/api/v1/service/contoso-svc/score".format(port)
    out = subprocess.run(["curl", "-sS", "--cacert", cert, "--resolve", "svc.contoso.com:{}:127.0.0.1".format(port),
                          "-H", "Content-Type: application/json", "-d", '{"n": 3}', service.scoring_uri],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and json.loads(out.stdout) == {"echo": {"n": 3}}, out.stderr


def test_the_sdk_refuses_a_certificate_it_does_not_trust(secure, monkeypatch):
    aks, service, cert, key = secure
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    with pytest.raises(WebserviceException, match="certificate verify failed"):
        service.run('{"n": 4}')


def test_bad_certificate_files_are_refused_and_change_nothing(secure, certificate, tmp_path):
    aks, service, cert, key = secure
    other_cert, other_key = certificate("other.example")
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello")
    cases = [
        (str(not_pem), key, str(not_pem), "is not a PEM-encoded X.509 certificate"),
        (cert, str(not_pem), str(not_pem), "is not an unencrypted PEM-encoded private key"),
        (cert, other_key, other_key, "The SSL key does not belong to the SSL certificate."),
        (cert, str(tmp_path / "missing.pem"), "missing.pem", "Cannot read"),
    ]
    for cert_file, key_file, named, message in cases:
        config = AksCompute.provisioning_configuration(agent_count=1, cluster_purpose="DevTest")
        config.enable_ssl(ssl_cname="localhost", ssl_cert_pem_file=cert_file, ssl_key_pem_file=key_file)
        with pytest.raises(ComputeTargetException) as raised:
            ComputeTarget.create(aks.workspace, "bad-tls", config)
        text = str(raised.value)
        assert "Error while reading ssl information:" in text and named in text and message in text, text
    read = lambda path: open(path).read()
    with pytest.raises(ComputeTargetException, match="The SSL key does not belong to the SSL certificate."):
        aks.update(AksUpdateConfiguration(SslConfiguration(status="Enabled", cert=read(cert), key=read(other_key),
                                                           cname="localhost")))
    assert "bad-tls" not in aks.workspace.compute_targets
    port = port_of(service.scoring_uri)
    assert same_certificate(served_certificate(port, "localhost"), read(cert))
    assert service.run('{"n": 5}') == {"echo": {"n": 5}}


def test_a_new_certificate_under_steady_traffic_fails_no_request(secure, certificate, monkeypatch):
    aks, service, cert, key = secure
    new_cert, new_key = certificate("localhost", subject="localhost-renewed")  # another key pair for the name
    # Clients trust both while the certificate changes, as a rotation plans for.
    bundle = os.path.join(os.path.dirname(new_cert), "both.pem")
    with open(bundle, "w") as f:
        f.write(open(cert).read() + open(new_cert).read())
    port = port_of(service.scoring_uri)
    primary = service.get_keys()[0]
    with Traffic(service.scoring_uri, key=primary, connections=4, max_requests=20000, max_seconds=60,
                 cafile=bundle) as traffic:
        traffic.wait_for(300)
        aks.update(AksUpdateConfiguration(SslConfiguration(status="Enabled", cert=open(new_cert).read(),
                                                           key=open(new_key).read(), cname="localhost")))
        aks.wait_for_completion()
        count = len(traffic.records)
        traffic.wait_for(count + 300)
    assert traffic.failures() == [], traffic.failures()[:5]
    assert same_certificate(served_certificate(port, "localhost"), open(new_cert).read())
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", new_cert)
    assert service.run('{"n": 6}') == {"echo": {"n": 6}}


def test_a_leaf_domain_label_gets_a_certificate_from_amlcores_authority(ws, home, tmp_path, certificate):
    config = AksCompute.provisioning_configuration(agent_count=1, cluster_purpose="DevTest")
    config.enable_ssl(leaf_domain_label="contoso")
    aks = ComputeTarget.create(ws, "label-aks", config)
    aks.wait_for_completion()
    ssl_config = aks.ssl_configuration
    assert (ssl_config.status, ssl_config.cname, ssl_config.leaf_domain_label) == ("Auto", "contoso.localhost",
                                                                                   "contoso")
    ca = ssl_config.certificate_authority_file
    assert ca == os.path.join(home.path, "ca", "ca.pem")
    assert os.stat(os.path.join(home.path, "ca", "ca.key")).st_mode & 0o777 == 0o600
    service = deploy(ws, aks, script_dir(tmp_path, ECHO), name="label-svc")
    service.wait_for_deployment()
    port = port_of(service.scoring_uri)
    assert service.scoring_uri == "https://contoso.localhost:{}/api/v1/service/label-svc/score".format(port)
    # The SDK trusts amlcore's authority by itself; curl is told to.
    assert service.run('{"n": 7}') == {"echo": {"n": 7}}
    out = subprocess.run(["curl", "-sS", "--cacert", ca, "--resolve", "contoso.localhost:{}:127.0.0.1".format(port),
                          "-H", "Authorization: Bearer " + service.get_keys()[0], "-H",
                          "Content-Type: application/json", "-d", '{"n": 8}', service.scoring_uri],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and json.loads(out.stdout) == {"echo": {"n": 8}}, out.stderr
    # Valid for 127.0.0.1 too.
    context = ssl.create_default_context(cafile=ca)
    with context.wrap_socket(__import__("socket").create_connection(("127.0.0.1", port), timeout=10),
                             server_hostname="127.0.0.1"):
        pass

    # Renewing issues a new certificate for the same name.
    before = served_certificate(port, "contoso.localhost")
    aks.update(AksUpdateConfiguration(SslConfiguration(renew=True)))
    aks.wait_for_completion()
    assert aks.ssl_configuration.cname == "contoso.localhost"
    after = served_certificate(port, "contoso.localhost")
    assert not same_certificate(before, after)
    assert service.run('{"n": 9}') == {"echo": {"n": 9}}

    # The label is this cluster's until another takes it on purpose.
    other = AksCompute.provisioning_configuration(agent_count=1, cluster_purpose="DevTest")
    other.enable_ssl(leaf_domain_label="contoso")
    with pytest.raises(ComputeTargetException, match="the leaf domain label contoso is in use by cluster"):
        ComputeTarget.create(ws, "label-two", other)
    other.enable_ssl(leaf_domain_label="contoso", overwrite_existing_domain=True)
    taken = ComputeTarget.create(ws, "label-two", other)
    taken.wait_for_completion()
    assert taken.ssl_configuration.cname == "contoso.localhost"


def test_renew_needs_a_leaf_domain_label(ws, certificate):
    cert, key = certificate("localhost")
    config = AksCompute.provisioning_configuration(agent_count=1, cluster_purpose="DevTest")
    config.enable_ssl(ssl_cname="localhost", ssl_cert_pem_file=cert, ssl_key_pem_file=key)
    aks = ComputeTarget.create(ws, "renew-aks", config)
    aks.wait_for_completion()
    with pytest.raises(ComputeTargetException, match=r"Invalid configuration\. When renew is set the cluster should "
                                                     r"have the leaf domain label set for SSL\."):
        aks.update(AksUpdateConfiguration(SslConfiguration(renew=True)))
    with pytest.raises(ComputeTargetException, match="leaf_domain_label 'Bad_Label' must be 1 to 63 lowercase"):
        bad = AksCompute.provisioning_configuration(agent_count=1, cluster_purpose="DevTest")
        bad.enable_ssl(leaf_domain_label="Bad_Label")
        ComputeTarget.create(ws, "bad-label", bad)


def test_attaching_a_cluster_with_ssl_makes_its_front_end_serve_https(ws, certificate, tmp_path, monkeypatch):
    from amlcore import Workspace
    aks = ComputeTarget.create(ws, "plain-aks", AksCompute.provisioning_configuration(
        agent_count=1, cluster_purpose="DevTest"))
    aks.wait_for_completion()
    assert aks.scoring_endpoint.startswith("http://")
    cert, key = certificate("localhost")
    config = AksCompute.attach_configuration(resource_id=aks.cluster_resource_id, cluster_purpose="DevTest")
    config.enable_ssl(ssl_cname="localhost", ssl_cert_pem_file=cert, ssl_key_pem_file=key)
    attached = ComputeTarget.attach(Workspace.create("team-ws"), "secured", config)
    attached.wait_for_completion()
    assert attached.scoring_endpoint.startswith("https://localhost:")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert)
    service = deploy(attached.workspace, attached, script_dir(tmp_path, ECHO), name="attached-svc")
    service.wait_for_deployment()
    assert service.scoring_uri.startswith("https://localhost:")
    assert service.run('{"n": 10}') == {"echo": {"n": 10}}


def test_an_endpoint_with_token_auth_over_https(secure, tmp_path):
    from amlcore import Model
    from amlcore.model import InferenceConfig
    from amlcore.webservice import AksEndpoint
    aks, service, cert, key = secure
    inference = InferenceConfig(entry_script="score.py", source_directory=script_dir(tmp_path, ECHO, "ep"))
    endpoint = Model.deploy(aks.workspace, "tls-ep", [], inference, AksEndpoint.deploy_configuration(
        version_name="version-a", traffic_percentile=100, token_auth_enabled=True, cpu_cores=0.1, memory_gb=0.2),
        aks)
    endpoint.wait_for_deployment()
    assert endpoint.scoring_uri.startswith("https://localhost:")
    assert endpoint.run('{"n": 11}') == {"echo": {"n": 11}}
    token = endpoint.get_access_token().access_token
    out = subprocess.run(["curl", "-sS", "--cacert", cert, "-H", "Authorization: Bearer " + token, "-H",
                          "Content-Type: application/json", "-d", '{"n": 12}', endpoint.scoring_uri],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and json.loads(out.stdout) == {"echo": {"n": 12}}, out.stderr
