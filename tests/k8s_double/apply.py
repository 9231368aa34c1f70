"""Field ownership and patches: server-side apply (managedFields in FieldsV1 form), JSON merge patch, strategic
merge patch and JSON patch.

A field path is a tuple of FieldsV1 keys: `f:name` for a map field, `k:{"name":"c"}` for an item of a list whose
items are keyed (containers by name, env by name, ...), and `.` for "this list item itself". Lists not listed in
LIST_KEYS are atomic: one leaf, replaced whole, as their published schema marks them.
"""

import copy
import json

from . import meta

# Lists merged by key (x-kubernetes-list-type: map); the key fields per list name. `ports` is keyed by
# containerPort in a container and by port in a Service, so it is resolved per item.
LIST_KEYS = {
    "containers": ["name"], "initContainers": ["name"], "ephemeralContainers": ["name"], "env": ["name"],
    "volumes": ["name"], "volumeMounts": ["mountPath"], "imagePullSecrets": ["name"],
    "ownerReferences": ["uid"], "conditions": ["type"], "hostAliases": ["ip"], "ports": None,
}

# Fields that no manager owns: identity, server-set metadata, and (for resources with a status subresource)
# status, which apply to the main resource ignores.
_UNOWNED_META = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                 "managedFields", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink",
                 "generateName"}

MISSING = object()


def _list_keys(name, item):
    if name == "ports":
        return ["containerPort", "protocol"] if "containerPort" in item else ["port", "protocol"]
    return LIST_KEYS[name]


def _is_keyed(name, value):
    return name in LIST_KEYS and isinstance(value, list) and all(isinstance(i, dict) for i in value)


def _key_of(name, item):
    key = {}
    for k in _list_keys(name, item):
        if k in item:
            key[k] = item[k]
        elif k == "protocol":
            key[k] = "TCP"
    return "k:" + json.dumps(key, sort_keys=True, separators=(",", ":"))


def owned_view(obj, has_status):
    """The part of an object whose fields managers own."""
    out = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "status" if has_status else "")}
    if "metadata" in out:
        md = {k: v for k, v in out["metadata"].items() if k not in _UNOWNED_META}
        if md:
            out["metadata"] = md
        else:
            del out["metadata"]
    return out


def field_set(obj, path=()):
    paths = set()
    for k, v in obj.items():
        p = path + ("f:" + k,)
        if isinstance(v, dict) and v:
            paths |= field_set(v, p)
        elif _is_keyed(k, v):
            for item in v:
                ip = p + (_key_of(k, item),)
                paths.add(ip + (".",))
                paths |= field_set(item, ip)
        else:
            paths.add(p)
    return paths


def get_at(obj, path):
    cur = obj
    for i, seg in enumerate(path):
        if seg == ".":
            return cur
        if seg.startswith("f:"):
            if not isinstance(cur, dict) or seg[2:] not in cur:
                return MISSING
            cur = cur[seg[2:]]
        else:
            name = path[i - 1][2:]
            if not isinstance(cur, list):
                return MISSING
            match = [it for it in cur if isinstance(it, dict) and _key_of(name, it) == seg]
            if not match:
                return MISSING
            cur = match[0]
    return cur


def remove_at(obj, path):
    """Removes the field (or, for a path ending in `.`, the list item); prunes maps it leaves empty."""
    if path[-1] == ".":
        path = path[:-1]
    parents = [obj]
    cur = obj
    for i, seg in enumerate(path[:-1]):
        nxt = get_at(cur, (seg,)) if seg.startswith("f:") else _item(cur, path[i - 1][2:], seg)
        if nxt is MISSING or nxt is None:
            return
        parents.append(nxt)
        cur = nxt
    last = path[-1]
    if last.startswith("f:"):
        if isinstance(cur, dict):
            cur.pop(last[2:], None)
    elif isinstance(cur, list):
        name = path[-2][2:]
        cur[:] = [it for it in cur if not (isinstance(it, dict) and _key_of(name, it) == last)]
    # Prune maps emptied by the removal, from the innermost out; lists stay (an empty list is a value).
    for depth in range(len(parents) - 1, 0, -1):
        child = parents[depth]
        if isinstance(child, dict) and not child:
            seg = path[depth - 1]
            parent = parents[depth - 1]
            if seg.startswith("f:") and isinstance(parent, dict):
                parent.pop(seg[2:], None)
        else:
            break


def _item(lst, name, seg):
    if not isinstance(lst, list):
        return MISSING
    for it in lst:
        if isinstance(it, dict) and _key_of(name, it) == seg:
            return it
    return MISSING


