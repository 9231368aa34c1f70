"""`python3 -m k8s_double --kubeconfig FILE [...]`: starts the double in the background, prints its pid once the
kubeconfig is written and the API server answers, and exits; the double stops on SIGTERM."""

import argparse
import os
import shutil
import signal
import sys
import tempfile
import traceback

from . import cluster as cluster_mod


def parse_args(argv):
    p = argparse.ArgumentParser(prog="k8s-double.sh", description=__doc__)
    p.add_argument("--kubeconfig", required=True, help="where to write the kubeconfig")
    p.add_argument("--context", default="myaks", help="context, cluster and user name (default myaks)")
    p.add_argument("--state-dir", help="logs, volumes, certificates and writes.jsonl (default: a temporary "
                                       "directory removed at exit)")
    p.add_argument("--node", action="append", default=[], metavar="NAME=cpu,memory[,gpu]",
                   help="a node (repeatable); default three nodes of 4 CPU / 14Gi, like Standard_D3_v2")
    p.add_argument("--image", action="append", default=[], metavar="NAME=DIR|host",
                   help="an image the double knows: DIR/bin goes first on PATH, DIR is the default working "
                        "directory and DIR/entrypoint the default command; `host` runs on the host as is")
    p.add_argument("--deny", action="append", default=[], metavar="VERB:GROUP/RESOURCE[:NAMESPACE]",
                   help="refuse a verb on a resource (403 and SelfSubjectAccessReview allowed=false)")
    p.add_argument("--backoff-base", type=float, default=10.0,
                   help="first CrashLoopBackOff/ImagePullBackOff delay in seconds (kubelet's is 10)")
    p.add_argument("--exit-with", type=int, metavar="PID",
                   help="stop when process PID is gone (tests pass their own pid, so a killed test run leaves "
                        "no double behind)")
    p.add_argument("--foreground", action="store_true", help="do not detach (for debugging)")
    p.add_argument("--verbose", action="store_true", help="log every request to the state directory's log")
    return p.parse_args(argv)


def parse_deny(text):
    parts = text.split(":")
    if len(parts) < 2 or "/" not in parts[1]:
        raise SystemExit("--deny wants VERB:GROUP/RESOURCE[:NAMESPACE] (core group: ':/pods'), got " + text)
    group, _, resource = parts[1].partition("/")
    return (parts[0], group, resource, parts[2] if len(parts) > 2 else "*")


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        nodes = [cluster_mod.parse_node(n) for n in args.node] or cluster_mod.default_nodes()
    except ValueError as e:
        raise SystemExit(str(e))
    images = {}
    for spec in args.image:
        name, _, where = spec.partition("=")
        if not name or not where:
            raise SystemExit("--image wants NAME=DIR or NAME=host, got " + spec)
        if where != "host":
            where = os.path.abspath(where)
            if not os.path.isdir(where):
                raise SystemExit("--image {}: {} is not a directory".format(name, where))
        images[name] = where
    deny = [parse_deny(d) for d in args.deny]
    kubeconfig = os.path.abspath(args.kubeconfig)
    own_state = args.state_dir is None
    state_dir = os.path.abspath(args.state_dir) if args.state_dir else tempfile.mkdtemp(prefix="k8s-double-")
    os.makedirs(state_dir, exist_ok=True)

    if args.foreground:
        return run(state_dir, own_state, nodes, images, deny, args, kubeconfig, lambda: print(os.getpid(),
                                                                                            flush=True))
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write_end)
        with os.fdopen(read_end) as r:
            message = r.read()
        if message.startswith("ready"):
            print(pid, flush=True)
            return 0
        os.waitpid(pid, 0)
        sys.stderr.write("k8s-double: failed to start: {}\n(see {}/double.log)\n".format(
            message.strip() or "no reason given", state_dir))
        return 1
    os.close(read_end)
    os.setsid()
    log = open(os.path.join(state_dir, "double.log"), "a", buffering=1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    sys.stdout = sys.stderr = log
    pipe = os.fdopen(write_end, "w")

    def ready():
        pipe.write("ready")
        pipe.close()

    try:
        code = run(state_dir, own_state, nodes, images, deny, args, kubeconfig, ready)
    except BaseException as e:  # noqa: BLE001 -- the parent must hear why
        traceback.print_exc()
        if not pipe.closed:
            pipe.write("error: {}".format(e))
            pipe.close()
        os._exit(1)
    os._exit(code or 0)


def run(state_dir, own_state, nodes, images, deny, args, kubeconfig, ready):
    cluster = cluster_mod.Cluster(state_dir, nodes, images, backoff_base=args.backoff_base,
                                  verbose=args.verbose, deny=deny)

    def stop(signum, frame):
        cluster.stopping.set()

    cluster.exit_with = args.exit_with
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        cluster.serve(kubeconfig, args.context, ready)
    finally:
        if own_state:
            shutil.rmtree(state_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
