"""What the double serves: the resource table (discovery), defaulting and validation per kind, and the server-side
tables `kubectl get` prints."""

import math
import time

from . import meta


class Resource:
    def __init__(self, group, version, plural, kind, namespaced, short=(), verbs=None, status=False,
                 scale=False, fields=(), categories=()):
        self.group, self.version, self.plural, self.kind = group, version, plural, kind
        self.namespaced, self.short, self.status, self.scale = namespaced, list(short), status, scale
        self.verbs = verbs or ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
        self.fields = {"metadata.name"} | ({"metadata.namespace"} if namespaced else set()) | set(fields)
        self.categories = list(categories)

    @property
    def key(self):
        return self.group + "/" + self.plural

    @property
    def api_version(self):
        return self.group + "/" + self.version if self.group else self.version

    def singular(self):
        return self.kind.lower()


RESOURCES = [
    Resource("", "v1", "namespaces", "Namespace", False, ["ns"], status=True, fields=["status.phase"]),
    Resource("", "v1", "nodes", "Node", False, ["no"], status=True, fields=["spec.unschedulable"]),
    Resource("", "v1", "pods", "Pod", True, ["po"], status=True, categories=["all"],
             fields=["status.phase", "spec.nodeName", "spec.restartPolicy", "status.podIP"]),
    Resource("", "v1", "services", "Service", True, ["svc"], status=True, categories=["all"],
             fields=["spec.clusterIP", "spec.type"]),
    Resource("", "v1", "secrets", "Secret", True, fields=["type"]),
    Resource("", "v1", "configmaps", "ConfigMap", True, ["cm"]),
    Resource("", "v1", "endpoints", "Endpoints", True, ["ep"]),
    Resource("", "v1", "serviceaccounts", "ServiceAccount", True, ["sa"]),
    Resource("", "v1", "events", "Event", True, ["ev"],
             fields=["involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                     "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
                     "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"]),
    Resource("apps", "v1", "deployments", "Deployment", True, ["deploy"], status=True, scale=True,
             categories=["all"]),
    Resource("apps", "v1", "replicasets", "ReplicaSet", True, ["rs"], status=True, scale=True,
             categories=["all"]),
    Resource("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
    # Stored and served, not enforced: the double lets every authenticated client do everything not denied.
    Resource("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    Resource("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    Resource("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False,
             verbs=["create"]),
]
BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}
BY_KEY = {r.key: r for r in RESOURCES}
GROUPS = {}
for _r in RESOURCES:
    GROUPS.setdefault(_r.group, _r.version)


# --- discovery ----------------------------------------------------------------------------------------------
def resource_list(group, version):
    out = []
    for r in RESOURCES:
        if r.group != group or r.version != version:
            continue
        entry = {"name": r.plural, "singularName": r.singular(), "namespaced": r.namespaced, "kind": r.kind,
                 "verbs": r.verbs}
        if r.short:
            entry["shortNames"] = r.short
        if r.categories:
            entry["categories"] = r.categories
        out.append(entry)
        if r.status:
            out.append({"name": r.plural + "/status", "singularName": "", "namespaced": r.namespaced,
                        "kind": r.kind, "verbs": ["get", "patch", "update"]})
        if r.scale:
            out.append({"name": r.plural + "/scale", "singularName": "", "namespaced": r.namespaced,
                        "group": "autoscaling", "version": "v1", "kind": "Scale",
                        "verbs": ["get", "patch", "update"]})
        if r.plural == "pods":
            out.append({"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod",
                        "verbs": ["get"]})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group + "/" + version if group
            else version, "resources": out}


def api_groups():
    groups = []
    for g, v in GROUPS.items():
        if not g:
            continue
        gv = {"groupVersion": g + "/" + v, "version": v}
        groups.append({"name": g, "versions": [gv], "preferredVersion": gv})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


# --- defaulting ---------------------------------------------------------------------------------------------
def _default_probe(p):
    if not isinstance(p, dict):
        return
    for k, v in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1),
                 ("failureThreshold", 3)):
        p.setdefault(k, v)
    if isinstance(p.get("httpGet"), dict):
        p["httpGet"].setdefault("scheme", "HTTP")
        p["httpGet"].setdefault("path", "/")


