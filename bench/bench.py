"""The amlcore benchmark: scoring throughput and latency side by side with the baseline users would otherwise
run and with the two-hop limit of the machine, the front end's overhead, autoscaling and scale from zero, CPU and
memory, and control-plane timings, in one run on this machine.

Run it with bench/run (which builds first); it prints every table and writes them to BENCHMARKS.md. --only runs
some sections (printing their report, written only with --output), e.g. `bench/run --only autoscale`.

Data plane, with wrk over keep-alive connections at each concurrency:
  amlcore   client -> amlcore-fe -> replicas, key auth on: a trivial score.py (returns its input) with default
            settings on one replica and on --replicas replicas, and with 4 requests in flight per replica; the
            sklearn diabetes model with run_batch() (the example's score.py) and without it;
  two-hop   the same load through two nginx processes, a proxy and a fixed answer (bench/two_hop.py): the limit of
            two HTTP hops on this machine;
  direct    a one-replica trivial service through the front end, and the same score.py in an amlcore-score
            replica of its own called directly, which isolates what the front end adds (a cluster's replicas
            listen on private Unix sockets that wrk cannot use, so the direct one listens on a TCP port);
  baseline  the same score.py files under Flask + gunicorn sync workers loading them the way Azure ML's inference
            server does (bench/baseline/inference_server.py), with as many workers as amlcore has replicas.
Elastic runs (bench/elastic.py): a step from idle to a saturating load and back on an autoscaled service, the
first answer of a service scaled to zero, and the memory of a cluster of idle services scaled to zero or running.
Control plane: compute create -> Succeeded, Model.deploy -> Healthy with a cached environment, and get/list
latency with --models registered models and --services deployed services.

Everything listens on 127.0.0.1 in a temporary AMLCORE_HOME, and is stopped at the end.
"""

import argparse
import contextlib
import datetime
import glob
import io
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DIABETES_SOURCE = os.path.join(ROOT, "examples", "python", "diabetes")  # its score.py has run_batch()
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def log(*args):
    print(*args, flush=True)


# --- processes ----------------------------------------------------------------------------------------------

def cpu_seconds(pid):
    try:
        with open("/proc/{}/stat".format(pid)) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime
    except OSError:
        return 0.0


def status_kib(pid, field):
    try:
        with open("/proc/{}/status".format(pid)) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid):
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/{}/stat".format(entry)) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except OSError:
                continue
    return out


class Home:
    """Where the processes of the temporary AMLCORE_HOME are found."""

    def __init__(self, path):
        self.path = path

    def processes(self, kind):
        """Running front ends or replicas, as `amlcored --processes` lists them."""
        import amlcore
        amlcored = os.path.join(os.path.dirname(amlcore.__file__), "bin", "amlcored")
        out = subprocess.run([amlcored, "--processes", "--home", self.path], capture_output=True, text=True,
                             check=True, timeout=60).stdout
        return [p for p in json.loads(out)["processes"] if p["kind"] == kind]

    def front_end_pid(self, port):
        for p in self.processes("frontend"):
            if p["port"] == port:
                return p["pid"]
        raise RuntimeError("no front end on port {}".format(port))

    def replicas(self, service):
        """[(pid, socket)] of a service's running replicas."""
        return [(p["pid"], p["socket"]) for p in self.processes("replica") if p["service"] == service]


# --- wrk ----------------------------------------------------------------------------------------------------

class Load:
    def __init__(self, args, body_file):
        self.duration = args.duration
        self.body_file = body_file

    def start(self, url, key, connections, duration=None, close=False):
        """wrk in the background (for runs that watch something else meanwhile); finish() reads its figures."""
        duration = duration or self.duration
        threads = max(1, min(2, connections))
        command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", "{}s".format(duration),
                   "--timeout", "10s", "-s", os.path.join(HERE, "wrk_report.lua"), url]
        env = dict(os.environ, BENCH_BODY_FILE=self.body_file, BENCH_KEY=key or "", BENCH_CLOSE="1" if close else "0")
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        process.bench_connections, process.bench_duration = connections, duration
        return process

    @staticmethod
    def finish(process):
        try:
            stdout, stderr = process.communicate(timeout=process.bench_duration + 60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise RuntimeError("wrk did not finish within {} s".format(process.bench_duration + 60))
        line = next((l for l in stdout.splitlines() if l.startswith("BENCH_RESULT")), None)
        if process.returncode != 0 or line is None:
            raise RuntimeError("wrk failed ({}): {}{}".format(process.returncode, stdout, stderr))
        r = {k: float(v) for k, v in (item.split("=") for item in line.split()[1:])}
        seconds = r["duration_us"] / 1e6
        return {
            "connections": process.bench_connections,
            "requests": int(r["requests"]),
            "rps": r["requests"] / seconds,
            "p50_ms": r["p50_us"] / 1000,
            "p99_ms": r["p99_us"] / 1000,
            "errors": int(r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"] +
                          r["non_2xx_3xx"]),
            "non_2xx": int(r["non_2xx_3xx"]),
        }

    def run(self, url, key, connections, duration=None, groups=None, close=False):
        """One wrk run; `groups` names lists of pids whose CPU seconds during the run are reported; `close` makes
        every request open a new connection."""
        groups = groups or {}
        before = {pid: cpu_seconds(pid) for pids in groups.values() for pid in pids}
        result = self.finish(self.start(url, key, connections, duration, close))
        result["cpu_s"] = {name: sum(cpu_seconds(pid) - before[pid] for pid in pids) for name, pids in groups.items()}
        return result


def combine(results):
    """One figure from several rounds: medians of rates and latencies; totals of requests, errors and CPU."""
    return {
        "connections": results[0]["connections"],
        "rounds": len(results),
        "requests": sum(r["requests"] for r in results),
        "rps": statistics.median(r["rps"] for r in results),
        "p50_ms": statistics.median(r["p50_ms"] for r in results),
        "p99_ms": statistics.median(r["p99_ms"] for r in results),
        "errors": sum(r["errors"] for r in results),
        "cpu_s": {k: sum(r["cpu_s"][k] for r in results) for k in results[0]["cpu_s"]},
    }


# --- the baseline -------------------------------------------------------------------------------------------

class Server:
    """A server process the benchmark started (self.process, its output in self.log_file)."""

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log_file.close()


class Baseline(Server):
    """gunicorn sync workers serving bench/baseline/inference_server.py for one score.py."""

    def __init__(self, name, app_root, workers, env, logs):
        self.name = name
        self.log_path = os.path.join(logs, "gunicorn-{}.log".format(name))
        self.log_file = open(self.log_path, "w")
        environment = dict(os.environ, AML_APP_ROOT=app_root, AZUREML_ENTRY_SCRIPT="score.py", **env)
        environment.pop("PYTHONPATH", None)
        self.process = subprocess.Popen(
            ["/usr/bin/python3", "-m", "gunicorn", "--workers", str(workers), "--worker-class", "sync",
             "--bind", "127.0.0.1:0", "--chdir", os.path.join(HERE, "baseline"), "inference_server:app"],
            stdout=self.log_file, stderr=subprocess.STDOUT, env=environment)
        deadline = time.monotonic() + 60
        self.port = None
        while time.monotonic() < deadline and self.port is None:
            with open(self.log_path) as f:
                found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", f.read())
            if found:
                self.port = int(found.group(1))
            elif self.process.poll() is not None:
                break
            else:
                time.sleep(0.05)
        if self.port is None:
            raise RuntimeError("gunicorn did not start; see " + self.log_path)
        while time.monotonic() < deadline:
            if len(children(self.process.pid)) == workers:
                try:
                    if urllib.request.urlopen("http://127.0.0.1:{}/".format(self.port), timeout=5).status == 200:
                        break
                except OSError:
                    pass
            time.sleep(0.05)
        self.url = "http://127.0.0.1:{}/score".format(self.port)

    def pids(self):
        return [self.process.pid] + children(self.process.pid)


class DirectReplica(Server):
    """amlcore-score serving one score.py on a TCP port of 127.0.0.1, as the front end's replicas do on their
    Unix sockets: what a client that could call a replica directly would get."""

    def __init__(self, app_root, logs, env=None):
        import amlcore
        program = os.path.join(os.path.dirname(amlcore.__file__), "bin", "amlcore-score")
        self.status_path = os.path.join(logs, "direct-status.json")
        if os.path.exists(self.status_path):
            os.remove(self.status_path)  # an earlier replica's Ready must not count for this one
        self.log_file = open(os.path.join(logs, "direct-replica.log"), "w")
        environment = dict(os.environ, AML_APP_ROOT=app_root, AZUREML_SOURCE_DIRECTORY=app_root,
                           AZUREML_ENTRY_SCRIPT="score.py", **(env or {}))
        self.process = subprocess.Popen([program, "--port", "0", "--status-file", self.status_path],
                                        stdout=self.log_file, stderr=subprocess.STDOUT, env=environment, cwd=app_root)
        deadline = time.monotonic() + 60
        self.port = 0
        while time.monotonic() < deadline and not self.port:
            try:
                with open(self.status_path) as f:
                    status = json.load(f)
                if status["phase"] == "Failed":
                    break
                self.port = status["port"] if status["phase"] == "Ready" else 0
            except (OSError, ValueError, KeyError):
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.01)  # finely: the autoscaling run times a replica's start-up with it
        if not self.port:
            raise RuntimeError("the direct replica did not start; see " + self.log_file.name)
        self.url = "http://127.0.0.1:{}/score".format(self.port)

    def pids(self):
        return [self.process.pid]


