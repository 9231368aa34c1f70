"""The README's Python example runs end to end."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_python_quickstart(home):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "python", "quickstart.py")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Creating" in out and 'Provisioning operation finished, operation "Succeeded"' in out
    assert "3 x Standard_D3_v2 (FastProd)" in out
    assert "Attached to quickstart-team-ws as shared-aks (is_attached=True)" in out
    assert 'AKS service creation operation finished, operation "Succeeded"' in out
    assert "Service diabetes-service is Healthy at http://127.0.0.1:" in out
    assert "Prediction over HTTP with the key: [" in out
    assert "Loaded " in out  # the replica's log
    assert out.rstrip().endswith("Compute targets of quickstart-ws: []")
    assert home.frontend_pids() == [] and home.replica_pids() == []


def test_python_controlled_rollout(home):
    import re
    result = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "python", "controlled_rollout.py"), "1000"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    # Each measured split is the configured one, within five standard deviations of 1000 draws.
    measured = re.findall(r"  (version\w) +(default|\d+ %) +(Treatment|Control) +served +(\d+) of (\d+)", out)
    shares = [(name, int(served) / int(total)) for name, _, _, served, total in measured]
    expected = [("versiona", 1.0), ("versiona", 0.9), ("versionb", 0.1), ("versiona", 0.2), ("versionb", 0.8),
                ("versiona", 1.0)]
    assert [name for name, _ in shares] == [name for name, _ in expected], out
    for (name, share), (_, want) in zip(shares, expected):
        assert abs(share - want) <= 5 * (want * (1 - want) / 1000) ** 0.5, (name, share, want)
    assert "  versionb  default   Control" in out
    assert "Version versionb was the default; version versiona (the oldest remaining one) is the default now" in out
    assert "pinned to versionb: [" in out
    assert out.rstrip().endswith("Webservices of rollout-ws: []")
    assert home.replica_pids() == []