def default_pod_spec(spec):
    if not isinstance(spec, dict):
        return
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        if not isinstance(c, dict):
            continue
        image = c.get("image", "")
        tagged = ":" in image.rsplit("/", 1)[-1] or "@" in image
        c.setdefault("imagePullPolicy", "IfNotPresent" if tagged and not image.endswith(":latest") else "Always")
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        res = c.setdefault("resources", {})
        # Requests default to limits when only limits are given, as the API server's defaulting does.
        if isinstance(res, dict) and isinstance(res.get("limits"), dict):
            req = res.setdefault("requests", {})
            for k, v in res["limits"].items():
                req.setdefault(k, v)
        for port in c.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            _default_probe(c.get(probe))
        for e in c.get("env") or []:
            ref = (e.get("valueFrom") or {}).get("fieldRef") if isinstance(e, dict) else None
            if isinstance(ref, dict):
                ref.setdefault("apiVersion", "v1")
    for v in spec.get("volumes") or []:
        for src in ("secret", "configMap"):
            if isinstance(v, dict) and isinstance(v.get(src), dict):
                v[src].setdefault("defaultMode", 420)


def default(resource, obj):
    kind = resource.kind
    spec = obj.get("spec")
    if kind == "Pod":
        default_pod_spec(spec)
        obj.setdefault("status", {}).setdefault("phase", "Pending")
        obj["status"].setdefault("qosClass", qos_class(spec or {}))
    elif kind in ("Deployment", "ReplicaSet") and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        if kind == "Deployment":
            spec.setdefault("progressDeadlineSeconds", 600)
            strategy = spec.setdefault("strategy", {})
            strategy.setdefault("type", "RollingUpdate")
            if strategy["type"] == "RollingUpdate":
                ru = strategy.setdefault("rollingUpdate", {})
                ru.setdefault("maxSurge", "25%")
                ru.setdefault("maxUnavailable", "25%")
        tmpl = spec.get("template")
        if isinstance(tmpl, dict):
            tmpl.setdefault("metadata", {}).setdefault("creationTimestamp", None)
            default_pod_spec(tmpl.get("spec"))
    elif kind == "Service" and isinstance(spec, dict):
        obj.setdefault("status", {"loadBalancer": {}})
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
        if spec["type"] in ("NodePort", "LoadBalancer"):
            spec.setdefault("externalTrafficPolicy", "Cluster")
        for p in spec.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")
                if "port" in p:
                    p.setdefault("targetPort", p["port"])
    elif kind == "Secret":
        if not obj.get("type"):
            obj["type"] = "Opaque"
    elif kind == "Namespace":
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        obj.setdefault("status", {"phase": "Active"})
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]


def qos_class(spec):
    containers = spec.get("containers") or []
    if not containers:
        return "BestEffort"
    any_set = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {} if isinstance(c, dict) else {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        any_set = any_set or bool(req) or bool(lim)
        for r in ("cpu", "memory"):
            if r not in lim or req.get(r, lim.get(r)) != lim.get(r):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


# --- validation ---------------------------------------------------------------------------------------------
def _name_causes(resource, name, causes):
    if not name:
        causes.append(("metadata.name", "FieldValueRequired", "Required value: name or generateName is required"))
        return
    if resource.kind == "Service" or resource.kind == "Namespace":
        rule, pattern, limit = ("a DNS-1035 label", meta.DNS1035_LABEL, 63) if resource.kind == "Service" \
            else ("a lowercase RFC 1123 label", meta.DNS1123_LABEL, 63)
        example = "my-name" if resource.kind == "Service" else "my-name"
        regex = "[a-z]([-a-z0-9]*[a-z0-9])?" if resource.kind == "Service" else "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
    else:
        rule, pattern, limit = "a lowercase RFC 1123 subdomain", meta.DNS1123_SUBDOMAIN, 253
        example = "example.com"
        regex = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
    if len(name) > limit:
        causes.append(("metadata.name", "FieldValueInvalid",
                       'Invalid value: "{}": must be no more than {} characters'.format(name, limit)))
    elif not pattern.match(name):
        if resource.kind == "Service":
            text = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                    "alphabetic character, and end with an alphanumeric character (e.g. '{}', or 'abc-123', "
                    "regex used for validation is '{}')").format(example, regex)
        else:
            what = "subdomain" if "subdomain" in rule else "label"
            text = ("{} must consist of lower case alphanumeric characters, {}and must start and end with an "
                    "alphanumeric character (e.g. '{}', regex used for validation is '{}')").format(
                        rule, "'-' or '.', " if what == "subdomain" else "'-', ", example, regex)
        causes.append(("metadata.name", "FieldValueInvalid", 'Invalid value: "{}": {}'.format(name, text)))


