#!/usr/bin/env bash
# Starts the Kubernetes API server double in the background and prints its pid; `kill PID` stops it and every
# pod process it started. Usage:
#   scripts/k8s-double.sh --kubeconfig FILE [--context NAME] [--state-dir DIR] [--node NAME=cpu,memory[,gpu]]...
#                         [--image NAME=DIR|host]... [--deny VERB:GROUP/RESOURCE[:NAMESPACE]]... [--backoff-base S]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PYTHONPATH="$here/tests${PYTHONPATH:+:$PYTHONPATH}"
exec /usr/bin/python3 -m k8s_double "$@"
