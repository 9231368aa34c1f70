"""The benchmark's elastic runs (bench.py calls them; each writes its figures into bench.results):

  autoscale    a step from idle to a load one replica cannot keep up with, and back: the replica counts over
               time, how long the autoscaler takes to reach its target and to come back down, failed requests;
  wake         a service scaled to zero, and the time from the next request to its answer;
  idle memory  a cluster with N services scaled to zero against one with the same N running a replica each.

Replica counts come from the front end's /metrics (what it routes to and what its autoscaler decided), read with
the cluster's admin token, as an operator's Prometheus would.
"""

import math
import os
import re
import statistics
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from bench import DIABETES_SOURCE, HERE, DirectReplica, Load, children, log, status_kib

SAMPLE_SECONDS = 0.1
TARGET_UTILIZATION = 70  # percent: autoscale_target_utilization's default, which the runs keep


class FrontEndMetrics:
    """A cluster front end's /metrics, per service."""

    SERIES = {"amlcore_fe_ready_replicas": "ready", "amlcore_fe_desired_replicas": "desired",
              "amlcore_fe_wanted_replicas": "wanted", "amlcore_fe_inflight_requests": "inflight",
              "amlcore_fe_queued_requests": "queued"}
    LINE = re.compile(r'^(\w+)\{service="([^"]*)",version="[^"]*"(?:,code="(\d+)")?\} (\S+)$')

    def __init__(self, home, scoring_endpoint):
        port = urllib.parse.urlsplit(scoring_endpoint).port
        [cluster] = [p["name"] for p in home.processes("frontend") if p["port"] == port]
        self.log_path = os.path.join(home.path, "clusters", cluster, "frontend.log")
        with open(os.path.join(home.path, "clusters", cluster, "admin_token")) as f:
            token = f.read().strip()
        self.request = urllib.request.Request("http://127.0.0.1:{}/metrics".format(port),
                                              headers={"Authorization": "Bearer " + token})

    def read(self, service):
        """{"ready", "desired", "wanted", "inflight", "queued": numbers summed over the service's versions,
        "errors": {status: count}}."""
        with urllib.request.urlopen(self.request, timeout=10) as r:
            text = r.read().decode()
        out = {name: 0 for name in self.SERIES.values()}
        out["errors"] = {}
        for line in text.splitlines():
            m = self.LINE.match(line)
            if not m or m.group(2) != service:
                continue
            name, code, value = m.group(1), m.group(3), float(m.group(4))
            if name in self.SERIES:
                out[self.SERIES[name]] += int(value)
            elif name == "amlcore_fe_requests_total" and code and int(code) >= 400:
                out["errors"][code] = out["errors"].get(code, 0) + int(value)
        return out


