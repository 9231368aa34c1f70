"""The kubelet: runs each bound pod's containers as local processes, one worker thread per pod.

Per pod: a loopback IP, images resolved through the double's image table, volumes (emptyDir, secret, configMap,
the service-account token) prepared in the state directory and bind-mounted in a private mount namespace per
container, init containers in order, then the containers with probes, restarts with CrashLoopBackOff, a memory
limit through a cgroup (v1 or v2) when the machine allows one, logs kept per container instance, and graceful
termination on delete."""

import base64
import ctypes
import math
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import traceback
import urllib.error
import urllib.request

from . import apply as ssa
from . import meta
from . import resources as res

POD = res.BY_KEY["/pods"]
TICK = 0.1
MAX_BACKOFF = 300.0
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: no container outlives a killed double


class MemoryCgroups:
    """A child memory cgroup per container instance, under the double's own cgroup, when it can be made."""

    def __init__(self, tag):
        self.root = None
        self.v2 = False
        try:
            with open("/proc/self/cgroup") as f:
                lines = f.read().splitlines()
        except OSError:
            return
        for line in lines:
            _, controllers, path = line.split(":", 2)
            if "memory" in controllers.split(","):
                base = "/sys/fs/cgroup/memory" + path
                if self._try(base, tag):
                    return
        for line in lines:
            if line.startswith("0::"):
                base = "/sys/fs/cgroup" + line[3:]
                try:
                    with open("/sys/fs/cgroup/cgroup.controllers") as f:
                        if "memory" not in f.read().split():
                            continue
                except OSError:
                    continue
                self.v2 = True
                if self._try(base, tag):
                    return
                self.v2 = False

    def _try(self, base, tag):
        path = os.path.join(base, "k8s-double-" + tag)
        try:
            os.makedirs(path, exist_ok=True)
            probe = os.path.join(path, "probe")
            os.mkdir(probe)
            os.rmdir(probe)
            self.root = path
            return True
        except OSError:
            return False

    def create(self, name, limit_bytes):
        if not self.root:
            return None
        path = os.path.join(self.root, name)
        try:
            os.mkdir(path)
            if self.v2:
                _write(os.path.join(path, "memory.max"), str(int(limit_bytes)))
                _write(os.path.join(path, "memory.swap.max"), "0", ignore=True)
            else:
                _write(os.path.join(path, "memory.limit_in_bytes"), str(int(limit_bytes)))
                _write(os.path.join(path, "memory.memsw.limit_in_bytes"), str(int(limit_bytes)), ignore=True)
            return path
        except OSError:
            return None

    def oom_killed(self, path):
        try:
            if self.v2:
                with open(os.path.join(path, "memory.events")) as f:
                    return any(l.split()[0] == "oom_kill" and int(l.split()[1]) > 0 for l in f)
            with open(os.path.join(path, "memory.oom_control")) as f:
                text = f.read()
            m = re.search(r"oom_kill (\d+)", text)
            if m:
                return int(m.group(1)) > 0
            with open(os.path.join(path, "memory.failcnt")) as f:
                return int(f.read().strip() or 0) > 0
        except (OSError, ValueError):
            return False

    def remove(self, path):
        # The kernel frees a cgroup a moment after its last process is reaped: retry briefly while it is busy.
        if path:
            for _ in range(50):
                try:
                    os.rmdir(path)
                    return
                except FileNotFoundError:
                    return
                except OSError:
                    time.sleep(0.02)

    def close(self):
        if self.root:
            # A cgroup directory also lists its control files; only the child cgroups are directories.
            for entry in os.listdir(self.root) if os.path.isdir(self.root) else []:
                if os.path.isdir(os.path.join(self.root, entry)):
                    self.remove(os.path.join(self.root, entry))
            try:
                os.rmdir(self.root)
            except OSError:
                pass


def _write(path, text, ignore=False):
    try:
        with open(path, "w") as f:
            f.write(text)
    except OSError:
        if not ignore:
            raise


