"""Kubernetes' shared vocabulary: Status errors, quantities, label and field selectors, timestamps."""

import datetime
import re
import time
import uuid


class ApiError(Exception):
    """A request that ends in a `Status` object, as the API server answers every failure."""

    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self):
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}
        if self.details is not None:
            body["details"] = self.details
        return body


def qualified(resource, group):
    return resource + "." + group if group else resource


def not_found(resource, group, name):
    return ApiError(404, "NotFound", '{} "{}" not found'.format(qualified(resource, group), name),
                    {"name": name, "group": group, "kind": resource} if group else {"name": name, "kind": resource})


def already_exists(resource, group, name):
    return ApiError(409, "AlreadyExists", '{} "{}" already exists'.format(qualified(resource, group), name),
                    _details(resource, group, name))


def conflict(resource, group, name, why):
    return ApiError(409, "Conflict", 'Operation cannot be fulfilled on {} "{}": {}'.format(
        qualified(resource, group), name, why), _details(resource, group, name))


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def invalid(kind, group, name, causes):
    """causes: list of (field, reason, message) in the order they were found, as field.ErrorList prints them."""
    text = ", ".join("{}: {}".format(f, m) for f, _, m in causes)
    details = {"name": name, "kind": kind, "causes": [
        {"reason": r, "message": m, "field": f} for f, r, m in causes]}
    if group:
        details["group"] = group
    return ApiError(422, "Invalid", '{} "{}" is invalid: {}'.format(qualified(kind, group), name, text), details)


def _details(resource, group, name):
    d = {"name": name, "kind": resource}
    if group:
        d["group"] = group
    return d


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def new_uid():
    return str(uuid.uuid4())


# --- quantities ---------------------------------------------------------------------------------------------
_QUANTITY = re.compile(r"^([+-]?)([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$")
_SUFFIX = {"": 1, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
           "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60}
QUANTITY_MESSAGE = "must match the regex ^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"


def parse_quantity(value):
    """A quantity as a float (cores or bytes); raises ValueError as the API server would refuse it."""
    if isinstance(value, bool):
        raise ValueError(QUANTITY_MESSAGE)
    if isinstance(value, (int, float)):
        return float(value)
    m = _QUANTITY.match(str(value).strip()) if isinstance(value, str) else None
    if not m:
        raise ValueError(QUANTITY_MESSAGE)
    sign, number, exponent, suffix = m.groups()
    v = float(number)
    if exponent:
        v *= 10 ** int(exponent[1:])
    v *= _SUFFIX[suffix or ""]
    return -v if sign == "-" else v


# --- label selectors ----------------------------------------------------------------------------------------
_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def parse_label_selector(text):
    """The string form (`a=b,c!=d,e in (x,y),f notin (z),g,!h`) as a list of (key, op, values)."""
    reqs = []
    text = (text or "").strip()
    i = 0
    n = len(text)
    while i < n:
        # Split on commas outside parentheses.
        depth = 0
        j = i
        while j < n and (text[j] != "," or depth):
            depth += {"(": 1, ")": -1}.get(text[j], 0)
            j += 1
        part = text[i:j].strip()
        i = j + 1
        if not part:
            raise bad_request("unable to parse requirement: found '', expected: identifier")
        m = re.match(r"^(\S+?)\s+(in|notin)\s*\((.*)\)$", part)
        if m:
            values = [v.strip() for v in m.group(3).split(",") if v.strip()]
            reqs.append((m.group(1), m.group(2), values))
            continue
        m = re.match(r"^([^=!\s]+)\s*(==|=|!=)\s*(.*)$", part)
        if m:
            reqs.append((m.group(1), {"==": "=", "=": "=", "!=": "!="}[m.group(2)], [m.group(3).strip()]))
            continue
        if part.startswith("!"):
            reqs.append((part[1:].strip(), "!", []))
            continue
        reqs.append((part, "exists", []))
    for key, _, values in reqs:
        if not _LABEL_KEY.match(key):
            raise bad_request("unable to parse requirement: invalid label key \"{}\"".format(key))
        for v in values:
            if len(v) > 63 or not _LABEL_VALUE.match(v):
                raise bad_request("unable to parse requirement: invalid label value: \"{}\"".format(v))
    return reqs


def selector_from_label_selector(sel):
    """A LabelSelector object (`matchLabels`, `matchExpressions`) as requirements."""
    reqs = [(k, "=", [v]) for k, v in sorted((sel or {}).get("matchLabels", {}).items())]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for e in (sel or {}).get("matchExpressions", []) or []:
        reqs.append((e["key"], ops[e["operator"]], e.get("values") or []))
    return reqs


def labels_match(reqs, labels):
    labels = labels or {}
    for key, op, values in reqs:
        present = key in labels
        if op == "=" and (not present or labels[key] != values[0]):
            return False
        if op == "!=" and present and labels[key] == values[0]:
            return False
        if op == "in" and (not present or labels[key] not in values):
            return False
        if op == "notin" and present and labels[key] in values:
            return False
        if op == "exists" and not present:
            return False
        if op == "!" and present:
            return False
    return True


# --- field selectors ----------------------------------------------------------------------------------------
def parse_field_selector(text, allowed):
    reqs = []
    for part in [p.strip() for p in (text or "").split(",") if p.strip()]:
        m = re.match(r"^([^=!]+)(==|=|!=)(.*)$", part)
        if not m:
            raise bad_request('invalid selector: \'{}\'; can\'t understand \'{}\''.format(text, part))
        field = m.group(1).strip()
        if field not in allowed:
            raise bad_request('"{}" is not a known field selector: only "{}"'.format(
                field, '", "'.join(sorted(allowed))))
        reqs.append((field, m.group(2) != "!=", m.group(3).strip()))
    return reqs


def field_value(obj, path):
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def fields_match(reqs, obj):
    return all((field_value(obj, f) == v) == eq for f, eq, v in reqs)


DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def monotonic():
    return time.monotonic()
