"""The benchmark command works: a short run on tiny sizes writes a complete report."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, "bench", "bench.py")


def test_a_short_benchmark_run_writes_every_section(tmp_path):
    report, figures = tmp_path / "BENCHMARKS.md", tmp_path / "figures.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMLCORE_")}
    # The autoscaling, scale-from-zero and idle-memory runs wait for replicas to start and stop: they are left
    # out here, and their report is written from recorded figures below.
    done = subprocess.run(
        [sys.executable, BENCH, "--duration", "1", "--rounds", "1", "--concurrency", "1,4", "--repeats", "1",
         "--models", "5", "--services", "2", "--only", "compute,scoring,deploy,scale,security",
         "--output", str(report), "--json", str(figures)],
        env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    text = report.read_text()
    for heading in ("## Scoring: trivial", "## The two-hop limit", "## Scoring: sklearn diabetes",
                    "## What the front end adds", "## Memory", "## Control plane", "## Against the goals",
                    "## Token auth and HTTPS"):
        assert heading in text
    results = json.loads(figures.read_text())
    assert {"nginx two-hop", "amlcore echo, 1 replica", "baseline echo, 1 worker",
            "amlcore diabetes, run() only"} <= set(results["scoring"])
    for name, runs in results["scoring"].items():
        assert [r["connections"] for r in runs] == [1, 4], name
        for r in runs:
            assert r["requests"] > 0 and r["errors"] == 0, (name, r)
    assert results["scale"]["models"] == 6 and results["scale"]["services"] == 2  # with the diabetes model
    assert results["scale"]["replica_processes"] == 2


def test_the_report_of_the_elastic_runs_comes_from_recorded_figures(tmp_path):
    recorded = {
        "started": "2026-01-01 00:00 UTC", "args": {"replicas": 2, "concurrency": [1, 4]},
        "machine": {"cpu": "test CPU", "cores": 2, "memory": "1 GiB", "os": "Debian", "python": "3.11",
                    "wrk": "wrk", "gunicorn": "20", "flask": "2", "nginx": "1.22.1"},
        "autoscale": {
            "max_replicas": 4, "connections": 8, "target": 4, "refresh_s": 1, "stabilization_s": 5, "load_s": 20,
            "idle_s": 2, "process_start_up_s": 0.02, "wanted_at_target_s": 0.6, "desired_at_target_s": 1.6,
            "ready_at_target_s": 2.1, "cluster_start_up_s": 0.5, "load_end_s": 20.0, "desired_back_s": 5.9,
            "ready_back_s": 6.0, "max_wanted": 4, "requests": 5000, "rps": 250.0, "p50_ms": 20.0,
            "p99_ms": 90.0, "failed": 0, "errors_by_status": {},
            "timeline": [[-2.0, 1, 1, 1], [0.6, 1, 1, 4], [1.6, 1, 4, 4], [2.1, 4, 4, 4], [26.0, 1, 1, 1]],
            "events": [[0.6, "amlcore-fe: bench-autoscale: scale up, 1 -> 4 replicas"]]},
        "wake": {"idle_s": 2, "max_request_wait_ms": 10000,
                 "first_answer_s": {"trivial score.py": [0.2, 0.3], "sklearn diabetes model": [1.4, 1.5]},
                 "process_start_up_s": {"trivial score.py": 0.1, "sklearn diabetes model": 1.1}},
        "idle_memory": {"services": 20,
                        "scaled to zero": {"replica_processes": 0, "front_end_rss_mib": 11.0,
                                           "replicas_rss_mib": 0.0, "pss_mib": 3.0},
                        "running": {"replica_processes": 20, "front_end_rss_mib": 12.0,
                                    "replicas_rss_mib": 400.0, "pss_mib": None}},
    }
    figures, report = tmp_path / "figures.json", tmp_path / "BENCHMARKS.md"
    figures.write_text(json.dumps(recorded))
    done = subprocess.run([sys.executable, BENCH, "--from-json", str(figures), "--output", str(report)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    text = report.read_text()
    for expected in ("## Autoscaling", "## Scale from zero", "## Memory", "- Autoscaler: 4 ready replicas",
                     "- Scale from zero to the first answer", "| running | 20 |"):
        assert expected in text, expected
    assert "## Scoring" not in text  # no figures, no section
