#!/usr/bin/env bash
# Validates Kubernetes manifests (JSON files, or stdin) against Kubernetes' published schemas with npm's
# kubernetes-models, pinned in tests/k8s_schema/package-lock.json. Installs it once into
# tests/k8s_schema/node_modules (from npm's cache when it can, else from the registry). Usage:
#   scripts/validate-manifests.sh FILE.json...     or     ... | scripts/validate-manifests.sh
set -euo pipefail
dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../tests/k8s_schema" && pwd)
if [[ ! -f $dir/node_modules/.package-lock.json || $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]]; then
  (cd "$dir" && { npm ci --offline --no-audit --no-fund --loglevel=error >/dev/null 2>&1 ||
                  npm ci --no-audit --no-fund --loglevel=error >/dev/null; }) ||
    { echo "validate-manifests: npm ci failed in $dir" >&2; exit 2; }
fi
exec node "$dir/validate.mjs" "$@"
