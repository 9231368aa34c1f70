"""The REST surface: routing, authentication, the verbs with their Kubernetes semantics, watch streams, tables for
kubectl, pod logs and the double's own `/_double/` endpoints."""

import base64
import copy
import http.server
import json
import random
import time
import traceback
import urllib.parse

import yaml

from . import apply as ssa
from . import meta
from . import protobuf
from . import resources as res

VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-k8s-double", "gitCommit": "", "gitTreeState":
           "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23", "compiler": "gc",
           "platform": "linux/amd64"}
MAX_WATCH_SECONDS = 1800


def truthy(value):
    # Go's strconv.ParseBool, which the API server uses for boolean query parameters.
    return value in ("1", "t", "T", "true", "TRUE", "True")


def random_suffix(n=5):
    # The API server's generateName alphabet (no vowels, no look-alike digits).
    return "".join(random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(n))


class Api:
    """Everything a request can do, independent of HTTP; the handler below only translates."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.store = cluster.store
        self.deny = set()  # (verb, group, resource, namespace or "*")

    # --- helpers used by controllers too ---------------------------------------------------------------------
    def forbidden(self, user, verb, r, namespace, name=""):
        for dv, dg, dr, dns in self.deny:
            if dv in (verb, "*") and dg in (r.group, "*") and dr in (r.plural, "*") and dns in (namespace, "*"):
                where = ' in the namespace "{}"'.format(namespace) if namespace else " at the cluster scope"
                group = '"{}"'.format(r.group)
                msg = '{}{} is forbidden: User "{}" cannot {} resource "{}" in API group {}{}'.format(
                    meta.qualified(r.plural, r.group), ' "{}"'.format(name) if name else "", user, verb,
                    r.plural, group, where)
                return meta.ApiError(403, "Forbidden", msg, {"name": name, "group": r.group, "kind": r.plural}
                                     if name else {"group": r.group, "kind": r.plural})
        return None

    def denied(self, verb, group, resource, namespace):
        r = res.BY_KEY.get(group + "/" + resource) or res.Resource(group, "v1", resource, "", bool(namespace))
        return self.forbidden("x", verb, r, namespace) is not None

    def _check_namespace(self, r, namespace):
        if r.namespaced and namespace and self.store.get("/namespaces", "", namespace) is None:
            raise meta.not_found("namespaces", "", namespace)

    def _prepare(self, r, obj, namespace):
        if not isinstance(obj, dict):
            raise meta.bad_request("the body of the request was not a JSON object")
        if obj.get("apiVersion") and obj["apiVersion"] != r.api_version:
            raise meta.bad_request("the API version in the data ({}) does not match the expected API version ({})"
                                   .format(obj["apiVersion"], r.api_version))
        if obj.get("kind") and obj["kind"] != r.kind:
            raise meta.bad_request("the kind in the data ({}) does not match the expected kind ({})".format(
                obj["kind"], r.kind))
        obj["apiVersion"], obj["kind"] = r.api_version, r.kind
        md = obj.setdefault("metadata", {})
        if not isinstance(md, dict):
            raise meta.bad_request("metadata must be an object")
        if r.namespaced:
            if md.get("namespace") and md["namespace"] != namespace:
                raise meta.bad_request("the namespace of the provided object does not match the namespace sent on "
                                       "the request")
            md["namespace"] = namespace
        else:
            md.pop("namespace", None)
        if r.kind == "Secret" and isinstance(obj.get("stringData"), dict):
            data = obj.setdefault("data", {}) or {}
            for k, v in obj.pop("stringData").items():
                data[k] = base64.b64encode(str(v).encode()).decode()
            obj["data"] = data
        if r.kind == "Secret":
            for k, v in (obj.get("data") or {}).items():
                try:
                    base64.b64decode(v, validate=True)
                except (ValueError, TypeError):
                    raise meta.invalid("Secret", "", md.get("name", ""), [(
                        "data[{}]".format(k), "FieldValueInvalid", "Invalid value: illegal base64 data")])
        return obj

    def _admit(self, r, obj, old):
        res.default(r, obj)
        res.validate(r, obj, old)
        if r.kind == "Service":
            self.cluster.network.admit_service(obj, old)

    # --- verbs -------------------------------------------------------------------------------------------------
    def get(self, r, namespace, name):
        obj = self.store.get(r.key, namespace, name)
        if obj is None:
            raise meta.not_found(r.plural, r.group, name)
        return obj

    def list(self, r, namespace, query):
        labels = meta.parse_label_selector(query.get("labelSelector", ""))
        fields = meta.parse_field_selector(query.get("fieldSelector", ""), r.fields)
        with self.store.lock:
            rv = self.store.resource_version
            items = [o for o in self.store.list(r.key, namespace or None)
                     if meta.labels_match(labels, o["metadata"].get("labels")) and meta.fields_match(fields, o)]
        out_meta = {"resourceVersion": str(rv)}
        limit = int(query.get("limit") or 0)
        start = 0
        if query.get("continue"):
            try:
                token = json.loads(base64.b64decode(query["continue"]).decode())
                start = token["start"]
            except (ValueError, KeyError):
                raise meta.bad_request("continue key is not valid")
        if limit > 0:
            page = items[start:start + limit]
            if start + limit < len(items):
                out_meta["continue"] = base64.b64encode(json.dumps({"start": start + limit}).encode()).decode()
                out_meta["remainingItemCount"] = len(items) - start - limit
            items = page
        for o in items:
            o.pop("apiVersion", None)
            o.pop("kind", None)
        return {"kind": r.kind + "List", "apiVersion": r.api_version, "metadata": out_meta, "items": items}

    def create(self, r, namespace, obj, query, manager):
        obj = self._prepare(r, obj, namespace)
        md = obj["metadata"]
        if not md.get("name") and md.get("generateName"):
            md["name"] = md["generateName"] + random_suffix()
        for f in ("resourceVersion", "uid", "creationTimestamp", "deletionTimestamp", "managedFields"):
            md.pop(f, None)
        if r.kind == "SelfSubjectAccessReview":
            return self.access_review(obj)
        with self.store.lock:
            self._check_namespace(r, namespace)
            if self.store.get(r.key, namespace, md.get("name", "")) is not None:
                raise meta.already_exists(r.plural, r.group, md["name"])
            if r.status and r.kind not in ("Namespace", "Node"):
                obj.pop("status", None)  # a client cannot create an object with a status of its choosing
            self._admit(r, obj, None)
            ssa.record_update(None, obj, manager, r.api_version, r.status)
            if query.get("dryRun"):
                return obj
            created = self.store.create(r.key, obj, by_client=True)
            if created is None:
                raise meta.already_exists(r.plural, r.group, md["name"])
            if r.kind == "Namespace":
                self.cluster.default_service_account(md["name"])
            return created

    def update(self, r, namespace, name, obj, query, manager, subresource=""):
        obj = self._prepare(r, obj, namespace)
        if obj["metadata"].get("name") != name:
            raise meta.bad_request("the name of the object ({}) does not match the name on the URL ({})".format(
                obj["metadata"].get("name"), name))
        with self.store.lock:
            old = self.store.get(r.key, namespace, name)
            if old is None:
                raise meta.not_found(r.plural, r.group, name)
            rv = obj["metadata"].get("resourceVersion")
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise meta.conflict(r.plural, r.group, name, "the object has been modified; please apply your "
                                    "changes to the latest version and try again")
            return self._store_update(r, old, obj, manager, subresource, query)

    def _store_update(self, r, old, obj, manager, subresource, query, by_client=True):
        if subresource == "status":
            new = copy.deepcopy(old)
            new["status"] = obj.get("status", {})
            new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        else:
            new = obj
            md = new["metadata"]
            for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
                if f in old["metadata"]:
                    md[f] = old["metadata"][f]
                else:
                    md.pop(f, None)
            if r.status:
                if "status" in old:
                    new["status"] = old["status"]
                else:
                    new.pop("status", None)
            if r.kind == "Service":
                spec = new.setdefault("spec", {})
                for f in ("clusterIP", "clusterIPs"):
                    if f in old.get("spec", {}) and not spec.get(f):
                        spec[f] = old["spec"][f]
            self._admit(r, new, old)
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        new["metadata"]["managedFields"] = old["metadata"].get("managedFields", [])
        ssa.record_update(old, new, manager, r.api_version, r.status, subresource)
        if query.get("dryRun"):
            return new
        stored = self.store.update(r.key, new, by_client=by_client)
        if stored is None:
            raise meta.conflict(r.plural, r.group, old["metadata"]["name"], "the object has been modified; please "
                                "apply your changes to the latest version and try again")
        self._finish_if_finalized(r, stored)
        return stored

    def _finish_if_finalized(self, r, obj):
        md = obj["metadata"]
        if md.get("deletionTimestamp") and not md.get("finalizers") and r.kind not in ("Pod", "Namespace"):
            self.store.delete(r.key, md.get("namespace", ""), md["name"])

    def patch(self, r, namespace, name, body, content_type, query, manager, subresource=""):
        ctype = content_type.split(";")[0].strip()
        if ctype == "application/apply-patch+yaml":
            return self.apply(r, namespace, name, body, query, subresource)
        try:
            patch = json.loads(body or b"null")
        except ValueError as e:
            raise meta.bad_request("error decoding patch: {}".format(e))
        with self.store.lock:
            old = self.store.get(r.key, namespace, name)
            if old is None:
                raise meta.not_found(r.plural, r.group, name)
            try:
                if ctype == "application/json-patch+json":
                    if not isinstance(patch, list):
                        raise meta.bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
                    new = ssa.json_patch(old, patch)
                elif ctype == "application/merge-patch+json":
                    new = ssa.merge(old, patch, keyed=False, null_deletes=True)
                elif ctype == "application/strategic-merge-patch+json":
                    new = ssa.strip_directives(ssa.merge(old, patch, keyed=True, null_deletes=True))
                else:
                    raise meta.ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown "
                                        "format - accepted media types include: application/json-patch+json, "
                                        "application/merge-patch+json, application/apply-patch+yaml, "
                                        "application/strategic-merge-patch+json")
            except ssa.ApiPatchError as e:
                raise meta.ApiError(422, "Invalid", str(e))
            except (TypeError, AttributeError, IndexError, ValueError) as e:
                raise meta.bad_request("the patch could not be applied: {}".format(e))
            rv = (patch.get("metadata") or {}).get("resourceVersion") if isinstance(patch, dict) else None
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise meta.conflict(r.plural, r.group, name, "the object has been modified; please apply your "
                                    "changes to the latest version and try again")
            new = self._prepare(r, new, namespace)
            if subresource == "status":
                return self._store_update(r, old, new, manager, "status", query)
            new["metadata"]["name"] = name
            return self._store_update(r, old, new, manager, "", query)

    def apply(self, r, namespace, name, body, query, subresource=""):
        manager = query.get("fieldManager")
        if not manager:
            raise meta.ApiError(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required '
                                "value: is required for apply patch", {"group": "meta.k8s.io",
                                                                       "kind": "PatchOptions", "causes": [{
                                                                           "reason": "FieldValueRequired",
                                                                           "message": "Required value: is required "
                                                                                      "for apply patch",
                                                                           "field": "fieldManager"}]})
        try:
            applied = yaml.safe_load(body) if body else None
        except yaml.YAMLError as e:
            raise meta.bad_request("error decoding YAML: {}".format(e))
        if not isinstance(applied, dict):
            raise meta.bad_request("the body of the apply patch must be an object")
        for f in ("apiVersion", "kind"):
            if not applied.get(f):
                raise meta.bad_request("{} must be set for apply".format(f))
        applied = self._prepare(r, applied, namespace)
        if applied["metadata"].get("name", name) != name:
            raise meta.bad_request("the name of the object ({}) does not match the name on the URL ({})".format(
                applied["metadata"].get("name"), name))
        applied["metadata"]["name"] = name
        force = truthy(query.get("force"))
        with self.store.lock:
            self._check_namespace(r, namespace)
            old = self.store.get(r.key, namespace, name)
            if subresource == "status":
                if old is None:
                    raise meta.not_found(r.plural, r.group, name)
                new = copy.deepcopy(old)
                new["status"] = ssa.merge(old.get("status", {}), applied.get("status") or {})
                return self._store_update(r, old, new, query["fieldManager"], "status", query)
            new = ssa.server_side_apply(old, applied, manager, force, r.api_version,
                                        r.status and r.kind not in ("Namespace",), ssa.describe_path)
            if old is None:
                mf = new["metadata"].get("managedFields")
                if r.status and r.kind not in ("Namespace", "Node"):
                    new.pop("status", None)
                self._admit(r, new, None)
                if mf is not None:
                    new["metadata"]["managedFields"] = mf
                if query.get("dryRun"):
                    return new
                created = self.store.create(r.key, new, by_client=True)
                created["metadata"]["__created"] = True
                return created
            if old.get("status") is not None and r.status:
                new["status"] = old["status"]
            self._admit(r, new, old)
            new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
            for f in ("uid", "creationTimestamp", "deletionTimestamp"):
                if f in old["metadata"]:
                    new["metadata"][f] = old["metadata"][f]
            if query.get("dryRun"):
                return new
            stored = self.store.update(r.key, new, by_client=True)
            if stored is None:
                raise meta.conflict(r.plural, r.group, name, "the object has been modified; please apply your "
                                    "changes to the latest version and try again")
            return stored

    def delete(self, r, namespace, name, options):
        policy = options.get("propagationPolicy")
        orphan = options.get("orphanDependents")
        if policy is None and orphan is not None:
            policy = "Orphan" if orphan in (True, "true") else "Background"
        if policy not in (None, "Background", "Foreground", "Orphan"):
            raise meta.invalid("DeleteOptions", "meta.k8s.io", "", [(
                "propagationPolicy", "FieldValueNotSupported",
                'Unsupported value: "{}": supported values: "Foreground", "Background", "Orphan", "nil"'.format(
                    policy))])
        with self.store.lock:
            obj = self.store.get(r.key, namespace, name)
            if obj is None:
                raise meta.not_found(r.plural, r.group, name)
            pre = options.get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != obj["metadata"]["uid"]:
                raise meta.conflict(r.plural, r.group, name, "Precondition failed: UID in precondition: {}, UID in "
                                    "object meta: {}".format(pre["uid"], obj["metadata"]["uid"]))
            if pre.get("resourceVersion") and pre["resourceVersion"] != obj["metadata"]["resourceVersion"]:
                raise meta.conflict(r.plural, r.group, name, "Precondition failed: ResourceVersion in precondition: "
                                    "{}, ResourceVersion in object meta: {}".format(
                                        pre["resourceVersion"], obj["metadata"]["resourceVersion"]))
            if options.get("dryRun"):
                return obj
            self.store.log_write("delete", r.key, obj)
            md = obj["metadata"]
            if md.get("deletionTimestamp"):
                return obj
            if policy == "Orphan":
                self.cluster.gc.orphan_dependents(obj)
            if r.kind == "Namespace":
                md["deletionTimestamp"] = meta.now()
                obj.setdefault("status", {})["phase"] = "Terminating"
                return self.store.update(r.key, obj)
            if r.kind == "Pod" and obj.get("spec", {}).get("nodeName"):
                grace = options.get("gracePeriodSeconds")
                if grace is None:
                    grace = obj["spec"].get("terminationGracePeriodSeconds", 30)
                grace = int(grace)
                if grace > 0 or obj.get("status", {}).get("phase") in ("Running", "Pending"):
                    md["deletionTimestamp"] = meta.now()
                    md["deletionGracePeriodSeconds"] = grace
                    return self.store.update(r.key, obj)
            if policy == "Foreground":
                md["deletionTimestamp"] = meta.now()
                md["deletionGracePeriodSeconds"] = 0
                md["finalizers"] = list(md.get("finalizers") or []) + ["foregroundDeletion"]
                return self.store.update(r.key, obj)
            if md.get("finalizers"):
                md["deletionTimestamp"] = meta.now()
                md["deletionGracePeriodSeconds"] = 0
                return self.store.update(r.key, obj)
            deleted = self.store.delete(r.key, namespace, name)
            if r.kind == "Service":
                self.cluster.network.release_service(deleted)
            if r.kind in ("Pod", "Service", "Namespace"):
                return deleted  # these return the deleted object; the rest a Success Status, as upstream does
            details = {"name": name, "kind": r.plural, "uid": deleted["metadata"]["uid"]}
            if r.group:
                details["group"] = r.group
            return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}

    def access_review(self, review):
        attrs = (review.get("spec") or {}).get("resourceAttributes") or {}
        nonres = (review.get("spec") or {}).get("nonResourceAttributes")
        allowed = True
        reason = ""
        if attrs:
            verb, group, resource = attrs.get("verb", ""), attrs.get("group", ""), attrs.get("resource", "")
            ns = attrs.get("namespace", "")
            for dv, dg, dr, dns in self.deny:
                if dv in (verb, "*") and dg in (group, "*") and dr in (resource, "*") and dns in (ns, "*"):
                    allowed = False
                    reason = "denied by the double's rule {} {}/{} in {}".format(dv, dg, dr, dns)
        elif not nonres:
            raise meta.invalid("SelfSubjectAccessReview", "authorization.k8s.io", "", [(
                "spec.resourceAttributes", "FieldValueRequired",
                "Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified")])
        review["status"] = {"allowed": allowed}
        if not allowed:
            review["status"]["reason"] = reason
        else:
            review["status"]["reason"] = "allowed by the double's default policy"
        review["metadata"]["creationTimestamp"] = None
        return review

    def scale(self, r, namespace, name):
        obj = self.get(r, namespace, name)
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {k: obj["metadata"][k] for k in ("name", "namespace", "uid", "resourceVersion",
                                                             "creationTimestamp")},
                "spec": {"replicas": obj["spec"].get("replicas", 1)},
                "status": {"replicas": obj.get("status", {}).get("replicas", 0),
                           "selector": ",".join("{}={}".format(k, v) for k, v in sorted(
                               obj["spec"]["selector"].get("matchLabels", {}).items()))}}

    def set_scale(self, r, namespace, name, replicas, manager):
        with self.store.lock:
            obj = self.get(r, namespace, name)
            new = copy.deepcopy(obj)
            new["spec"]["replicas"] = replicas
            self._store_update(r, obj, new, manager, "scale", {})
        return self.scale(r, namespace, name)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "k8s-double"
    sys_version = ""

    def log_message(self, fmt, *args):
        if self.server.cluster.verbose:
            super().log_message(fmt, *args)

    # -- plumbing --
    def _send(self, code, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else (json.dumps(body) + "\n").encode() \
            if ctype == "application/json" else body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Audit-Id", meta.new_uid())
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _fault(self, fault):
        code = fault["code"]
        reasons = {429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"}
        body = meta.ApiError(code, reasons.get(code, "InternalError"), fault.get(
            "message", "the double was told to answer {}".format(code))).status()
        if fault.get("retryAfterSeconds") is not None:
            body["details"] = {"retryAfterSeconds": fault["retryAfterSeconds"]}
        data = (json.dumps(body) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if fault.get("retryAfterSeconds") is not None:
            self.send_header("Retry-After", str(fault["retryAfterSeconds"]))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, err):
        self._send(err.code, err.status())

    def _body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = b""
            for _ in range(1 << 20):
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
            raise meta.bad_request("request body has too many chunks")
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _user(self):
        cluster = self.server.cluster
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and auth[7:].strip() == cluster.token:
            return "admin"
        cert = getattr(self.connection, "getpeercert", lambda: None)()
        if cert:
            for rdn in cert.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        return v
        return None

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _dispatch(self, method):
        url = urllib.parse.urlsplit(self.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        body = self._body() if method in ("POST", "PUT", "PATCH", "DELETE") else b""
        try:
            if body and "protobuf" in self.headers.get("Content-Type", ""):
                decoded = protobuf.decode(body)
                if decoded is not None:
                    body = json.dumps(decoded).encode()
                else:
                    raise meta.ApiError(415, "UnsupportedMediaType", 'the body of the request was in an unknown format - '
                                    'accepted media types include: application/json, application/yaml')
            user = self._user()
            if user is None:
                raise meta.ApiError(401, "Unauthorized", "Unauthorized")
            if not url.path.startswith("/_double"):
                fault = self.server.cluster.take_fault(method, url.path)
                if fault is not None:
                    return self._fault(fault)
            self._route(method, url.path.rstrip("/") or "/", query, body, user)
        except meta.ApiError as e:
            self._error(e)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # noqa: BLE001 -- a bug in the double answers 500 as the server would
            traceback.print_exc()
            self._error(meta.ApiError(500, "InternalError", "Internal error occurred: {}".format(e)))

    def _route(self, method, path, query, body, user):
        cluster = self.server.cluster
        api = cluster.api
        if path.startswith("/_double"):
            return self._double(method, path, query, body)
        if path == "/version":
            return self._send(200, VERSION)
        if path in ("/healthz", "/livez", "/readyz"):
            return self._send(200, "ok", "text/plain")
        if path == "/api":
            return self._send(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": cluster.address}]})
        if path == "/apis":
            return self._send(200, res.api_groups())
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 2:
            group = parts[1]
            if len(parts) == 2:
                if group not in res.GROUPS or not group:
                    raise meta.ApiError(404, "NotFound", "the server could not find the requested resource")
                gv = {"groupVersion": group + "/" + res.GROUPS[group], "version": res.GROUPS[group]}
                return self._send(200, {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": [gv],
                                        "preferredVersion": gv})
            version, rest = parts[2], parts[3:]
        else:
            raise meta.ApiError(404, "NotFound", "the server could not find the requested resource")
        if res.GROUPS.get(group) != version:
            raise meta.ApiError(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            return self._send(200, res.resource_list(group, version))
        namespace = ""
        if rest[0] == "namespaces" and len(rest) >= 3 and (group, version, rest[2]) in res.BY_PATH and \
                res.BY_PATH[(group, version, rest[2])].namespaced:
            namespace, rest = rest[1], rest[2:]
        r = res.BY_PATH.get((group, version, rest[0]))
        if r is None:
            raise meta.ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        if len(rest) > 3 or (sub and sub not in ("status", "scale", "log")):
            raise meta.ApiError(404, "NotFound", "the server could not find the requested resource")
        watch = truthy(query.get("watch"))
        verb = {"GET": "watch" if watch else ("get" if name else "list"), "POST": "create", "PUT": "update",
                "PATCH": "patch", "DELETE": "delete" if name else "deletecollection"}[method]
        denial = api.forbidden(user, verb, r, namespace, name)
        if denial and r.kind != "SelfSubjectAccessReview":
            raise denial
        manager = query.get("fieldManager") or (self.headers.get("User-Agent") or "unknown").split("/")[0]
        if sub == "log":
            if method != "GET" or r.kind != "Pod":
                raise meta.ApiError(405, "MethodNotAllowed", "the server does not allow this method")
            return self._logs(namespace, name, query)
        if sub == "scale" and r.scale:
            if method == "GET":
                return self._send(200, api.scale(r, namespace, name))
            patch = json.loads(body or b"{}")
            if method == "PATCH":
                ctype = self.headers.get("Content-Type", "")
                if "json-patch" in ctype:
                    patch = ssa.json_patch(api.scale(r, namespace, name), patch)
                replicas = (patch.get("spec") or {}).get("replicas")
            else:
                replicas = (patch.get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or replicas < 0:
                raise meta.invalid("Scale", "autoscaling", name, [(
                    "spec.replicas", "FieldValueInvalid",
                    "Invalid value: {}: must be greater than or equal to 0".format(replicas))])
            return self._send(200, api.set_scale(r, namespace, name, replicas, manager))
        if method == "GET":
            if name:
                obj = api.get(r, namespace, name)
                return self._send_obj(r, obj, single=True)
            if watch:
                return self._watch(r, namespace, query)
            return self._send_obj(r, api.list(r, namespace, query))
        if method == "POST" and not name:
            obj = self._decode(body)
            created = api.create(r, namespace, obj, query, manager)
            return self._send(201, created)
        if method == "PUT" and name:
            return self._send(200, api.update(r, namespace, name, self._decode(body), query, manager, sub))
        if method == "PATCH" and name:
            obj = api.patch(r, namespace, name, body, self.headers.get("Content-Type", ""), query, manager, sub)
            created = obj["metadata"].pop("__created", False)
            return self._send(201 if created else 200, obj)
        if method == "DELETE" and name:
            options = dict(query)
            if body:
                options.update(self._decode(body))
            if "gracePeriodSeconds" in options:
                options["gracePeriodSeconds"] = int(options["gracePeriodSeconds"])
            return self._send(200, api.delete(r, namespace, name, options))
        if method == "DELETE":
            listed = api.list(r, namespace, query)
            options = self._decode(body) if body else {}
            for o in listed["items"]:
                try:
                    api.delete(r, o["metadata"].get("namespace", ""), o["metadata"]["name"], options)
                except meta.ApiError:
                    pass
            listed["items"] = []
            return self._send(200, listed)
        raise meta.ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested "
                            "resource")

    def _decode(self, body):
        try:
            return json.loads(body or b"{}")
        except ValueError:
            try:
                return yaml.safe_load(body)
            except yaml.YAMLError as e:
                raise meta.bad_request("error decoding the body: {}".format(e))

    def _send_obj(self, r, obj, single=False):
        if "as=Table" in self.headers.get("Accept", ""):
            items = [obj] if single else obj["items"]
            include = "Metadata"
            rows = []
            for o in items:
                row = {"cells": res.table_cells(r.kind, o)}
                if include == "Metadata":
                    row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                     "metadata": o["metadata"]}
                rows.append(row)
            table = {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
                     "metadata": {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                     "columnDefinitions": res.table_columns(r.kind), "rows": rows}
            if not single and obj["metadata"].get("continue"):
                table["metadata"]["continue"] = obj["metadata"]["continue"]
            return self._send(200, table)
        return self._send(200, obj)

    # -- watch: a chunked stream of events, one JSON object per line --
    def _watch(self, r, namespace, query):
        cluster = self.server.cluster
        store = cluster.store
        labels = meta.parse_label_selector(query.get("labelSelector", ""))
        fields = meta.parse_field_selector(query.get("fieldSelector", ""), r.fields)
        timeout = min(int(query.get("timeoutSeconds") or MAX_WATCH_SECONDS), MAX_WATCH_SECONDS)
        rv_text = query.get("resourceVersion", "")

        def matches(o):
            return o is not None and (not namespace or o["metadata"].get("namespace") == namespace) and \
                meta.labels_match(labels, o["metadata"].get("labels")) and meta.fields_match(fields, o)

        initial = []
        with store.lock:
            if rv_text in ("", "0"):
                rv = store.resource_version
                initial = [("ADDED", o) for o in store.list(r.key, namespace or None) if matches(o)]
            else:
                try:
                    rv = int(rv_text)
                except ValueError:
                    raise meta.bad_request("invalid resource version: " + rv_text)
                if store.events_since(rv) is None:
                    gone = meta.ApiError(410, "Expired", "too old resource version: {} ({})".format(
                        rv, store.oldest_event_rv()))
                    initial = [("ERROR", gone.status())]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        as_table = "as=Table" in self.headers.get("Accept", "")
        sent_columns = []

        def send(kind, obj):
            if as_table and kind in ("ADDED", "MODIFIED", "DELETED"):
                # kubectl get -w: each event carries a one-row Table; only the first defines the columns.
                obj = {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
                       "metadata": {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                       "columnDefinitions": [] if sent_columns else res.table_columns(r.kind),
                       "rows": [{"cells": res.table_cells(r.kind, obj), "object": {
                           "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                           "metadata": obj["metadata"]}}]}
                sent_columns.append(True)
            data = (json.dumps({"type": kind, "object": obj}) + "\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        try:
            for kind, obj in initial:
                send(kind, obj)
            if initial and initial[0][0] == "ERROR":
                return self._end_chunks()
            deadline = time.monotonic() + timeout
            bookmark_at = time.monotonic() + 30
            while not cluster.stopping.is_set() and time.monotonic() < deadline:
                with store.lock:
                    events = store.events_since(rv)
                    if events is None:
                        send("ERROR", meta.ApiError(410, "Expired", "too old resource version: {}".format(rv))
                             .status())
                        return self._end_chunks()
                    if not events:
                        store.changed.wait(0.5)
                        events = store.events_since(rv) or []
                for erv, kind, rk, obj, prev in events:
                    rv = erv
                    if rk != r.key:
                        continue
                    now_match, was_match = matches(obj), matches(prev)
                    if kind == "MODIFIED":
                        if now_match and not was_match:
                            kind = "ADDED"
                        elif was_match and not now_match:
                            kind = "DELETED"
                        elif not now_match:
                            continue
                    elif not now_match:
                        continue
                    send(kind, obj)
                if truthy(query.get("allowWatchBookmarks")) and time.monotonic() > bookmark_at:
                    bookmark_at = time.monotonic() + 30
                    send("BOOKMARK", {"kind": r.kind, "apiVersion": r.api_version,
                                      "metadata": {"resourceVersion": str(rv)}})
            self._end_chunks()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True

    def _end_chunks(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _logs(self, namespace, name, query):
        api = self.server.cluster.api
        pod = api.get(res.BY_KEY["/pods"], namespace, name)
        text = self.server.cluster.kubelet.logs(pod, query)
        if truthy(query.get("follow")):
            return self._follow(pod, query, text)
        self._send(200, text, "text/plain")

    def _follow(self, pod, query, text):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for chunk in self.server.cluster.kubelet.follow(pod, query, text):
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
            self._end_chunks()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True

    # -- the double's own endpoints, for tests --
    def _double(self, method, path, query, body):
        cluster = self.server.cluster
        api = cluster.api
        what = path[len("/_double/"):]
        if what == "objects" and method == "GET":
            return self._send(200, {"items": [o for _, o in cluster.store.all_objects()]})
        if what == "writes" and method == "GET":
            with cluster.store.lock:
                return self._send(200, {"items": list(cluster.store.writes)})
        if what == "processes" and method == "GET":
            return self._send(200, {"pids": cluster.kubelet.pids()})
        if what == "deny" and method in ("POST", "DELETE"):
            rule = json.loads(body or b"{}")
            key = (rule.get("verb", "*"), rule.get("group", ""), rule.get("resource", "*"),
                   rule.get("namespace", "*"))
            if method == "POST":
                api.deny.add(key)
            else:
                api.deny.discard(key)
            return self._send(200, {"deny": [list(k) for k in sorted(api.deny)]})
        if what == "faults" and method in ("POST", "DELETE"):
            if method == "DELETE":
                cluster.faults.clear()
            else:
                spec = json.loads(body or b"{}")
                if not isinstance(spec.get("code"), int):
                    raise meta.bad_request("a fault needs an integer code")
                spec.setdefault("count", 1)
                cluster.faults.append(spec)
            return self._send(200, {"faults": cluster.faults})
        if what == "images" and method == "POST":
            spec = json.loads(body or b"{}")
            cluster.images[spec["name"]] = spec["dir"]
            return self._send(200, {"images": cluster.images})
        raise meta.ApiError(404, "NotFound", "the server could not find the requested resource")


class Server(http.server.ThreadingHTTPServer):
    """Accepts on the main thread and does the TLS handshake on the request's own thread, so a client that
    never completes its handshake cannot stall the others."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, cluster, ssl_context):
        self.cluster = cluster
        self.ssl_context = ssl_context
        super().__init__(address, Handler)

    def finish_request(self, request, client_address):
        request.settimeout(30)
        try:
            conn = self.ssl_context.wrap_socket(request, server_side=True)
        except OSError:
            return
        conn.settimeout(None)
        try:
            Handler(conn, client_address, self)
        finally:
            try:
                conn.close()
            except OSError:
                pass
