#!/usr/bin/env bash
# Builds the amlcore runtime container image (the one docker/Dockerfile describes) without a container daemon:
# mmdebstrap makes a Debian 12 root file system holding docker/runtime-packages.txt, the amlcore install tree and
# Python package go to /opt/amlcore, and umoci writes the result as an OCI image archive. Runs as root on Debian 12.
# docker/Dockerfile runs the --assemble and --install-packages steps of this script, so both images agree.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/build-image.sh [--output FILE] [--tag NAME:TAG] [--prefix DIR]
  --output FILE   OCI archive to write (default: build/amlcore-runtime.oci.tar)
  --tag NAME:TAG  image name recorded in the archive (default: amlcore/runtime:<version>)
  --prefix DIR    an existing `cmake --install` prefix to put in /opt/amlcore
                  (default: `cmake --install build --prefix <temporary> --strip`)
The steps on their own (docker/Dockerfile uses them):
  scripts/build-image.sh [--prefix DIR] --assemble DEST
                  lay out /opt/amlcore in DEST: the install tree and the Python package of build/
  scripts/build-image.sh --install-packages
                  apt-get install docker/runtime-packages.txt into this system (a Debian 12 image)
  scripts/build-image.sh --list-packages
                  print what docker/runtime-packages.txt asks for ('!NAME': an empty stand-in for NAME)
EOF
}

