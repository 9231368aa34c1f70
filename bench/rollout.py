"""Measures an AksEndpoint's traffic split and what a version change costs the requests in flight.

1. The split: an endpoint with version a (20 %, the default) and b (10 %), then b at 40 % as default and
   control; for each, N requests (100 000 by default) over keep-alive connections, counted by the version each
   response names, side by side with the configured share.
2. Changes under load: steady traffic over 4 connections while version b gets a new model (new replicas, the
   old ones drain), moves to 80 %, is deleted and added again; every request that did not answer 200 counts.

Everything listens on 127.0.0.1 in a temporary AMLCORE_HOME, and is stopped at the end.
Run it with: bench/rollout            (or .venv/bin/python bench/rollout.py --help)
"""

import argparse
import collections
import http.client
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

SCORE = """
import os
def init():
    global tag
    with open(os.path.join(os.getenv("AZUREML_MODEL_DIR"), "tag.txt")) as f:
        tag = f.read().strip()
def run(raw):
    return tag
"""


class Load:
    """`connections` threads posting to the endpoint over keep-alive connections until `count` requests were
    sent or `stop()`; counts the answers by version and status."""

    def __init__(self, uri, key, connections, count=None, seconds=600):
        self.url = urllib.parse.urlsplit(uri)
        self.key = key
        self.by_version = collections.Counter()
        self.failures = collections.Counter()
        self.sent = 0
        self.lock = threading.Lock()
        self.count = count
        self.deadline = time.monotonic() + seconds
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(connections)]

    def _claim(self):
        with self.lock:
            if self.stopping.is_set() or time.monotonic() > self.deadline:
                return False
            if self.count is not None and self.sent >= self.count:
                return False
            self.sent += 1
            return True

    def _run(self):
        headers = {"Content-Type": "application/json", "Authorization": "Bearer " + self.key}
        connection = http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=30)
        while self._claim():
            try:
                connection.request("POST", self.url.path, body=b"{}", headers=headers)
                response = connection.getresponse()
                response.read()
                outcome = response.status, response.getheader("azureml-model-deployment")
            except (OSError, http.client.HTTPException) as error:
                outcome = type(error).__name__, None
                connection.close()
                connection = http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=30)
            with self.lock:
                if outcome[0] == 200:
                    self.by_version[outcome[1]] += 1
                else:
                    self.failures[outcome[0]] += 1

    def failed(self):
        with self.lock:
            return sum(self.failures.values())

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for t in self.threads:
            t.join()

    def join(self):
        for t in self.threads:
            t.join()


