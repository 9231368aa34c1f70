"""The runtime image's two definitions agree: docker/Dockerfile and scripts/build-image.sh install
docker/runtime-packages.txt through the same script steps and give the image the same user, PATH, working
directory and labels. Checked by reading them; nothing is built.

AMLCORE_TEST_BUILD_IMAGE=1 also builds the image with the script (as root, with Debian's archive reachable: minutes) and
runs amlcore's programs and a scoring request in a chroot of it."""

import contextlib
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCKERFILE = os.path.join(ROOT, "docker", "Dockerfile")
SCRIPT = os.path.join(ROOT, "scripts", "build-image.sh")
PACKAGE_LIST = os.path.join(ROOT, "docker", "runtime-packages.txt")


def read(path):
    with open(path) as f:
        return f.read()


def list_entries():
    """(packages, stand-ins) of docker/runtime-packages.txt."""
    names = [line.split("#", 1)[0].strip() for line in read(PACKAGE_LIST).splitlines()]
    names = [n for n in names if n]
    return [n for n in names if not n.startswith("!")], [n[1:] for n in names if n.startswith("!")]


def dockerfile_stages():
    """The Dockerfile's stages, each a list of (INSTRUCTION, arguments) with continuation lines joined."""
    text = re.sub(r"\\\n", " ", read(DOCKERFILE))
    stages = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, arguments = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            stages.append([])
        stages[-1].append((instruction, arguments.strip()))
    return stages


def script_setting(name):
    match = re.search(r"\b{}=(\"[^\"]*\"|\S+)".format(name), read(SCRIPT))
    assert match, name
    return shlex.split(match.group(1))[0]


def labels(arguments):
    return dict(word.split("=", 1) for word in shlex.split(arguments))


def test_script_is_valid_bash():
    out = subprocess.run(["bash", "-n", SCRIPT], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert os.access(SCRIPT, os.X_OK)


def test_package_list_names_debian_packages_once():
    packages, stubs = list_entries()
    names = packages + stubs
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9+.-]+", n) for n in names), names
    assert len(set(names)) == len(names), names
    # What amlcore-score needs to run a scoring script at all.
    assert {"python3", "libpython3.11"} <= set(packages)


def test_script_installs_the_package_list():
    out = subprocess.run([SCRIPT, "--list-packages"], capture_output=True, text=True, timeout=30, check=True)
    packages, stubs = list_entries()
    assert out.stdout.split() == packages + ["!" + s for s in stubs]


def test_dockerfile_runtime_stage_installs_the_list_through_the_script():
    build, runtime = dockerfile_stages()
    assert runtime[0] == ("FROM", "debian:12-slim")
    copies = [args for instruction, args in runtime if instruction == "COPY" and "--from" not in args]
    assert any(args.split()[0] == "docker/runtime-packages.txt" for args in copies), copies
    assert any(args.split()[0] == "scripts/build-image.sh" for args in copies), copies
    runs = " && ".join(args for instruction, args in runtime if instruction == "RUN")
    assert "build-image.sh --install-packages" in runs
    # Every package comes from the list: the runtime stage names none of its own.
    assert "apt-get" not in runs
    build_runs = " && ".join(args for instruction, args in build if instruction == "RUN")
    assert "build-image.sh --assemble /opt/amlcore" in build_runs
    assert ("COPY", "--from=build /opt/amlcore /opt/amlcore") in runtime


def test_dockerfile_and_script_give_the_image_the_same_settings():
    runtime = dockerfile_stages()[-1]
    settings = {instruction: args for instruction, args in runtime if instruction in ("ENV", "USER", "WORKDIR")}
    uid, home = script_setting("IMAGE_UID"), script_setting("IMAGE_HOME")
    assert settings["ENV"] == "PATH=" + script_setting("IMAGE_PATH")
    assert settings["USER"] == "{0}:{0}".format(uid)
    assert settings["WORKDIR"] == home
    runs = " && ".join(args for instruction, args in runtime if instruction == "RUN")
    assert "useradd --uid {0} --gid {0} --create-home --home-dir {1} --shell /usr/sbin/nologin {2}".format(
        uid, home, script_setting("IMAGE_USER")) in runs
    label = labels(" ".join(args for instruction, args in runtime if instruction == "LABEL"))
    assert label["org.opencontainers.image.title"] == script_setting("IMAGE_TITLE")
    assert label["org.opencontainers.image.description"] == script_setting("IMAGE_DESCRIPTION")
    assert not any(instruction in ("ENTRYPOINT", "CMD") for instruction, _ in runtime)


def test_dockerfile_builds_with_the_packages_developers_build_with():
    build = dockerfile_stages()[0]
    installs = [args for instruction, args in build if instruction == "RUN" and "apt-get install" in args]
    assert len(installs) == 1
    wanted = [w for w in installs[0].split("apt-get install", 1)[1].split("&&")[0].split() if not w.startswith("-")]
    setup = read(os.path.join(ROOT, "scripts", "setup.sh"))
    listed = set(re.search(r"packages=\((.*?)\n\)", setup, re.S).group(1).split())
    # build-essential is setup.sh's way of asking for g++.
    assert set(wanted) - {"g++"} <= listed, set(wanted) - {"g++"} - listed
    assert "-DCMAKE_BUILD_TYPE=Release" in " ".join(args for _, args in build)


