"""What the web service tests share: scripts, deploying, calling a scoring URI, and steady traffic."""

import http.client
import socket
import ssl
import textwrap
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from amlcore import Model
from amlcore.model import InferenceConfig
from amlcore.webservice import AksWebservice

# A score.py that echoes its input, sleeping or failing when asked to.
ECHO = """
    import json, os, time
    def init():
        print("init in", os.getcwd())
    def run(raw):
        data = json.loads(raw)
        if data.get("sleep"):
            time.sleep(data["sleep"])
        if data.get("fail"):
            raise ValueError("asked to fail")
        return {"echo": data}
"""


def script_dir(tmp_path, body, name="src"):
    directory = tmp_path / name
    directory.mkdir(exist_ok=True)
    (directory / "score.py").write_text(textwrap.dedent(body))
    return str(directory)


def deploy(ws, target, source, name="echo-svc", models=(), overwrite=False, **config):
    config.setdefault("num_replicas", 1)
    return Model.deploy(ws, name, list(models), InferenceConfig(entry_script="score.py", source_directory=source),
                        AksWebservice.deploy_configuration(**config), target, overwrite=overwrite)


def post(uri, body, key=None, headers=None):
    request = urllib.request.Request(uri, data=body if isinstance(body, bytes) else body.encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", "Bearer " + key)
    for k, v in (headers or {}).items():
        request.add_header(k, v)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def get(uri, credential=None):
    """GETs `uri`, with `Authorization: Bearer <credential>` when given: (status, body)."""
    request = urllib.request.Request(uri)
    if credential:
        request.add_header("Authorization", "Bearer " + credential)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class Traffic:
    """Steady scoring traffic: `connections` threads, each over one kept-alive connection (reopened when it
    breaks), every request recorded as (start, end, status or the error's name). Bounded: it stops after
    `max_requests` in all or `max_seconds`, whichever comes first."""

    def __init__(self, uri, key=None, body=b'{"n": 1}', connections=4, max_requests=50000, max_seconds=60,
                 cafile=None, connect_to=None):
        """For an https `uri`, `cafile` is the certificate to trust and `connect_to` the address to reach instead
        of the URI's host (as curl --resolve does)."""
        parts = urllib.parse.urlsplit(uri)
        self._host, self._port, self._path = parts.hostname, parts.port, parts.path
        self._https = parts.scheme == "https"
        self._context = ssl.create_default_context(cafile=cafile) if self._https else None
        self._connect_to = connect_to
        self._headers = {"Content-Type": "application/json"}
        if key:
            self._headers["Authorization"] = "Bearer " + key
        self._body = body
        self._max_requests = max_requests
        self._max_seconds = max_seconds
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.records = []
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(connections)]

    def __enter__(self):
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join()

    def _run(self):
        deadline = time.monotonic() + self._max_seconds
        connection = None
        while not self._stop.is_set() and time.monotonic() < deadline:
            with self._lock:
                if len(self.records) >= self._max_requests:
                    return
            if connection is None:
                connection = self._connect()
            start = time.monotonic()
            try:
                connection.request("POST", self._path, body=self._body, headers=self._headers)
                response = connection.getresponse()
                response.read()
                outcome = response.status
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException) as e:
                outcome = type(e).__name__
                connection.close()
                connection = None
                time.sleep(0.01)  # a refused connection fails at once; do not spin
            with self._lock:
                self.records.append((start, time.monotonic(), outcome))

    def _connect(self):
        if not self._https:
            return http.client.HTTPConnection(self._host, self._port, timeout=30)
        connection = http.client.HTTPSConnection(self._host, self._port, timeout=30, context=self._context)
        if self._connect_to:
            # Reach connect_to while naming and verifying the URI's host.
            sock = socket.create_connection((self._connect_to, self._port), timeout=30)
            connection.sock = self._context.wrap_socket(sock, server_hostname=self._host)
        return connection

    def wait_for(self, count, timeout=30):
        """Waits until `count` requests have been answered."""
        deadline = time.monotonic() + timeout
        while len(self.records) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.records) >= count, "only {} requests in {} s".format(len(self.records), timeout)

    def successes(self):
        return [r for r in self.records if r[2] == 200]

    def failures(self):
        return [r for r in self.records if r[2] != 200]


def head_only(uri, length, headers=None, timeout=10):
    """Sends just the head of a POST announcing a `length`-byte body, none of the body, and returns the status
    line of the reply: a server that checks credentials on headers answers without waiting for the body."""
    parts = urllib.parse.urlsplit(uri)
    lines = ["POST {} HTTP/1.1".format(parts.path or "/"), "Host: {}".format(parts.netloc),
             "Content-Type: application/octet-stream", "Content-Length: {}".format(length)]
    lines += ["{}: {}".format(k, v) for k, v in (headers or {}).items()]
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        reply = b""
        while b"\r\n" not in reply:
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
        return reply.split(b"\r\n", 1)[0].decode()
