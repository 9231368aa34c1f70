"""The object store: one resourceVersion counter for every write, as etcd's revision is, and a bounded history of
watch events so a watch can resume from any recent resourceVersion (older ones get 410 Gone, as the API server
answers when etcd has compacted)."""

import collections
import copy
import json
import threading

from . import meta

HISTORY = 20000


class Store:
    def __init__(self, write_log_path=None):
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._objects = {}  # (resource key, namespace, name) -> object
        self._rv = 0
        self._events = collections.deque(maxlen=HISTORY)  # (rv, type, resource key, object, previous object)
        self._write_log = open(write_log_path, "a") if write_log_path else None
        self.writes = []  # every object a client wrote, as the server stored it
        self.generation_kinds = {"apps/deployments", "apps/replicasets"}

    @property
    def resource_version(self):
        return self._rv

    def oldest_event_rv(self):
        with self.lock:
            return self._events[0][0] if self._events else self._rv

    def get(self, rk, namespace, name):
        with self.lock:
            obj = self._objects.get((rk, namespace or "", name))
            return copy.deepcopy(obj) if obj is not None else None

    def list(self, rk, namespace=None):
        with self.lock:
            out = [copy.deepcopy(o) for (r, ns, _), o in self._objects.items()
                   if r == rk and (namespace is None or ns == namespace)]
        out.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        return out

    def snapshot(self):
        """(resource key, object) for everything, without copying: for readers that never mutate."""
        with self.lock:
            return sorted(((rk, o) for (rk, _, _), o in self._objects.items()),
                          key=lambda x: (x[0], x[1]["metadata"].get("namespace", ""), x[1]["metadata"]["name"]))

    def all_objects(self):
        with self.lock:
            return [(rk, copy.deepcopy(o)) for (rk, _, _), o in sorted(self._objects.items())]

    def _emit(self, kind, rk, obj, prev=None):
        self._events.append((self._rv, kind, rk, copy.deepcopy(obj), prev))
        self.changed.notify_all()

    def _next_rv(self, obj):
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)

    def create(self, rk, obj, by_client=False):
        with self.lock:
            md = obj["metadata"]
            key = (rk, md.get("namespace", ""), md["name"])
            if key in self._objects:
                return None
            md["uid"] = meta.new_uid()
            md["creationTimestamp"] = meta.now()
            if rk in self.generation_kinds:
                md["generation"] = 1
            self._next_rv(obj)
            self._objects[key] = copy.deepcopy(obj)
            self._emit("ADDED", rk, obj)
            if by_client:
                self._log_write("create", rk, obj)
            return copy.deepcopy(obj)

    def update(self, rk, obj, by_client=False):
        """Stores obj if its resourceVersion is current (or absent); returns the stored copy or None on conflict."""
        with self.lock:
            md = obj["metadata"]
            key = (rk, md.get("namespace", ""), md["name"])
            old = self._objects.get(key)
            if old is None:
                return None
            rv = md.get("resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                return None
            for f in ("uid", "creationTimestamp"):
                md[f] = old["metadata"][f]
            if rk in self.generation_kinds:
                gen = old["metadata"].get("generation", 1)
                if _spec(old) != _spec(obj):
                    gen += 1
                md["generation"] = gen
            if _same(old, obj):
                return copy.deepcopy(old)  # a no-op write does not bump resourceVersion, as on the real server
            self._next_rv(obj)
            self._objects[key] = copy.deepcopy(obj)
            self._emit("MODIFIED", rk, obj, old)
            if by_client:
                self._log_write("update", rk, obj)
            return copy.deepcopy(obj)

    def delete(self, rk, namespace, name):
        with self.lock:
            obj = self._objects.pop((rk, namespace or "", name), None)
            if obj is None:
                return None
            self._next_rv(obj)
            self._emit("DELETED", rk, obj)
            return copy.deepcopy(obj)

    def events_since(self, rv):
        """Events after rv; None when rv is older than the history kept."""
        with self.lock:
            if self._events and rv < self._events[0][0] - 1:
                return None
            return [e for e in self._events if e[0] > rv]

    def _log_write(self, verb, rk, obj):
        record = {"verb": verb, "resource": rk, "object": copy.deepcopy(obj)}
        self.writes.append(record)
        if self._write_log:
            self._write_log.write(json.dumps(record) + "\n")
            self._write_log.flush()

    def log_write(self, verb, rk, obj):
        with self.lock:
            self._log_write(verb, rk, obj)


def _spec(obj):
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _same(a, b):
    strip = lambda o: {k: (v if k != "metadata" else {mk: mv for mk, mv in v.items()
                                                       if mk not in ("resourceVersion", "managedFields")})
                       for k, v in o.items()}
    # managedFields timestamps change on every write; compare their content without the times.
    def mf(o):
        return [{k: v for k, v in e.items() if k != "time"} for e in o["metadata"].get("managedFields", [])]
    return strip(a) == strip(b) and mf(a) == mf(b)
