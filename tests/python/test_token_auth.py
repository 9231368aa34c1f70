"""Token authentication, as the deploy-to-AKS article uses it: the workspace server signs ES256 tokens per
service, the front end verifies them offline (so they outlive amlcored), and every way a token can be wrong is
answered with 401 and what is wrong."""

import base64
import datetime
import glob
import hashlib
import hmac
import json
import os
import signal
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
import warnings

import pytest

from amlcore.exceptions import WebserviceException
from amlcore.webservice import AksEndpoint, AksServiceAccessToken, AksWebservice
from conftest import stop
from services import ECHO, Traffic, deploy, post, script_dir


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parts(token):
    header, payload, signature = token.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(payload)), signature


def der_to_raw(der):
    """An ECDSA signature from DER (SEQUENCE of two INTEGERs) to JWS's fixed 64-byte r || s."""
    assert der[0] == 0x30
    offset = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        assert der[offset] == 0x02
        length = der[offset + 1]
        value = der[offset + 2:offset + 2 + length]
        out += value.lstrip(b"\0").rjust(32, b"\0")
        offset += 2 + length
    return out


class Signer:
    """Signs tokens with the workspace server's own current key (read from its database, as only its owner
    can), to make tokens that are well signed but wrong in one claim."""

    def __init__(self, home, tmp_path):
        with sqlite3.connect(os.path.join(home.path, "amlcore.db")) as db:
            self.kid, pem = db.execute(
                "SELECT kid, private_pem FROM signing_keys WHERE retired = 0 ORDER BY created DESC, rowid DESC").fetchone()
            self.issuer = db.execute("SELECT value FROM server_settings WHERE name = 'token_issuer'").fetchone()[0]
        self.key_file = tmp_path / "signing.pem"
        self.key_file.write_text(pem)

    def sign(self, claims, header=None):
        header = header or {"alg": "ES256", "typ": "JWT", "kid": self.kid}
        signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
        der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key_file)],
                             input=signing_input.encode(), capture_output=True, check=True).stdout
        return signing_input + "." + b64url(der_to_raw(der))


def published_key(home):
    """The public key PEM the front end verifies with, from the route table it keeps."""
    (routes,) = glob.glob(os.path.join(home.path, "clusters", "*", "routes.json"))
    with open(routes) as f:
        return json.load(f)["tokens"]["keys"][-1]["publicKeyPem"]


def refused(uri, token, reason):
    status, body, _ = post(uri, '{"n": 1}', token)
    assert status == 401, (status, body)
    message = json.loads(body)["message"] if body.startswith(b"{") else body.decode()
    assert reason in message, message
    return message


@pytest.fixture
def token_service(aks, tmp_path):
    ws, target = aks
    # The article's snippet: token auth on, key auth left unset.
    service = deploy(ws, target, script_dir(tmp_path, ECHO), name="token-svc", cpu_cores=1, memory_gb=1,
                     token_auth_enabled=True)
    service.wait_for_deployment()
    return ws, target, service


def test_the_articles_snippet_gets_a_token_and_scores_with_it(token_service):
    ws, target, service = token_service
    assert service.token_auth_enabled is True and service.auth_enabled is False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        token, refresh_by = service.get_token()
    assert [str(w.message) for w in caught if w.category is DeprecationWarning] == [
        "get_token() method has been deprecated and will be removed in a future release. "
        "Please migrate to get_access_token() method."]
    assert isinstance(refresh_by, datetime.datetime)
    assert abs((refresh_by - datetime.datetime.now()).total_seconds() - 1800) < 60

    status, body, _ = post(service.scoring_uri, '{"n": 1}', token)
    assert status == 200 and json.loads(body) == {"echo": {"n": 1}}
    assert service.run('{"n": 2}') == {"echo": {"n": 2}}

    access = service.get_access_token()
    assert isinstance(access, AksServiceAccessToken)
    assert access.token_type == "Bearer"
    assert abs((access.expiry_on - access.refresh_after).total_seconds() - 1800) <= 1
    header, claims, _ = parts(access.access_token)
    assert header["alg"] == "ES256" and header["kid"]
    assert claims["aud"].endswith("/services/token-svc") and claims["exp"] - claims["iat"] == 3600

    # Without a token, or with something that is not one.
    refused(service.scoring_uri, None, "has no 'Authorization: Bearer' header")
    refused(service.scoring_uri, "0123456789abcdef", "not a token")


