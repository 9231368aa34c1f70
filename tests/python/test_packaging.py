"""What `pip install .` installs: the commands on PATH, binaries free of build-tree paths and debug sections, and
a shared library that exports amlcore's public API and nothing else."""

import os
import re
import subprocess
import sys

import amlcore

PACKAGE = os.path.dirname(amlcore.__file__)
NATIVE = [os.path.join(PACKAGE, name) for name in os.listdir(PACKAGE) if name.endswith((".so", ".so.0"))] + \
         [os.path.join(PACKAGE, "bin", name) for name in ("amlcore", "amlcored", "amlcore-fe", "amlcore-score")]


def readelf(*args):
    return subprocess.run(["readelf", *args], capture_output=True, text=True, check=True).stdout


def test_amlcore_and_amlcored_are_commands_of_the_environment():
    for command in ("amlcore", "amlcored"):
        path = os.path.join(sys.prefix, "bin", command)
        assert os.access(path, os.X_OK), path
        out = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and out.stdout, (command, out.stderr)


def test_native_files_name_no_build_directory_and_carry_no_debug_sections():
    assert len(NATIVE) == 6, NATIVE
    for path in NATIVE:
        dynamic = readelf("-d", path)
        for runpath in re.findall(r"\((?:RUNPATH|RPATH)\)\s+Library r(?:un)?path: \[(.*)\]", dynamic):
            for entry in runpath.split(":"):
                assert entry.startswith("$ORIGIN"), (path, runpath)
        sections = readelf("-S", "-W", path)
        assert ".debug_info" not in sections, path


def test_the_library_exports_only_amlcores_public_api():
    library = os.path.join(PACKAGE, "libamlcore.so.0")
    out = subprocess.run(["nm", "-D", "-C", "--defined-only", library], capture_output=True, text=True,
                         check=True).stdout
    names = [line.split(" ", 2)[2] for line in out.splitlines() if line.count(" ") >= 2]
    public = re.compile(r"^(typeinfo for |typeinfo name for |vtable for )?amlcore::[A-Z]")
    strays = [name for name in names if not public.match(name)]
    assert not strays, strays[:20]
    assert any(name.startswith("amlcore::Workspace::") for name in names)
    # Abseil's types appear in public signatures (absl::Status); none of its functions, nor Boost's, are exported.
    qualified = [name.split("(")[0] for name in names]
    assert not any("boost" in q or "asio" in q or "absl" in q for q in qualified), qualified
