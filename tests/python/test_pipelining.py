"""Pipelined dispatch end to end: the front end keeps the next request delivered to a busy replica, and the
replica still runs no more run() calls at once than replica_max_concurrent_requests allows."""

import json
import threading

from services import deploy, post, script_dir

# Counts the run() calls in progress (they may come on any thread) and says the most it has seen.
COUNTING = """
    import json
    import threading
    import time

    lock = threading.Lock()
    running = 0
    peak = 0

    def init():
        pass

    def run(raw):
        global running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.002)
        with lock:
            running -= 1
        return {"peak": peak, "id": json.loads(raw)["id"]}
"""


def hammer(uri, key, clients, per_client):
    """Each client sends its requests one after another; every reply, in no particular order."""
    replies = []
    lock = threading.Lock()

    def client(c):
        for i in range(per_client):
            ident = c * per_client + i
            status, body, _ = post(uri, json.dumps({"id": ident}), key)
            with lock:
                replies.append((ident, status, body))

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(replies) == clients * per_client
    return replies


def test_a_pipelined_replica_never_runs_more_than_its_cap(aks, tmp_path):
    ws, target = aks
    # The default cap (one run() at a time, as on Azure), one replica, and more clients than it can serve at
    # once: every request waits its turn in the front end or in the replica, none is refused.
    service = deploy(ws, target, script_dir(tmp_path, COUNTING), name="pipe-svc", max_request_wait_time=30000)
    service.wait_for_deployment()
    key = service.get_keys()[0]
    replies = hammer(service.scoring_uri, key, clients=12, per_client=15)
    peaks = set()
    for ident, status, body in replies:
        assert status == 200, body
        answer = json.loads(body)
        assert answer["id"] == ident, "request {} got the answer of {}".format(ident, answer["id"])
        peaks.add(answer["peak"])
    assert peaks == {1}

    # A cap of 2 keeps its meaning too: at most two run() calls at once.
    service.update(replica_max_concurrent_requests=2)
    service.wait_for_deployment()
    for ident, status, body in hammer(service.scoring_uri, key, clients=12, per_client=10):
        assert status == 200, body
        assert json.loads(body)["peak"] <= 2
    service.delete()