def test_dockerfile_copies_what_exists():
    for stage in dockerfile_stages():
        for instruction, args in stage:
            if instruction == "COPY" and "--from" not in args:
                for source in args.split()[:-1]:
                    assert os.path.exists(os.path.join(ROOT, source)), source


# --- Building the image (opt-in) ----------------------------------------------------------------------------------

SCORE_PY = '''\
import json

import numpy as np
from azureml.core.model import Model  # noqa: F401  (amlcore's stand-in, from the image's Python package)
from sklearn.linear_model import LinearRegression


def init():
    global model
    model = LinearRegression().fit(np.array([[0.0], [1.0], [2.0]]), np.array([1.0, 3.0, 5.0]))


def run(raw_data):
    return model.predict(np.array(json.loads(raw_data)["data"])).tolist()
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def mounted_proc(rootfs):
    # amlcore-score finds its Python package through /proc/self/exe.
    subprocess.run(["mount", "-t", "proc", "proc", os.path.join(rootfs, "proc")], check=True)
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", os.path.join(rootfs, "proc")], check=True)


@pytest.mark.skipif(os.environ.get("AMLCORE_TEST_BUILD_IMAGE") != "1",
                    reason="builds the runtime image (minutes, root, Debian's archive): set AMLCORE_TEST_BUILD_IMAGE=1")
def test_built_image_runs_amlcore_and_scores_in_a_chroot(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("building the image and chrooting into it need root")
    tag = "amlcore/runtime:test"
    archive = tmp_path / "image.oci.tar"
    subprocess.run([SCRIPT, "--output", str(archive), "--tag", tag], check=True, timeout=3600)

    layout, bundle = tmp_path / "layout", tmp_path / "bundle"
    layout.mkdir()
    subprocess.run(["tar", "-C", str(layout), "-xf", str(archive)], check=True)
    subprocess.run(["umoci", "unpack", "--image", "{}:{}".format(layout, tag), str(bundle)], check=True,
                   stdout=subprocess.DEVNULL)
    rootfs = str(bundle / "rootfs")
    process = json.loads((bundle / "config.json").read_text())["process"]
    assert (process["user"]["uid"], process["user"]["gid"]) == (10001, 10001)
    assert process["cwd"] == "/home/amlcore"
    path = next(e for e in process["env"] if e.startswith("PATH="))[len("PATH="):]

    def chroot(*command, **kwargs):
        return subprocess.run(["chroot", "--userspec=10001:10001", rootfs, "/usr/bin/env", "-i", "PATH=" + path,
                               "HOME=/home/amlcore", *command], capture_output=True, text=True, timeout=120, **kwargs)

    # Neither program has --help; an unknown flag prints its usage, which proves it loads and links.
    for program in ("amlcore-score", "amlcore-fe"):
        out = chroot(program, "--help", "x")
        assert out.returncode == 2 and "usage: " + program in out.stderr, out.stderr
    out = chroot("amlcored", "--help")
    assert out.returncode == 0, out.stderr
    out = chroot("python3", "-c", "import sklearn, numpy, joblib, scipy, pandas; print(sklearn.__version__)")
    assert out.returncode == 0, out.stderr

    app = os.path.join(rootfs, "tmp", "app")
    os.makedirs(app)
    with open(os.path.join(app, "score.py"), "w") as f:
        f.write(SCORE_PY)
    port = free_port()
    with mounted_proc(rootfs):
        replica = subprocess.Popen(
            ["chroot", "--userspec=10001:10001", rootfs, "/usr/bin/env", "-i", "PATH=" + path, "HOME=/home/amlcore",
             "AML_APP_ROOT=/tmp/app", "AZUREML_ENTRY_SCRIPT=score.py", "AZUREML_MODEL_DIR=/tmp/app",
             "amlcore-score", "--host", "127.0.0.1", "--port", str(port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 60
            while True:
                assert replica.poll() is None, replica.stdout.read()
                try:
                    urllib.request.urlopen("http://127.0.0.1:{}/".format(port), timeout=5).read()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "amlcore-score did not start"
                    time.sleep(0.2)
            request = urllib.request.Request("http://127.0.0.1:{}/score".format(port),
                                             data=json.dumps({"data": [[3.0], [4.0]]}).encode(),
                                             headers={"Content-Type": "application/json"})
            answer = json.loads(urllib.request.urlopen(request, timeout=30).read())
            assert [round(x, 6) for x in answer] == [7.0, 9.0], answer
        finally:
            replica.terminate()
            try:
                replica.wait(timeout=10)
            except subprocess.TimeoutExpired:
                replica.kill()
                replica.wait()
    # Pytest keeps the last runs' directories; the image would keep several hundred MB each.
    for directory in (bundle, layout):
        shutil.rmtree(str(directory), ignore_errors=True)
    archive.unlink()
