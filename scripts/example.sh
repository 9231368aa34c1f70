#!/usr/bin/env bash
# Installs what is missing, builds, and runs the main example end to end on the local backend: the Python
# quick start (examples/python/quickstart.py), the controlled rollout of an AksEndpoint
# (examples/python/controlled_rollout.py), then the quick start's flow in C++ (examples/cpp).
# State goes to $AMLCORE_HOME (default ~/.amlcore); the workspace server keeps running afterwards
# (stop it with: .venv/lib/python3*/site-packages/amlcore/bin/amlcored --stop).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/build.sh
echo "== Python quick start"
.venv/bin/python examples/python/quickstart.py
echo "== Python controlled rollout"
.venv/bin/python examples/python/controlled_rollout.py
echo "== C++ quick start"
bash scripts/cpp_example.sh
