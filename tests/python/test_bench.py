"""The benchmark command works: a short run on tiny sizes writes a complete report."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_a_short_benchmark_run_writes_every_section(tmp_path):
    report, figures = tmp_path / "BENCHMARKS.md", tmp_path / "figures.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMLCORE_")}
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "bench.py"), "--duration", "1", "--rounds", "1",
         "--concurrency", "1,4", "--repeats", "1", "--models", "5", "--services", "2", "--output", str(report),
         "--json", str(figures)],
        env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    text = report.read_text()
    for heading in ("## Scoring: trivial", "## Scoring: sklearn diabetes", "## What the front end adds",
                    "## Memory", "## Control plane", "## Against the goals"):
        assert heading in text
    results = json.loads(figures.read_text())
    for name, runs in results["scoring"].items():
        assert [r["connections"] for r in runs] == [1, 4], name
        for r in runs:
            assert r["requests"] > 0 and r["errors"] == 0, (name, r)
    assert results["scale"]["models"] == 6 and results["scale"]["services"] == 2  # with the diabetes model
    assert results["scale"]["replica_processes"] == 2