# --- figures ------------------------------------------------------------------------------------------------

def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def summary(values):
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]
    return {"median": statistics.median(values), "p95": p95, "min": values[0], "max": values[-1], "n": len(values)}


def machine():
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_gib = status_meminfo("MemTotal") / 1024 / 1024
    debian = open("/etc/debian_version").read().strip() if os.path.exists("/etc/debian_version") else "?"

    def version(command):
        try:
            out = subprocess.run(command, capture_output=True, text=True, timeout=10)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"

    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory": "{:.1f} GiB".format(mem_gib),
        "os": "Debian {} (Linux {})".format(debian, platform.release()),
        "python": platform.python_version(),
        "wrk": version(["wrk", "-v"]).split(" [")[0].replace("debian/", ""),
        "gunicorn": version(["/usr/bin/python3", "-c", "import gunicorn; print(gunicorn.__version__)"]),
        "flask": version(["/usr/bin/python3", "-c", "import flask; print(flask.__version__)"]),
        "nginx": version(["nginx", "-v"]).replace("nginx version: nginx/", ""),
        # Other work on a shared machine moves every figure: the report says how busy it was at the start.
        "load_average": list(os.getloadavg()),
    }


def status_meminfo(field):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


# --- the run ------------------------------------------------------------------------------------------------

# The sections of a run, in the order they run ("security" is bench/security.py, run after the others).
SECTIONS = ("compute", "scoring", "deploy", "autoscale", "wake", "idle-memory", "scale", "security")