die() { echo "build-image: $*" >&2; exit 1; }
log() { echo "build-image: $*" >&2; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mode=image
output="$root/build/amlcore-runtime.oci.tar"
tag=""
prefix=""
assemble_dest=""
while (($#)); do
  case "$1" in
    --output) (($# >= 2)) || die "--output needs a value"; output=$2; shift 2 ;;
    --output=*) output=${1#*=}; shift ;;
    --tag) (($# >= 2)) || die "--tag needs a value"; tag=$2; shift 2 ;;
    --tag=*) tag=${1#*=}; shift ;;
    --prefix) (($# >= 2)) || die "--prefix needs a value"; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#*=}; shift ;;
    --assemble) (($# >= 2)) || die "--assemble needs a directory"; mode=assemble; assemble_dest=$2; shift 2 ;;
    --install-packages) mode=install-packages; shift ;;
    --list-packages) mode=list-packages; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

# The image's fixed settings; docker/Dockerfile states the same ones (tests/python/test_image.py compares them).
readonly IMAGE_USER=amlcore IMAGE_UID=10001 IMAGE_HOME=/home/amlcore
readonly IMAGE_PATH=/opt/amlcore/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
readonly IMAGE_TITLE="amlcore-runtime"
readonly IMAGE_DESCRIPTION="amlcore scoring runtime (amlcore-score, embedded Python) and router (amlcore-fe)"
readonly SUITE=bookworm
readonly PACKAGE_LIST="$root/docker/runtime-packages.txt"
# Above any version Debian gives the real package, so that an apt-get upgrade in a derived image keeps it.
readonly STUB_VERSION="1:0+amlcore1"

# --- Package list -------------------------------------------------------------------------------------------------
# A package a line; '!NAME' stands for an empty local package named NAME that replaces Debian's (see the list).
packages=()
stubs=()
read_list() {
  local name _
  while read -r name _; do
    name=${name%%#*}
    [[ -n $name ]] || continue
    if [[ $name == '!'* ]]; then stubs+=("${name#!}"); else packages+=("$name"); fi
  done <"$PACKAGE_LIST"
  ((${#packages[@]})) || die "$PACKAGE_LIST lists no packages"
}

# Writes DIR/NAME.deb for every stand-in.
make_stubs() {
  local dir=$1 name work
  work=$(mktemp -d)
  for name in "${stubs[@]}"; do
    mkdir -p "$work/$name/DEBIAN"
    printf '%s\n' "Package: $name" "Version: $STUB_VERSION" "Architecture: all" \
      "Maintainer: amlcore <amlcore@localhost>" "Section: misc" "Priority: optional" \
      "Description: empty stand-in for $name in the amlcore runtime image" \
      " Nothing in the image uses the files of $name at run time (see docker/runtime-packages.txt)." \
      >"$work/$name/DEBIAN/control"
    dpkg-deb --build --root-owner-group "$work/$name" "$dir/$name.deb" >/dev/null
  done
  rm -rf "$work"
}

[[ $mode == assemble ]] || read_list

if [[ $mode == list-packages ]]; then
  printf '%s\n' "${packages[@]}"
  ((${#stubs[@]} == 0)) || printf '!%s\n' "${stubs[@]}"
  exit 0
fi

if [[ $mode == install-packages ]]; then
  [[ $(id -u) -eq 0 ]] || die "--install-packages runs apt-get: run as root"
  stubdir=$(mktemp -d)
  trap 'rm -rf "$stubdir"' EXIT
  make_stubs "$stubdir"
  debs=()
  for name in "${stubs[@]}"; do debs+=("$stubdir/$name.deb"); done
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${debs[@]}" "${packages[@]}"
  apt-get clean
  rm -rf /var/lib/apt/lists/*
  exit 0
fi

# --- /opt/amlcore -------------------------------------------------------------------------------------------------
# The install tree, plus the amlcore Python package at its top (as the wheel lays it out): amlcore-score finds
# <its bin/..>/_shims, which make azureml.core, azureml.contrib.services and inference_schema importable for
# scoring scripts, and puts the directory above on sys.path, where `import amlcore` finds this package.
assemble() {
  local dest=$1 package="$root/build/python/amlcore" lib program
  mkdir -p "$dest"
  if [[ -n $prefix ]]; then
    [[ -d $prefix/bin ]] || die "$prefix is no amlcore install prefix (it has no bin/)"
    cp -a "$prefix/." "$dest/"
  else
    [[ -f $root/build/CMakeCache.txt ]] || die "no build directory at $root/build: build amlcore first, or pass --prefix"
    cmake --install "$root/build" --prefix "$dest" --strip >/dev/null
  fi
  for program in amlcore-score amlcore-fe; do
    [[ -x $dest/bin/$program ]] || die "the install tree has no bin/$program"
  done
  if [[ -f $dest/__init__.py ]]; then
    : # a prefix that already holds the Python package
  elif compgen -G "$package/_core*.so" >/dev/null; then
    (cd "$package" && find . -path '*/__pycache__' -prune -o -type f \
      \( -name '*.py' -o -name '*.pyi' -o -name py.typed -o -name '_core*.so' \) -print |
      while read -r f; do install -D -m 0644 "$f" "$dest/$f"; done)
    strip --strip-unneeded "$dest"/_core*.so
    # _core's run path is $ORIGIN: libamlcore sits next to it in the wheel, in lib/ here.
    for lib in "$dest"/lib*/libamlcore.so.0; do
      [[ -e $lib ]] && ln -sfn "${lib#"$dest"/}" "$dest/libamlcore.so.0"
      break
    done
  else
    log "warning: $package holds no built amlcore Python package: scoring scripts that import azureml.* or" \
      "inference_schema will fail in this image"
  fi
  chown -R 0:0 "$dest"
  chmod -R u+rwX,go+rX,go-w "$dest"
}

if [[ $mode == assemble ]]; then
  assemble "$assemble_dest"
  exit 0
fi

# --- The image ----------------------------------------------------------------------------------------------------
# mmdebstrap needs root here: the root file system's files must belong to root and dpkg runs in a chroot.
[[ $(id -u) -eq 0 ]] || die "run as root (mmdebstrap --mode=root builds the root file system)"
command -v apt-get >/dev/null || die "needs a Debian system (apt-get) to run mmdebstrap"

need=()
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
command -v umoci >/dev/null || need+=(umoci)
if ((${#need[@]})); then
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # A machine whose package lists were never fetched (e.g. a fresh container) needs one apt-get update.
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }
fi

start=$SECONDS
tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/amlcore-image.XXXXXX")
# dpkg runs inside the chroot and is handed the stand-ins' paths verbatim: mmdebstrap's file-mirror-automount
# hook mounts them at the same path there, under /tmp so that nothing but this directory is left to remove.
stubdir=$(mktemp -d /tmp/amlcore-stubs.XXXXXX)
cleanup() {
  # An interrupted mmdebstrap can leave /proc, /sys or /dev mounted in the root file system; rm must not reach
  # through them into the host's, so they are unmounted first and rm stays on one file system.
  local mounts
  mounts=$(awk -v t="$tmp/" 'index($2, t) == 1 {print $2}' /proc/mounts | sort -r)
  for m in $mounts; do umount -l "$m" 2>/dev/null || true; done
  rm -rf --one-file-system "$tmp" "$stubdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

amlcore="$tmp/amlcore"
assemble "$amlcore"
version=$(sed -n 's/^set(PACKAGE_VERSION "\(.*\)")$/\1/p' "$amlcore"/lib*/cmake/amlcore/amlcoreConfigVersion.cmake \
  2>/dev/null | head -n1 || true)
[[ -n $version ]] || version=$(head -n1 "$root/VERSION")
[[ -n $tag ]] || tag="amlcore/runtime:$version"
[[ $tag == *:* ]] || tag="$tag:$version"

make_stubs "$stubdir"
debs=()
for name in "${stubs[@]}"; do debs+=(--include="$stubdir/$name.deb"); done

# The machine's own apt sources for bookworm, bookworm-updates and bookworm-security (one-line and deb822 files),
# so that a machine behind a mirror or proxy builds from it; deb.debian.org when it has none.
host_sources() {
  local files=() f
  [[ -f /etc/apt/sources.list ]] && files+=(/etc/apt/sources.list)
  for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do [[ -f $f ]] && files+=("$f"); done
  ((${#files[@]})) || return 0
  # Prints "SUITE URI" for every enabled `deb` entry.
  awk '
    function flush(   i, n, s) {
      if (types ~ /(^| )deb( |$)/ && enabled != "no" && uri != "") {
        n = split(suites, s, " ")
        for (i = 1; i <= n; i++) print s[i], uri
      }
      types = ""; suites = ""; uri = ""; enabled = ""
    }
    FNR == 1 { flush(); deb822 = (FILENAME ~ /\.sources$/) }
    deb822 && /^[ \t]*$/ { flush(); next }
    deb822 && tolower($1) == "types:" { types = $0; sub(/^[^:]*:[ \t]*/, "", types) }
    deb822 && tolower($1) == "uris:" { uri = $2 }
    deb822 && tolower($1) == "suites:" { suites = $0; sub(/^[^:]*:[ \t]*/, "", suites) }
    deb822 && tolower($1) == "enabled:" { enabled = tolower($2) }
    !deb822 && $1 == "deb" {
      i = 2
      if ($i ~ /^\[/) { while ($i !~ /\]$/ && i < NF) i++; i++ }
      print $(i + 1), $i
    }
    END { flush() }
  ' "${files[@]}"
}
mirrors=()
declare -A seen=()
while read -r suite uri; do
  case "$suite" in
    "$SUITE" | "$SUITE-updates" | "$SUITE-security")
      [[ -z ${seen[$suite]:-} ]] || continue
      seen[$suite]=1
      mirrors+=("deb ${uri%/} $suite main") ;;
  esac
done < <(host_sources)
if [[ -z ${seen[$SUITE]:-} ]]; then
  mirrors=("deb http://deb.debian.org/debian $SUITE main" "deb http://deb.debian.org/debian $SUITE-updates main"
    "deb http://deb.debian.org/debian-security $SUITE-security main")
fi

rootfs="$tmp/rootfs"
log "mmdebstrap $SUITE from: ${mirrors[*]}"
include=$(IFS=,; echo "${packages[*]}")
# --variant=apt is Essential:yes plus apt, smaller than debian:12-slim's minbase; the path excludes are the ones
# debian:12-slim has (documentation, manuals and translations), kept in the image for packages added later.
# The merged-usr hook lays out /usr as debootstrap and debian:12 do, without the usrmerge package and its Perl.
mmdebstrap --mode=root --variant=apt --format=directory \
  --include="$include" "${debs[@]}" \
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr --hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/groff/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/lintian/*' \
  --dpkgopt='path-exclude=/usr/share/linda/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
  "$SUITE" "$rootfs" "${mirrors[@]}"
rm -rf --one-file-system "${rootfs:?}$stubdir"

chroot "$rootfs" groupadd --gid "$IMAGE_UID" "$IMAGE_USER"
chroot "$rootfs" useradd --uid "$IMAGE_UID" --gid "$IMAGE_UID" --create-home --home-dir "$IMAGE_HOME" \
  --shell /usr/sbin/nologin "$IMAGE_USER"

# Checked with /opt/amlcore in place: every shared library the programs need is in the image (a package missing
# from the list fails here), and Python imports what scoring scripts do, with the path amlcore-score sets up.
mkdir -p "$rootfs/opt/amlcore"
mount --bind "$amlcore" "$rootfs/opt/amlcore"
# shellcheck disable=SC2016  # the script runs in the chroot, which expands its variables
missing=$(chroot "$rootfs" /bin/sh -c 'for f in /opt/amlcore/bin/* /opt/amlcore/*.so* /opt/amlcore/lib*/*.so*; do
  [ -f "$f" ] && ldd "$f" 2>/dev/null | sed -n "s|^\s*\(\S*\) => not found|$f: \1|p"; done' || true)
modules=numpy,scipy,sklearn,joblib,pandas
[[ -f $amlcore/__init__.py ]] && modules+=,amlcore,azureml.core,azureml.contrib.services.aml_request,inference_schema
imports=0
chroot "$rootfs" python3 -B -c "import sys; sys.path[:0] = ['/opt/amlcore/_shims', '/opt']; import $modules" ||
  imports=$?
# Bytecode made now, as amlcore's user cannot write it next to the modules at run time.
[[ -f $amlcore/__init__.py ]] && chroot "$rootfs" python3 -m compileall -q /opt/amlcore >/dev/null
umount "$rootfs/opt/amlcore"
rmdir "$rootfs/opt/amlcore"
[[ -z $missing ]] || die "libraries missing from docker/runtime-packages.txt:"$'\n'"$missing"
((imports == 0)) || die "the image's Python cannot import $modules"
# Container runtimes mount their own /dev; device nodes in a layer only trouble rootless unpacking.
find "$rootfs/dev" -mindepth 1 -delete

# Two layers, Debian then amlcore, so that registries and nodes keep the large Debian layer across amlcore builds.
log "writing the OCI image $tag"
oci="$tmp/oci"
umoci init --layout "$oci"
umoci new --image "$oci:$tag"
umoci insert --image "$oci:$tag" --history.created_by "mmdebstrap $SUITE: docker/runtime-packages.txt" "$rootfs" /
umoci insert --image "$oci:$tag" --history.created_by "amlcore install tree and Python package" "$amlcore" /opt/amlcore
labels=(
  "org.opencontainers.image.title=$IMAGE_TITLE"
  "org.opencontainers.image.description=$IMAGE_DESCRIPTION"
  "org.opencontainers.image.version=$version"
  "org.opencontainers.image.created=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
)
if revision=$(git -C "$root" rev-parse HEAD 2>/dev/null); then
  labels+=("org.opencontainers.image.revision=$revision")
fi
config=(--config.env "PATH=$IMAGE_PATH" --config.user "$IMAGE_UID:$IMAGE_UID" --config.workingdir "$IMAGE_HOME"
  --architecture "$(dpkg --print-architecture)" --os linux)
for label in "${labels[@]}"; do config+=(--config.label "$label" --manifest.annotation "$label"); done
umoci config --image "$oci:$tag" --history.created_by "image settings" "${config[@]}"
umoci gc --layout "$oci"

mkdir -p "$(dirname "$output")"
tar -C "$oci" -cf "$tmp/image.tar" oci-layout index.json blobs
mv -f "$tmp/image.tar" "$output"

unpacked=$(du -s --block-size=1M "$rootfs" "$amlcore" | awk '{s += $1} END {print s}')
compressed=$(du --block-size=1M --apparent-size "$output" | cut -f1)
cat <<EOF
build-image: wrote $output ($tag): ${compressed} MB compressed, ${unpacked} MB unpacked, in $((SECONDS - start)) s
Push it to a registry with skopeo (apt-get install skopeo):
  skopeo copy oci-archive:$output docker://REGISTRY/$tag
or load it into podman or buildah and push from there:
  podman load -i $output && podman push $tag REGISTRY/$tag
  buildah pull oci-archive:$output && buildah push $tag docker://REGISTRY/$tag
EOF
