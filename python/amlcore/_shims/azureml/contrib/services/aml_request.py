"""``azureml.contrib.services.aml_request`` inside amlcore's scoring replicas.

An entry script whose ``run`` is decorated with ``@rawhttp`` receives the HTTP request itself, an ``AMLRequest``
(method, path, query arguments, headers and the body as bytes), instead of the body as text; it may answer with an
``AMLResponse`` to choose the status, headers and body. GET and POST reach it, with any body (binary too).

    from azureml.contrib.services.aml_request import AMLRequest, rawhttp
    from azureml.contrib.services.aml_response import AMLResponse

    @rawhttp
    def run(request):
        if request.method == "GET":
            return AMLResponse(request.args.get("q", ""), 200)
        return AMLResponse(request.get_data()[::-1], 200)
"""

import functools
import json
import urllib.parse

__all__ = ["AMLRequest", "rawhttp"]


def rawhttp(func):
    """Marks ``run`` as taking the raw request (an AMLRequest)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)

    wrapper._amlcore_rawhttp = True
    return wrapper


class _Headers:
    """The request's headers: case-insensitive lookup, as werkzeug's Headers."""

    def __init__(self, pairs):
        self._pairs = list(pairs)

    def get(self, name, default=None, type=None):
        for key, value in self._pairs:
            if key.lower() == name.lower():
                return type(value) if type is not None else value
        return default

    def getlist(self, name):
        return [value for key, value in self._pairs if key.lower() == name.lower()]

    def __getitem__(self, name):
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name):
        return self.get(name) is not None

    def __iter__(self):
        return iter(self._pairs)

    def __len__(self):
        return len(self._pairs)

    def keys(self):
        return [key for key, _ in self._pairs]

    def items(self):
        return list(self._pairs)

    def to_wsgi_list(self):
        return list(self._pairs)

    def __repr__(self):
        return "Headers({!r})".format(self._pairs)


class _Args(dict):
    """Query arguments: the first value of each name, and getlist for all, as werkzeug's MultiDict."""

    def __init__(self, query):
        self._lists = {}
        for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
            self._lists.setdefault(key, []).append(value)
        super().__init__({key: values[0] for key, values in self._lists.items()})

    def get(self, key, default=None, type=None):
        if key not in self:
            return default
        return type(self[key]) if type is not None else self[key]

    def getlist(self, key):
        return list(self._lists.get(key, []))


class AMLRequest:
    """An HTTP request to the scoring route, as an entry script decorated with ``@rawhttp`` receives it."""

    def __init__(self, method, path, query, headers, body):
        self.method = method
        self.path = path
        self.query_string = query.encode("latin-1")
        self.full_path = path + "?" + query
        self.args = _Args(query)
        self.headers = _Headers(headers)
        self._body = body

    @property
    def url(self):
        host = self.headers.get("Host", "localhost")
        return "http://" + host + self.full_path.rstrip("?")

    @property
    def content_type(self):
        return self.headers.get("Content-Type")

    @property
    def mimetype(self):
        return (self.content_type or "").split(";", 1)[0].strip().lower()

    @property
    def content_length(self):
        return len(self._body)

    @property
    def data(self):
        return self._body

    def get_data(self, cache=True, as_text=False, parse_form_data=False):
        return self._body.decode("utf-8", "replace") if as_text else self._body

    @property
    def is_json(self):
        mimetype = self.mimetype
        return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))

    def get_json(self, force=False, silent=False, cache=True):
        if not (force or self.is_json):
            if silent:
                return None
            raise ValueError("The request's Content-Type is {!r}, not application/json; use get_json(force=True) or "
                             "get_data().".format(self.content_type))
        try:
            return json.loads(self._body)
        except ValueError:
            if silent:
                return None
            raise

    @property
    def json(self):
        return self.get_json()

    def __repr__(self):
        return "<AMLRequest {} {}>".format(self.method, self.full_path)