class Bench:
    def __init__(self, args):
        self.args = args
        self.home_dir = tempfile.mkdtemp(prefix="amlcore-bench-")
        os.environ["AMLCORE_HOME"] = self.home_dir
        for name in ("AMLCORE_ENDPOINT", "AMLCORE_TOKEN", "AMLCORE_SIMULATED_PROVISIONING_SECONDS"):
            os.environ.pop(name, None)
        # amlcored reads these when it starts (with the first SDK call below) and hands them to the front ends:
        # the autoscaling and scale-to-zero runs would otherwise wait a minute and five minutes. Only services
        # that autoscale notice them, and only those runs deploy such services.
        os.environ["AMLCORE_AUTOSCALE_STABILIZATION_SECONDS"] = str(args.stabilization_seconds)
        os.environ["AMLCORE_SCALE_TO_ZERO_IDLE_SECONDS"] = str(args.scale_to_zero_idle_seconds)
        self.home = Home(self.home_dir)
        self.work = tempfile.mkdtemp(prefix="amlcore-bench-work-")
        self._target = self._model = None
        self.results = {"machine": machine(), "args": vars(args),
                        "started": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
        self.servers = []  # processes started beside amlcore's, stopped by close()

    # Everything the run started is stopped, whatever happened.
    def close(self):
        for server in self.servers:
            server.stop()
        import amlcore
        program = os.path.join(os.path.dirname(amlcore.__file__), "bin", "amlcored")
        subprocess.run([program, "--stop", "--with-clusters", "--home", self.home_dir], capture_output=True,
                       timeout=120)
        shutil.rmtree(self.home_dir, ignore_errors=True)
        shutil.rmtree(self.work, ignore_errors=True)

    def run(self):
        from amlcore import Workspace
        import elastic
        self.ws = Workspace.create("bench-ws")
        steps = [("compute", self.control_plane_compute), ("scoring", self.data_plane),
                 ("deploy", self.control_plane_deploy), ("autoscale", lambda: elastic.autoscale(self)),
                 ("wake", lambda: elastic.scale_from_zero(self)), ("idle-memory", lambda: elastic.idle_memory(self)),
                 ("scale", self.control_plane_scale)]
        for name, step in steps:
            if name in self.args.only:
                step()
        return self.results

    @property
    def target(self):
        """The cluster the scoring and control-plane services run on, created on first use."""
        if self._target is None:
            from amlcore.compute import AksCompute, ComputeTarget
            self._target = ComputeTarget.create(self.ws, "bench-aks", AksCompute.provisioning_configuration(
                agent_count=6, vm_size="Standard_D4_v2"))
            self._target.wait_for_completion()
        return self._target

    @property
    def model(self):
        """The registered diabetes model, registered on first use."""
        if self._model is None:
            self._model = self.diabetes_model()
        return self._model

    # Compute create -> Succeeded, and the memory of an idle front end.
    def control_plane_compute(self):
        from amlcore.compute import AksCompute, ComputeTarget
        log("== compute targets")
        times, idle_rss = [], []
        for i in range(self.args.repeats):
            name = "bench-c{}".format(i)

            def create():
                t = ComputeTarget.create(self.ws, name, AksCompute.provisioning_configuration())
                t.wait_for_completion()
                assert t.provisioning_state == "Succeeded", t.provisioning_errors
                self._last_target = t
            times.append(timed(create))
            port = urllib.parse.urlsplit(self._last_target.scoring_endpoint).port
            time.sleep(0.2)
            idle_rss.append(status_kib(self.home.front_end_pid(port), "VmRSS") / 1024)
            self._last_target.delete()
        self.results["compute_create_s"] = summary(times)
        self.results["idle_front_end_rss_mib"] = summary(idle_rss)
        log("compute create -> Succeeded: median {:.3f} s; idle front end RSS {:.1f} MiB".format(
            statistics.median(times), statistics.median(idle_rss)))

    def diabetes_model(self):
        import joblib
        from sklearn.datasets import load_diabetes
        from sklearn.linear_model import Ridge
        from amlcore import Model
        X, y = load_diabetes(return_X_y=True)
        model_dir = os.path.join(self.work, "diabetes-model")
        os.makedirs(model_dir, exist_ok=True)
        path = os.path.join(model_dir, "sklearn_regression_model.pkl")
        joblib.dump(Ridge().fit(X, y), path)
        self.diabetes_dir = model_dir
        self.diabetes_sample = json.dumps({"data": [X[0].tolist()]})
        return Model.register(self.ws, path, "sklearn_regression_model")

    def deploy(self, name, models, source, env=None, wait=True, on=None, **config):
        """A service on compute target `on` (default: the benchmark's cluster), Healthy unless `wait` is False."""
        from amlcore import Model
        from amlcore.model import InferenceConfig
        from amlcore.webservice import AksWebservice
        service = Model.deploy(self.ws, name, models,
                               InferenceConfig(entry_script="score.py", source_directory=source, environment=env),
                               AksWebservice.deploy_configuration(**config), on or self.target)
        if wait:
            service.wait_for_deployment()
            if service.state != "Healthy":
                raise RuntimeError("{} is {}: {}".format(name, service.state, service.get_logs()))
        return service

    def sklearn_environment(self):
        from amlcore import Environment
        from amlcore.conda_dependencies import CondaDependencies
        env = Environment("bench-sklearn")
        env.python.conda_dependencies = CondaDependencies.create(pip_packages=["scikit-learn", "joblib", "numpy"])
        return env

    def data_plane(self):
        from two_hop import NginxTwoHop
        args = self.args
        echo_source = os.path.join(HERE, "echo")
        diabetes_source = DIABETES_SOURCE
        model = self.model
        log("== deploying the benchmark services ({} replicas each)".format(args.replicas))
        # Default settings (at most one request in flight per replica), with one replica and with --replicas.
        echo = self.deploy("bench-echo", [], echo_source, num_replicas=args.replicas)
        echo1 = self.deploy("bench-echo-1", [], echo_source, num_replicas=1) if args.replicas != 1 else echo
        # The same with 4 requests in flight per replica: its C++ server reads and writes while Python runs.
        echo4 = self.deploy("bench-echo-4", [], echo_source, num_replicas=args.replicas,
                            replica_max_concurrent_requests=4)
        # No cap on requests in flight, so the front end forwards at once, as a direct call would.
        single = self.deploy("bench-echo-one", [], echo_source, num_replicas=1,
                             replica_max_concurrent_requests=max(args.concurrency))
        # The example's score.py has run_batch(): with the cap unset a replica is sent a batch's worth at once.
        diabetes = self.deploy("bench-diabetes", [model], diabetes_source, env=self.sklearn_environment(),
                               num_replicas=args.replicas)
        diabetes_run = self.deploy("bench-diabetes-run", [model], self.run_only_source(diabetes_source),
                                   env=self.sklearn_environment(), num_replicas=args.replicas)
        fe_port = urllib.parse.urlsplit(echo.scoring_uri).port
        fe_pid = self.home.front_end_pid(fe_port)
        [(single_pid, _)] = self.home.replicas("bench-echo-one")
        direct = DirectReplica(echo_source, self.work)
        self.servers.append(direct)
        log("== starting two nginx processes in a chain (the two-hop limit)")
        nginx = NginxTwoHop(self.work)
        self.servers.append(nginx)

        log("== starting the baseline (gunicorn, {} sync workers, and 1)".format(args.replicas))
        base_echo = Baseline("echo", echo_source, args.replicas, {}, self.work)
        self.servers.append(base_echo)
        if args.replicas != 1:
            base_echo1 = Baseline("echo-1", echo_source, 1, {}, self.work)
            self.servers.append(base_echo1)
        else:
            base_echo1 = base_echo
        model_dir = os.path.join(self.work, "baseline-model")
        os.makedirs(model_dir, exist_ok=True)
        shutil.copy(os.path.join(self.diabetes_dir, "sklearn_regression_model.pkl"), model_dir)
        base_diabetes = Baseline("diabetes", diabetes_source, args.replicas, {"AZUREML_MODEL_DIR": model_dir},
                                 self.work)
        self.servers.append(base_diabetes)

        echo_body = os.path.join(self.work, "echo-body.json")
        with open(echo_body, "w") as f:
            f.write(json.dumps({"data": [[1.0, 2.0, 3.0, 4.0]]}))
        diabetes_body = os.path.join(self.work, "diabetes-body.json")
        with open(diabetes_body, "w") as f:
            f.write(self.diabetes_sample)

        def amlcore(service, body):
            return service.scoring_uri, service.get_keys()[0], body, lambda: {
                "front end": [fe_pid], "replicas": [p for p, _ in self.home.replicas(service.name)]}

        runs = [
            # name, url, key, body, the processes whose CPU time counts
            ("nginx two-hop", nginx.url, None, echo_body, lambda: {"nginx": nginx.pids()}),
            ("amlcore echo", *amlcore(echo, echo_body)),
            ("baseline echo", base_echo.url, None, echo_body, lambda: {"gunicorn": base_echo.pids()}),
            ("amlcore echo, 4 in flight", *amlcore(echo4, echo_body)),
            ("amlcore diabetes", *amlcore(diabetes, diabetes_body)),
            ("amlcore diabetes, run() only", *amlcore(diabetes_run, diabetes_body)),
            ("baseline diabetes", base_diabetes.url, None, diabetes_body, lambda: {"gunicorn": base_diabetes.pids()}),
            ("one replica via front end", single.scoring_uri, single.get_keys()[0], echo_body,
             lambda: {"front end": [fe_pid], "replicas": [single_pid]}),
            ("one replica direct", direct.url, None, echo_body, lambda: {"replicas": direct.pids()}),
        ]
        if args.replicas != 1:
            runs[1:1] = [
                ("amlcore echo, 1 replica", *amlcore(echo1, echo_body)),
                ("baseline echo, 1 worker", base_echo1.url, None, echo_body, lambda: {"gunicorn": base_echo1.pids()}),
            ]
        for name, url, key, body, pids in runs:
            Load(args, body).run(url, key, 4, duration=1)  # warm up: connections, caches, lazy imports
        # Rounds, each running every configuration once in turn, so that drift of the machine over the run
        # falls on all of them alike; a figure is the median of its rounds.
        data = {name: [] for name, *_ in runs}
        for c in args.concurrency:
            rounds = {name: [] for name, *_ in runs}
            for _ in range(args.rounds):
                for name, url, key, body, pids in runs:
                    rounds[name].append(Load(args, body).run(url, key, c, groups=pids()))
            for name, results in rounds.items():
                result = combine(results)
                data[name].append(result)
                log("{:<29} c={:<3} {:>7.0f} req/s  p50 {:>7.3f} ms  p99 {:>7.3f} ms  errors {}  CPU s {}".format(
                    name, c, result["rps"], result["p50_ms"], result["p99_ms"], result["errors"],
                    ", ".join("{} {:.2f}".format(k, v) for k, v in result["cpu_s"].items())))
        if args.replicas == 1:  # one replica is what --replicas deployed: the same runs
            data["amlcore echo, 1 replica"] = data["amlcore echo"]
            data["baseline echo, 1 worker"] = data["baseline echo"]
        self.results["scoring"] = data
        # Peak memory (VmHWM) of what served, over the whole run.
        self.results["memory_mib"] = {
            "front end": status_kib(fe_pid, "VmHWM") / 1024,
            "amlcore echo replicas": [status_kib(p, "VmHWM") / 1024 for p, _ in self.home.replicas("bench-echo")],
            "amlcore diabetes replicas": [status_kib(p, "VmHWM") / 1024
                                          for p, _ in self.home.replicas("bench-diabetes")],
            "baseline echo (master + workers)": [status_kib(p, "VmHWM") / 1024 for p in base_echo.pids()],
            "baseline diabetes (master + workers)": [status_kib(p, "VmHWM") / 1024 for p in base_diabetes.pids()],
            "nginx two-hop (2 masters + 2 workers)": [status_kib(p, "VmHWM") / 1024 for p in nginx.pids()],
        }
        for server in self.servers:
            server.stop()
        self.servers = []
        for s in {id(s): s for s in (echo, echo1, echo4, single, diabetes, diabetes_run)}.values():
            s.delete()

    def run_only_source(self, source):
        """A copy of `source` whose score.py has no run_batch(), so that its replicas call run() per request: the
        same script otherwise, for the comparison with and without batching."""
        copy = os.path.join(self.work, "diabetes-run-only")
        shutil.copytree(source, copy, dirs_exist_ok=True)
        with open(os.path.join(copy, "score.py"), "a") as f:
            f.write("\n\n# The benchmark's variant without batching: the replica calls run() for every request.\n"
                    "del run_batch\n")
        return copy

    # Model.deploy -> Healthy with the environment already built.
    def control_plane_deploy(self):
        log("== Model.deploy -> Healthy with a cached environment")
        diabetes_source = DIABETES_SOURCE
        env = self.sklearn_environment()
        times = []
        for i in range(self.args.repeats):
            name = "bench-cached-{}".format(i)
            holder = {}
            times.append(timed(lambda: holder.update(s=self.deploy(name, [self.model], diabetes_source, env=env,
                                                                    num_replicas=1))))
            holder["s"].delete()
        self.results["deploy_cached_s"] = summary(times)
        log("Model.deploy -> Healthy (cached environment): median {:.3f} s".format(statistics.median(times)))

    # get/list latency with many models and services.
    def control_plane_scale(self):
        from amlcore import Model, Webservice
        args = self.args
        log("== {} models and {} services".format(args.models, args.services))
        model_file = os.path.join(self.work, "tiny-model.txt")
        with open(model_file, "w") as f:
            f.write("weights")
        start = time.perf_counter()
        with ThreadPoolExecutor(4) as pool, contextlib.redirect_stdout(io.StringIO()):  # one line a model
            list(pool.map(lambda i: Model.register(self.ws, model_file, "bench-model-{}".format(i)),
                          range(args.models)))
        register_s = time.perf_counter() - start
        echo_source = os.path.join(HERE, "echo")
        start = time.perf_counter()

        def one(i):
            return self.deploy("bench-s{}".format(i), [], echo_source, num_replicas=1, cpu_cores=0.1, memory_gb=0.1)

        with ThreadPoolExecutor(8) as pool:
            services = list(pool.map(one, range(args.services)))
        deploy_all_s = time.perf_counter() - start
        replica_processes = sum(len(self.home.replicas(s.name)) for s in services)
        rng = random.Random(7)
        figures = {}

        def sample(label, fn, count):
            figures[label] = summary([timed(fn) for _ in range(count)])
            s = figures[label]
            log("{:<40} median {:>7.2f} ms  p95 {:>7.2f} ms".format(label, s["median"] * 1000, s["p95"] * 1000))

        sample("Model(ws, name) get", lambda: Model(self.ws, "bench-model-{}".format(rng.randrange(args.models))), 50)
        sample("Model.list(ws)", lambda: Model.list(self.ws), 10)
        sample("Webservice(ws, name) get",
               lambda: Webservice(self.ws, "bench-s{}".format(rng.randrange(args.services))), 50)
        sample("Webservice.list(ws)", lambda: Webservice.list(self.ws), 10)
        count_models = len(Model.list(self.ws))
        count_services = len(Webservice.list(self.ws))
        self.results["scale"] = {"models": count_models, "services": count_services,
                                 "replica_processes": replica_processes, "register_s": register_s,
                                 "deploy_all_s": deploy_all_s, "latency_s": figures}
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda s: s.delete(), services))