def to_fields_v1(paths):
    root = {}
    for p in sorted(paths):
        cur = root
        for seg in p:
            cur = cur.setdefault(seg, {})
    return root


def from_fields_v1(tree, path=()):
    paths = set()
    for k, v in (tree or {}).items():
        p = path + (k,)
        if k == ".":
            paths.add(p)
        elif v:
            sub = from_fields_v1(v, p)
            paths |= sub
            if "." in v and not k.startswith("k:"):
                paths.add(p)
        else:
            paths.add(p)
    return paths


def merge(live, patch, keyed=True, null_deletes=False):
    """Merges patch into live (both dicts): maps recursively, keyed lists by key when `keyed`, the rest replaced."""
    out = copy.deepcopy(live) if isinstance(live, dict) else {}
    for k, v in patch.items():
        if v is None and null_deletes:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v, keyed, null_deletes)
        elif keyed and _is_keyed(k, v) and isinstance(out.get(k), list):
            # Live items keep their order (merged with their patch item); new items follow in patch order.
            patches = {_key_of(k, item): item for item in v}
            merged = []
            for it in out[k]:
                key = _key_of(k, it) if isinstance(it, dict) else None
                item = patches.pop(key, None)
                if item is None:
                    merged.append(it)
                elif item.get("$patch") != "delete":
                    merged.append(merge(it, item, keyed, null_deletes))
            merged += [copy.deepcopy(item) for item in patches.values() if item.get("$patch") != "delete"]
            out[k] = merged
        elif isinstance(v, dict):
            out[k] = merge({}, v, keyed, null_deletes)
        else:
            out[k] = copy.deepcopy(v)
    return out


def strip_directives(obj):
    if isinstance(obj, dict):
        return {k: strip_directives(v) for k, v in obj.items() if not k.startswith("$")}
    if isinstance(obj, list):
        return [strip_directives(v) for v in obj]
    return obj


def json_patch(doc, ops):
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise meta.bad_request("the server rejected our request due to an error in our request")
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        parent = doc
        for p in parts[:-1]:
            parent = parent[int(p)] if isinstance(parent, list) else parent.get(p)
            if parent is None:
                raise ApiPatchError("doc is missing path: " + op["path"])
        last = parts[-1] if parts else None
        kind = op["op"]
        if kind == "test":
            cur = parent[int(last)] if isinstance(parent, list) else parent.get(last, MISSING)
            if cur != op.get("value"):
                raise ApiPatchError("testing value " + op["path"] + " failed")
        elif kind in ("add", "replace"):
            if isinstance(parent, list):
                if last == "-":
                    parent.append(op["value"])
                elif kind == "add":
                    parent.insert(int(last), op["value"])
                else:
                    parent[int(last)] = op["value"]
            else:
                if kind == "replace" and last not in parent:
                    raise ApiPatchError("replace operation does not apply: doc is missing key: " + op["path"])
                parent[last] = op["value"]
        elif kind == "remove":
            if isinstance(parent, list):
                del parent[int(last)]
            elif last in parent:
                del parent[last]
            else:
                raise ApiPatchError("remove operation does not apply: doc is missing path: " + op["path"])
        else:
            raise ApiPatchError("unsupported JSON patch operation " + kind)
    return doc


class ApiPatchError(Exception):
    pass


# --- managedFields ------------------------------------------------------------------------------------------
def read_managed(obj):
    entries = []
    for e in obj.get("metadata", {}).get("managedFields", []) or []:
        entries.append({"manager": e.get("manager", ""), "operation": e.get("operation", "Update"),
                        "apiVersion": e.get("apiVersion", ""), "time": e.get("time", meta.now()),
                        "subresource": e.get("subresource", ""),
                        "paths": from_fields_v1(e.get("fieldsV1", {}))})
    return entries