def _labels_causes(labels, path, causes):
    if labels is None:
        return
    if not isinstance(labels, dict):
        causes.append((path, "FieldValueInvalid", "Invalid value: must be a map of strings"))
        return
    for k, v in labels.items():
        if not meta._LABEL_KEY.match(k):
            causes.append((path, "FieldValueInvalid", 'Invalid value: "{}": name part must consist of alphanumeric '
                           "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                           "character".format(k)))
        if not isinstance(v, str) or len(v) > 63 or not meta._LABEL_VALUE.match(v):
            causes.append((path, "FieldValueInvalid",
                           'Invalid value: "{}": a valid label must be an empty string or consist of alphanumeric '
                           "characters, '-', '_' or '.', and must start and end with an alphanumeric character "
                           "(max 63 characters)".format(v)))


def _containers_causes(list_, path, causes, required):
    if not list_:
        if required:
            causes.append((path, "FieldValueRequired", "Required value"))
        return
    seen = set()
    for i, c in enumerate(list_):
        p = "{}[{}]".format(path, i)
        if not isinstance(c, dict):
            causes.append((p, "FieldValueInvalid", "Invalid value: must be an object"))
            continue
        name = c.get("name")
        if not name:
            causes.append((p + ".name", "FieldValueRequired", "Required value"))
        elif not meta.DNS1123_LABEL.match(name) or len(name) > 63:
            causes.append((p + ".name", "FieldValueInvalid",
                           'Invalid value: "{}": a lowercase RFC 1123 label must consist of lower case alphanumeric '
                           "characters or '-', and must start and end with an alphanumeric character".format(name)))
        elif name in seen:
            causes.append((p + ".name", "FieldValueDuplicate", 'Duplicate value: "{}"'.format(name)))
        seen.add(name)
        if not c.get("image"):
            causes.append((p + ".image", "FieldValueRequired", "Required value"))
        res = c.get("resources") or {}
        values = {}
        for section in ("requests", "limits"):
            for k, v in (res.get(section) or {}).items():
                rp = "{}.resources.{}[{}]".format(p, section, k)
                try:
                    q = meta.parse_quantity(v)
                except ValueError as e:
                    causes.append((rp, "FieldValueInvalid", 'Invalid value: "{}": {}'.format(v, e)))
                    continue
                if q < 0:
                    causes.append((rp, "FieldValueInvalid",
                                   'Invalid value: "{}": must be greater than or equal to 0'.format(v)))
                values[(section, k)] = q
        for (section, k), q in values.items():
            if section == "requests" and ("limits", k) in values and q > values[("limits", k)]:
                causes.append(("{}.resources.requests".format(p), "FieldValueInvalid",
                               'Invalid value: "{}": must be less than or equal to {} limit of {}'.format(
                                   res["requests"][k], k, res["limits"][k])))
        for port in c.get("ports") or []:
            cp = port.get("containerPort") if isinstance(port, dict) else None
            if not isinstance(cp, int) or not 0 < cp < 65536:
                causes.append((p + ".ports", "FieldValueInvalid",
                               "Invalid value: {}: must be between 1 and 65535, inclusive".format(cp)))


def _pod_spec_causes(spec, path, causes):
    if not isinstance(spec, dict):
        causes.append((path + ".containers", "FieldValueRequired", "Required value"))
        return
    _containers_causes(spec.get("containers"), path + ".containers", causes, True)
    _containers_causes(spec.get("initContainers"), path + ".initContainers", causes, False)
    rp = spec.get("restartPolicy")
    if rp not in (None, "Always", "OnFailure", "Never"):
        causes.append((path + ".restartPolicy", "FieldValueNotSupported",
                       'Unsupported value: "{}": supported values: "Always", "OnFailure", "Never"'.format(rp)))


def validate(resource, obj, old=None):
    """Raises a 422 Invalid listing every cause, as the API server does."""
    causes = []
    md = obj.get("metadata") or {}
    name = md.get("name", "")
    _name_causes(resource, name, causes)
    _labels_causes(md.get("labels"), "metadata.labels", causes)
    kind = resource.kind
    spec = obj.get("spec")
    if kind == "Pod":
        _pod_spec_causes(spec, "spec", causes)
    elif kind in ("Deployment", "ReplicaSet"):
        if not isinstance(spec, dict):
            spec = {}
        sel = spec.get("selector")
        tmpl = spec.get("template") or {}
        tlabels = (tmpl.get("metadata") or {}).get("labels") or {}
        if not sel or not (sel.get("matchLabels") or sel.get("matchExpressions")):
            causes.append(("spec.selector", "FieldValueRequired", "Required value"))
            if sel is not None:
                causes.append(("spec.selector", "FieldValueInvalid",
                               "Invalid value: v1.LabelSelector{{MatchLabels:map[string]string(nil), "
                               "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}}: empty selector is invalid "
                               "for deployment"))
        else:
            try:
                reqs = meta.selector_from_label_selector(sel)
            except (KeyError, TypeError):
                reqs = None
                causes.append(("spec.selector", "FieldValueInvalid", "Invalid value: malformed selector"))
            if reqs is not None and not meta.labels_match(reqs, tlabels):
                causes.append(("spec.template.metadata.labels", "FieldValueInvalid",
                               "Invalid value: map[string]string{{{}}}: `selector` does not match template "
                               "`labels`".format(", ".join('"{}":"{}"'.format(k, v) for k, v in sorted(
                                   tlabels.items())))))
        _labels_causes(tlabels, "spec.template.metadata.labels", causes)
        replicas = spec.get("replicas", 1)
        if not isinstance(replicas, int) or replicas < 0:
            causes.append(("spec.replicas", "FieldValueInvalid",
                           "Invalid value: {}: must be greater than or equal to 0".format(replicas)))
        _pod_spec_causes(tmpl.get("spec"), "spec.template.spec", causes)
        if kind == "Deployment":
            strategy = spec.get("strategy") or {}
            ru = strategy.get("rollingUpdate") or {}
            if strategy.get("type", "RollingUpdate") == "RollingUpdate" and \
                    resolve_int_or_percent(ru.get("maxSurge", "25%"), 100, True) == 0 and \
                    resolve_int_or_percent(ru.get("maxUnavailable", "25%"), 100, False) == 0:
                causes.append(("spec.strategy.rollingUpdate.maxUnavailable", "FieldValueInvalid",
                               "Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}: may not be 0 "
                               "when `maxSurge` is 0"))
            if tmpl.get("spec", {}).get("restartPolicy", "Always") != "Always":
                causes.append(("spec.template.spec.restartPolicy", "FieldValueNotSupported",
                               'Unsupported value: "{}": supported values: "Always"'.format(
                                   tmpl["spec"]["restartPolicy"])))
        if old is not None and old.get("spec", {}).get("selector") != spec.get("selector"):
            causes.append(("spec.selector", "FieldValueInvalid", "Invalid value: {}: field is immutable".format(
                spec.get("selector"))))
    elif kind == "Service":
        if not isinstance(spec, dict):
            spec = {}
        stype = spec.get("type", "ClusterIP")
        if stype not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
            causes.append(("spec.type", "FieldValueNotSupported",
                           'Unsupported value: "{}": supported values: "ClusterIP", "ExternalName", '
                           '"LoadBalancer", "NodePort"'.format(stype)))
        ports = spec.get("ports") or []
        if not ports and stype != "ExternalName" and spec.get("clusterIP") != "None":
            causes.append(("spec.ports", "FieldValueRequired", "Required value"))
        for i, p in enumerate(ports):
            port = p.get("port") if isinstance(p, dict) else None
            if not isinstance(port, int) or not 0 < port < 65536:
                causes.append(("spec.ports[{}].port".format(i), "FieldValueInvalid",
                               "Invalid value: {}: must be between 1 and 65535, inclusive".format(port)))
            if len(ports) > 1 and not (isinstance(p, dict) and p.get("name")):
                causes.append(("spec.ports[{}].name".format(i), "FieldValueRequired", "Required value"))
    elif kind in ("Secret", "ConfigMap"):
        for field in ("data", "stringData", "binaryData"):
            for k in (obj.get(field) or {}):
                if not k or not all(ch.isalnum() or ch in "-._" for ch in k):
                    causes.append(("{}[{}]".format(field, k), "FieldValueInvalid",
                                   'Invalid value: "{}": a valid config key must consist of alphanumeric '
                                   "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or "
                                   "'key-name', regex used for validation is '[-._a-zA-Z0-9]+')".format(k)))
    if kind == "Pod" and old is not None and _pod_spec_frozen(old.get("spec")) != _pod_spec_frozen(spec):
        causes.append(("spec", "FieldValueForbidden",
                       "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
                       "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
                       "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set "
                       "to 1 if it was previously negative)"))
    if causes:
        raise meta.invalid(kind, resource.group, name, causes)


def _pod_spec_frozen(spec):
    """A pod's spec without the fields an update may change (and nodeName, which binding sets)."""
    if not isinstance(spec, dict):
        return spec
    frozen = {k: v for k, v in spec.items() if k not in ("activeDeadlineSeconds", "tolerations",
                                                         "terminationGracePeriodSeconds", "nodeName")}
    for field in ("containers", "initContainers"):
        if isinstance(frozen.get(field), list):
            frozen[field] = [{k: v for k, v in c.items() if k != "image"} if isinstance(c, dict) else c
                             for c in frozen[field]]
    return frozen


def resolve_int_or_percent(value, total, round_up):
    if isinstance(value, str) and value.endswith("%"):
        pct = int(value[:-1])
        exact = pct * total / 100.0
        return int(math.ceil(exact)) if round_up else int(math.floor(exact))
    return int(value)


# --- tables for kubectl get ---------------------------------------------------------------------------------
def age(ts):
    if not ts:
        return "<unknown>"
    secs = max(0, int(time.time() - meta.parse_time(ts)))
    if secs < 120:
        return "{}s".format(secs)
    if secs < 600:
        return "{}m{}s".format(secs // 60, secs % 60) if secs % 60 else "{}m".format(secs // 60)
    if secs < 3 * 3600:
        return "{}m".format(secs // 60)
    if secs < 48 * 3600:
        return "{}h".format(secs // 3600)
    return "{}d".format(secs // 86400)


def pod_status_text(pod):
    st = pod.get("status", {})
    if pod["metadata"].get("deletionTimestamp"):
        return "Terminating"
    reason = st.get("reason") or st.get("phase", "Pending")
    for i, cs in enumerate(st.get("initContainerStatuses") or []):
        state = cs.get("state", {})
        if "terminated" in state and state["terminated"].get("exitCode") == 0:
            continue
        if "waiting" in state and state["waiting"].get("reason") not in (None, "PodInitializing"):
            return "Init:" + state["waiting"]["reason"]
        return "Init:{}/{}".format(i, len(pod["spec"].get("initContainers") or []))
    for cs in st.get("containerStatuses") or []:
        state = cs.get("state", {})
        if "waiting" in state and state["waiting"].get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state:
            reason = state["terminated"].get("reason") or "Error"
    for c in st.get("conditions") or []:
        if c.get("type") == "PodScheduled" and c.get("status") == "False" and st.get("phase") == "Pending":
            return "Pending"
    return reason


def _ports_text(svc):
    parts = []
    for p in svc.get("spec", {}).get("ports") or []:
        text = str(p.get("port"))
        if p.get("nodePort"):
            text += ":" + str(p["nodePort"])
        parts.append(text + "/" + p.get("protocol", "TCP"))
    return ",".join(parts) or "<none>"


def _cols(*names):
    return [{"name": n, "type": t, "format": "name" if n == "Name" else "", "description": n, "priority": pr}
            for n, t, pr in names]


def table_columns(kind):
    if kind == "Pod":
        return _cols(("Name", "string", 0), ("Ready", "string", 0), ("Status", "string", 0),
                     ("Restarts", "string", 0), ("Age", "string", 0), ("IP", "string", 1), ("Node", "string", 1))
    if kind == "Deployment":
        return _cols(("Name", "string", 0), ("Ready", "string", 0), ("Up-to-date", "integer", 0),
                     ("Available", "integer", 0), ("Age", "string", 0), ("Containers", "string", 1),
                     ("Images", "string", 1), ("Selector", "string", 1))
    if kind == "ReplicaSet":
        return _cols(("Name", "string", 0), ("Desired", "integer", 0), ("Current", "integer", 0),
                     ("Ready", "integer", 0), ("Age", "string", 0))
    if kind == "Service":
        return _cols(("Name", "string", 0), ("Type", "string", 0), ("Cluster-IP", "string", 0),
                     ("External-IP", "string", 0), ("Port(s)", "string", 0), ("Age", "string", 0),
                     ("Selector", "string", 1))
    if kind == "Node":
        return _cols(("Name", "string", 0), ("Status", "string", 0), ("Roles", "string", 0),
                     ("Age", "string", 0), ("Version", "string", 0))
    if kind in ("Secret",):
        return _cols(("Name", "string", 0), ("Type", "string", 0), ("Data", "string", 0), ("Age", "string", 0))
    if kind == "ConfigMap":
        return _cols(("Name", "string", 0), ("Data", "string", 0), ("Age", "string", 0))
    if kind == "Namespace":
        return _cols(("Name", "string", 0), ("Status", "string", 0), ("Age", "string", 0))
    if kind == "Endpoints":
        return _cols(("Name", "string", 0), ("Endpoints", "string", 0), ("Age", "string", 0))
    if kind == "Event":
        return _cols(("Last Seen", "string", 0), ("Type", "string", 0), ("Reason", "string", 0),
                     ("Object", "string", 0), ("Message", "string", 0))
    return _cols(("Name", "string", 0), ("Age", "string", 0))


def table_cells(kind, obj):
    md = obj["metadata"]
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    a = age(md.get("creationTimestamp"))
    if kind == "Pod":
        cs = st.get("containerStatuses") or []
        ready = sum(1 for c in cs if c.get("ready"))
        restarts = sum(c.get("restartCount", 0) for c in cs)
        return [md["name"], "{}/{}".format(ready, len(spec.get("containers") or [])), pod_status_text(obj),
                str(restarts), a, st.get("podIP", "<none>"), spec.get("nodeName", "<none>")]
    if kind == "Deployment":
        cs = spec.get("template", {}).get("spec", {}).get("containers") or []
        return [md["name"], "{}/{}".format(st.get("readyReplicas", 0), spec.get("replicas", 0)),
                st.get("updatedReplicas", 0), st.get("availableReplicas", 0), a,
                ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs),
                ",".join("{}={}".format(k, v) for k, v in sorted(
                    (spec.get("selector") or {}).get("matchLabels", {}).items()))]
    if kind == "ReplicaSet":
        return [md["name"], spec.get("replicas", 0), st.get("replicas", 0), st.get("readyReplicas", 0), a]
    if kind == "Service":
        ingress = (st.get("loadBalancer") or {}).get("ingress") or []
        ext = ",".join(i.get("ip", "") for i in ingress) or ("<pending>" if spec.get("type") == "LoadBalancer"
                                                            else "<none>")
        return [md["name"], spec.get("type", "ClusterIP"), spec.get("clusterIP", "<none>"), ext,
                _ports_text(obj), a, ",".join("{}={}".format(k, v) for k, v in sorted(
                    (spec.get("selector") or {}).items())) or "<none>"]
    if kind == "Node":
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions") or [])
        return [md["name"], "Ready" if ready else "NotReady", "<none>", a,
                st.get("nodeInfo", {}).get("kubeletVersion", "")]
    if kind == "Secret":
        return [md["name"], obj.get("type", "Opaque"), str(len(obj.get("data") or {})), a]
    if kind == "ConfigMap":
        return [md["name"], str(len(obj.get("data") or {}) + len(obj.get("binaryData") or {})), a]
    if kind == "Namespace":
        return [md["name"], st.get("phase", "Active"), a]
    if kind == "Endpoints":
        eps = []
        for s in obj.get("subsets") or []:
            for addr in s.get("addresses") or []:
                for p in s.get("ports") or []:
                    eps.append("{}:{}".format(addr["ip"], p["port"]))
        return [md["name"], ",".join(eps) or "<none>", a]
    if kind == "Event":
        io = obj.get("involvedObject") or {}
        return [age(obj.get("lastTimestamp") or md.get("creationTimestamp")), obj.get("type", ""),
                obj.get("reason", ""), "{}/{}".format(io.get("kind", "").lower(), io.get("name", "")),
                obj.get("message", "")]
    return [md["name"], a]
