"""The amlcore benchmark: scoring throughput and latency side by side with the baseline users would otherwise
run, the front end's overhead, CPU and memory, and control-plane timings, in one run on this machine.

Run it with bench/run (which builds first); it prints every table and writes them to BENCHMARKS.md.

Data plane, with wrk over keep-alive connections at each concurrency:
  amlcore   client -> amlcore-fe -> replicas, key auth on: a trivial score.py (returns its input) and the sklearn
            diabetes model, with --replicas replicas each;
  direct    a one-replica trivial service through the front end, and the same score.py in an amlcore-score
            replica of its own called directly, which isolates what the front end adds (a cluster's replicas
            listen on private Unix sockets that wrk cannot use, so the direct one listens on a TCP port);
  baseline  the same score.py files under Flask + gunicorn sync workers loading them the way Azure ML's inference
            server does (bench/baseline/inference_server.py), with as many workers as amlcore has replicas.
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

    def run(self, url, key, connections, duration=None, groups=None, close=False):
        """One wrk run; `groups` names lists of pids whose CPU seconds during the run are reported; `close` makes
        every request open a new connection."""
        groups = groups or {}
        threads = max(1, min(2, connections))
        command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", "{}s".format(duration or self.duration),
                   "--timeout", "10s", "-s", os.path.join(HERE, "wrk_report.lua"), url]
        env = dict(os.environ, BENCH_BODY_FILE=self.body_file, BENCH_KEY=key or "", BENCH_CLOSE="1" if close else "0")
        before = {pid: cpu_seconds(pid) for pids in groups.values() for pid in pids}
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=(duration or self.duration) + 60)
        cpu = {name: sum(cpu_seconds(pid) - before[pid] for pid in pids) for name, pids in groups.items()}
        line = next((l for l in done.stdout.splitlines() if l.startswith("BENCH_RESULT")), None)
        if done.returncode != 0 or line is None:
            raise RuntimeError("wrk failed ({}): {}{}".format(done.returncode, done.stdout, done.stderr))
        r = {k: float(v) for k, v in (item.split("=") for item in line.split()[1:])}
        seconds = r["duration_us"] / 1e6
        return {
            "connections": connections,
            "requests": int(r["requests"]),
            "rps": r["requests"] / seconds,
            "p50_ms": r["p50_us"] / 1000,
            "p99_ms": r["p99_us"] / 1000,
            "errors": int(r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"] +
                          r["non_2xx_3xx"]),
            "cpu_s": cpu,
        }


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

    def __init__(self, app_root, logs):
        import amlcore
        program = os.path.join(os.path.dirname(amlcore.__file__), "bin", "amlcore-score")
        self.status_path = os.path.join(logs, "direct-status.json")
        self.log_file = open(os.path.join(logs, "direct-replica.log"), "w")
        environment = dict(os.environ, AML_APP_ROOT=app_root, AZUREML_SOURCE_DIRECTORY=app_root,
                           AZUREML_ENTRY_SCRIPT="score.py")
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
            time.sleep(0.05)
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
    }


def status_meminfo(field):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


# --- the run ------------------------------------------------------------------------------------------------

class Bench:
    def __init__(self, args):
        self.args = args
        self.home_dir = tempfile.mkdtemp(prefix="amlcore-bench-")
        os.environ["AMLCORE_HOME"] = self.home_dir
        for name in ("AMLCORE_ENDPOINT", "AMLCORE_TOKEN", "AMLCORE_SIMULATED_PROVISIONING_SECONDS"):
            os.environ.pop(name, None)
        self.home = Home(self.home_dir)
        self.work = tempfile.mkdtemp(prefix="amlcore-bench-work-")
        self.results = {"machine": machine(), "args": vars(args),
                        "started": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
        self.baselines = []

    # Everything the run started is stopped, whatever happened.
    def close(self):
        for b in self.baselines:
            b.stop()
        import amlcore
        program = os.path.join(os.path.dirname(amlcore.__file__), "bin", "amlcored")
        subprocess.run([program, "--stop", "--with-clusters", "--home", self.home_dir], capture_output=True,
                       timeout=120)
        shutil.rmtree(self.home_dir, ignore_errors=True)
        shutil.rmtree(self.work, ignore_errors=True)

    def run(self):
        from amlcore import Workspace
        self.ws = Workspace.create("bench-ws")
        self.control_plane_compute()
        self.data_plane()
        self.control_plane_deploy()
        self.control_plane_scale()
        return self.results

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
        self.target = ComputeTarget.create(self.ws, "bench-aks", AksCompute.provisioning_configuration(
            agent_count=6, vm_size="Standard_D4_v2"))
        self.target.wait_for_completion()

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

    def deploy(self, name, models, source, env=None, wait=True, **config):
        from amlcore import Model
        from amlcore.model import InferenceConfig
        from amlcore.webservice import AksWebservice
        service = Model.deploy(self.ws, name, models,
                               InferenceConfig(entry_script="score.py", source_directory=source, environment=env),
                               AksWebservice.deploy_configuration(**config), self.target)
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
        args = self.args
        echo_source = os.path.join(HERE, "echo")
        diabetes_source = os.path.join(ROOT, "examples", "python", "diabetes")
        model = self.diabetes_model()
        self.model = model
        log("== deploying the benchmark services ({} replicas each)".format(args.replicas))
        echo = self.deploy("bench-echo", [], echo_source, num_replicas=args.replicas)
        # The same with 4 requests in flight per replica: its C++ server reads and writes while Python runs.
        echo4 = self.deploy("bench-echo-4", [], echo_source, num_replicas=args.replicas,
                            replica_max_concurrent_requests=4)
        # No cap on requests in flight, so the front end forwards at once, as a direct call would.
        single = self.deploy("bench-echo-one", [], echo_source, num_replicas=1,
                             replica_max_concurrent_requests=max(args.concurrency))
        diabetes = self.deploy("bench-diabetes", [model], diabetes_source, env=self.sklearn_environment(),
                               num_replicas=args.replicas)
        fe_port = urllib.parse.urlsplit(echo.scoring_uri).port
        fe_pid = self.home.front_end_pid(fe_port)
        [(single_pid, _)] = self.home.replicas("bench-echo-one")
        direct = DirectReplica(echo_source, self.work)
        self.baselines.append(direct)

        log("== starting the baseline (gunicorn, {} sync workers)".format(args.replicas))
        base_echo = Baseline("echo", echo_source, args.replicas, {}, self.work)
        self.baselines.append(base_echo)
        model_dir = os.path.join(self.work, "baseline-model")
        os.makedirs(model_dir, exist_ok=True)
        shutil.copy(os.path.join(self.diabetes_dir, "sklearn_regression_model.pkl"), model_dir)
        base_diabetes = Baseline("diabetes", diabetes_source, args.replicas, {"AZUREML_MODEL_DIR": model_dir},
                                 self.work)
        self.baselines.append(base_diabetes)

        echo_body = os.path.join(self.work, "echo-body.json")
        with open(echo_body, "w") as f:
            f.write(json.dumps({"data": [[1.0, 2.0, 3.0, 4.0]]}))
        diabetes_body = os.path.join(self.work, "diabetes-body.json")
        with open(diabetes_body, "w") as f:
            f.write(self.diabetes_sample)

        echo_key = echo.get_keys()[0]
        runs = [
            # name, url, key, body, the processes whose CPU time counts
            ("amlcore echo", echo.scoring_uri, echo_key, echo_body,
             lambda: {"front end": [fe_pid], "replicas": [p for p, _ in self.home.replicas("bench-echo")]}),
            ("baseline echo", base_echo.url, None, echo_body, lambda: {"gunicorn": base_echo.pids()}),
            ("amlcore echo, 4 in flight", echo4.scoring_uri, echo4.get_keys()[0], echo_body,
             lambda: {"front end": [fe_pid], "replicas": [p for p, _ in self.home.replicas("bench-echo-4")]}),
            ("amlcore diabetes", diabetes.scoring_uri, diabetes.get_keys()[0], diabetes_body,
             lambda: {"front end": [fe_pid], "replicas": [p for p, _ in self.home.replicas("bench-diabetes")]}),
            ("baseline diabetes", base_diabetes.url, None, diabetes_body, lambda: {"gunicorn": base_diabetes.pids()}),
            ("one replica via front end", single.scoring_uri, single.get_keys()[0], echo_body,
             lambda: {"front end": [fe_pid], "replicas": [single_pid]}),
            ("one replica direct", direct.url, None, echo_body, lambda: {"replicas": direct.pids()}),
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
                log("{:<26} c={:<3} {:>7.0f} req/s  p50 {:>7.3f} ms  p99 {:>7.3f} ms  errors {}  CPU s {}".format(
                    name, c, result["rps"], result["p50_ms"], result["p99_ms"], result["errors"],
                    ", ".join("{} {:.2f}".format(k, v) for k, v in result["cpu_s"].items())))
        self.results["scoring"] = data
        # Peak memory (VmHWM) of what served, over the whole run.
        self.results["memory_mib"] = {
            "front end": status_kib(fe_pid, "VmHWM") / 1024,
            "amlcore echo replicas": [status_kib(p, "VmHWM") / 1024 for p, _ in self.home.replicas("bench-echo")],
            "amlcore diabetes replicas": [status_kib(p, "VmHWM") / 1024
                                          for p, _ in self.home.replicas("bench-diabetes")],
            "baseline echo (master + workers)": [status_kib(p, "VmHWM") / 1024 for p in base_echo.pids()],
            "baseline diabetes (master + workers)": [status_kib(p, "VmHWM") / 1024 for p in base_diabetes.pids()],
        }
        for b in self.baselines:
            b.stop()
        self.baselines = []
        for s in (echo, echo4, single, diabetes):
            s.delete()

    # Model.deploy -> Healthy with the environment already built.
    def control_plane_deploy(self):
        log("== Model.deploy -> Healthy with a cached environment")
        diabetes_source = os.path.join(ROOT, "examples", "python", "diabetes")
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
    scoring = results["scoring"]
    lines = []
    add = lines.append
    add("# amlcore benchmarks")
    add("")
    add("Written by `bench/run` (see the README); every figure below comes from one run, on "
        "{}.".format(results["started"]))
    add("")
    add("**Machine:** {}, {} cores, {}; {}; Python {}; {}; gunicorn {}; Flask {}.".format(
        m["cpu"], m["cores"], m["memory"], m["os"], m["python"], m["wrk"], m["gunicorn"],
        m["flask"]))
    add("")
    add("**How:** wrk over keep-alive connections at concurrency {}; every configuration ran {} times {} s "
        "in turns (after a 1 s warm-up), and each figure is the median of those runs (requests, errors and CPU "
        "seconds are their totals). "
        "amlcore: client → `amlcore-fe` → replicas with key auth on, {} replicas a service. Baseline: the same "
        "`score.py` under Flask + gunicorn sync workers loading it the way Azure ML's inference server does "
        "(`bench/baseline/inference_server.py`), {} workers. gunicorn's sync workers close the connection after "
        "every response, as they do under Azure ML's inference server, so the baseline pays a connection per "
        "request. wrk, the servers and their replicas share the same {} cores.".format(
            ", ".join(str(c) for c in args["concurrency"]), args.get("rounds", 1), args["duration"], args["replicas"],
            args["replicas"],
            m["cores"]))
    add("")
    for workload, label in (("echo", "amlcore echo"), ("echo", "amlcore echo, 4 in flight"),
                            ("diabetes", "amlcore diabetes")):
        ours, theirs = scoring[label], scoring["baseline " + workload]
        if label == "amlcore echo, 4 in flight":
            add("Same script, `replica_max_concurrent_requests=4` (the default is 1, as on Azure): a replica's C++ "
                "server reads and writes the next requests while Python runs the current one.")
        else:
            title = "trivial `score.py` (returns its input)" if workload == "echo" else "sklearn diabetes Ridge model"
            add("## Scoring: {}".format(title))
            add("")
            add("Default settings: one request in flight per replica, as on Azure.")
        add("")
        add("| concurrency | amlcore req/s | baseline req/s | amlcore / baseline | amlcore p50 / p99 ms | "
            "baseline p50 / p99 ms | errors (amlcore / baseline) | CPU s: front end + replicas / gunicorn |")
        add("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for a, b in zip(ours, theirs):
            add("| {} | {:.0f} | {:.0f} | **{:.1f}×** | {} / {} | {} / {} | {} / {} | {:.1f} + {:.1f} / {:.1f} |".format(
                a["connections"], a["rps"], b["rps"], a["rps"] / max(b["rps"], 1e-9), ms(a["p50_ms"]),
                ms(a["p99_ms"]), ms(b["p50_ms"]), ms(b["p99_ms"]), a["errors"], b["errors"], a["cpu_s"]["front end"],
                a["cpu_s"]["replicas"], b["cpu_s"]["gunicorn"]))
        add("")
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
    add("## Memory")
    add("")
    add("Peak resident memory (VmHWM) over the scoring runs, MiB; an idle front end (a new compute target, no "
        "services): {:.1f} MiB (median of {}).".format(results["idle_front_end_rss_mib"]["median"],
                                                          results["idle_front_end_rss_mib"]["n"]))
    add("")
    add("| process | peak RSS MiB |")
    add("|---|---:|")
    for name, value in results["memory_mib"].items():
        if isinstance(value, list):
            add("| {} | {} (total {:.1f}) |".format(name, ", ".join("{:.1f}".format(v) for v in value), sum(value)))
        else:
            add("| {} | {:.1f} |".format(name, value))
    add("")
    add("## Control plane")
    add("")
    cc, dc = results["compute_create_s"], results["deploy_cached_s"]
    scale = results["scale"]
    add("| operation | median | min | max | runs |")
    add("|---|---:|---:|---:|---:|")
    add("| compute create → `Succeeded` (`ComputeTarget.create` + `wait_for_completion`) | {:.3f} s | {:.3f} s | "
        "{:.3f} s | {} |".format(cc["median"], cc["min"], cc["max"], cc["n"]))
    add("| `Model.deploy` → `Healthy`, cached environment (diabetes, 1 replica) | {:.3f} s | {:.3f} s | {:.3f} s "
        "| {} |".format(dc["median"], dc["min"], dc["max"], dc["n"]))
    add("")
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
    add("## Against the goals (SPEC §8)")
    add("")
    for line in verdicts(results):
        add("- " + line)
    add("")
    return "\n".join(lines)


def added_us(via_ms, direct_ms):
    return "{:+.0f}".format((via_ms - direct_ms) * 1000)


def verdicts(results):
    scoring = results["scoring"]
    out = []
    cores = results["machine"]["cores"]

    def cpu_us(run, *groups):
        """CPU microseconds a request, over the run's busiest concurrency."""
        return sum(run["cpu_s"][g] for g in groups) / max(run["requests"], 1) * 1e6

    def ratio_range(label):
        ratios = [a["rps"] / max(b["rps"], 1e-9) for a, b in zip(scoring[label], scoring["baseline echo"])]
        return min(ratios), max(ratios), ratios

    low, high, ratios = ratio_range("amlcore echo")
    low4, high4, _ = ratio_range("amlcore echo, 4 in flight")
    if low >= 5:
        out.append("Throughput, trivial `score.py`: **met**: {:.1f}× to {:.1f}× the baseline (goal ≥ 5×).".format(
            low, high))
    else:
        busiest = max(range(len(ratios)), key=lambda i: scoring["amlcore echo"][i]["rps"])
        ours, theirs = scoring["amlcore echo"][busiest], scoring["baseline echo"][busiest]
        fe, rep = cpu_us(ours, "front end"), cpu_us(ours, "replicas")
        base = cpu_us(theirs, "gunicorn")
        out.append(
            "Throughput, trivial `score.py`: {:.1f}× to {:.1f}× the baseline with default settings, {:.1f}× to {:.1f}× "
            "with 4 requests in flight per replica; **behind the 5× goal**. Why: from concurrency 4 up, this "
            "{}-core machine is saturated (wrk included), so throughput is set by CPU time per request. At "
            "concurrency {} amlcore spent {:.0f} µs a request ({:.0f} in the front end, {:.0f} in the replicas) "
            "against gunicorn + Flask's {:.0f} µs. Five times the baseline would need under {:.0f} µs a request "
            "for both hops; a perf profile of the front end and of a replica puts most of their time in the "
            "kernel's socket work (two hops: loopback TCP from client to front end, a Unix socket from front "
            "end to replica) and thread wake-ups, not in amlcore's own code. gunicorn's sync workers take connections straight from the "
            "kernel, one hop, and this CPU runs Flask fast, so the baseline is not slow here.{}".format(
                low, high, low4, high4, cores, ours["connections"], fe + rep, fe, rep, base, base / 5,
                " With one request in flight per replica (the default) each replica also sits idle for a round "
                "trip between requests, which is what the 4-in-flight setting wins back." if high4 > 1.1 * high
                else ""))
    dratios = [a["rps"] / max(b["rps"], 1e-9) for a, b in zip(scoring["amlcore diabetes"], scoring["baseline diabetes"])]
    out.append("Throughput, diabetes model: {:.1f}× to {:.1f}× the baseline. The model's own `predict()` (numpy, "
               "sklearn) is the same work on both sides, which narrows the gap as it grows.".format(
                   min(dratios), max(dratios)))
    via, direct = scoring["one replica via front end"], scoring["one replica direct"]
    moderate = next((i for i, a in enumerate(via) if a["connections"] == 4), 0)
    a, b = via[moderate], direct[moderate]
    added50, added99 = (a["p50_ms"] - b["p50_ms"]) * 1000, (a["p99_ms"] - b["p99_ms"]) * 1000
    verdict50 = "met" if added50 <= 100 else "behind"
    verdict99 = "met" if added99 <= 1000 else "behind"
    text = ("Front-end overhead at moderate load (concurrency {}): {:+.0f} µs at p50 (goal ≤ 100 µs: **{}**), "
            "{:+.0f} µs at p99 (goal ≤ 1 ms: **{}**).".format(a["connections"], added50, verdict50, added99,
                                                              verdict99))
    first, last = via[0], via[-1]
    fe_first = cpu_us(first, "front end")
    fe_last = cpu_us(last, "front end")
    text += (" The front end spent {:.0f} µs of CPU a request at concurrency {} and {:.0f} µs at {}: with one "
             "request at a time its thread sleeps and wakes twice a request (for the client, then for the replica), "
             "and on this machine a sleep and wake-up costs tens of microseconds; with requests waiting it goes "
             "from one to the next without sleeping.".format(fe_first, first["connections"], fe_last,
                                                               last["connections"]))
    out.append(text)
    dc, cc = results["deploy_cached_s"]["median"], results["compute_create_s"]["median"]
    out.append("`Model.deploy` → `Healthy` with a cached environment: {:.2f} s median (goal < 2 s: **{}**).".format(
        dc, "met" if dc < 2 else "behind"))
    out.append("Compute create → `Succeeded`: {:.3f} s median (goal < 1 s: **{}**).".format(
        cc, "met" if cc < 1 else "behind"))
    worst = max(s["p95"] for s in results["scale"]["latency_s"].values()) * 1000
    out.append("get/list with {} models and {} services: every call's p95 ≤ {:.1f} ms (goal < 50 ms: **{}**).".format(
        results["scale"]["models"], results["scale"]["services"], worst, "met" if worst < 50 else "behind"))
    idle = results["idle_front_end_rss_mib"]["median"]
    out.append("Idle front end: {:.1f} MiB resident (goal < 20 MB: **{}**).".format(
        idle, "met" if idle * 1.048576 < 20 else "behind"))
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
    parser.add_argument("--output", default=os.path.join(ROOT, "BENCHMARKS.md"), help="where the report goes")
    parser.add_argument("--json", help="also write the raw figures here")
    parser.add_argument("--from-json", help="measure nothing: write the report of figures saved with --json")
    parser.add_argument("--skip-security", action="store_true",
                        help="leave out the token-auth and HTTPS rows (bench/security.py)")
    args = parser.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
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
    text = report(results)
    if not args.from_json and not args.skip_security:
        log("== token auth and HTTPS (bench/security.py)")
        security = subprocess.run([sys.executable, os.path.join(HERE, "security.py"), "--duration",
                                   str(args.duration), "--rounds", str(args.rounds)],
                                  stdout=subprocess.PIPE, text=True, timeout=1800)
        if security.returncode != 0:
            sys.exit("bench: bench/security.py failed")
        text += "\n\n" + security.stdout.strip()
    with open(args.output, "w") as f:
        f.write(text + "\n")
    if args.json and not args.from_json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    log("")
    log(text)
    log("")
    log("bench: wrote " + args.output)


if __name__ == "__main__":
    main()
