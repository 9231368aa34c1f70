"""``azureml.contrib.services.aml_response`` inside amlcore's scoring replicas: what a ``@rawhttp`` entry script
returns to choose the status, headers and body of its answer."""

import json

__all__ = ["AMLResponse"]


class AMLResponse:
    """``AMLResponse(response_body, status_code, headers=None, json_str=False)``: bytes are sent as they are, text
    as UTF-8; with ``json_str`` the body is encoded as JSON (and sent as application/json)."""

    def __init__(self, response_body, status_code, headers=None, json_str=False):
        if json_str:
            response_body = json.dumps(response_body)
        self.status_code = int(status_code)
        self.headers = dict(headers or {})
        if json_str:
            self.headers.setdefault("Content-Type", "application/json")
        if isinstance(response_body, (bytes, bytearray)):
            self.data = bytes(response_body)
        else:
            self.data = ("" if response_body is None else str(response_body)).encode("utf-8")

    def get_data(self, as_text=False):
        return self.data.decode("utf-8", "replace") if as_text else self.data

    @property
    def status(self):
        return self.status_code

    def __repr__(self):
        return "<AMLResponse {}>".format(self.status_code)