class LogFollower:
    """New lines of a log file that mention `word`, each time it is asked (the logs have no timestamps: the
    autoscaling run stamps them with the time it saw them)."""

    def __init__(self, path, word):
        self.path, self.word = path, word
        try:
            self.offset = os.path.getsize(path)
        except OSError:
            self.offset = 0

    def new_lines(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return []
        end = data.rfind(b"\n") + 1  # a line still being written waits for the next call
        self.offset += end
        return [l for l in data[:end].decode(errors="replace").splitlines() if self.word in l]


def wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise RuntimeError("bench: timed out after {} s waiting for {}".format(timeout, what))


def replica_start_up(source, work, count=3, env=None):
    """Seconds from starting an amlcore-score for `source` to its status file saying Ready (imports and init()
    done), median of `count`: what a new replica costs before it can take traffic, outside any cluster."""
    times = []
    for _ in range(count):
        start = time.perf_counter()
        replica = DirectReplica(source, work, env)
        times.append(time.perf_counter() - start)
        replica.stop()
    return statistics.median(times)


# --- autoscaling --------------------------------------------------------------------------------------------

def autoscale(bench):
    args = bench.args
    source = os.path.join(HERE, "busy")
    maximum = args.autoscale_max
    connections = 2 * maximum  # one replica serves one request at a time: 2 x max keeps every replica busy
    # Every ready replica busy and the rest queued: the autoscaler asks for ceil(demand / target), within max.
    target = min(maximum, math.ceil(connections / (TARGET_UTILIZATION / 100)))
    log("== autoscaling: 1 to {} replicas, refresh 1 s, {} connections for {} s".format(
        maximum, connections, args.autoscale_seconds))
    service = bench.deploy("bench-autoscale", [], source, autoscale_enabled=True, autoscale_min_replicas=1,
                           autoscale_max_replicas=maximum, autoscale_refresh_seconds=1)
    metrics = FrontEndMetrics(bench.home, service.scoring_uri)
    wait_until(lambda: metrics.read(service.name)["ready"] == 1, 60, "one ready replica of bench-autoscale")
    start_up = replica_start_up(source, bench.work)
    body = os.path.join(bench.work, "autoscale-body.json")
    with open(body, "w") as f:
        f.write('{"data": [[1.0, 2.0, 3.0, 4.0]]}')

    samples = []  # (seconds since the step, ready, desired, wanted)
    # The front end logs each scaling decision, amlcored each change of the capacity it holds for the service.
    logs = [LogFollower(metrics.log_path, service.name),
            LogFollower(os.path.join(bench.home.path, "amlcored.log"), service.name)]
    events = []  # (seconds since the step, log line)
    stop = threading.Event()
    origin = time.monotonic() + args.autoscale_idle_seconds  # the step

    def sample():
        while not stop.is_set():
            m = metrics.read(service.name)
            now = time.monotonic() - origin
            samples.append((now, m["ready"], m["desired"], m["wanted"]))
            events.extend((round(now, 2), line) for follower in logs for line in follower.new_lines())
            stop.wait(SAMPLE_SECONDS)

    errors_before = metrics.read(service.name)["errors"]
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        time.sleep(max(0.0, origin - time.monotonic()))  # idle before the step, on the timeline too
        wrk = Load(args, body).start(service.scoring_uri, service.get_keys()[0], connections,
                                     duration=args.autoscale_seconds)
        load = Load.finish(wrk)
        load_end = time.monotonic() - origin
        # Idle again: after the stabilization window and a refresh period it is back to the minimum. A scale-up
        # decided late may still come after the load ended, so the wait also outlasts the window.
        settled = load_end + args.stabilization_seconds + 2
        wait_until(lambda: samples and samples[-1][0] > settled and samples[-1][1:] == (1, 1, 1),
                   args.stabilization_seconds + 60, "bench-autoscale back to one replica")
    finally:
        stop.set()
        sampler.join(timeout=30)
    errors_after = metrics.read(service.name)["errors"]
    service.delete()

    def first(condition, after=0.0):
        return next((t for t, *counts in samples if t >= after and condition(*counts)), None)

    def back_to_one(index):
        """Seconds from the end of the load to the sample from which count `index` (1 ready, 2 desired) stays 1."""
        last_above = max((i for i, sample in enumerate(samples) if sample[index] > 1), default=None)
        if last_above is None or last_above + 1 == len(samples):
            return None
        return max(0.0, samples[last_above + 1][0] - load_end)

    figures = {
        "max_replicas": maximum, "connections": connections, "target": target, "refresh_s": 1,
        "stabilization_s": args.stabilization_seconds, "load_s": args.autoscale_seconds,
        "idle_s": args.autoscale_idle_seconds, "process_start_up_s": start_up,
        "wanted_at_target_s": first(lambda ready, desired, wanted: wanted >= target),
        "desired_at_target_s": first(lambda ready, desired, wanted: desired >= target),
        "ready_at_target_s": first(lambda ready, desired, wanted: ready >= target),
        "load_end_s": load_end,
        "desired_back_s": back_to_one(2),
        "ready_back_s": back_to_one(1),
        "max_wanted": max(w for _, _, _, w in samples),
        "requests": load["requests"], "rps": load["rps"], "p50_ms": load["p50_ms"], "p99_ms": load["p99_ms"],
        "failed": load["errors"],
        "errors_by_status": {code: n - errors_before.get(code, 0) for code, n in errors_after.items()
                             if n - errors_before.get(code, 0)},
        "timeline": changes(samples),
        "events": events,
    }
    for t, line in events:
        log("  {:+.2f} s {}".format(t, line))
    # A replica's start-up as the cluster sees it: from the decision to the last new replica taking traffic.
    figures["cluster_start_up_s"] = _minus(figures["ready_at_target_s"], figures["desired_at_target_s"])
    bench.results["autoscale"] = figures
    log("autoscale: target {} wanted after {}, desired after {}, ready after {}; back to 1 {} after the "
        "load; {} of {} failed; amlcore-score start-up {:.3f} s; timeline (ready/desired/wanted) {}".format(
            target, _s(figures["wanted_at_target_s"]), _s(figures["desired_at_target_s"]),
            _s(figures["ready_at_target_s"]), _s(figures["ready_back_s"]), figures["failed"], figures["requests"],
            start_up, timeline_text(figures["timeline"])))


def _minus(a, b):
    return None if a is None else a - b


def _s(value):
    return "never" if value is None else "{:.2f} s".format(value)


def changes(samples):
    """The samples where a replica count changed: [(seconds, ready, desired, wanted)]."""
    out = []
    for t, ready, desired, wanted in samples:
        if not out or out[-1][1:] != (ready, desired, wanted):
            out.append((round(t, 2), ready, desired, wanted))
    return out


def timeline_text(timeline):
    return ", ".join("{:+.2f} s {}/{}/{}".format(*change) for change in timeline)


# --- scale from zero ----------------------------------------------------------------------------------------

def scale_from_zero(bench):
    args = bench.args
    log("== scale from zero: idle {} s, then one request; {} rounds".format(args.scale_to_zero_idle_seconds,
                                                                            args.wake_rounds))
    config = dict(autoscale_enabled=True, autoscale_min_replicas=0, autoscale_max_replicas=1,
                  autoscale_refresh_seconds=1, max_request_wait_time=10000)
    services = [
        ("trivial score.py", bench.deploy("bench-wake-echo", [], os.path.join(HERE, "echo"), **config),
         b'{"data": [[1.0, 2.0, 3.0, 4.0]]}'),
        ("sklearn diabetes model", bench.deploy("bench-wake-diabetes", [bench.model], DIABETES_SOURCE,
                                                env=bench.sklearn_environment(), **config),
         bench.diabetes_sample.encode()),
    ]
    # What the replica itself needs to start (imports, init()), to tell it apart from what the cluster adds.
    start_up = {"trivial score.py": replica_start_up(os.path.join(HERE, "echo"), bench.work),
                "sklearn diabetes model": replica_start_up(DIABETES_SOURCE, bench.work,
                                                           env={"AZUREML_MODEL_DIR": bench.diabetes_dir})}
    metrics = FrontEndMetrics(bench.home, services[0][1].scoring_uri)
    times = {label: [] for label, _, _ in services}
    for _ in range(args.wake_rounds):
        for label, service, _ in services:
            wait_until(lambda: metrics.read(service.name)["desired"] == 0 and not bench.home.replicas(service.name),
                       args.scale_to_zero_idle_seconds + args.stabilization_seconds + 60,
                       service.name + " scaled to zero")
        for label, service, body in services:
            request = urllib.request.Request(service.scoring_uri, data=body, method="POST", headers={
                "Content-Type": "application/json", "Authorization": "Bearer " + service.get_keys()[0]})
            start = time.perf_counter()
            with urllib.request.urlopen(request, timeout=30) as r:
                r.read()
                assert r.status == 200, r.status
            times[label].append(time.perf_counter() - start)
    for _, service, _ in services:
        service.delete()
    bench.results["wake"] = {"idle_s": args.scale_to_zero_idle_seconds, "max_request_wait_ms": 10000,
                             "first_answer_s": times, "process_start_up_s": start_up}
    for label, values in times.items():
        log("scale from zero, {}: first answer after median {:.3f} s ({}); amlcore-score alone starts in {:.3f} s"
            .format(label, statistics.median(values), ", ".join("{:.3f}".format(v) for v in values),
                    start_up[label]))


# --- idle memory --------------------------------------------------------------------------------------------

def pss_kib(pid):
    """Proportional set size (shared pages divided among their users), or None where smaps_rollup is unreadable."""
    try:
        with open("/proc/{}/smaps_rollup".format(pid)) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def with_descendants(pids):
    out, todo = [], list(pids)
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children(pid))
    return out


