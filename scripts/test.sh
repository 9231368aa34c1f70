#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the GoogleTest suites (ctest), the Python suites
# (pytest, through the installed package), and the C++ example built against the installed CMake package.
# Exits non-zero if any of them fails; each runner prints its summary.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${AMLCORE_BUILD_DIR:-build}

bash scripts/build.sh
failed=()

echo "== GoogleTest (ctest)"
ctest --test-dir "$build" --output-on-failure --timeout 300 -j2 || failed+=("ctest")

echo "== pytest"
timeout 1800 .venv/bin/python -m pytest tests/python -q -p no:cacheprovider || failed+=("pytest")

echo "== C++ example against the installed package"
if bash scripts/cpp_example.sh; then echo "C++ example: passed"; else failed+=("cpp example"); fi

if ((${#failed[@]})); then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "All test suites passed."