def test_every_wrong_token_is_refused_with_what_is_wrong(token_service, home, tmp_path):
    ws, target, service = token_service
    uri = service.scoring_uri
    good = service.get_access_token().access_token
    header, claims, signature = parts(good)
    signer = Signer(home, tmp_path)
    now = int(time.time())
    assert signer.sign(claims) != good and post(uri, "{}", signer.sign(claims))[0] == 200

    refused(uri, signer.sign(dict(claims, exp=now - 300, nbf=now - 4000, iat=now - 4000)), "expired")
    refused(uri, signer.sign(dict(claims, nbf=now + 600, iat=now + 600, exp=now + 4000)), "not valid before")
    refused(uri, signer.sign(dict(claims, aud=claims["aud"].replace("token-svc", "other-svc"))), "is for")
    refused(uri, signer.sign(dict(claims, iss="somebody-else")), "issued by")
    refused(uri, signer.sign(claims, dict(header, kid="0000000000000000")), "key id")
    # A payload changed after signing.
    tampered = b64url(json.dumps(dict(claims, sub="admin")).encode())
    refused(uri, ".".join([good.split(".")[0], tampered, signature]), "signature does not verify")
    # "alg": "none" with no signature, and HS256 keyed with the public key (the classic confusion).
    none_header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    refused(uri, none_header + "." + good.split(".")[1] + ".", "algorithm is")
    hs_header = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": header["kid"]}).encode())
    signing_input = hs_header + "." + good.split(".")[1]
    mac = hmac.new(published_key(home).encode(), signing_input.encode(), hashlib.sha256).digest()
    refused(uri, signing_input + "." + b64url(mac), "algorithm is")
    # The good token still works after all that.
    assert post(uri, "{}", good)[0] == 200


def test_a_token_for_one_service_is_refused_by_another(token_service, tmp_path):
    ws, target, service = token_service
    other = deploy(ws, target, script_dir(tmp_path, ECHO, "other"), name="other-svc", token_auth_enabled=True)
    other.wait_for_deployment()
    mine, theirs = service.get_access_token().access_token, other.get_access_token().access_token
    assert post(other.scoring_uri, "{}", theirs)[0] == 200
    message = refused(other.scoring_uri, mine, "is for")
    assert "token-svc" in message and "other-svc" in message
    # A key service on the same cluster takes no token either.
    keyed = deploy(ws, target, script_dir(tmp_path, ECHO, "keyed"), name="keyed-svc")
    keyed.wait_for_deployment()
    refused(keyed.scoring_uri, mine, "not one of the service's keys")
    with pytest.raises(WebserviceException, match="Token authentication is not enabled for service keyed-svc"):
        keyed.get_access_token()


def test_tokens_are_verified_offline_while_amlcored_is_down(token_service, home):
    ws, target, service = token_service
    token = service.get_access_token().access_token
    pid = home.server_pid()
    os.kill(pid, signal.SIGKILL)
    stop(pid)
    for _ in range(20):
        status, body, _ = post(service.scoring_uri, '{"n": 3}', token)
        assert status == 200, body
    refused(service.scoring_uri, token[:-4] + "AAAA", "signature does not verify")


def rotate(home, revoke):
    with open(os.path.join(home.path, "server.json")) as f:
        info = json.load(f)
    request = urllib.request.Request(info["endpoint"] + "/amlcore/signingKeys/rotate", method="POST",
                                     data=json.dumps({"revokePrevious": revoke}).encode(),
                                     headers={"Authorization": "Bearer " + info["token"]})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["keys"]