def idle_memory(bench):
    from amlcore.compute import AksCompute, ComputeTarget
    args = bench.args
    count = args.idle_services
    source = os.path.join(HERE, "echo")
    states = [
        ("scaled to zero", dict(autoscale_enabled=True, autoscale_min_replicas=0, autoscale_max_replicas=1,
                                autoscale_refresh_seconds=1, max_request_wait_time=10000)),
        ("running", dict(num_replicas=1)),
    ]
    figures = {"services": count}
    for state, config in states:
        log("== idle memory: {} trivial services, {}".format(count, state))
        # A cluster of their own, so that its front end holds these services only.
        target = ComputeTarget.create(bench.ws, "bench-idle-" + state.split()[0],
                                      AksCompute.provisioning_configuration())
        target.wait_for_completion()

        def one(i):
            return bench.deploy("bench-idle-{}-{}".format(state.split()[0], i), [], source, on=target,
                                cpu_cores=0.1, memory_gb=0.1, **config)

        with ThreadPoolExecutor(8) as pool:
            services = list(pool.map(one, range(count)))
        names = {s.name for s in services}
        if state == "scaled to zero":
            wait_until(lambda: not any(p["service"] in names for p in bench.home.processes("replica")),
                       args.scale_to_zero_idle_seconds + args.stabilization_seconds + 120,
                       "{} services scaled to zero".format(count))
        time.sleep(1)  # settled: no deployment or stop in progress
        fe = bench.home.front_end_pid(urllib.parse.urlsplit(target.scoring_endpoint).port)
        replicas = with_descendants(p["pid"] for p in bench.home.processes("replica") if p["service"] in names)
        pss = [pss_kib(p) for p in [fe] + replicas]
        figures[state] = {
            "replica_processes": len(replicas),
            "front_end_rss_mib": status_kib(fe, "VmRSS") / 1024,
            "replicas_rss_mib": sum(status_kib(p, "VmRSS") for p in replicas) / 1024,
            "pss_mib": None if None in pss else sum(pss) / 1024,
        }
        log("{} services {}: {} replica processes, RSS {:.1f} MiB (front end {:.1f}), PSS {}".format(
            count, state, len(replicas), figures[state]["front_end_rss_mib"] + figures[state]["replicas_rss_mib"],
            figures[state]["front_end_rss_mib"],
            "?" if figures[state]["pss_mib"] is None else "{:.1f} MiB".format(figures[state]["pss_mib"])))
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda s: s.delete(), services))
        target.delete()
    bench.results["idle_memory"] = figures
