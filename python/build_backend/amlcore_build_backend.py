"""An in-tree PEP 517 build backend for amlcore that needs nothing from PyPI.

It builds the native parts with CMake and Ninja (in ``build/`` of the source tree, or ``$AMLCORE_BUILD_DIR``,
so that the test build and ``pip install .`` share one build) and packs a wheel by hand: the Python
package, ``_core``, ``libamlcore`` and the ``amlcored`` / ``amlcore-fe`` / ``amlcore`` executables under
``amlcore/bin``, and a ``amlcore`` script that pip puts on the environment's PATH and that runs the command line.
"""

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile

NAME = "amlcore"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The one place the version is written; CMake reads it too.
with open(os.path.join(ROOT, "VERSION")) as _f:
    VERSION = _f.read().strip()
SUMMARY = "Azure Machine Learning's azureml.core deployment API, run locally"
# Installed into the environment's bin/ (pip writes its interpreter over "#!python"): it finds the package without
# importing it, so the command line starts without loading the Python SDK, and runs the executable in its place.
# The commands pip puts on PATH: each runs the program of the same name shipped in the package.
PROGRAM_SCRIPT = """#!python
\"\"\"{doc}\"\"\"
import importlib.util
import os
import sys

program = os.path.join(importlib.util.find_spec("amlcore").submodule_search_locations[0], "bin", "{name}")
os.execv(program, [program] + sys.argv[1:])
"""
SCRIPTS = {
    "amlcore": "amlcore: Azure ML's `az ml` (v1) command line, run by amlcore. See `amlcore ml --help`.",
    "amlcored": "amlcored: the workspace server (the SDK starts it when needed). See `amlcored --help`.",
}


def _build_dir():
    return os.environ.get("AMLCORE_BUILD_DIR") or os.path.join(ROOT, "build")


def _run(command):
    print("amlcore build:", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=ROOT)


def _build_native():
    build = _build_dir()
    if not os.path.exists(os.path.join(build, "CMakeCache.txt")):
        python = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
        _run(["cmake", "-S", ROOT, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
              "-DPython_EXECUTABLE=" + python])
    _run(["cmake", "--build", build, "--target", "_core", "amlcored", "amlcore-fe", "amlcore-score", "amlcore",
          "amlcore-cli"])
    return build


def _built(build, relative):
    path = os.path.join(build, relative)
    if not os.path.exists(path):
        raise RuntimeError("amlcore build: {} is missing after the build".format(path))
    return path


def _tag():
    version = "cp{}{}".format(sys.version_info.major, sys.version_info.minor)
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return "{}-{}-{}".format(version, version, platform)


def _metadata():
    return ("Metadata-Version: 2.1\nName: {}\nVersion: {}\nSummary: {}\nRequires-Python: >=3.9\n"
            "License: MIT\n").format(NAME, VERSION, SUMMARY)


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "{},sha256={},{}".format(arcname, digest, len(data))


def _stripped(path):
    """The file's bytes without debug sections (the build keeps them for debugging)."""
    strip = shutil.which("strip")
    if strip is None:
        with open(path, "rb") as f:
            return f.read()
    copy = path + ".wheel"
    shutil.copyfile(path, copy)
    subprocess.run([strip, "--strip-debug", copy], check=True)
    with open(copy, "rb") as f:
        data = f.read()
    os.remove(copy)
    return data


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    dist_info = "{}-{}.dist-info".format(NAME, VERSION)
    os.makedirs(os.path.join(metadata_directory, dist_info), exist_ok=True)
    with open(os.path.join(metadata_directory, dist_info, "METADATA"), "w") as f:
        f.write(_metadata())
    return dist_info


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    build = _build_native()
    files = []  # (arcname, bytes, executable)
    package = os.path.join(ROOT, "python", NAME)
    for directory, _, names in os.walk(package):
        for name in sorted(names):
            if name.endswith((".py", ".pyi")) or name == "py.typed":
                path = os.path.join(directory, name)
                with open(path, "rb") as f:
                    files.append((os.path.relpath(path, os.path.join(ROOT, "python")), f.read(), False))
    core = _built(build, os.path.join("python", NAME, "_core" + sysconfig.get_config_var("EXT_SUFFIX")))
    files.append((NAME + "/" + os.path.basename(core), _stripped(core), False))
    files.append((NAME + "/libamlcore.so.0", _stripped(_built(build, "src/libamlcore.so.0")), False))
    for program in ("amlcored", "amlcore-fe", "amlcore-score"):
        files.append((NAME + "/bin/" + program, _stripped(_built(build, "src/" + program)), True))
    files.append((NAME + "/bin/amlcore", _stripped(_built(build, "src/cli/amlcore")), True))
    for name, doc in SCRIPTS.items():
        files.append(("{}-{}.data/scripts/{}".format(NAME, VERSION, name),
                      PROGRAM_SCRIPT.format(name=name, doc=doc).encode(), True))

    dist_info = "{}-{}.dist-info".format(NAME, VERSION)
    files.append((dist_info + "/METADATA", _metadata().encode(), False))
    files.append((dist_info + "/WHEEL", "Wheel-Version: 1.0\nGenerator: amlcore_build_backend\n"
                                        "Root-Is-Purelib: false\nTag: {}\n".format(_tag()).encode(), False))
    files.append((dist_info + "/top_level.txt", (NAME + "\n").encode(), False))
    record = [_record_line(arcname, data) for arcname, data, _ in files]
    record.append(dist_info + "/RECORD,,")

    wheel_name = "{}-{}-{}.whl".format(NAME, VERSION, _tag())
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel_name), "w", zipfile.ZIP_DEFLATED) as wheel:
        for arcname, data, executable in files:
            info = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = ((0o755 if executable else 0o644) | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(info, data)
        wheel.writestr(dist_info + "/RECORD", "\n".join(record) + "\n")
    return wheel_name


def build_sdist(sdist_directory, config_settings=None):
    base = "{}-{}".format(NAME, VERSION)
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    archive = os.path.join(sdist_directory, base + ".tar.gz")
    with tarfile.open(archive, "w:gz") as tar:
        for relative in tracked.splitlines():
            tar.add(os.path.join(ROOT, relative), arcname=os.path.join(base, relative))
        info = tarfile.TarInfo(os.path.join(base, "PKG-INFO"))
        data = _metadata().encode()
        info.size = len(data)
        import io
        tar.addfile(info, io.BytesIO(data))
    return base + ".tar.gz"