def measure_split(endpoint, requests, connections):
    started = time.monotonic()
    with Load(endpoint.scoring_uri, endpoint.get_keys()[0], connections, count=requests) as load:
        load.join()
    elapsed = time.monotonic() - started
    answered = sum(load.by_version.values())
    rows = []
    claimed = sum(v.traffic_percentile for v in endpoint.versions.values() if not v.is_default)
    for name, version in endpoint.versions.items():
        configured = 100 - claimed if version.is_default else version.traffic_percentile
        observed = 100.0 * load.by_version[name] / max(answered, 1)
        rows.append((name, "default" if version.is_default else "", configured, observed, observed - configured))
    return rows, answered, dict(load.failures), elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100000, help="requests per split (default 100000)")
    parser.add_argument("--connections", type=int, default=4, help="keep-alive connections (default 4)")
    parser.add_argument("--load-seconds", type=float, default=5,
                        help="steady traffic between the changes under load (default 5 s)")
    args = parser.parse_args()

    home = tempfile.mkdtemp(prefix="amlcore-rollout-")
    os.environ["AMLCORE_HOME"] = home
    from amlcore import Environment, Model, Workspace
    from amlcore.compute import AksCompute, ComputeTarget
    from amlcore.model import InferenceConfig
    from amlcore.webservice import AksEndpoint
    import amlcore

    try:
        ws = Workspace.create("rollout-bench")
        aks = ComputeTarget.create(ws, "rollout-aks", AksCompute.provisioning_configuration(
            agent_count=1, vm_size="Standard_D4_v2", cluster_purpose="DevTest"))
        aks.wait_for_completion()
        source = os.path.join(home, "src")
        os.makedirs(source)
        with open(os.path.join(source, "score.py"), "w") as f:
            f.write(SCORE)
        inference = InferenceConfig(entry_script="score.py", source_directory=source,
                                    environment=Environment("rollout-env"))
        models = {}
        for tag in ("a", "b", "c"):
            path = os.path.join(home, "models", tag, "tag.txt")
            os.makedirs(os.path.dirname(path))
            with open(path, "w") as f:
                f.write(tag)
            models[tag] = Model.register(ws, model_path=path, model_name="tag-" + tag)

        endpoint = Model.deploy(ws, "rollout-ep", [models["a"]], inference, AksEndpoint.deploy_configuration(
            cpu_cores=0.1, memory_gb=0.2, version_name="versiona", traffic_percentile=20), aks)
        endpoint.wait_for_deployment()
        endpoint.create_version("versionb", inference_config=inference, models=[models["b"]], cpu_cores=0.1,
                                memory_gb=0.2, traffic_percentile=10)
        endpoint.wait_for_deployment()

        print("## Traffic split over {:,} requests per configuration ({} connections)\n".format(
            args.requests, args.connections))
        print("| configuration | version | configured % | observed % | difference (points) |")
        print("| --- | --- | ---: | ---: | ---: |")
        summaries = []
        for label, change in (("a 20 (default), b 10", None),
                              ("a 20, b 40 (default, control)", dict(traffic_percentile=40, is_default=True,
                                                                      is_control_version_type=True))):
            if change:
                endpoint.update_version("versionb", **change)
                endpoint.wait_for_deployment()
            rows, answered, failures, elapsed = measure_split(endpoint, args.requests, args.connections)
            for name, role, configured, observed, difference in rows:
                print("| {} | {}{} | {} | {:.2f} | {:+.2f} |".format(
                    label, name, " (default)" if role else "", configured, observed, difference))
            summaries.append("{}: {:,} answered, failures {} in {:.1f} s ({:,.0f} requests/s)".format(
                label, answered, failures or "none", elapsed, answered / elapsed))
        print()
        for line in summaries:
            print("- " + line)

        print("\n## Version changes under steady load ({} connections)\n".format(args.connections))
        print("| change | requests during it | failed |")
        print("| --- | ---: | ---: |")
        endpoint.update_version("versiona", is_default=True)
        endpoint.wait_for_deployment()
        endpoint.update_version("versionb", traffic_percentile=50)
        endpoint.wait_for_deployment()
        changes = [
            ("update_version(versionb, models=[c])", lambda: endpoint.update_version("versionb",
                                                                                     models=[models["c"]])),
            ("update_version(versionb, traffic_percentile=80)",
             lambda: endpoint.update_version("versionb", traffic_percentile=80)),
            ("delete_version(versionb)", lambda: endpoint.delete_version("versionb")),
            ("create_version(versionb, 50 %)", lambda: endpoint.create_version(
                "versionb", inference_config=inference, models=[models["b"]], cpu_cores=0.1, memory_gb=0.2,
                traffic_percentile=50)),
        ]
        with Load(endpoint.scoring_uri, endpoint.get_keys()[0], args.connections) as load:
            for label, change in changes:
                time.sleep(args.load_seconds / 2)
                before_sent, before_failed = load.sent, load.failed()
                change()
                endpoint.wait_for_deployment()
                time.sleep(args.load_seconds / 2)
                print("| {} | {:,} | {} |".format(label, load.sent - before_sent, load.failed() - before_failed))
        total = sum(load.by_version.values()) + load.failed()
        print("\nUnder load throughout: {:,} requests, {} failed{}".format(
            total, load.failed(), " " + str(dict(load.failures)) if load.failures else ""))
    finally:
        amlcored = os.path.join(os.path.dirname(amlcore.__file__), "bin", "amlcored")
        subprocess.run([amlcored, "--stop", "--with-clusters", "--home", home], capture_output=True, timeout=120)


if __name__ == "__main__":
    sys.exit(main())