# --- the report ---------------------------------------------------------------------------------------------

def ms(value):
    return "{:.2f}".format(value) if value < 10 else "{:.1f}".format(value)


def report(results):
    args = results["args"]
    m = results["machine"]
    lines = []
    add = lines.append
    add("# amlcore benchmarks")
    add("")
    add("Written by `bench/run` (see the README); every figure below comes from one run, on "
        "{}.".format(results["started"]))
    add("")
    add("**Machine:** {}, {} cores, {}; {}; Python {}; {}; gunicorn {}; Flask {}{}{}.".format(
        m["cpu"], m["cores"], m["memory"], m["os"], m["python"], m["wrk"], m["gunicorn"],
        m["flask"], "; nginx {}".format(m["nginx"]) if m.get("nginx") else "",
        "; load average when the run started {:.2f} / {:.2f} / {:.2f} (1 / 5 / 15 min)".format(*m["load_average"])
        if m.get("load_average") else ""))
    add("")
    if "scoring" in results:
        scoring_report(results, add)
    if "autoscale" in results:
        autoscale_report(results["autoscale"], add)
    if "wake" in results:
        wake_report(results["wake"], add)
    if any(k in results for k in ("memory_mib", "idle_front_end_rss_mib", "idle_memory")):
        memory_report(results, add)
    if any(k in results for k in ("compute_create_s", "deploy_cached_s", "scale")):
        control_plane_report(results, add)
    add("## Against the goals (SPEC §8)")
    add("")
    for line in verdicts(results):
        add("- " + line)
    add("")
    return "\n".join(lines)


