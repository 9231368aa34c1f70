#!/usr/bin/env bash
# Installs the Debian packages amlcore needs to build, test, benchmark and run its examples.
# Idempotent: packages already present are skipped, and apt is not touched when nothing is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config openssl curl
  libboost1.81-dev libboost-json1.81-dev libssl-dev libabsl-dev libsqlite3-dev
  pybind11-dev python3-dev python3-venv python3-pip python3-pytest
  libgtest-dev libgmock-dev libcli11-dev libyaml-cpp-dev
  python3-numpy python3-sklearn python3-pandas python3-flask python3-requests gunicorn wrk
  nginx-light
  python3-kubernetes python3-yaml nodejs
)
# The Kubernetes double's schema validator needs npm. NodeSource's nodejs ships its own npm and conflicts with
# Debian's npm package, so npm is asked for only when no npm is on PATH.
command -v npm >/dev/null 2>&1 || packages+=(npm)
# The double's checks drive a real kubectl; Debian's is used when the machine has none of its own.
command -v kubectl >/dev/null 2>&1 || packages+=(kubernetes-client)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing=()
for p in "${packages[@]}"; do installed "$p" || missing+=("$p"); done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} Debian packages present"
  exit 0
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive

# python3-sklearn -> python3-scipy -> python3-pythran depends on `libboost-dev`, which in Debian 12 means Boost
# 1.74 and conflicts with the Boost 1.81 amlcore needs (1.74 has no Boost.JSON). Pythran only wants Boost
# headers when it compiles user code, which nothing here does, so a local `libboost-dev` metapackage that
# depends on libboost1.81-dev satisfies it with the newer headers.
extra=()
if ! installed libboost-dev; then
  shim=$(mktemp -d)
  mkdir -p "$shim/pkg/DEBIAN"
  cat >"$shim/pkg/DEBIAN/control" <<'CONTROL'
Package: libboost-dev
Version: 1.81.0.0+amlcore1
Architecture: all
Maintainer: amlcore <amlcore@localhost>
Depends: libboost1.81-dev
Section: libdevel
Priority: optional
Description: Boost headers at version 1.81 (local metapackage for amlcore)
 Satisfies packages that depend on libboost-dev with Debian's Boost 1.81.
CONTROL
  dpkg-deb --build --root-owner-group "$shim/pkg" "$shim/libboost-dev_1.81.deb" >/dev/null
  chmod -R a+rX "$shim"
  extra+=("$shim/libboost-dev_1.81.deb")
fi

echo "setup: installing ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${extra[@]}" "${missing[@]}"
# The benchmark runs nginx-light's binary as processes of its own on loopback ports; a system nginx that the
# package's install started listens on port 80 of every interface, so it is stopped and left disabled.
if [[ " ${missing[*]} " == *" nginx-light "* ]]; then
  if command -v systemctl >/dev/null && systemctl is-active --quiet nginx 2>/dev/null; then
    "${sudo_cmd[@]}" systemctl disable --now nginx >/dev/null 2>&1 || true
  elif [[ -x /etc/init.d/nginx ]] && /etc/init.d/nginx status >/dev/null 2>&1; then
    "${sudo_cmd[@]}" /etc/init.d/nginx stop >/dev/null 2>&1 || true
    "${sudo_cmd[@]}" update-rc.d nginx disable >/dev/null 2>&1 || true
  fi
fi
echo "setup: done"