def wait_for_status(uri, token, status, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = post(uri, "{}", token)[0]
        if got == status:
            return
        time.sleep(0.05)
    raise AssertionError("still not {} after {} s".format(status, seconds))


def test_rotation_keeps_old_tokens_until_revoked(token_service, home):
    ws, target, service = token_service
    old = service.get_access_token().access_token
    old_kid = parts(old)[0]["kid"]
    keys = rotate(home, revoke=False)
    assert keys[0] == old_kid and len(keys) == 2
    new = service.get_access_token().access_token
    assert parts(new)[0]["kid"] == keys[-1]
    wait_for_status(service.scoring_uri, new, 200)
    assert post(service.scoring_uri, "{}", old)[0] == 200

    keys = rotate(home, revoke=True)
    assert len(keys) == 1 and old_kid not in keys
    wait_for_status(service.scoring_uri, old, 401)
    refused(service.scoring_uri, old, "key id")
    refused(service.scoring_uri, new, "key id")
    # The SDK fetches a new token by itself after the 401.
    assert service.run('{"n": 4}') == {"echo": {"n": 4}}


def test_switching_between_key_and_token_auth_keeps_the_replicas(token_service, home):
    ws, target, service = token_service
    before = sorted(p["pid"] for p in home.replicas("token-svc"))
    token = service.get_access_token().access_token

    with pytest.raises(WebserviceException,
                       match=r"Error, cannot set token_auth_enabled without disabling key auth \(set auth_enabled "
                             r"to False\)\."):
        service.update(auth_enabled=True)
    with pytest.raises(WebserviceException, match=r"Error, cannot set both token_auth_enabled and auth_enabled\."):
        service.update(auth_enabled=True, token_auth_enabled=True)

    service.update(auth_enabled=True, token_auth_enabled=False)
    service.wait_for_deployment()
    assert service.auth_enabled is True and service.token_auth_enabled is False
    key = service.get_keys()[0]
    assert post(service.scoring_uri, "{}", key)[0] == 200
    refused(service.scoring_uri, token, "not one of the service's keys")
    assert service.run('{"n": 5}') == {"echo": {"n": 5}}

    with pytest.raises(WebserviceException, match="cannot set token_auth_enabled without disabling key auth"):
        service.update(token_auth_enabled=True)
    service.update(token_auth_enabled=True, auth_enabled=False)
    service.wait_for_deployment()
    assert post(service.scoring_uri, "{}", token)[0] == 200
    refused(service.scoring_uri, key, "not a token")
    assert service.run('{"n": 6}') == {"echo": {"n": 6}}
    assert sorted(p["pid"] for p in home.replicas("token-svc")) == before


def test_deploy_refuses_both_modes(aks, tmp_path):
    ws, target = aks
    with pytest.raises(WebserviceException,
                       match=r"Invalid configuration, auth_enabled and token_auth_enabled cannot both be true\."):
        AksWebservice.deploy_configuration(auth_enabled=True, token_auth_enabled=True)


def test_an_endpoint_with_token_auth_serves_its_versions_with_its_token(aks, tmp_path):
    ws, target = aks
    from amlcore import Model
    from amlcore.model import InferenceConfig
    inference = InferenceConfig(entry_script="score.py", source_directory=script_dir(tmp_path, ECHO))
    endpoint = Model.deploy(ws, "token-ep", [], inference, AksEndpoint.deploy_configuration(
        version_name="version-a", traffic_percentile=100, token_auth_enabled=True, cpu_cores=0.1, memory_gb=0.2),
        target)
    endpoint.wait_for_deployment()
    token = endpoint.get_access_token().access_token
    assert post(endpoint.scoring_uri, '{"n": 7}', token)[0] == 200
    assert endpoint.run('{"n": 7}') == {"echo": {"n": 7}}
    assert endpoint.versions["version-a"].run('{"n": 8}') == {"echo": {"n": 8}}
    refused(endpoint.scoring_uri, None, "has no 'Authorization: Bearer' header")
    endpoint.update(token_auth_enabled=False, auth_enabled=True)
    endpoint.wait_for_deployment()
    refused(endpoint.scoring_uri, token, "not one of the service's keys")
    assert endpoint.run('{"n": 9}') == {"echo": {"n": 9}}


def test_steady_traffic_with_a_token_has_no_failures(token_service):
    ws, target, service = token_service
    token = service.get_access_token().access_token
    with Traffic(service.scoring_uri, key=token, connections=4, max_requests=2000, max_seconds=30) as traffic:
        traffic.wait_for(2000)
    assert traffic.failures() == [] and len(traffic.successes()) >= 2000
