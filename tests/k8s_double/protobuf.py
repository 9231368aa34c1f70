"""Just enough of Kubernetes' protobuf encoding to read the bodies kubectl sends only as protobuf: a
SelfSubjectAccessReview (`kubectl auth can-i`), and the Namespace, Secret and ConfigMap of `kubectl create
namespace|secret|configmap`. Everything else the double reads and writes is JSON; other protobuf bodies get 415."""

import base64

MAGIC = b"k8s\x00"


def _fields(data):
    """Yields (field number, wire type, value) for one message; length-delimited values stay bytes."""
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 2:
            n, i = _varint(data, i)
            value, i = data[i:i + n], i + n
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        else:
            raise ValueError("unsupported protobuf wire type {}".format(wire))
        yield number, wire, value


def _varint(data, i):
    shift = result = 0
    for _ in range(10):
        b = data[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
    raise ValueError("malformed varint")


def _strings(data, names):
    out = {}
    for number, wire, value in _fields(data):
        if wire == 2 and number in names:
            out[names[number]] = value.decode()
    return out


def _map(entries):
    out = {}
    for raw in entries:
        kv = dict((n, v) for n, _, v in _fields(raw))
        out[kv.get(1, b"").decode()] = kv.get(2, b"")
    return out


def _object_meta(data):
    md = _strings(data, {1: "name", 2: "generateName", 3: "namespace"})
    labels = [v for n, _, v in _fields(data) if n == 11]
    annotations = [v for n, _, v in _fields(data) if n == 12]
    if labels:
        md["labels"] = {k: v.decode() for k, v in _map(labels).items()}
    if annotations:
        md["annotations"] = {k: v.decode() for k, v in _map(annotations).items()}
    return md


def decode(body):
    """The JSON form of a protobuf body of a kind listed above, or None."""
    if not body.startswith(MAGIC):
        return None
    unknown = dict((n, v) for n, _, v in _fields(body[len(MAGIC):]))
    type_meta = _strings(unknown.get(1, b""), {1: "apiVersion", 2: "kind"})
    kind, raw = type_meta.get("kind"), unknown.get(2, b"")
    if kind == "SelfSubjectAccessReview":
        return decode_access_review(body)
    if kind not in ("Namespace", "Secret", "ConfigMap"):
        return None
    fields = list(_fields(raw))
    obj = {"apiVersion": type_meta.get("apiVersion", "v1"), "kind": kind, "metadata": {}}
    for n, _, v in fields:
        if n == 1:
            obj["metadata"] = _object_meta(v)
    if kind == "Secret":
        data = _map([v for n, _, v in fields if n == 2])
        if data:
            obj["data"] = {k: base64.b64encode(v).decode() for k, v in data.items()}
        string_data = _map([v for n, _, v in fields if n == 4])
        if string_data:
            obj["stringData"] = {k: v.decode() for k, v in string_data.items()}
        for n, _, v in fields:
            if n == 3:
                obj["type"] = v.decode()
    elif kind == "ConfigMap":
        data = _map([v for n, _, v in fields if n == 2])
        if data:
            obj["data"] = {k: v.decode() for k, v in data.items()}
        binary = _map([v for n, _, v in fields if n == 3])
        if binary:
            obj["binaryData"] = {k: base64.b64encode(v).decode() for k, v in binary.items()}
    return obj


def decode_access_review(body):
    """The JSON form of a protobuf-encoded SelfSubjectAccessReview, or None if the body is something else."""
    if not body.startswith(MAGIC):
        return None
    unknown = dict((n, v) for n, _, v in _fields(body[len(MAGIC):]))
    type_meta = _strings(unknown.get(1, b""), {1: "apiVersion", 2: "kind"})
    if type_meta.get("kind") != "SelfSubjectAccessReview":
        return None
    spec = {}
    for number, _, value in _fields(unknown.get(2, b"")):
        if number == 2:
            for n, _, v in _fields(value):
                if n == 1:
                    spec["resourceAttributes"] = _strings(v, {1: "namespace", 2: "verb", 3: "group", 4: "version",
                                                              5: "resource", 6: "subresource", 7: "name"})
                elif n == 2:
                    spec["nonResourceAttributes"] = _strings(v, {1: "path", 2: "verb"})
    return {"apiVersion": type_meta.get("apiVersion", "authorization.k8s.io/v1"), "kind": "SelfSubjectAccessReview",
            "metadata": {}, "spec": spec}
