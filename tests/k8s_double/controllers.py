"""The control plane's loops, each a reconcile step over the store: the Deployment controller (ReplicaSets per
pod template, rolling updates, status and conditions), the ReplicaSet controller, the scheduler, the Endpoints
and EndpointSlice controller with the service proxies, and the garbage collector."""

import copy
import json
import time
import traceback

from . import apply as ssa
from . import meta
from . import resources as res
from .api import random_suffix

DEPLOY = res.BY_KEY["apps/deployments"]
RS = res.BY_KEY["apps/replicasets"]
POD = res.BY_KEY["/pods"]
SVC = res.BY_KEY["/services"]
EP = res.BY_KEY["/endpoints"]
SLICE = res.BY_KEY["discovery.k8s.io/endpointslices"]
NODE = res.BY_KEY["/nodes"]
NS = res.BY_KEY["/namespaces"]
EVENT = res.BY_KEY["/events"]
KIND_TO_RESOURCE = {r.kind: r for r in res.RESOURCES}
HASH_LABEL = "pod-template-hash"
EVENT_TTL = 3600
REVISION = "deployment.kubernetes.io/revision"


def fnv32a(data):
    h = 0x811c9dc5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(text):
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(alphabet[ord(c) % len(alphabet)] for c in text)


def template_hash(template, collisions=0):
    data = json.dumps(_without_hash(template), sort_keys=True).encode() + str(collisions).encode()
    return safe_encode(str(fnv32a(data)))


def _without_hash(template):
    t = copy.deepcopy(template)
    labels = t.get("metadata", {}).get("labels") or {}
    labels.pop(HASH_LABEL, None)
    return t