def scoring_table(add, ours, theirs):
    """amlcore beside the baseline, one row a concurrency."""
    add("| concurrency | amlcore req/s | baseline req/s | amlcore / baseline | amlcore p50 / p99 ms | "
        "baseline p50 / p99 ms | errors (amlcore / baseline) | CPU s: front end + replicas / gunicorn |")
    add("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for a, b in zip(ours, theirs):
        add("| {} | {:.0f} | {:.0f} | **{:.1f}×** | {} / {} | {} / {} | {} / {} | {:.1f} + {:.1f} / {:.1f} |".format(
            a["connections"], a["rps"], b["rps"], a["rps"] / max(b["rps"], 1e-9), ms(a["p50_ms"]),
            ms(a["p99_ms"]), ms(b["p50_ms"]), ms(b["p99_ms"]), a["errors"], b["errors"], a["cpu_s"]["front end"],
            a["cpu_s"]["replicas"], b["cpu_s"]["gunicorn"]))
    add("")


def scoring_report(results, add):
    args, m, scoring = results["args"], results["machine"], results["scoring"]
    add("**How:** wrk over keep-alive connections at concurrency {}; every configuration ran {} times {} s "
        "in turns (after a 1 s warm-up), and each figure is the median of those runs (requests, errors and CPU "
        "seconds are their totals). "
        "amlcore: client → `amlcore-fe` → replicas with key auth on. Baseline: the same "
        "`score.py` under Flask + gunicorn sync workers loading it the way Azure ML's inference server does "
        "(`bench/baseline/inference_server.py`), with as many workers as amlcore has replicas. gunicorn's sync "
        "workers close the connection after every response, as they do under Azure ML's inference server, so the "
        "baseline pays a connection per request. The two-hop limit: the same load through two nginx processes "
        "(`bench/two_hop.py`). wrk, the servers and their replicas share the same {} cores.".format(
            ", ".join(str(c) for c in args["concurrency"]), args.get("rounds", 1), args["duration"], m["cores"]))
    add("")
    replicas = args["replicas"]
    add("## Scoring: trivial `score.py` (returns its input)")
    add("")
    add("Default settings (`replica_max_concurrent_requests` unset: one request in flight per replica, as on Azure), "
        "one replica, beside gunicorn with one worker:")
    add("")
    scoring_table(add, scoring["amlcore echo, 1 replica"], scoring["baseline echo, 1 worker"])
    if replicas != 1:
        add("Default settings, {} replicas, beside gunicorn with {} workers:".format(replicas, replicas))
        add("")
        scoring_table(add, scoring["amlcore echo"], scoring["baseline echo"])
    add("Same script, {} replica{}, `replica_max_concurrent_requests=4`: a replica's C++ server reads and writes the "
        "next requests while Python runs the current one.".format(replicas, "s" if replicas != 1 else ""))
    add("")
    scoring_table(add, scoring["amlcore echo, 4 in flight"], scoring["baseline echo"])
    add("## The two-hop limit")
    add("")
    add("The same wrk load through two nginx {} processes in a chain, `worker_processes 1` each: a reverse proxy "
        "with a keep-alive upstream pool, then a server answering a fixed small JSON document, access logs off. It "
        "has amlcore's shape (client → front end → replica) with nothing in it but HTTP, so it is about as fast "
        "as two hops go on this machine. amlcore: the trivial `score.py`, one replica, default settings; and the "
        "one-replica service without a cap on requests in flight (used for the front end's overhead below).".format(
            m.get("nginx", "")))
    add("")
    add("| concurrency | two-hop nginx req/s | p50 / p99 ms | CPU s: nginx | amlcore, 1 replica, default req/s | "
        "fraction of the limit | amlcore, 1 replica, no cap req/s | fraction of the limit |")
    add("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, a, u in zip(scoring["nginx two-hop"], scoring["amlcore echo, 1 replica"],
                       scoring["one replica via front end"]):
        add("| {} | {:.0f} | {} / {} | {:.1f} | {:.0f} | **{:.2f}×** | {:.0f} | {:.2f}× |".format(
            n["connections"], n["rps"], ms(n["p50_ms"]), ms(n["p99_ms"]), n["cpu_s"]["nginx"], a["rps"],
            a["rps"] / max(n["rps"], 1e-9), u["rps"], u["rps"] / max(n["rps"], 1e-9)))
    add("")
    add("## Scoring: sklearn diabetes Ridge model")
    add("")
    add("Default settings, {} replica{} and as many gunicorn workers. With `run_batch()` (the example's "
        "`score.py`): the cap unset, the front end sends a replica as many requests at once as its `run_batch()` "
        "takes (`BATCH_MAX_SIZE`, 32), and the replica predicts for the requests that arrived together in one "
        "call:".format(replicas, "s" if replicas != 1 else ""))
    add("")
    scoring_table(add, scoring["amlcore diabetes"], scoring["baseline diabetes"])
    add("The same `score.py` without `run_batch()` (`del run_batch` appended to a copy): one `run()` a request, "
        "one request in flight per replica:")
    add("")
    scoring_table(add, scoring["amlcore diabetes, run() only"], scoring["baseline diabetes"])
    add("## What the front end adds")
    add("")
    add("A one-replica trivial service, called through `amlcore-fe` (key auth, routing, queueing), and the same "
        "`score.py` in an `amlcore-score` of its own called directly on a TCP port (a cluster's replicas listen "
        "only on private Unix sockets, which wrk cannot use).")
    add("")
    add("| concurrency | via front end req/s | direct req/s | via front end p50 / p99 ms | direct p50 / p99 ms | "
        "added p50 µs | added p99 µs |")
    add("|---:|---:|---:|---:|---:|---:|---:|")
    for a, b in zip(scoring["one replica via front end"], scoring["one replica direct"]):
        add("| {} | {:.0f} | {:.0f} | {} / {} | {} / {} | {} | {} |".format(
            a["connections"], a["rps"], b["rps"], ms(a["p50_ms"]), ms(a["p99_ms"]), ms(b["p50_ms"]), ms(b["p99_ms"]),
            added_us(a["p50_ms"], b["p50_ms"]), added_us(a["p99_ms"], b["p99_ms"])))
    if any(a[k] < b[k] for a, b in zip(scoring["one replica via front end"], scoring["one replica direct"])
           for k in ("p50_ms", "p99_ms")):
        add("")
        add("A negative difference means the direct runs happened to be slower at that percentile: the noise of a "
            "shared machine.")
    add("")


def autoscale_report(a, add):
    add("## Autoscaling")
    add("")
    add("A service with `autoscale_enabled=True`, `autoscale_min_replicas=1`, `autoscale_max_replicas={}`, "
        "`autoscale_refresh_seconds={}`, the default target utilization (70 %) and default settings otherwise (one "
        "request in flight per replica, `max_request_wait_time` 500 ms). Its `score.py` (`bench/busy`) takes 10 ms "
        "a request (a sleep, so that added replicas do not compete with wrk for the cores), so one replica serves "
        "at most about 100 req/s. amlcored ran with `AMLCORE_AUTOSCALE_STABILIZATION_SECONDS={}` (amlcore's default "
        "is 60). The timeline: {:.0f} s idle with one replica, then a step to wrk with {} connections for {} s, "
        "then idle again until it is back to one replica; the front end's `/metrics` read every 100 ms. The "
        "target: every replica busy with the rest queued, the autoscaler asks for ⌈{} / 0.7⌉, capped at {}: "
        "**{}** replicas.".format(
            a["max_replicas"], a["refresh_s"], a["stabilization_s"], a["idle_s"], a["connections"], a["load_s"],
            a["connections"], a["max_replicas"], a["target"]))
    add("")
    add("| figure | after the step |")
    add("|---|---:|")
    add("| the load asks for the target (`wantedReplicas`) | {} |".format(seconds(a["wanted_at_target_s"])))
    add("| the autoscaler runs the target (`desiredReplicas`) | {} |".format(seconds(a["desired_at_target_s"])))
    add("| the target's replicas take traffic (`readyReplicas`) | **{}** |".format(seconds(a["ready_at_target_s"])))
    add("| goal: two refresh periods + replica start-up ({} from desired to ready) | {} |".format(
        seconds(a["cluster_start_up_s"]), seconds(autoscale_bound(a))))
    add("")
    add("A replica's start-up, `amlcore-score` started → ready with this `score.py` on its own: {:.3f} s (median of "
        "3); in the cluster, from the decision to the replicas taking traffic: {}, which adds the supervisor's "
        "start of the process and the front end's readiness check.".format(
            a["process_start_up_s"], seconds(a["cluster_start_up_s"])))
    add("")
    add("| figure | value |")
    add("|---|---:|")
    add("| back to 1 desired / 1 ready after the load stopped (stabilization {} s + refresh) | {} / {} |".format(
        a["stabilization_s"], seconds(a["desired_back_s"]), seconds(a["ready_back_s"])))
    add("| requests during the load / failed (non-2xx or socket errors) | {} / **{}** |".format(
        a["requests"], a["failed"]))
    add("| front end's error answers by status during the run | {} |".format(
        ", ".join("{}: {}".format(k, v) for k, v in sorted(a["errors_by_status"].items())) or "none"))
    add("| throughput over the load (p50 / p99) | {:.0f} req/s ({} / {} ms) |".format(
        a["rps"], ms(a["p50_ms"]), ms(a["p99_ms"])))
    add("")
    add("Ready / desired / wanted replicas over time (seconds from the step, at each change; desired is what the "
        "autoscaler decided, wanted what the load asked for before the cluster's capacity grant): {}.".format(
        elastic_timeline(a["timeline"])))
    add("")
    if a.get("events"):
        add("The front end's scaling decisions and amlcored's capacity grants, as their logs said them (stamped when "
            "the benchmark read them, within 100 ms):")
        add("")
        for t, line in a["events"]:
            add("- {:+.2f} s `{}`".format(t, line))
        add("")


def autoscale_bound(a):
    """Two refresh periods plus a replica's start-up in the cluster, or None when the target was never reached."""
    return None if a["cluster_start_up_s"] is None else 2 * a["refresh_s"] + a["cluster_start_up_s"]


def seconds(value):
    return "never" if value is None else "{:.2f} s".format(value)


def elastic_timeline(timeline):
    return ", ".join("{:+.2f} s {}/{}/{}".format(*change) for change in timeline)


def wake_report(w, add):
    add("## Scale from zero")
    add("")
    add("Services with `autoscale_min_replicas=0` (`autoscale_max_replicas=1`, `max_request_wait_time={}` ms) on an "
        "amlcored run with `AMLCORE_SCALE_TO_ZERO_IDLE_SECONDS={}`: each round waits until the front end's desired "
        "count is 0 and no replica process of the service runs, then times one request, on a new connection, to "
        "its answer (the replica starts while the request waits in the front end's queue). The diabetes service's "
        "environment is built (cached) at deployment.".format(w["max_request_wait_ms"], w["idle_s"]))
    add("")
    add("| service | first answer, median | min | max | rounds | its `amlcore-score` alone: start → ready |")
    add("|---|---:|---:|---:|---:|---:|")
    for label, values in w["first_answer_s"].items():
        add("| {} | **{:.3f} s** | {:.3f} s | {:.3f} s | {} | {:.3f} s |".format(
            label, statistics.median(values), min(values), max(values), len(values),
            w["process_start_up_s"][label]))
    add("")
    add("The last column is the same `score.py` started outside the cluster (imports and `init()`, median of 3): "
        "what any replica of it needs before it can answer.")
    add("")


def memory_report(results, add):
    add("## Memory")
    add("")
    if "memory_mib" in results:
        add("Peak resident memory (VmHWM) over the scoring runs, MiB.")
        add("")
        add("| process | peak RSS MiB |")
        add("|---|---:|")
        for name, value in results["memory_mib"].items():
            if isinstance(value, list):
                add("| {} | {} (total {:.1f}) |".format(name, ", ".join("{:.1f}".format(v) for v in value),
                                                        sum(value)))
            else:
                add("| {} | {:.1f} |".format(name, value))
        add("")
    if "idle_front_end_rss_mib" in results:
        add("An idle front end (a new compute target, no services): {:.1f} MiB resident (median of {}).".format(
            results["idle_front_end_rss_mib"]["median"], results["idle_front_end_rss_mib"]["n"]))
        add("")
    if "idle_memory" in results:
        im = results["idle_memory"]
        add("An idle cluster with {} trivial services (0.1 CPU each), each cluster on its own front end: scaled to "
            "zero (`autoscale_min_replicas=0`, after their idle period) and running one replica each "
            "(`num_replicas=1`). Resident memory (RSS) and proportional set size (PSS, shared pages divided among "
            "the processes that share them, from `/proc/<pid>/smaps_rollup`) of the front end and the replica "
            "processes.".format(im["services"]))
        add("")
        add("| {} services | replica processes | front end RSS MiB | replicas RSS MiB | total RSS MiB | "
            "total PSS MiB |".format(im["services"]))
        add("|---|---:|---:|---:|---:|---:|")
        for state in ("scaled to zero", "running"):
            f = im[state]
            add("| {} | {} | {:.1f} | {:.1f} | {:.1f} | {} |".format(
                state, f["replica_processes"], f["front_end_rss_mib"], f["replicas_rss_mib"],
                f["front_end_rss_mib"] + f["replicas_rss_mib"],
                "?" if f["pss_mib"] is None else "{:.1f}".format(f["pss_mib"])))
        add("")


def control_plane_report(results, add):
    add("## Control plane")
    add("")
    rows = []
    if "compute_create_s" in results:
        cc = results["compute_create_s"]
        rows.append("| compute create → `Succeeded` (`ComputeTarget.create` + `wait_for_completion`) | {:.3f} s | "
                    "{:.3f} s | {:.3f} s | {} |".format(cc["median"], cc["min"], cc["max"], cc["n"]))
    if "deploy_cached_s" in results:
        dc = results["deploy_cached_s"]
        rows.append("| `Model.deploy` → `Healthy`, cached environment (diabetes, 1 replica) | {:.3f} s | {:.3f} s | "
                    "{:.3f} s | {} |".format(dc["median"], dc["min"], dc["max"], dc["n"]))
    if rows:
        add("| operation | median | min | max | runs |")
        add("|---|---:|---:|---:|---:|")
        for row in rows:
            add(row)
        add("")
    if "scale" in results:
        scale = results["scale"]
        add("With {} registered models and {} deployed services ({} replica processes, one each: every service is "
            "real; registering took {:.1f} s, deploying all of them {:.1f} s, 8 at a time):".format(
                scale["models"], scale["services"], scale["replica_processes"], scale["register_s"],
                scale["deploy_all_s"]))
        add("")
        add("| call (Python SDK, over the REST API) | median ms | p95 ms | calls |")
        add("|---|---:|---:|---:|")
        for label, s in scale["latency_s"].items():
            add("| `{}` | {:.2f} | {:.2f} | {} |".format(label, s["median"] * 1000, s["p95"] * 1000, s["n"]))
        add("")


def added_us(via_ms, direct_ms):
    return "{:+.0f}".format((via_ms - direct_ms) * 1000)


def cpu_us(run, *groups):
    """CPU microseconds a request over a run, of the named process groups."""
    return sum(run["cpu_s"][g] for g in groups) / max(run["requests"], 1) * 1e6


def at_concurrency(runs, wanted):
    """The run at concurrency `wanted`, or the closest one measured (a short run may not have it)."""
    return min(runs, key=lambda r: (abs(r["connections"] - wanted), -r["connections"]))


def verdicts(results):
    out = []
    if "scoring" in results:
        out += scoring_verdicts(results)
    if "autoscale" in results:
        out.append(autoscale_verdict(results["autoscale"]))
    if "wake" in results:
        out.append(wake_verdict(results["wake"]))
    if "deploy_cached_s" in results:
        dc = results["deploy_cached_s"]["median"]
        out.append("`Model.deploy` → `Healthy` with a cached environment: {:.2f} s median (goal < 2 s: **{}**).".format(
            dc, "met" if dc < 2 else "behind"))
    if "compute_create_s" in results:
        cc = results["compute_create_s"]["median"]
        out.append("Compute create → `Succeeded`: {:.3f} s median (goal < 1 s: **{}**).".format(
            cc, "met" if cc < 1 else "behind"))
    if "scale" in results:
        worst = max(s["p95"] for s in results["scale"]["latency_s"].values()) * 1000
        out.append("get/list with {} models and {} services: every call's p95 ≤ {:.1f} ms (goal < 50 ms: "
                   "**{}**).".format(results["scale"]["models"], results["scale"]["services"], worst,
                                     "met" if worst < 50 else "behind"))
    if "idle_front_end_rss_mib" in results:
        idle = results["idle_front_end_rss_mib"]["median"]
        out.append("Idle front end: {:.1f} MiB resident (goal < 20 MB: **{}**).".format(
            idle, "met" if idle * 1.048576 < 20 else "behind"))
    return out


def autoscale_verdict(a):
    bound, reached = autoscale_bound(a), a["ready_at_target_s"]
    if reached is None:
        text = ("Autoscaler: did not reach its target of {} ready replicas during the {} s of load (goal: two refresh "
                "periods + replica start-up: **behind**); {} of {} requests failed.".format(
                    a["target"], a["load_s"], a["failed"], a["requests"]))
    else:
        text = ("Autoscaler: {} ready replicas (its target) {} after the step to a saturating load (goal: two "
                "refresh periods + replica start-up = {}: **{}**); back to one {} after the load stopped "
                "(stabilization window {} s); {} of {} requests failed while it scaled.".format(
                    a["target"], seconds(reached), seconds(bound), "met" if reached <= bound else "behind",
                    seconds(a["ready_back_s"]), a["stabilization_s"], a["failed"], a["requests"]))
    wanted, desired = a["wanted_at_target_s"], a["desired_at_target_s"]
    if wanted is not None and (desired is None or desired - wanted > 0.5 * a["refresh_s"]):
        # The front end scales beyond what amlcored has granted it only once amlcored has seen the load.
        text += (" The load asked for {} replicas {:.2f} s after the step and the autoscaler ran them {}: a "
                 "scale-up past the cluster capacity amlcored holds for the service waits for amlcored's cluster "
                 "controller to hold more, which it does when it next looks at the cluster (every 2 s, its "
                 "reconcile interval; the front end uses a grant at once), even though this cluster had "
                 "room.".format(
                     a["target"], wanted, "never" if desired is None else "{:.2f} s later".format(desired - wanted)))
    first_wanted = next((w for t, _, _, w in a["timeline"] if t >= 0 and w > 1), None)
    if first_wanted is not None and first_wanted < a["target"]:
        text += (" The first decision after the step asked for {} only: it averages the demand over the refresh "
                 "period, part of which came before the step.".format(first_wanted))
    return text


def wake_verdict(w):
    parts = []
    for label, values in w["first_answer_s"].items():
        first, alone = statistics.median(values), w["process_start_up_s"][label]
        part = "{}: {:.3f} s (**{}**)".format(label, first, "met" if first < 1 else "behind")
        if first >= 1:
            # The two medians come from different runs of a noisy start-up: a negative difference means "nothing".
            added = " (the cluster adds {:.3f} s)".format(first - alone) if first > alone else ""
            part += ("; its `amlcore-score` alone takes {:.3f} s to start (Python imports and `init()`): the wait is "
                     "the script's own start-up{}, which only a replica kept warm (or a pre-imported process to "
                     "fork from) would hide".format(alone, added))
        parts.append(part)
    return "Scale from zero to the first answer, goal < 1 s with a cached environment: {}.".format("; ".join(parts))


def scoring_verdicts(results):
    scoring = results["scoring"]
    cores = results["machine"]["cores"]
    out = []

    # The goal line: one replica, default settings, concurrency 16, against two nginx hops and one gunicorn worker.
    one = at_concurrency(scoring["amlcore echo, 1 replica"], 16)
    c = one["connections"]
    limit = next(r for r in scoring["nginx two-hop"] if r["connections"] == c)
    base1 = next(r for r in scoring["baseline echo, 1 worker"] if r["connections"] == c)
    uncapped = next(r for r in scoring["one replica via front end"] if r["connections"] == c)
    of_limit, of_base = one["rps"] / max(limit["rps"], 1e-9), one["rps"] / max(base1["rps"], 1e-9)
    text = ("Trivial `score.py`, one replica, default settings, concurrency {}{}: {:.0f} req/s, **{:.2f}×** the "
            "two-hop nginx limit ({:.0f} req/s; goal ≥ 0.8×: **{}**) and **{:.1f}×** the baseline with one worker "
            "({:.0f} req/s; goal ≥ 5×: **{}**).".format(
                c, "" if c == 16 else " (the goal is at 16, which this run did not measure)", one["rps"], of_limit,
                limit["rps"], "met" if of_limit >= 0.8 else "behind", of_base, base1["rps"],
                "met" if of_base >= 5 else "behind"))
    if of_limit < 0.8 or of_base < 5:
        ours, nginx, base = cpu_us(one, "front end", "replicas"), cpu_us(limit, "nginx"), cpu_us(base1, "gunicorn")
        text += (" Why: the {} cores are shared by wrk and both hops, so throughput follows CPU time per request: "
                 "amlcore spent {:.0f} µs a request ({:.0f} in the front end, {:.0f} in the replica, which runs "
                 "Python's `run()`), the two nginx processes {:.0f} µs, gunicorn + Flask {:.0f} µs (one worker, "
                 "a new connection per request). {:.2f}× the limit would need at most {:.0f} µs, 5× the baseline "
                 "{:.0f} µs.".format(cores, ours, cpu_us(one, "front end"), cpu_us(one, "replicas"), nginx, base,
                                     0.8, nginx / 0.8, base / 5))
        if uncapped["rps"] > 1.1 * one["rps"]:
            text += (" The cap of one request in flight costs some of it: the same service without the cap (the "
                     "front end forwards every request at once) serves {:.0f} req/s ({:.2f}× the limit).".format(
                         uncapped["rps"], uncapped["rps"] / max(limit["rps"], 1e-9)))
        out.append(text)
    else:
        out.append(text)

    # The same number of workers as replicas (SPEC §8's first goal), at every concurrency.
    def ratios(label, baseline):
        return [a["rps"] / max(b["rps"], 1e-9) for a, b in zip(scoring[label], scoring[baseline])]

    replicas = results["args"]["replicas"]
    r1, rn = ratios("amlcore echo, 1 replica", "baseline echo, 1 worker"), ratios("amlcore echo", "baseline echo")
    r4 = ratios("amlcore echo, 4 in flight", "baseline echo")
    text = ("Throughput, trivial `score.py`, default settings, at concurrency {}: {:.1f}× to {:.1f}× the baseline "
            "with one replica and one worker, {:.1f}× to {:.1f}× with {} and {}; {:.1f}× to {:.1f}× with 4 requests "
            "in flight per replica (goal ≥ 5× with the same number of workers: **{}**).".format(
                ", ".join(str(c) for c in results["args"]["concurrency"]), min(r1), max(r1), min(rn), max(rn),
                replicas, replicas, min(r4), max(r4), "met" if min(r1 + rn) >= 5 else "behind"))
    if min(r1 + rn) < 5:
        busiest = max(scoring["amlcore echo"], key=lambda r: r["rps"])
        theirs = next(r for r in scoring["baseline echo"] if r["connections"] == busiest["connections"])
        text += (" Why: beyond concurrency 1 this {}-core machine is saturated (wrk included), so throughput is set "
                 "by CPU time a request: at concurrency {} with {} replicas amlcore spent {:.0f} µs ({:.0f} in the "
                 "front end, {:.0f} in the replicas) against gunicorn + Flask's {:.0f} µs; 5× would need under "
                 "{:.0f} µs for both hops, while the two nginx processes alone spend {:.0f} µs a request at "
                 "concurrency {}. The baseline is not slow here: gunicorn's sync workers take connections "
                 "straight from the kernel, one hop.".format(
                     cores, busiest["connections"], replicas, cpu_us(busiest, "front end", "replicas"),
                     cpu_us(busiest, "front end"), cpu_us(busiest, "replicas"), cpu_us(theirs, "gunicorn"),
                     cpu_us(theirs, "gunicorn") / 5, cpu_us(limit, "nginx"), limit["connections"]))
    out.append(text)

    # Batching: the diabetes model at concurrency 64.
    batch = at_concurrency(scoring["amlcore diabetes"], 64)
    c = batch["connections"]
    plain = next(r for r in scoring["amlcore diabetes, run() only"] if r["connections"] == c)
    base = next(r for r in scoring["baseline diabetes"] if r["connections"] == c)
    ratio = batch["rps"] / max(base["rps"], 1e-9)
    text = ("Diabetes model with `run_batch()`, concurrency {}{}: {:.0f} req/s, **{:.1f}×** the baseline ({:.0f} "
            "req/s; goal ≥ 5×: **{}**); without `run_batch()` {:.0f} req/s ({:.1f}× the baseline), so batching gives "
            "{:.1f}×.".format(
                c, "" if c == 64 else " (the goal is at 64, which this run did not measure)", batch["rps"], ratio,
                base["rps"], "met" if ratio >= 5 else "behind", plain["rps"], plain["rps"] / max(base["rps"], 1e-9),
                batch["rps"] / max(plain["rps"], 1e-9)))
    if ratio < 5:
        text += (" Why: CPU time a request, amlcore with batching {:.0f} µs ({:.0f} front end, {:.0f} replicas), "
                 "without {:.0f} µs, the baseline {:.0f} µs; 5× needs under {:.0f} µs. Batching removes most of "
                 "`predict()`'s cost per request, but each request still pays its HTTP hops and its own JSON "
                 "parsing in `run_batch()`.".format(
                     cpu_us(batch, "front end", "replicas"), cpu_us(batch, "front end"), cpu_us(batch, "replicas"),
                     cpu_us(plain, "front end", "replicas"), cpu_us(base, "gunicorn"), cpu_us(base, "gunicorn") / 5))
    out.append(text)

    # Front end overhead at moderate load.
    via, direct = scoring["one replica via front end"], scoring["one replica direct"]
    a = at_concurrency(via, 4)
    b = next(r for r in direct if r["connections"] == a["connections"])
    added50, added99 = (a["p50_ms"] - b["p50_ms"]) * 1000, (a["p99_ms"] - b["p99_ms"]) * 1000
    text = ("Front-end overhead at moderate load (concurrency {}): {:+.0f} µs at p50 (goal ≤ 100 µs: **{}**), "
            "{:+.0f} µs at p99 (goal ≤ 1 ms: **{}**).".format(
                a["connections"], added50, "met" if added50 <= 100 else "behind", added99,
                "met" if added99 <= 1000 else "behind"))
    first, last = via[0], via[-1]
    text += (" The front end spent {:.0f} µs of CPU a request at concurrency {} and {:.0f} µs at {}: with one "
             "request at a time its thread sleeps and wakes twice a request (for the client, then for the replica), "
             "and on this machine a sleep and wake-up costs tens of microseconds; with requests waiting it goes "
             "from one to the next without sleeping.".format(cpu_us(first, "front end"), first["connections"],
                                                               cpu_us(last, "front end"), last["connections"]))
    out.append(text)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=4, help="seconds of each wrk run (default 4)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="runs of each configuration and concurrency, in turns; figures are medians (default 3)")
    parser.add_argument("--concurrency", default="1,4,16,64", help="wrk connection counts (default 1,4,16,64)")
    parser.add_argument("--replicas", type=int, default=2,
                        help="replicas of each amlcore service and gunicorn workers of the baseline (default 2)")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each control-plane timing (default 5)")
    parser.add_argument("--models", type=int, default=1000, help="models registered for get/list (default 1000)")
    parser.add_argument("--services", type=int, default=100, help="services deployed for get/list (default 100)")
    parser.add_argument("--autoscale-max", type=int, default=4,
                        help="autoscale_max_replicas of the autoscaling run (default 4)")
    parser.add_argument("--autoscale-seconds", type=int, default=20,
                        help="seconds of load in the autoscaling run (default 20)")
    parser.add_argument("--autoscale-idle-seconds", type=float, default=2,
                        help="seconds of the autoscaling run's timeline before the load starts (default 2)")
    parser.add_argument("--stabilization-seconds", type=int, default=5,
                        help="AMLCORE_AUTOSCALE_STABILIZATION_SECONDS of the run's amlcored: how long load must "
                             "stay low before a scale-down (default 5; amlcore's own default is 60)")
    parser.add_argument("--scale-to-zero-idle-seconds", type=int, default=2,
                        help="AMLCORE_SCALE_TO_ZERO_IDLE_SECONDS of the run's amlcored (default 2)")
    parser.add_argument("--wake-rounds", type=int, default=5,
                        help="rounds of the scale-from-zero run: scaled to zero, then one request (default 5)")
    parser.add_argument("--idle-services", type=int, default=20,
                        help="services of the idle-memory run, scaled to zero and running (default 20)")
    parser.add_argument("--only", help="run these sections only, comma-separated, from: " + ", ".join(SECTIONS) +
                                       "; the report is printed, and written only with --output")
    parser.add_argument("--output", help="where the report goes (default BENCHMARKS.md when every section runs)")
    parser.add_argument("--json", help="also write the raw figures here")
    parser.add_argument("--from-json", help="measure nothing: write the report of figures saved with --json")
    parser.add_argument("--skip-security", action="store_true",
                        help="leave out the token-auth and HTTPS rows (bench/security.py)")
    args = parser.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    # A partial run does not overwrite the full report unless told to.
    if args.only:
        args.only = [name.strip() for name in args.only.split(",")]
        unknown = set(args.only) - set(SECTIONS)
        if unknown:
            parser.error("unknown sections {}; known: {}".format(", ".join(sorted(unknown)), ", ".join(SECTIONS)))
    else:
        args.only = list(SECTIONS)
        args.output = args.output or os.path.join(ROOT, "BENCHMARKS.md")
    if args.skip_security and "security" in args.only:
        args.only.remove("security")
    if args.from_json:
        with open(args.from_json) as f:
            results = json.load(f)
    else:
        if shutil.which("wrk") is None:
            sys.exit("bench: wrk is not installed (scripts/setup.sh installs it)")
        bench = Bench(args)
        try:
            results = bench.run()
        finally:
            bench.close()
    if not args.from_json and "security" in args.only:
        log("== token auth and HTTPS (bench/security.py)")
        security = subprocess.run([sys.executable, os.path.join(HERE, "security.py"), "--duration",
                                   str(args.duration), "--rounds", str(args.rounds)],
                                  stdout=subprocess.PIPE, text=True, timeout=1800)
        if security.returncode != 0:
            sys.exit("bench: bench/security.py failed")
        # Kept with the figures, so that --from-json writes the whole report again.
        results["security_report"] = security.stdout.strip()
    text = report(results)
    if results.get("security_report"):
        text += "\n\n" + results["security_report"]
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")
    if args.json and not args.from_json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    log("")
    log(text)
    log("")
    if args.output:
        log("bench: wrote " + args.output)


if __name__ == "__main__":
    main()