def mount_namespaces_work():
    try:
        return subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], timeout=10,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class Kubelet:
    def __init__(self, cluster):
        self.cluster = cluster
        self.workers = {}
        self.lock = threading.Lock()
        self.cgroups = MemoryCgroups(str(os.getpid()))
        self.mounts = mount_namespaces_work()
        self.created_dirs = []  # mount points the double had to create on the host, removed at exit

    def tick(self):
        for pod in self.cluster.store.list(POD.key):
            uid = pod["metadata"]["uid"]
            if not pod["spec"].get("nodeName"):
                continue
            with self.lock:
                if uid in self.workers:
                    continue
                w = PodWorker(self, pod)
                self.workers[uid] = w
            w.start()
        with self.lock:
            for uid in [u for u, w in self.workers.items() if not w.is_alive() and w.finished]:
                del self.workers[uid]

    def pids(self):
        with self.lock:
            return [pid for w in self.workers.values() for pid in w.pids()]

    def stop(self):
        with self.lock:
            workers = list(self.workers.values())
        for w in workers:
            w.shutdown.set()
        for w in workers:
            w.join(timeout=15)
        self.cgroups.close()
        for d in reversed(self.created_dirs):
            try:
                os.rmdir(d) if os.path.isdir(d) else os.unlink(d)
            except OSError:
                pass

    def worker(self, pod):
        with self.lock:
            return self.workers.get(pod["metadata"]["uid"])

    # -- logs --
    def logs(self, pod, query):
        spec = pod["spec"]
        names = [c["name"] for c in spec.get("containers") or []]
        init_names = [c["name"] for c in spec.get("initContainers") or []]
        name = query.get("container")
        pname = pod["metadata"]["name"]
        if not name:
            if len(names) != 1:
                msg = "a container name must be specified for pod {}, choose one of: [{}]".format(
                    pname, " ".join(names))
                if init_names:
                    msg += " or one of the init containers: [{}]".format(" ".join(init_names))
                raise meta.bad_request(msg)
            name = names[0]
        if name not in names + init_names:
            raise meta.bad_request("container {} is not valid for pod {}".format(name, pname))
        w = self.worker(pod)
        rt = w.runtimes.get(name) if w else None
        previous = query.get("previous") in ("1", "t", "T", "true", "TRUE", "True")
        if rt is None or (not previous and rt.instances == 0):
            reason = "ContainerCreating"
            for cs in (pod.get("status", {}).get("containerStatuses") or []) + \
                    (pod.get("status", {}).get("initContainerStatuses") or []):
                if cs["name"] == name and "waiting" in cs.get("state", {}):
                    reason = cs["state"]["waiting"].get("reason", reason)
            raise meta.bad_request('container "{}" in pod "{}" is waiting to start: {}'.format(name, pname, reason))
        if previous:
            if rt.instances < 2:
                raise meta.bad_request('previous terminated container "{}" in pod "{}" not found'.format(name,
                                                                                                         pname))
            path = rt.log_path(rt.instances - 2)
        else:
            path = rt.log_path(rt.instances - 1)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            data = b""
        return _cut(data, query)

    def follow(self, pod, query, first):
        yield first
        w = self.worker(pod)
        name = query.get("container") or pod["spec"]["containers"][0]["name"]
        rt = w.runtimes.get(name) if w else None
        if rt is None:
            return
        instance = rt.instances - 1
        path = rt.log_path(instance)
        offset = os.path.getsize(path) if os.path.exists(path) else 0
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline and not self.cluster.stopping.is_set():
            try:
                with open(path, "rb") as f:
                    f.seek(offset)
                    chunk = f.read()
            except OSError:
                chunk = b""
            offset += len(chunk)
            if chunk:
                yield chunk
            elif rt.instances - 1 != instance or rt.proc is None or w.finished:
                return
            else:
                time.sleep(0.2)


def _cut(data, query):
    if query.get("tailLines"):
        n = int(query["tailLines"])
        lines = data.splitlines(keepends=True)
        data = b"".join(lines[-n:]) if n > 0 else b""
    if query.get("limitBytes"):
        data = data[:int(query["limitBytes"])]
    return data


class ContainerRuntime:
    def __init__(self, worker, spec, init):
        self.worker = worker
        self.spec = spec
        self.name = spec["name"]
        self.init = init
        self.proc = None
        self.instances = 0
        self.restart_count = 0
        self.state = {"waiting": {"reason": "PodInitializing" if not init else "PodInitializing"}}
        self.last_state = {}
        self.ready = False
        self.started = False
        self.started_at = 0.0
        self.backoff_until = 0.0
        self.backoff = 0.0
        self.cgroup = None
        self.probes = {}
        self.done = False  # an init container that succeeded, or a container that will not restart
        self.kill_reason = None
        self.container_id = ""

    def log_path(self, instance):
        return os.path.join(self.worker.dir, "logs", self.name, "{}.log".format(instance))