def write_managed(obj, entries):
    out = []
    for e in entries:
        if not e["paths"]:
            continue
        d = {"manager": e["manager"], "operation": e["operation"], "apiVersion": e["apiVersion"],
             "time": e["time"], "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(e["paths"])}
        if e.get("subresource"):
            d["subresource"] = e["subresource"]
        out.append(d)
    obj.setdefault("metadata", {})["managedFields"] = out
    if not out:
        del obj["metadata"]["managedFields"]


def _entry(entries, manager, operation, api_version, subresource=""):
    for e in entries:
        if e["manager"] == manager and e["operation"] == operation and e.get("subresource", "") == subresource:
            e["apiVersion"] = api_version
            e["time"] = meta.now()
            return e
    e = {"manager": manager, "operation": operation, "apiVersion": api_version, "time": meta.now(),
         "subresource": subresource, "paths": set()}
    entries.append(e)
    return e


def record_update(old, new, manager, api_version, has_status, subresource=""):
    """After a create/update/patch: the writer owns every field it changed; others lose those fields."""
    entries = read_managed(old) if old else []
    new_view = owned_view(new, has_status and subresource != "status")
    if subresource == "status":
        new_view = {"status": new.get("status", {})}
    new_paths = field_set(new_view)
    old_view = owned_view(old, has_status) if old else {}
    if subresource == "status" and old:
        old_view = {"status": old.get("status", {})}
    changed = {p for p in new_paths if get_at(old_view, p) != get_at(new_view, p)} if old else new_paths
    for e in entries:
        # Status writes share nothing with the main resource; a /scale write changes the main resource's fields.
        if (subresource == "status") == (e.get("subresource", "") == "status"):
            e["paths"] -= changed
            e["paths"] &= new_paths | {p for p in e["paths"] if p[-1] == "."}
            e["paths"] = {p for p in e["paths"] if get_at(new_view, p) is not MISSING}
    if changed:
        mine = _entry(entries, manager, "Update", api_version, subresource)
        mine["paths"] |= changed
    write_managed(new, entries)


def _owns_under(paths, prefix):
    n = len(prefix)
    return any(p[:n] == prefix for p in paths)


def server_side_apply(live, applied, manager, force, api_version, has_status, describe_path):
    """Returns the object after applying `applied` as `manager`, with managedFields updated, or raises a 409
    listing every field another manager owns with a different value (unless force)."""
    entries = read_managed(live) if live else []
    applied_view = owned_view(applied, has_status)
    applied_paths = field_set(applied_view)
    live_view = owned_view(live, has_status) if live else {}
    conflicts = []
    for e in entries:
        if e["manager"] == manager or e.get("subresource") == "status":
            continue
        for p in sorted(e["paths"] & applied_paths):
            if p[-1] == ".":
                continue
            if get_at(live_view, p) != get_at(applied_view, p):
                conflicts.append((e, p))
    if conflicts and not force:
        causes = [{"reason": "FieldManagerConflict", "message": "conflict with " + _manager_text(e),
                   "field": describe_path(p)} for e, p in conflicts]
        if len(conflicts) == 1:
            text = "conflict with {}: {}".format(_manager_text(conflicts[0][0]), describe_path(conflicts[0][1]))
        else:
            lines = []
            for name in sorted({_manager_text(e) for e, _ in conflicts}):
                lines.append("conflicts with {}:".format(name))
                lines += ["- " + describe_path(p) for e, p in conflicts if _manager_text(e) == name]
            text = "\n".join(lines)
        msg = "Apply failed with {} conflict{}: {}".format(len(conflicts), "" if len(conflicts) == 1 else "s", text)
        raise meta.ApiError(409, "Conflict", msg, {"causes": causes})
    for e, p in conflicts:
        e["paths"].discard(p)
    mine = _entry(entries, manager, "Apply", api_version)
    result = copy.deepcopy(live) if live else {}
    dropped = mine["paths"] - applied_paths
    others = set()
    for e in entries:
        if e is not mine and e.get("subresource") != "status":
            others |= e["paths"]
    for p in sorted(dropped, key=len, reverse=True):
        target = p[:-1] if p[-1] == "." else p
        if not _owns_under(others, target) and not _owns_under(applied_paths, target):
            remove_at(result, p)
    body = {k: v for k, v in applied.items() if k != "status" or not has_status}
    body.setdefault("metadata", {})
    body["metadata"] = {k: v for k, v in body["metadata"].items() if k not in _UNOWNED_META or k in
                        ("name", "namespace")}
    result = merge(result, body)
    mine["paths"] = applied_paths
    write_managed(result, entries)
    return result


def _manager_text(entry):
    # As the API server names a manager in conflicts: an Update manager with its API version and time.
    text = '"{}"'.format(entry["manager"])
    if entry.get("subresource"):
        text += ' with subresource "{}"'.format(entry["subresource"])
    if entry["operation"] == "Update":
        text += " using {} at {}".format(entry["apiVersion"], entry["time"])
    return text


def describe_path(path):
    """A FieldsV1 path in the form the API server's conflict messages use (`.spec.replicas`,
    `.spec.template.spec.containers[name="c"].image`)."""
    out = ""
    for seg in path:
        if seg == ".":
            continue
        if seg.startswith("f:"):
            out += "." + seg[2:]
        else:
            key = json.loads(seg[2:])
            out += "[" + ",".join('{}={}'.format(k, json.dumps(v)) for k, v in key.items()) + "]"
    return out
