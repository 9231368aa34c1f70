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
