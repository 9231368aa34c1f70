#!/usr/bin/env bash
# Installs amlcore into build/install, builds examples/cpp against that installation with find_package, and
# runs it. Uses a private AMLCORE_HOME unless one is set, and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${AMLCORE_BUILD_DIR:-build}
prefix="$PWD/$build/install"

cmake --install "$build" --prefix "$prefix" --strip >/dev/null
cmake -S examples/cpp -B "$build/example" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$build/example" >/dev/null

own_home=""
if [[ -z "${AMLCORE_HOME:-}" ]]; then
  own_home=$(mktemp -d)
  export AMLCORE_HOME="$own_home"
fi
status=0
"$build/example/compute_quickstart" || status=$?
if ((status == 0)); then
  "$build/example/deploy_quickstart" "$PWD/examples/cpp/score" || status=$?
fi
if [[ -n "$own_home" ]]; then
  "$prefix/bin/amlcored" --stop --with-clusters >/dev/null
  rm -rf "$own_home"
fi
exit $status