class PodWorker(threading.Thread):
    def __init__(self, kubelet, pod):
        super().__init__(daemon=True, name="pod " + pod["metadata"]["name"])
        self.kubelet = kubelet
        self.cluster = kubelet.cluster
        self.store = self.cluster.store
        self.uid = pod["metadata"]["uid"]
        self.ns = pod["metadata"]["namespace"]
        self.name = pod["metadata"]["name"]
        self.pod = pod
        self.dir = os.path.join(self.cluster.state_dir, "pods", self.uid)
        self.shutdown = threading.Event()
        self.finished = False
        self.ip = None
        self.runtimes = {}
        self.volumes_ready = False
        self.pull_state = {}  # image -> (failures, next try)
        self.started_time = meta.now()
        self.events_sent = set()

    def pids(self):
        return [rt.proc.pid for rt in self.runtimes.values() if rt.proc is not None]

    def event(self, etype, reason, message, field_path=None, once=False):
        key = (reason, message)
        if once and key in self.events_sent:
            return
        self.events_sent.add(key)
        self.cluster.event(self.pod, etype, reason, message, "kubelet", field_path=field_path,
                           host=self.pod["spec"].get("nodeName"))

    def run(self):
        try:
            self._run()
        except Exception:  # noqa: BLE001 -- a bug here must not leave processes behind
            traceback.print_exc()
        finally:
            self._kill_all(2)
            if self.ip:
                self.cluster.network.pods.release(self.ip)
            self.finished = True

    def _run(self):
        os.makedirs(os.path.join(self.dir, "logs"), exist_ok=True)
        self.ip = self.cluster.network.pods.take()
        spec = self.pod["spec"]
        for c in spec.get("initContainers") or []:
            self.runtimes[c["name"]] = ContainerRuntime(self, c, True)
        for c in spec.get("containers") or []:
            self.runtimes[c["name"]] = ContainerRuntime(self, c, False)
        for rt in self.runtimes.values():
            rt.state = {"waiting": {"reason": "PodInitializing"}} if (spec.get("initContainers") and not rt.init) \
                else {"waiting": {"reason": "ContainerCreating"}}
        deadline = time.monotonic() + 7 * 24 * 3600
        while time.monotonic() < deadline:
            if self.shutdown.is_set():
                return
            pod = self.store.get(POD.key, self.ns, self.name)
            if pod is None or pod["metadata"]["uid"] != self.uid:
                return
            self.pod = pod
            if pod["metadata"].get("deletionTimestamp"):
                self._terminate(pod)
                return
            self._step(pod)
            self._publish(pod)
            self.shutdown.wait(TICK)

    # -- lifecycle --
    def _step(self, pod):
        if not self.volumes_ready:
            self.volumes_ready = self._prepare_volumes(pod)
            if not self.volumes_ready:
                return
        now = time.monotonic()
        inits = [rt for rt in self.runtimes.values() if rt.init]
        for rt in inits:
            if rt.done:
                continue
            self._drive(rt, now, pod)
            return  # init containers run one at a time, in order
        for rt in self.runtimes.values():
            if not rt.init:
                self._drive(rt, now, pod)

    def _drive(self, rt, now, pod):
        if rt.proc is not None:
            code = rt.proc.poll()
            if code is None:
                self._probe(rt, now)
                return
            self._exited(rt, code, pod)
            return
        if rt.done or now < rt.backoff_until:
            return
        self._start(rt, pod)

    def _exited(self, rt, code, pod, reason=None, message=None):
        oom = rt.cgroup is not None and self.kubelet.cgroups.oom_killed(rt.cgroup)
        self.kubelet.cgroups.remove(rt.cgroup)
        rt.cgroup = None
        exit_code = code if code >= 0 else 128 - code
        reason = reason or ("OOMKilled" if oom else ("Completed" if exit_code == 0 else "Error"))
        finished = meta.now()
        rt.state = {"terminated": {"exitCode": exit_code, "reason": reason,
                                   "startedAt": rt.state.get("running", {}).get("startedAt", finished),
                                   "finishedAt": finished, "containerID": rt.container_id}}
        if message:
            rt.state["terminated"]["message"] = message
        rt.proc = None
        rt.ready = False
        policy = pod["spec"].get("restartPolicy", "Always")
        if rt.init:
            if exit_code == 0:
                rt.done = True
                return
            restart = policy != "Never"
        else:
            restart = policy == "Always" or (policy == "OnFailure" and exit_code != 0)
        if rt.kill_reason:
            restart = True if policy != "Never" else False
            rt.kill_reason = None
        if not restart:
            rt.done = True
            return
        ran = time.monotonic() - rt.started_at
        if ran > 2 * MAX_BACKOFF:
            rt.backoff = 0.0
        delay = rt.backoff
        rt.backoff = self.cluster.backoff_base if rt.backoff == 0 else min(rt.backoff * 2, MAX_BACKOFF)
        rt.last_state = rt.state
        rt.restart_count += 1
        rt.backoff_until = time.monotonic() + delay
        if delay > 0:
            msg = "back-off {} restarting failed container={} pod={}_{}({})".format(
                _duration(delay), rt.name, self.name, self.ns, self.uid)
            rt.state = {"waiting": {"reason": "CrashLoopBackOff", "message": msg}}
            self.event("Warning", "BackOff", "Back-off restarting failed container {} in pod {}_{}({})".format(
                rt.name, self.name, self.ns, self.uid), self._field(rt))

    def _field(self, rt):
        return "spec.{}{{{}}}".format("initContainers" if rt.init else "containers", rt.name)

    def _image_dir(self, image):
        images = self.cluster.images
        if image in images:
            return images[image]
        bare = re.sub(r"(@sha256:[0-9a-f]+|:[^/:]+)$", "", image)
        return images.get(bare)

    def _start(self, rt, pod):
        spec = rt.spec
        image = spec.get("image", "")
        where = self._image_dir(image)
        field = self._field(rt)
        if where is None:
            failures, next_try = self.pull_state.get(image, (0, 0.0))
            if time.monotonic() < next_try:
                return
            failures += 1
            delay = min(self.cluster.backoff_base * (2 ** (failures - 1)), MAX_BACKOFF)
            self.pull_state[image] = (failures, time.monotonic() + delay)
            if failures == 1 or rt.state.get("waiting", {}).get("reason") == "ImagePullBackOff":
                msg = ('Failed to pull image "{}": rpc error: code = NotFound desc = failed to pull and unpack image '
                       '"{}": image is not known to the k8s double (start it with --image {}=DIR or '
                       '--image {}=host)').format(image, image, image.split(":")[0], image.split(":")[0])
                rt.state = {"waiting": {"reason": "ErrImagePull", "message": msg}}
                self.event("Normal", "Pulling", 'Pulling image "{}"'.format(image), field)
                self.event("Warning", "Failed", msg, field)
                self.event("Warning", "Failed", "Error: ErrImagePull", field)
            else:
                rt.state = {"waiting": {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "{}"'.format(
                    image)}}
                self.event("Normal", "BackOff", 'Back-off pulling image "{}"'.format(image), field)
                self.event("Warning", "Failed", "Error: ImagePullBackOff", field)
            return
        self.event("Normal", "Pulled", 'Container image "{}" already present on machine'.format(image), field,
                   once=True)
        try:
            env = self._env(rt, pod, where)
            argv = self._argv(rt, env, where)
        except meta.ApiError as e:
            rt.state = {"waiting": {"reason": e.reason, "message": e.message}}
            self.event("Warning", "Failed", "Error: " + e.message, field, once=True)
            rt.backoff_until = time.monotonic() + 1.0
            return
        workdir = spec.get("workingDir") or (where if where != "host" else "/")
        mounts = self._mounts(rt, pod)
        if mounts is None:
            return
        missing = self._unresolvable(argv[0], env, mounts)
        if missing:
            # As containerd reports an executable it cannot find: the start fails, exit code 128, StartError.
            rt.instances += 1
            rt.container_id = "k8s-double://{}-{}-{}".format(self.uid[:8], rt.name, rt.instances)
            rt.started_at = time.monotonic()
            rt.state = {"running": {"startedAt": meta.now()}}
            self.event("Warning", "Failed", "Error: " + missing, field)
            self._exited(rt, 128, pod, reason="StartError", message=missing)
            return
        rt.instances += 1
        log = rt.log_path(rt.instances - 1)
        os.makedirs(os.path.dirname(log), exist_ok=True)
        limit = ((spec.get("resources") or {}).get("limits") or {}).get("memory")
        cgroup = None
        if limit is not None:
            cgroup = self.kubelet.cgroups.create("{}-{}-{}".format(self.uid[:8], rt.name, rt.instances),
                                                 meta.parse_quantity(limit))
        if mounts:
            script = []
            for src, dst, ro in mounts:
                script.append("mount --bind {} {}".format(shlex.quote(src), shlex.quote(dst)))
                if ro:
                    script.append("mount -o remount,bind,ro {}".format(shlex.quote(dst)))
            script.append('cd {} || exit 128'.format(shlex.quote(workdir)))
            script.append('exec "$@"')
            argv = ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
                    " && ".join(script[:-2]) + "\n" + "\n".join(script[-2:]), rt.name] + argv
            cwd = "/"
        else:
            cwd = workdir
        procs_file = None
        if cgroup:
            procs_file = os.path.join(cgroup, "cgroup.procs")

        def setup():
            _die_with_parent()
            if procs_file:
                with open(procs_file, "w") as f:
                    f.write(str(os.getpid()))

        try:
            out = open(log, "ab")
            try:
                proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                        stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=setup,
                                        close_fds=True)
            finally:
                out.close()
        except OSError as e:
            self.kubelet.cgroups.remove(cgroup)
            rt.instances -= 1
            msg = ('failed to create containerd task: failed to create shim task: OCI runtime create failed: '
                   'runc create failed: unable to start container process: exec: "{}": {}'.format(
                       argv[0] if not mounts else rt.spec.get("command", ["?"])[0], e.strerror))
            rt.state = {"waiting": {"reason": "RunContainerError", "message": msg}}
            self.event("Warning", "Failed", "Error: " + msg, field, once=True)
            rt.backoff_until = time.monotonic() + max(1.0, rt.backoff)
            return
        rt.proc = proc
        rt.cgroup = cgroup
        rt.started_at = time.monotonic()
        rt.container_id = "k8s-double://{}-{}-{}".format(self.uid[:8], rt.name, rt.instances)
        rt.state = {"running": {"startedAt": meta.now()}}
        rt.ready = False
        rt.started = not rt.spec.get("startupProbe")
        rt.probes = {}
        self.event("Normal", "Created", "Created container " + rt.name, field)
        self.event("Normal", "Started", "Started container " + rt.name, field)

    def _unresolvable(self, command, env, mounts):
        """kubelet's runtime error text when `command` cannot be executed, or None (also when it lies under a
        volume, which only exists inside the container's mount namespace)."""
        if any(command.startswith(dst.rstrip("/") + "/") for _, dst, _ in mounts):
            return None
        if "/" in command:
            ok = os.path.isfile(command) and os.access(command, os.X_OK)
            why = "no such file or directory"
        else:
            ok = shutil.which(command, path=env.get("PATH", "")) is not None
            why = "executable file not found in $PATH"
        if ok:
            return None
        return ('failed to create containerd task: failed to create shim task: OCI runtime create failed: runc '
                'create failed: unable to start container process: exec: "{}": {}: unknown'.format(command, why))

    # -- environment --
    def _env(self, rt, pod, where):
        base = {"PATH": (os.path.join(where, "bin") + ":" if where != "host" else "") +
                os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
                "HOSTNAME": self.name, "HOME": os.environ.get("HOME", "/root"),
                "KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(self.cluster.port),
                "KUBERNETES_SERVICE_PORT_HTTPS": str(self.cluster.port)}
        for k in ("LANG", "LC_ALL", "TZ", "PYTHONPATH"):
            if k in os.environ:
                base[k] = os.environ[k]
        if pod["spec"].get("enableServiceLinks", True):
            for svc in self.store.list("/services", self.ns):
                ip = svc.get("spec", {}).get("clusterIP")
                ports = svc.get("spec", {}).get("ports") or []
                if not ip or ip == "None" or not ports:
                    continue
                prefix = svc["metadata"]["name"].upper().replace("-", "_")
                base[prefix + "_SERVICE_HOST"] = ip
                base[prefix + "_SERVICE_PORT"] = str(ports[0]["port"])
        env = dict(base)
        for src in rt.spec.get("envFrom") or []:
            prefix = src.get("prefix", "")
            for kind, ref in (("ConfigMap", src.get("configMapRef")), ("Secret", src.get("secretRef"))):
                if not ref:
                    continue
                obj = self.store.get("/configmaps" if kind == "ConfigMap" else "/secrets", self.ns, ref["name"])
                if obj is None:
                    if ref.get("optional"):
                        continue
                    raise meta.ApiError(0, "CreateContainerConfigError", '{} "{}" not found'.format(
                        kind.lower() if kind == "Secret" else "configmap", ref["name"]))
                for k, v in (obj.get("data") or {}).items():
                    env[prefix + k] = base64.b64decode(v).decode(errors="replace") if kind == "Secret" else v
        for e in rt.spec.get("env") or []:
            if "valueFrom" in e:
                value = self._value_from(e["valueFrom"], pod, rt)
                if value is None:
                    continue
            else:
                value = _expand(e.get("value", ""), env)
            env[e["name"]] = value
        return env

    def _value_from(self, vf, pod, rt):
        if "fieldRef" in vf:
            path = vf["fieldRef"]["fieldPath"]
            simple = {"metadata.name": self.name, "metadata.namespace": self.ns, "metadata.uid": self.uid,
                      "spec.nodeName": pod["spec"].get("nodeName", ""), "status.podIP": self.ip,
                      "status.podIPs": self.ip, "status.hostIP": "127.0.0.1", "status.hostIPs": "127.0.0.1",
                      "spec.serviceAccountName": pod["spec"].get("serviceAccountName", "default")}
            if path in simple:
                return simple[path]
            m = re.match(r"^metadata\.(labels|annotations)\['(.+)'\]$", path)
            if m:
                return (pod["metadata"].get(m.group(1)) or {}).get(m.group(2), "")
            raise meta.ApiError(0, "CreateContainerConfigError", "unsupported fieldPath: " + path)
        if "resourceFieldRef" in vf:
            ref = vf["resourceFieldRef"]
            section, _, name = ref["resource"].partition(".")
            value = ((rt.spec.get("resources") or {}).get(section) or {}).get(name)
            if value is None:
                return "0"
            divisor = meta.parse_quantity(ref.get("divisor", "1"))
            return str(int(math.ceil(meta.parse_quantity(value) / divisor)))
        for key, kind, rk in (("secretKeyRef", "secret", "/secrets"), ("configMapKeyRef", "configmap",
                                                                       "/configmaps")):
            if key in vf:
                ref = vf[key]
                obj = self.store.get(rk, self.ns, ref["name"])
                if obj is None:
                    if ref.get("optional"):
                        return None
                    raise meta.ApiError(0, "CreateContainerConfigError", '{} "{}" not found'.format(
                        kind, ref["name"]))
                data = obj.get("data") or {}
                if ref["key"] not in data:
                    if ref.get("optional"):
                        return None
                    raise meta.ApiError(0, "CreateContainerConfigError", "couldn't find key {} in {} {}/{}".format(
                        ref["key"], "Secret" if kind == "secret" else "ConfigMap", self.ns, ref["name"]))
                v = data[ref["key"]]
                return base64.b64decode(v).decode(errors="replace") if kind == "secret" else v
        return None

    def _argv(self, rt, env, where):
        command = [_expand(a, env) for a in rt.spec.get("command") or []]
        args = [_expand(a, env) for a in rt.spec.get("args") or []]
        if not command:
            entry = os.path.join(where, "entrypoint") if where != "host" else None
            if entry and os.access(entry, os.X_OK):
                command = [entry]
            elif args:
                command, args = args[:1], args[1:]
            else:
                raise meta.ApiError(0, "CreateContainerError", "failed to generate container spec: no command "
                                    "specified (image {} has no entrypoint)".format(rt.spec.get("image")))
        return command + args

    # -- volumes --
    def _prepare_volumes(self, pod):
        vols = pod["spec"].get("volumes") or []
        needs_sa = pod["spec"].get("automountServiceAccountToken", True) and self.kubelet.mounts
        if not vols and not needs_sa:
            return True
        if vols and not self.kubelet.mounts:
            self.event("Warning", "FailedMount", "the k8s double cannot mount volumes on this machine: "
                       "`unshare --mount` is not permitted", once=True)
            return False
        for v in vols:
            path = os.path.join(self.dir, "volumes", v["name"])
            if "emptyDir" in v:
                os.makedirs(path, exist_ok=True)
            elif "secret" in v or "configMap" in v:
                src = v.get("secret") or v.get("configMap")
                kind, rk, ref = ("secret", "/secrets", src.get("secretName")) if "secret" in v else \
                    ("configmap", "/configmaps", src.get("name"))
                obj = self.store.get(rk, self.ns, ref or "")
                if obj is None:
                    if src.get("optional"):
                        os.makedirs(path, exist_ok=True)
                        continue
                    self.event("Warning", "FailedMount", 'MountVolume.SetUp failed for volume "{}" : {} "{}" not '
                               'found'.format(v["name"], kind, ref), once=True)
                    return False
                data = dict(obj.get("data") or {})
                binary = obj.get("binaryData") or {}
                os.makedirs(path, exist_ok=True)
                items = src.get("items") or [{"key": k, "path": k} for k in list(data) + list(binary)]
                mode = src.get("defaultMode", 420)
                for it in items:
                    if it["key"] in data:
                        raw = base64.b64decode(data[it["key"]]) if kind == "secret" else data[it["key"]].encode()
                    elif it["key"] in binary:
                        raw = base64.b64decode(binary[it["key"]])
                    else:
                        self.event("Warning", "FailedMount", 'MountVolume.SetUp failed for volume "{}" : '
                                   'configmap references non-existent config key: {}'.format(v["name"], it["key"]),
                                   once=True)
                        return False
                    target = os.path.join(path, it["path"])
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    with open(target, "wb") as f:
                        f.write(raw)
                    os.chmod(target, it.get("mode", mode))
            else:
                self.event("Warning", "FailedMount", 'volume "{}": only emptyDir, secret and configMap volumes are '
                           "simulated by the k8s double".format(v["name"]), once=True)
                return False
        if needs_sa:
            sa = os.path.join(self.dir, "volumes", "kube-api-access")
            os.makedirs(sa, exist_ok=True)
            for fname, text in (("token", self.cluster.token), ("namespace", self.ns),
                                ("ca.crt", self.cluster.ca_pem)):
                with open(os.path.join(sa, fname), "w") as f:
                    f.write(text)
        return True

    def _mounts(self, rt, pod):
        mounts = []
        names = {v["name"] for v in pod["spec"].get("volumes") or []}
        for m in rt.spec.get("volumeMounts") or []:
            if m["name"] not in names:
                rt.state = {"waiting": {"reason": "CreateContainerConfigError",
                                        "message": 'volume "{}" not found'.format(m["name"])}}
                return None
            src = os.path.join(self.dir, "volumes", m["name"])
            if m.get("subPath"):
                src = os.path.join(src, m["subPath"])
            mounts.append((src, m["mountPath"], bool(m.get("readOnly"))))
        if pod["spec"].get("automountServiceAccountToken", True) and self.kubelet.mounts and \
                not any(m[1] == SA_DIR for m in mounts):
            mounts.append((os.path.join(self.dir, "volumes", "kube-api-access"), SA_DIR, True))
        for src, dst, _ in mounts:
            if not os.path.exists(dst):
                self._make_mount_point(dst, os.path.isdir(src))
        return mounts

    def _make_mount_point(self, path, directory):
        # A bind mount needs an existing target; a missing one is created on the host and removed at exit.
        with self.kubelet.lock:
            missing = []
            p = os.path.dirname(path) if not directory else path
            while p and p != "/" and not os.path.exists(p):
                missing.append(p)
                p = os.path.dirname(p)
            for d in reversed(missing):
                os.mkdir(d)
                self.kubelet.created_dirs.append(d)
            if not directory and not os.path.exists(path):
                open(path, "a").close()
                self.kubelet.created_dirs.append(path)

    # -- probes --
    def _probe(self, rt, now):
        spec = rt.spec
        order = [("startupProbe", "Startup")] if not rt.started else [("livenessProbe", "Liveness"),
                                                                        ("readinessProbe", "Readiness")]
        if not rt.started and not spec.get("startupProbe"):
            rt.started = True
        if rt.init:
            return
        if rt.started and not spec.get("readinessProbe"):
            rt.ready = True
        for key, label in order:
            probe = spec.get(key)
            if not probe:
                continue
            st = rt.probes.setdefault(key, {"next": rt.started_at + probe.get("initialDelaySeconds", 0),
                                            "ok": 0, "bad": 0})
            if now < st["next"]:
                continue
            st["next"] = now + probe.get("periodSeconds", 10)
            ok, why = self._run_probe(rt, probe)
            if ok:
                st["ok"] += 1
                st["bad"] = 0
                if key == "startupProbe" and st["ok"] >= probe.get("successThreshold", 1):
                    rt.started = True
                if key == "readinessProbe" and st["ok"] >= probe.get("successThreshold", 1):
                    rt.ready = True
                continue
            st["bad"] += 1
            st["ok"] = 0
            self.event("Warning", "Unhealthy", "{} probe failed: {}".format(label, why), self._field(rt))
            if st["bad"] < probe.get("failureThreshold", 3):
                continue
            if key == "readinessProbe":
                rt.ready = False
                continue
            self.event("Normal", "Killing", "Container {} failed {} probe, will be restarted".format(
                rt.name, label.lower()), self._field(rt))
            rt.kill_reason = label
            self._stop_container(rt, self.pod["spec"].get("terminationGracePeriodSeconds", 30))
            return

    def _run_probe(self, rt, probe):
        timeout = probe.get("timeoutSeconds", 1)
        if "httpGet" in probe:
            h = probe["httpGet"]
            port = self._port(rt, h.get("port"))
            scheme = h.get("scheme", "HTTP").lower()
            host = h.get("host") or self.ip
            url = "{}://{}:{}{}".format(scheme, host, port, h.get("path", "/"))
            req = urllib.request.Request(url, headers={x["name"]: x["value"] for x in h.get("httpHeaders") or []})
            req.add_header("User-Agent", "kube-probe/1.32")
            ctx = ssl._create_unverified_context() if scheme == "https" else None
            try:
                with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:
                    code = r.status
            except urllib.error.HTTPError as e:
                code = e.code
            except (OSError, ValueError) as e:
                reason = getattr(e, "reason", e)
                if isinstance(reason, socket.timeout) or isinstance(e, socket.timeout):
                    return False, 'Get "{}": context deadline exceeded (Client.Timeout exceeded while awaiting ' \
                                  'headers)'.format(url)
                return False, 'Get "{}": dial tcp {}:{}: connect: {}'.format(
                    url, host, port, "connection refused" if "refused" in str(reason).lower() else reason)
            if 200 <= code < 400:
                return True, ""
            return False, "HTTP probe failed with statuscode: {}".format(code)
        if "tcpSocket" in probe:
            t = probe["tcpSocket"]
            port = self._port(rt, t.get("port"))
            host = t.get("host") or self.ip
            try:
                socket.create_connection((host, port), timeout=timeout).close()
                return True, ""
            except OSError:
                return False, "dial tcp {}:{}: connect: connection refused".format(host, port)
        if "exec" in probe:
            cmd = probe["exec"].get("command") or []
            argv = cmd
            if rt.proc is not None and self.kubelet.mounts and (rt.spec.get("volumeMounts") or
                                                                self.pod["spec"].get("automountServiceAccountToken",
                                                                                     True)):
                argv = ["nsenter", "-t", str(rt.proc.pid), "-m", "--"] + cmd
            try:
                r = subprocess.run(argv, timeout=timeout, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   env=self._probe_env(rt), cwd="/")
            except subprocess.TimeoutExpired:
                return False, "command timed out"
            except OSError as e:
                return False, str(e)
            if r.returncode == 0:
                return True, ""
            return False, r.stdout.decode(errors="replace").strip() or "command exited with {}".format(r.returncode)
        return True, ""

    def _probe_env(self, rt):
        try:
            return self._env(rt, self.pod, self._image_dir(rt.spec.get("image", "")) or "host")
        except meta.ApiError:
            return dict(os.environ)

    def _port(self, rt, port):
        if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
            return int(port)
        for p in rt.spec.get("ports") or []:
            if p.get("name") == port:
                return p["containerPort"]
        return 0

    # -- stopping --
    def _stop_container(self, rt, grace):
        proc = rt.proc
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except OSError:
            pass
        try:
            proc.wait(timeout=max(0, grace))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.wait(timeout=10)

    def _kill_all(self, grace):
        procs = [rt for rt in self.runtimes.values() if rt.proc is not None]
        for rt in procs:
            try:
                os.killpg(rt.proc.pid, signal.SIGTERM)
            except OSError:
                pass
        end = time.monotonic() + grace
        for rt in procs:
            try:
                rt.proc.wait(timeout=max(0.0, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for rt in procs:
            if rt.proc.poll() is None:
                try:
                    os.killpg(rt.proc.pid, signal.SIGKILL)
                except OSError:
                    pass
                try:
                    rt.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
            # Whatever else is left in the container's process group goes too.
            try:
                os.killpg(rt.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self.kubelet.cgroups.remove(rt.cgroup)
            rt.cgroup = None

    def _terminate(self, pod):
        grace = pod["metadata"].get("deletionGracePeriodSeconds", 30)
        for rt in self.runtimes.values():
            if rt.proc is not None:
                self.event("Normal", "Killing", "Stopping container " + rt.name, self._field(rt))
        self._kill_all(grace)
        with self.store.lock:
            current = self.store.get(POD.key, self.ns, self.name)
            if current is not None and current["metadata"]["uid"] == self.uid:
                self.store.delete(POD.key, self.ns, self.name)

    # -- status --
    def _publish(self, pod):
        spec = pod["spec"]
        old = pod.get("status", {})
        st = {k: v for k, v in old.items() if k in ("qosClass",)}
        st["hostIP"] = "127.0.0.1"
        st["hostIPs"] = [{"ip": "127.0.0.1"}]
        st["podIP"] = self.ip
        st["podIPs"] = [{"ip": self.ip}]
        st["startTime"] = old.get("startTime") or self.started_time
        inits = [rt for rt in self.runtimes.values() if rt.init]
        apps = [rt for rt in self.runtimes.values() if not rt.init]
        initialized = all(rt.done and "terminated" in rt.state and rt.state["terminated"]["exitCode"] == 0
                          for rt in inits)
        if inits:
            st["initContainerStatuses"] = [self._status(rt) for rt in inits]
        st["containerStatuses"] = [self._status(rt) for rt in apps]
        ready = initialized and all(rt.ready and rt.proc is not None for rt in apps)
        policy = spec.get("restartPolicy", "Always")
        failed_init = any(rt.done and rt.state.get("terminated", {}).get("exitCode", 0) != 0 for rt in inits)
        if failed_init:
            phase = "Failed"
        elif all(rt.done and "terminated" in rt.state for rt in apps) and apps:
            phase = "Succeeded" if all(rt.state["terminated"]["exitCode"] == 0 for rt in apps) else "Failed"
        elif initialized and any(rt.instances > 0 for rt in apps) and \
                (any(rt.proc is not None for rt in apps) or policy != "Never"):
            phase = "Running"
        else:
            phase = "Pending"
        st["phase"] = phase
        prev = {c["type"]: c for c in old.get("conditions") or []}
        conds = []
        ts = meta.now()

        def cond(ctype, ok, reason=None):
            c = {"type": ctype, "status": "True" if ok else "False", "lastProbeTime": None}
            p = prev.get(ctype)
            c["lastTransitionTime"] = p["lastTransitionTime"] if p and p["status"] == c["status"] else ts
            if reason and not ok:
                c["reason"] = reason
                if reason == "ContainersNotReady":
                    names = [rt.name for rt in apps if not (rt.ready and rt.proc is not None)]
                    c["message"] = "containers with unready status: [{}]".format(" ".join(names))
                elif reason == "ContainersNotInitialized":
                    names = [rt.name for rt in inits if not rt.done]
                    c["message"] = "containers with incomplete status: [{}]".format(" ".join(names))
            if reason == "PodCompleted":
                c["reason"] = reason
            conds.append(c)

        done = phase in ("Succeeded", "Failed")
        cond("PodReadyToStartContainers", not done)
        cond("Initialized", initialized, "ContainersNotInitialized")
        cond("Ready", ready and not done, "PodCompleted" if done else "ContainersNotReady")
        cond("ContainersReady", ready and not done, "PodCompleted" if done else "ContainersNotReady")
        conds.append(prev.get("PodScheduled") or {"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                                                  "lastTransitionTime": ts})
        st["conditions"] = conds
        if st != old:
            new = dict(pod)
            new["status"] = st
            with self.store.lock:
                current = self.store.get(POD.key, self.ns, self.name)
                if current is None or current["metadata"]["resourceVersion"] != pod["metadata"]["resourceVersion"]:
                    return
                ssa.record_update(pod, new, "kubelet", "v1", True, "status")
                self.store.update(POD.key, new)

    def _status(self, rt):
        image = rt.spec.get("image", "")
        where = self._image_dir(image)
        s = {"name": rt.name, "image": image,
             "imageID": "k8s-double://{}".format(where) if where else "",
             "ready": bool(rt.ready and rt.proc is not None), "restartCount": rt.restart_count,
             "started": bool(rt.proc is not None and rt.started), "state": rt.state, "lastState": rt.last_state}
        if rt.container_id:
            s["containerID"] = rt.container_id
        if rt.init:
            s["started"] = rt.proc is not None
        return s


def _expand(text, env):
    # $(VAR) expands to a variable defined earlier; $$(VAR) escapes; unknown references stay as written.
    return re.sub(r"\$\$\(([A-Za-z_][A-Za-z0-9_]*)\)|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                  lambda m: m.group(0)[1:] if m.group(0).startswith("$$") else env.get(m.group(2), m.group(0)),
                  text)


def _duration(seconds):
    s = int(seconds)
    if s >= 60:
        return "{}m{}s".format(s // 60, s % 60)
    return "{}s".format(s)