def controller_of(obj):
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def condition(obj, ctype):
    for c in obj.get("status", {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def pod_ready(pod):
    c = condition(pod, "Ready")
    return bool(c and c.get("status") == "True")


def pod_available(pod, min_ready, now):
    c = condition(pod, "Ready")
    if not c or c.get("status") != "True":
        return False
    if min_ready <= 0:
        return True
    try:
        return meta.parse_time(c["lastTransitionTime"]) + min_ready <= now
    except (KeyError, ValueError):
        return False


def active(pod):
    return not pod["metadata"].get("deletionTimestamp") and pod.get("status", {}).get("phase") not in (
        "Succeeded", "Failed")


class Controllers:
    def __init__(self, cluster):
        self.cluster = cluster
        self.store = cluster.store
        self.api = cluster.api

    # -- plumbing shared by the loops --
    def write(self, r, old, new, manager, subresource=""):
        with self.store.lock:
            current = self.store.get(r.key, old["metadata"].get("namespace", ""), old["metadata"]["name"])
            if current is None or current["metadata"]["resourceVersion"] != old["metadata"]["resourceVersion"]:
                return None  # changed meanwhile; the next pass sees the new version
            try:
                return self.api._store_update(r, old, new, manager, subresource, {}, by_client=False)
            except meta.ApiError:
                return None

    def create(self, r, obj, manager):
        with self.store.lock:
            ns = obj["metadata"].get("namespace", "")
            try:
                self.api._prepare(r, obj, ns)
                self.api._admit(r, obj, None)
            except meta.ApiError as e:
                return e
            ssa.record_update(None, obj, manager, r.api_version, r.status)
            return self.store.create(r.key, obj)

    def event(self, obj, etype, reason, message, component):
        self.cluster.event(obj, etype, reason, message, component)

    def tick(self):
        for step in (self.garbage_collect, self.deployments, self.replicasets, self.schedule, self.endpoints):
            try:
                step()
            except Exception:  # noqa: BLE001 -- one failing pass must not stop the control plane
                traceback.print_exc()

    # -- Deployment controller --
    def deployments(self):
        now = time.time()
        for d in self.store.list(DEPLOY.key):
            if d["metadata"].get("deletionTimestamp"):
                continue
            self._sync_deployment(d, now)

    def _owned(self, r, owner, items=None):
        uid = owner["metadata"]["uid"]
        ns = owner["metadata"].get("namespace", "")
        items = items if items is not None else self.store.list(r.key, ns)
        return [o for o in items if (controller_of(o) or {}).get("uid") == uid]

    def _sync_deployment(self, d, now):
        spec = d["spec"]
        ns, name = d["metadata"]["namespace"], d["metadata"]["name"]
        rses = self._owned(RS, d)
        template = spec["template"]
        new_rs = None
        for rs in rses:
            if _without_hash(rs["spec"]["template"]) == _without_hash(template):
                new_rs = rs
        old_rses = sorted([rs for rs in rses if rs is not new_rs],
                          key=lambda r: (int(r["metadata"].get("annotations", {}).get(REVISION, "0")),
                                         r["metadata"]["creationTimestamp"]))
        max_revision = max([int(r["metadata"].get("annotations", {}).get(REVISION, "0")) for r in rses] or [0])
        replicas = spec.get("replicas", 1)
        strategy = spec.get("strategy", {})
        rolling = strategy.get("type", "RollingUpdate") == "RollingUpdate"
        ru = strategy.get("rollingUpdate") or {}
        surge = res.resolve_int_or_percent(ru.get("maxSurge", "25%"), replicas, True) if rolling else 0
        unavailable = res.resolve_int_or_percent(ru.get("maxUnavailable", "25%"), replicas, False) if rolling else 0
        if rolling and surge == 0 and unavailable == 0:
            unavailable = 1
        progress_note = None
        if spec.get("paused"):
            # A paused Deployment is not rolled: no new ReplicaSet, no scaling between old and new; only status.
            self._paused_status(d)
            return
        if new_rs is None:
            h = template_hash(template, d.get("status", {}).get("collisionCount", 0))
            rs_name = "{}-{}".format(name, h)
            tmpl = copy.deepcopy(template)
            tmpl.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = h
            selector = copy.deepcopy(spec["selector"])
            selector.setdefault("matchLabels", {})[HASH_LABEL] = h
            initial = 0
            if not rolling:
                initial = 0 if any(r["spec"].get("replicas", 0) for r in old_rses) else replicas
            elif not old_rses or all(r["spec"].get("replicas", 0) == 0 for r in old_rses):
                initial = min(replicas, replicas + surge)
            else:
                current = sum(r["spec"].get("replicas", 0) for r in old_rses)
                initial = max(0, min(replicas, replicas + surge - current))
            labels = dict(template.get("metadata", {}).get("labels") or {})
            labels[HASH_LABEL] = h
            rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {
                "name": rs_name, "namespace": ns, "labels": labels,
                "annotations": {"deployment.kubernetes.io/desired-replicas": str(replicas),
                                "deployment.kubernetes.io/max-replicas": str(replicas + surge),
                                REVISION: str(max_revision + 1)},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                                     "uid": d["metadata"]["uid"], "controller": True,
                                     "blockOwnerDeletion": True}]},
                "spec": {"replicas": initial, "minReadySeconds": spec.get("minReadySeconds", 0),
                         "selector": selector, "template": tmpl}}
            created = self.create(RS, rs, "kube-controller-manager")
            if isinstance(created, meta.ApiError) or created is None:
                # A name collision with a ReplicaSet this Deployment does not own: bump collisionCount.
                st = copy.deepcopy(d)
                st.setdefault("status", {})["collisionCount"] = d.get("status", {}).get("collisionCount", 0) + 1
                self.write(DEPLOY, d, st, "kube-controller-manager", "status")
                return
            new_rs = created
            if initial:
                self.event(d, "Normal", "ScalingReplicaSet", "Scaled up replica set {} from 0 to {}".format(
                    rs_name, initial), "deployment-controller")
            progress_note = ("NewReplicaSetCreated", 'Created new replica set "{}"'.format(rs_name))
        elif new_rs["metadata"].get("annotations", {}).get(REVISION) != str(max_revision) and old_rses:
            # Rolling back to an older template makes its ReplicaSet the newest revision.
            upd = copy.deepcopy(new_rs)
            upd["metadata"].setdefault("annotations", {})[REVISION] = str(max_revision + 1)
            new_rs = self.write(RS, new_rs, upd, "kube-controller-manager") or new_rs
            progress_note = ("FoundNewReplicaSet", 'Found new replica set "{}"'.format(new_rs["metadata"]["name"]))

        if rolling:
            self._roll(d, new_rs, old_rses, replicas, surge, unavailable)
        else:
            self._recreate(d, new_rs, old_rses, replicas)
        self._cleanup_history(d, old_rses)
        self._deployment_status(d, new_rs, old_rses, replicas, unavailable, now, progress_note)

    def _paused_status(self, d):
        st = copy.deepcopy(d.get("status", {}))
        st["observedGeneration"] = d["metadata"].get("generation", 1)
        conds = [c for c in st.get("conditions") or [] if c["type"] != "Progressing"]
        prev = condition(d, "Progressing")
        if prev and prev.get("reason") == "DeploymentPaused":
            conds.append(prev)
        else:
            ts = meta.now()
            conds.append({"type": "Progressing", "status": "Unknown", "lastUpdateTime": ts,
                          "lastTransitionTime": ts, "reason": "DeploymentPaused", "message": "Deployment is paused"})
        st["conditions"] = conds
        if st != d.get("status", {}):
            new = copy.deepcopy(d)
            new["status"] = st
            self.write(DEPLOY, d, new, "kube-controller-manager", "status")

    def _scale_rs(self, d, rs, count, why=""):
        old = rs["spec"].get("replicas", 0)
        if old == count:
            return rs
        upd = copy.deepcopy(rs)
        upd["spec"]["replicas"] = count
        ann = upd["metadata"].setdefault("annotations", {})
        ann["deployment.kubernetes.io/desired-replicas"] = str(d["spec"].get("replicas", 1))
        stored = self.write(RS, rs, upd, "kube-controller-manager")
        if stored is not None:
            self.event(d, "Normal", "ScalingReplicaSet", "Scaled {} replica set {} from {} to {}".format(
                "up" if count > old else "down", rs["metadata"]["name"], old, count), "deployment-controller")
            return stored
        return rs

    def _roll(self, d, new_rs, old_rses, replicas, surge, unavailable):
        # reconcileNewReplicaSet: grow the new ReplicaSet up to the surge budget.
        all_rs = [new_rs] + old_rses
        new_count = new_rs["spec"].get("replicas", 0)
        if new_count > replicas:
            new_rs = self._scale_rs(d, new_rs, replicas)
        elif new_count < replicas:
            current = sum(r["spec"].get("replicas", 0) for r in all_rs)
            max_total = replicas + surge
            if current < max_total:
                target = new_count + min(max_total - current, replicas - new_count)
                new_rs = self._scale_rs(d, new_rs, target)
        # reconcileOldReplicaSets: shrink old ReplicaSets without going below the availability budget.
        old_count = sum(r["spec"].get("replicas", 0) for r in old_rses)
        if old_count == 0:
            return
        all_count = new_rs["spec"].get("replicas", 0) + old_count
        min_available = replicas - unavailable
        new_unavailable = new_rs["spec"].get("replicas", 0) - new_rs.get("status", {}).get("availableReplicas", 0)
        max_down = all_count - min_available - new_unavailable
        if max_down <= 0:
            return
        # First the old ReplicaSets' unhealthy replicas, which cost no availability.
        cleaned = 0
        for i, rs in enumerate(old_rses):
            if cleaned >= max_down:
                break
            want = rs["spec"].get("replicas", 0)
            unhealthy = want - rs.get("status", {}).get("availableReplicas", 0)
            if want == 0 or unhealthy <= 0:
                continue
            down = min(max_down - cleaned, unhealthy)
            old_rses[i] = self._scale_rs(d, rs, want - down)
            cleaned += down
        max_down -= cleaned
        if max_down <= 0:
            return
        available = sum(r.get("status", {}).get("availableReplicas", 0) for r in [new_rs] + old_rses)
        if available <= min_available:
            return
        budget = min(available - min_available, max_down)
        for i, rs in enumerate(old_rses):
            if budget <= 0:
                break
            want = rs["spec"].get("replicas", 0)
            if want == 0:
                continue
            down = min(want, budget)
            old_rses[i] = self._scale_rs(d, rs, want - down)
            budget -= down

    def _recreate(self, d, new_rs, old_rses, replicas):
        for i, rs in enumerate(old_rses):
            if rs["spec"].get("replicas", 0):
                old_rses[i] = self._scale_rs(d, rs, 0)
        ns = d["metadata"]["namespace"]
        pods = self.store.list(POD.key, ns)
        old_uids = {rs["metadata"]["uid"] for rs in old_rses}
        if any((controller_of(p) or {}).get("uid") in old_uids for p in pods):
            return  # the Recreate strategy waits until every old pod is gone
        if new_rs["spec"].get("replicas", 0) != replicas:
            self._scale_rs(d, new_rs, replicas)

    def _cleanup_history(self, d, old_rses):
        limit = d["spec"].get("revisionHistoryLimit", 10)
        idle = [rs for rs in old_rses if rs["spec"].get("replicas", 0) == 0 and
                rs.get("status", {}).get("replicas", 0) == 0]
        for rs in idle[:max(0, len(idle) - limit)]:
            try:
                self.api.delete(RS, rs["metadata"]["namespace"], rs["metadata"]["name"], {})
            except meta.ApiError:
                pass

    def _deployment_status(self, d, new_rs, old_rses, replicas, unavailable, now, progress_note):
        d = self.store.get(DEPLOY.key, d["metadata"]["namespace"], d["metadata"]["name"]) or d
        new_rs = self.store.get(RS.key, new_rs["metadata"]["namespace"], new_rs["metadata"]["name"]) or new_rs
        all_rs = [new_rs] + [self.store.get(RS.key, r["metadata"]["namespace"], r["metadata"]["name"]) or r
                             for r in old_rses]
        old = d.get("status", {})
        st = copy.deepcopy(old)
        st["observedGeneration"] = d["metadata"].get("generation", 1)
        st["replicas"] = sum(r.get("status", {}).get("replicas", 0) for r in all_rs)
        st["updatedReplicas"] = new_rs.get("status", {}).get("replicas", 0)
        st["readyReplicas"] = sum(r.get("status", {}).get("readyReplicas", 0) for r in all_rs)
        st["availableReplicas"] = sum(r.get("status", {}).get("availableReplicas", 0) for r in all_rs)
        st["unavailableReplicas"] = max(0, st["replicas"] - st["availableReplicas"])
        for k in ("readyReplicas", "availableReplicas", "unavailableReplicas", "updatedReplicas", "replicas"):
            if not st[k]:
                st.pop(k)  # zero counts are omitted on the wire, as the API server's omitempty does
        ts = meta.now()
        conds = {c["type"]: c for c in st.get("conditions") or []}

        def set_cond(ctype, status, reason, message, touch):
            prev = conds.get(ctype)
            c = {"type": ctype, "status": status, "lastUpdateTime": ts, "lastTransitionTime": ts,
                 "reason": reason, "message": message}
            if prev is not None:
                if prev["status"] == status:
                    c["lastTransitionTime"] = prev["lastTransitionTime"]
                if prev["status"] == status and prev["reason"] == reason and not touch:
                    c["lastUpdateTime"] = prev["lastUpdateTime"]
                if prev["status"] == status and prev["reason"] == reason and prev["message"] == message \
                        and not touch:
                    return
            conds[ctype] = c

        if st.get("availableReplicas", 0) >= replicas - unavailable:
            set_cond("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", False)
        else:
            set_cond("Available", "False", "MinimumReplicasUnavailable",
                     "Deployment does not have minimum availability.", False)
        rs_name = new_rs["metadata"]["name"]
        deadline = d["spec"].get("progressDeadlineSeconds")
        complete = st.get("updatedReplicas", 0) == replicas and st.get("replicas", 0) == replicas and \
            st.get("availableReplicas", 0) == replicas
        progressing = any(st.get(k, 0) > old.get(k, 0) for k in ("updatedReplicas", "readyReplicas",
                                                                 "availableReplicas")) or \
            (st.get("replicas", 0) - st.get("updatedReplicas", 0)) < (old.get("replicas", 0) -
                                                                        old.get("updatedReplicas", 0))
        prev = conds.get("Progressing")
        if progress_note:
            set_cond("Progressing", "True", progress_note[0], progress_note[1], True)
        elif prev is not None and prev.get("reason") == "DeploymentPaused":
            set_cond("Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed", True)
        elif complete:
            set_cond("Progressing", "True", "NewReplicaSetAvailable",
                     'ReplicaSet "{}" has successfully progressed.'.format(rs_name), False)
        elif progressing or prev is None:
            set_cond("Progressing", "True", "ReplicaSetUpdated", 'ReplicaSet "{}" is progressing.'.format(rs_name),
                     True)
        elif deadline is not None and prev.get("reason") not in ("NewReplicaSetAvailable",
                                                                 "ProgressDeadlineExceeded") and \
                meta.parse_time(prev["lastUpdateTime"]) + deadline < now:
            set_cond("Progressing", "False", "ProgressDeadlineExceeded",
                     'ReplicaSet "{}" has timed out progressing.'.format(rs_name), False)
            self.event(d, "Warning", "ProgressDeadlineExceeded",
                       'ReplicaSet "{}" has timed out progressing.'.format(rs_name), "deployment-controller")
        if conds:
            st["conditions"] = [conds[k] for k in ("Available", "Progressing", "ReplicaFailure") if k in conds]
        if st != old:
            new = copy.deepcopy(d)
            new["status"] = st
            self.write(DEPLOY, d, new, "kube-controller-manager", "status")
        rev = new_rs["metadata"].get("annotations", {}).get(REVISION)
        if rev and d["metadata"].get("annotations", {}).get(REVISION) != rev:
            d = self.store.get(DEPLOY.key, d["metadata"]["namespace"], d["metadata"]["name"])
            if d is not None:
                new = copy.deepcopy(d)
                new["metadata"].setdefault("annotations", {})[REVISION] = rev
                self.write(DEPLOY, d, new, "kube-controller-manager")

    # -- ReplicaSet controller --
    def replicasets(self):
        now = time.time()
        for rs in self.store.list(RS.key):
            if rs["metadata"].get("deletionTimestamp"):
                continue
            ns = rs["metadata"]["namespace"]
            pods = self._owned(POD, rs, self.store.list(POD.key, ns))
            live = [p for p in pods if active(p)]
            want = rs["spec"].get("replicas", 1)
            if len(live) < want:
                for _ in range(want - len(live)):
                    self._create_pod(rs)
            elif len(live) > want:
                def rank(p):
                    st = p.get("status", {})
                    phase = {"Pending": 0, "Unknown": 1, "Running": 2}.get(st.get("phase"), 0)
                    restarts = sum(c.get("restartCount", 0) for c in st.get("containerStatuses") or [])
                    return (bool(p["spec"].get("nodeName")), phase, pod_ready(p), -restarts,
                            [-ord(ch) for ch in p["metadata"]["creationTimestamp"]])
                for p in sorted(live, key=rank)[:len(live) - want]:
                    try:
                        self.api.delete(POD, ns, p["metadata"]["name"], {})
                        self.event(rs, "Normal", "SuccessfulDelete", "Deleted pod: " + p["metadata"]["name"],
                                   "replicaset-controller")
                    except meta.ApiError:
                        pass
            pods = self._owned(POD, rs, self.store.list(POD.key, ns))
            live = [p for p in pods if active(p)]
            reqs = meta.selector_from_label_selector(rs["spec"]["selector"])
            min_ready = rs["spec"].get("minReadySeconds", 0)
            st = dict(rs.get("status", {}))
            st["replicas"] = len(live)
            st["fullyLabeledReplicas"] = sum(1 for p in live if meta.labels_match(reqs, p["metadata"].get("labels")))
            st["readyReplicas"] = sum(1 for p in live if pod_ready(p))
            st["availableReplicas"] = sum(1 for p in live if pod_available(p, min_ready, now))
            st["observedGeneration"] = rs["metadata"].get("generation", 1)
            for k in ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"):
                if not st[k]:
                    st.pop(k)
            if st != rs.get("status", {}):
                new = copy.deepcopy(rs)
                new["status"] = st
                self.write(RS, rs, new, "kube-controller-manager", "status")

    def _create_pod(self, rs):
        tmpl = copy.deepcopy(rs["spec"]["template"])
        md = tmpl.get("metadata") or {}
        md.pop("creationTimestamp", None)
        md["name"] = "{}-{}".format(rs["metadata"]["name"], random_suffix())
        md["namespace"] = rs["metadata"]["namespace"]
        md["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs["metadata"]["name"],
                                  "uid": rs["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": tmpl.get("spec", {})}
        created = self.create(POD, pod, "kube-controller-manager")
        if isinstance(created, meta.ApiError):
            self.event(rs, "Warning", "FailedCreate", "Error creating: " + created.message, "replicaset-controller")
        elif created is not None:
            self.event(rs, "Normal", "SuccessfulCreate", "Created pod: " + md["name"], "replicaset-controller")

    # -- scheduler --
    def schedule(self):
        nodes = [n for n in self.store.list(NODE.key) if not n["spec"].get("unschedulable")]
        pods = self.store.list(POD.key)
        used = {n["metadata"]["name"]: {} for n in nodes}
        for p in pods:
            node = p["spec"].get("nodeName")
            if node in used and p.get("status", {}).get("phase") not in ("Succeeded", "Failed"):
                for k, v in pod_requests(p).items():
                    used[node][k] = used[node].get(k, 0) + v
                used[node]["pods"] = used[node].get("pods", 0) + 1
        for p in pods:
            if p["spec"].get("nodeName") or p["metadata"].get("deletionTimestamp") or \
                    p["spec"].get("schedulerName", "default-scheduler") != "default-scheduler":
                continue
            want = pod_requests(p)
            want["pods"] = 1
            fits, reasons = [], {}
            for n in nodes:
                alloc = {k: meta.parse_quantity(v) for k, v in n["status"]["allocatable"].items()}
                selector = p["spec"].get("nodeSelector") or {}
                if any(n["metadata"].get("labels", {}).get(k) != v for k, v in selector.items()):
                    reasons["node(s) didn't match Pod's node affinity/selector"] = reasons.get(
                        "node(s) didn't match Pod's node affinity/selector", 0) + 1
                    continue
                short = [k for k, v in want.items() if v > 0 and used[n["metadata"]["name"]].get(k, 0) + v >
                         alloc.get(k, 0)]
                if short:
                    for k in short:
                        text = "Too many pods" if k == "pods" else "Insufficient " + k
                        reasons[text] = reasons.get(text, 0) + 1
                    continue
                free = sum((alloc.get(k, 0) - used[n["metadata"]["name"]].get(k, 0)) / alloc[k]
                           for k in ("cpu", "memory") if alloc.get(k))
                fits.append((-free, n["metadata"]["name"]))
            if fits:
                node = sorted(fits)[0][1]
                for k, v in want.items():
                    used[node][k] = used[node].get(k, 0) + v
                self._bind(p, node)
            else:
                text = ", ".join("{} {}".format(c, r) for r, c in sorted(reasons.items()))
                msg = "0/{} nodes are available: {}. preemption: 0/{} nodes are available: {} No preemption " \
                      "victims found for incoming pod.".format(len(nodes), text, len(nodes), len(nodes)) if nodes \
                    else "no nodes available to schedule pods"
                prev = condition(p, "PodScheduled")
                if prev and prev.get("message") == msg:
                    continue
                new = copy.deepcopy(p)
                conds = [c for c in new.setdefault("status", {}).get("conditions") or [] if c["type"] !=
                         "PodScheduled"]
                conds.append({"type": "PodScheduled", "status": "False", "lastProbeTime": None,
                              "lastTransitionTime": meta.now(), "reason": "Unschedulable", "message": msg})
                new["status"]["conditions"] = conds
                if self.write(POD, p, new, "default-scheduler", "status") is not None:
                    self.event(p, "Warning", "FailedScheduling", msg, "default-scheduler")

    def _bind(self, pod, node):
        new = copy.deepcopy(pod)
        new["spec"]["nodeName"] = node
        conds = [c for c in new.setdefault("status", {}).get("conditions") or [] if c["type"] != "PodScheduled"]
        conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                      "lastTransitionTime": meta.now()})
        new["status"]["conditions"] = conds
        with self.store.lock:
            current = self.store.get(POD.key, pod["metadata"]["namespace"], pod["metadata"]["name"])
            if current is None or current["metadata"]["resourceVersion"] != pod["metadata"]["resourceVersion"]:
                return
            # Binding sets spec.nodeName, which a plain update may not change; the binding subresource may.
            ssa.record_update(pod, new, "default-scheduler", "v1", True)
            if self.store.update(POD.key, new) is not None:
                self.event(pod, "Normal", "Scheduled", "Successfully assigned {}/{} to {}".format(
                    pod["metadata"]["namespace"], pod["metadata"]["name"], node), "default-scheduler")

    # -- Endpoints, EndpointSlices, load balancers and proxies --
    def endpoints(self):
        wanted = {}
        network = self.cluster.network
        for svc in self.store.list(SVC.key):
            ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
            spec = svc.get("spec", {})
            selector = spec.get("selector")
            ports = spec.get("ports") or []
            per_port = {}
            if selector:
                reqs = [(k, "=", [v]) for k, v in selector.items()]
                pods = [p for p in self.store.list(POD.key, ns) if p.get("status", {}).get("podIP") and
                        not p["metadata"].get("deletionTimestamp") and
                        p.get("status", {}).get("phase") not in ("Succeeded", "Failed") and
                        meta.labels_match(reqs, p["metadata"].get("labels"))]
                self._write_endpoints(svc, pods, ports)
                for p in pods:
                    if not pod_ready(p):
                        continue
                    for sp in ports:
                        tp = resolve_target_port(p, sp)
                        if tp:
                            per_port.setdefault(sp["port"], []).append((p["status"]["podIP"], tp))
            else:
                ep = self.store.get(EP.key, ns, name)
                for s in (ep or {}).get("subsets") or []:
                    for a in s.get("addresses") or []:
                        for sp in ports:
                            for epp in s.get("ports") or []:
                                if epp.get("name", "") == sp.get("name", ""):
                                    per_port.setdefault(sp["port"], []).append((a["ip"], epp["port"]))
            ip = spec.get("clusterIP")
            if ip and ip != "None":
                for sp in ports:
                    wanted[(ip, sp["port"])] = per_port.get(sp["port"], [])
            if spec.get("type") in ("NodePort", "LoadBalancer"):
                for sp in ports:
                    if sp.get("nodePort"):
                        wanted[("127.0.0.1", sp["nodePort"])] = per_port.get(sp["port"], [])
            if spec.get("type") == "LoadBalancer":
                lb = network.balancer_ip(svc)
                for sp in ports:
                    wanted[(lb, sp["port"])] = per_port.get(sp["port"], [])
                ingress = [{"ip": lb, "ipMode": "VIP"}]
                if svc.get("status", {}).get("loadBalancer", {}).get("ingress") != ingress:
                    new = copy.deepcopy(svc)
                    new.setdefault("status", {})["loadBalancer"] = {"ingress": ingress}
                    if self.write(SVC, svc, new, "service-controller", "status") is not None:
                        self.event(svc, "Normal", "EnsuredLoadBalancer", "Ensured load balancer",
                                   "service-controller")
        network.sync_proxies(wanted)

    def _write_endpoints(self, svc, pods, ports):
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        ready, not_ready = [], []
        for p in sorted(pods, key=lambda p: p["status"]["podIP"]):
            addr = {"ip": p["status"]["podIP"], "nodeName": p["spec"].get("nodeName"),
                    "targetRef": {"kind": "Pod", "namespace": ns, "name": p["metadata"]["name"],
                                  "uid": p["metadata"]["uid"]}}
            (ready if pod_ready(p) else not_ready).append(addr)
        ep_ports = []
        for sp in ports:
            tp = None
            for p in pods:
                tp = resolve_target_port(p, sp)
                if tp:
                    break
            if tp is None and isinstance(sp.get("targetPort"), int):
                tp = sp["targetPort"]
            if tp:
                port = {"port": tp, "protocol": sp.get("protocol", "TCP")}
                if sp.get("name"):
                    port["name"] = sp["name"]
                ep_ports.append(port)
        subsets = []
        if (ready or not_ready) and ep_ports:
            s = {"ports": ep_ports}
            if ready:
                s["addresses"] = ready
            if not_ready:
                s["notReadyAddresses"] = not_ready
            subsets.append(s)
        owner = {"apiVersion": "v1", "kind": "Service", "name": name, "uid": svc["metadata"]["uid"],
                 "controller": True, "blockOwnerDeletion": True}
        labels = dict(svc["metadata"].get("labels") or {})
        ep = self.store.get(EP.key, ns, name)
        if ep is None:
            obj = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": ns,
                                                                         "labels": labels}}
            if subsets:
                obj["subsets"] = subsets
            self.create(EP, obj, "endpoint-controller")
        elif (ep.get("subsets") or []) != subsets:
            new = copy.deepcopy(ep)
            new.pop("subsets", None)
            if subsets:
                new["subsets"] = subsets
            self.write(EP, ep, new, "endpoint-controller")
        slice_name = "{}-{}".format(name, safe_encode(str(fnv32a(svc["metadata"]["uid"].encode())))[:5])
        endpoints = [{"addresses": [a["ip"]], "conditions": {"ready": a in ready, "serving": True,
                                                              "terminating": False},
                      "nodeName": a["nodeName"], "targetRef": a["targetRef"]} for a in ready + not_ready]
        sl = self.store.get(SLICE.key, ns, slice_name)
        # A slice's port name is always present (empty for an unnamed port); clients dereference it.
        body = {"addressType": "IPv4", "endpoints": endpoints,
                "ports": [dict(p, name=p.get("name", "")) for p in ep_ports]}
        if sl is None:
            obj = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {
                "name": slice_name, "namespace": ns, "ownerReferences": [owner],
                "labels": dict(labels, **{"kubernetes.io/service-name": name,
                                          "endpointslice.kubernetes.io/managed-by":
                                              "endpointslice-controller.k8s.io"})}}
            obj.update(body)
            self.create(SLICE, obj, "endpointslice-controller")
        elif any(sl.get(k) != v for k, v in body.items()):
            new = copy.deepcopy(sl)
            new.update(body)
            self.write(SLICE, sl, new, "endpointslice-controller")

    # -- garbage collector --
    def garbage_collect(self):
        everything = self.store.snapshot()
        by_uid = {o["metadata"]["uid"]: (rk, o) for rk, o in everything}
        dependents = {}
        for rk, o in everything:
            for ref in o["metadata"].get("ownerReferences") or []:
                dependents.setdefault(ref.get("uid"), []).append((rk, o))
        for rk, o in everything:
            refs = o["metadata"].get("ownerReferences") or []
            if not refs:
                continue
            owners = [by_uid.get(ref.get("uid")) for ref in refs]
            r = res.BY_KEY[rk]
            ns, name = o["metadata"].get("namespace", ""), o["metadata"]["name"]
            if all(owner is None for owner in owners):
                self._gc_delete(r, ns, name, "Background")
            elif any(owner is not None and "foregroundDeletion" in (owner[1]["metadata"].get("finalizers") or [])
                     for owner in owners):
                self._gc_delete(r, ns, name, "Foreground")
        for rk, o in everything:
            md = o["metadata"]
            if "foregroundDeletion" in (md.get("finalizers") or []):
                remaining = [d for d in dependents.get(md["uid"], []) if d[1]["metadata"]["uid"] in by_uid]
                if not remaining:
                    new = copy.deepcopy(o)
                    new["metadata"]["finalizers"] = [f for f in md["finalizers"] if f != "foregroundDeletion"]
                    if not new["metadata"]["finalizers"]:
                        del new["metadata"]["finalizers"]
                    self.write(res.BY_KEY[rk], o, new, "garbage-collector")
                    if not new["metadata"].get("finalizers"):
                        self.store.delete(rk, md.get("namespace", ""), md["name"])
        # Events expire after an hour, as the API server's event TTL makes them.
        cutoff = time.time() - EVENT_TTL
        for rk, o in everything:
            if rk == EVENT.key and meta.parse_time(o.get("lastTimestamp") or o["metadata"]["creationTimestamp"]) < \
                    cutoff:
                self.store.delete(rk, o["metadata"]["namespace"], o["metadata"]["name"])
        for ns in self.store.list(NS.key):
            if not ns["metadata"].get("deletionTimestamp"):
                continue
            left = 0
            for rk, o in self.store.snapshot():
                if o["metadata"].get("namespace") == ns["metadata"]["name"]:
                    left += 1
                    if not o["metadata"].get("deletionTimestamp"):
                        self._gc_delete(res.BY_KEY[rk], o["metadata"]["namespace"], o["metadata"]["name"],
                                        "Background")
            if not left:
                self.store.delete(NS.key, "", ns["metadata"]["name"])

    def _gc_delete(self, r, ns, name, policy):
        try:
            obj = self.store.get(r.key, ns, name)
            if obj is None or obj["metadata"].get("deletionTimestamp"):
                return
            self.api.delete(r, ns, name, {"propagationPolicy": policy})
        except meta.ApiError:
            pass

    def orphan_dependents(self, owner):
        uid = owner["metadata"]["uid"]
        for rk, o in self.store.all_objects():
            refs = o["metadata"].get("ownerReferences") or []
            if any(ref.get("uid") == uid for ref in refs):
                new = copy.deepcopy(o)
                new["metadata"]["ownerReferences"] = [ref for ref in refs if ref.get("uid") != uid]
                if not new["metadata"]["ownerReferences"]:
                    del new["metadata"]["ownerReferences"]
                self.write(res.BY_KEY[rk], o, new, "garbage-collector")


def pod_requests(pod):
    total = {}
    spec = pod.get("spec", {})
    for c in spec.get("containers") or []:
        for k, v in ((c.get("resources") or {}).get("requests") or {}).items():
            total[k] = total.get(k, 0) + meta.parse_quantity(v)
    # Init containers run one at a time: the pod needs the larger of their maximum and the app containers' sum.
    for c in spec.get("initContainers") or []:
        for k, v in ((c.get("resources") or {}).get("requests") or {}).items():
            total[k] = max(total.get(k, 0), meta.parse_quantity(v))
    return total


def resolve_target_port(pod, service_port):
    tp = service_port.get("targetPort", service_port.get("port"))
    if isinstance(tp, int):
        return tp
    if isinstance(tp, str) and tp.isdigit():
        return int(tp)
    for c in pod["spec"].get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == tp:
                return p.get("containerPort")
    return None
