#!/usr/bin/env bash
# Installs missing Debian packages, builds amlcore in build/ (Ninja + ccache), and installs the Python package
# into .venv (a virtual environment over Debian's Python, offline).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
build=${AMLCORE_BUILD_DIR:-build}
# Paths relative to the checkout, so clones of the repository on one machine share ccache's results.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPython_EXECUTABLE=/usr/bin/python3
fi
cmake --build "$build"

if [[ ! -x .venv/bin/python ]]; then
  /usr/bin/python3 -m venv --system-site-packages .venv
fi
AMLCORE_BUILD_DIR="$build" .venv/bin/python -m pip install --no-index --quiet .
