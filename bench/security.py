"""What token authentication and HTTPS cost per request, side by side with key auth over plain HTTP.

One trivial score.py (bench/echo), one replica per service, wrk at the given concurrency:
  key, HTTP          the reference: a primary key compared in constant time
  token, HTTP        an ES256 token; the front end verifies the first use of a token and remembers it until it
                     expires, so a client that reuses its token pays for the signature once
  key, HTTPS         TLS 1.2+/1.3 on the front end with an ECDSA P-256 certificate
each over kept-alive connections and with a new connection per request ("Connection: close": with HTTPS a full
handshake every time). The cold cost of verifying a token (an ECDSA P-256 verification) is measured by
amlcore_bench_token in the build tree when it is there.

Everything listens on 127.0.0.1 in a temporary AMLCORE_HOME, and is stopped at the end.
Run it with: bench/security            (or .venv/bin/python bench/security.py --help)
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench import Home, Load, combine  # noqa: E402


def log(*args):
    # Progress goes to stderr; stdout carries only the table, which bench/run adds to BENCHMARKS.md.
    print(*args, file=sys.stderr, flush=True)


def certificate(directory, cname):
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "2", "-subj", "/CN=" + cname, "-addext", "subjectAltName=DNS:{}".format(cname),
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=5, help="seconds of each wrk run (default 5)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of every row, the median kept (default 3)")
    args = parser.parse_args()

    home = tempfile.mkdtemp(prefix="amlcore-bench-sec-")
    work = tempfile.mkdtemp(prefix="amlcore-bench-sec-work-")
    os.environ["AMLCORE_HOME"] = home
    for name in ("AMLCORE_ENDPOINT", "AMLCORE_TOKEN"):
        os.environ.pop(name, None)
    import amlcore
    from amlcore import Model, Workspace
    from amlcore.compute import AksCompute, ComputeTarget
    from amlcore.model import InferenceConfig
    from amlcore.webservice import AksWebservice
    try:
        ws = Workspace.create("bench-sec-ws")
        plain = ComputeTarget.create(ws, "bench-http", AksCompute.provisioning_configuration(
            agent_count=1, cluster_purpose="DevTest"))
        cert, key = certificate(work, "localhost")
        config = AksCompute.provisioning_configuration(agent_count=1, cluster_purpose="DevTest")
        config.enable_ssl(ssl_cname="localhost", ssl_cert_pem_file=cert, ssl_key_pem_file=key)
        secure = ComputeTarget.create(ws, "bench-https", config)
        plain.wait_for_completion()
        secure.wait_for_completion()
        inference = InferenceConfig(entry_script="score.py", source_directory=os.path.join(HERE, "echo"))

        def deploy(name, target, **settings):
            service = Model.deploy(ws, name, [], inference, AksWebservice.deploy_configuration(
                num_replicas=1, replica_max_concurrent_requests=args.connections, **settings), target)
            service.wait_for_deployment()
            return service
        log("== deploying")
        keyed = deploy("sec-key", plain)
        tokened = deploy("sec-token", plain, token_auth_enabled=True)
        tls = deploy("sec-tls", secure)
        body = os.path.join(work, "body.json")
        with open(body, "w") as f:
            f.write(json.dumps({"data": [[1.0, 2.0, 3.0, 4.0]]}))
        processes = Home(home)

        def front_end(service):
            return processes.front_end_pid(int(service.scoring_uri.split("/")[2].rsplit(":", 1)[1]))
        rows = [
            ("key, HTTP", keyed.scoring_uri, keyed.get_keys()[0], front_end(keyed)),
            ("token, HTTP", tokened.scoring_uri, tokened.get_access_token().access_token, front_end(tokened)),
            ("key, HTTPS", tls.scoring_uri, tls.get_keys()[0], front_end(tls)),
        ]
        results = []
        for close in (False, True):
            for name, url, credential, pid in rows:
                Load(args, body).run(url, credential, 2, duration=1, close=close)  # warm-up
                runs = [Load(args, body).run(url, credential, args.connections, close=close,
                                             groups={"front end": [pid]})
                        for _ in range(args.rounds)]
                r = combine(runs)
                r["name"] = "{}, {}".format(name, "new connection per request" if close else "keep-alive")
                r["fe_us"] = r["cpu_s"]["front end"] / r["requests"] * 1e6
                results.append(r)
                log("{:<48} {:>8.0f} req/s  p50 {:>7.3f} ms  p99 {:>7.3f} ms  front end {:.1f} µs CPU/request  "
                    "errors {}".format(r["name"], r["rps"], r["p50_ms"], r["p99_ms"], r["fe_us"], r["errors"]))
        print("## Token auth and HTTPS")
        print()
        print("What token authentication and TLS cost, beside key auth over plain HTTP: `bench/security` ({} s runs, "
              "median of {}). The token row sends one token throughout, as the SDK does until its refresh time; "
              "the new-connection rows ask for `Connection: close`, so with HTTPS every request pays a full "
              "handshake (ECDSA P-256 certificate).".format(args.duration, args.rounds))
        print()
        print("| {} connections, 1 replica, trivial score.py | req/s | p50 ms | p99 ms | front end CPU µs/request "
              "| vs key, HTTP (same connection mode) | errors |".format(args.connections))
        print("|---|---:|---:|---:|---:|---:|---:|")
        for i, r in enumerate(results):
            reference = results[(i // len(rows)) * len(rows)]
            print("| {} | {:.0f} | {:.3f} | {:.3f} | {:.1f} | {:+.1f} | {} |".format(
                r["name"], r["rps"], r["p50_ms"], r["p99_ms"], r["fe_us"], r["fe_us"] - reference["fe_us"],
                r["errors"]))
        tool = os.path.join(os.path.dirname(HERE), "build", "bench", "amlcore_bench_token")
        if os.path.exists(tool):
            print()
            print(subprocess.run([tool], capture_output=True, text=True, timeout=120).stdout.strip() + ".")
    finally:
        program = os.path.join(os.path.dirname(amlcore.__file__), "bin", "amlcored")
        subprocess.run([program, "--stop", "--with-clusters", "--home", home], capture_output=True, timeout=120)
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
