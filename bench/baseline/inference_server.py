"""The baseline of the benchmark: a scoring server built the way Azure ML's inference server
(azureml-inference-server-http) is, for the same score.py.

A Flask app served by gunicorn sync workers; each worker imports the entry script named by
AZUREML_ENTRY_SCRIPT (relative to AML_APP_ROOT), calls its init() once when the worker loads the app, and
answers:
  GET  /       -> 200 "Healthy"
  POST /score  -> run(<request body decoded as UTF-8>), answered as json.dumps(result), application/json,
                  with the x-ms-run-function-failed, x-ms-run-fn-exec-ms and x-request-id headers
Run:  gunicorn --workers N --worker-class sync --bind 127.0.0.1:0 inference_server:app
"""

import importlib.util
import json
import os
import sys
import time
import traceback
import uuid

from flask import Flask, Response, request


def _load_entry_script():
    root = os.environ.get("AML_APP_ROOT", os.getcwd())
    path = os.path.join(root, os.environ.get("AZUREML_ENTRY_SCRIPT", "score.py"))
    sys.path.insert(0, os.path.dirname(path))
    spec = importlib.util.spec_from_file_location("entry_module", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in ("init", "run"):
        if not callable(getattr(module, name, None)):
            raise RuntimeError("The entry script {} has no {}() function".format(path, name))
    return module


entry = _load_entry_script()
entry.init()
app = Flask(__name__)


def _answer(status, body, failed, elapsed_ms, request_id):
    response = Response(body, status=status, mimetype="application/json")
    response.headers["x-ms-run-function-failed"] = "True" if failed else "False"
    response.headers["x-ms-run-fn-exec-ms"] = "{:.3f}".format(elapsed_ms)
    response.headers["x-request-id"] = request_id
    return response


@app.route("/", methods=["GET"])
def health():
    return "Healthy"


@app.route("/score", methods=["POST"])
def score():
    request_id = request.headers.get("x-request-id") or str(uuid.uuid4())
    try:
        raw = request.get_data().decode("utf-8")
    except UnicodeDecodeError:
        return _answer(400, json.dumps({"message": "The request body is not valid UTF-8."}), True, 0.0, request_id)
    start = time.perf_counter()
    try:
        result = entry.run(raw)
    except Exception:
        traceback.print_exc()
        elapsed = (time.perf_counter() - start) * 1000
        body = json.dumps({"message": "An unexpected error occurred in scoring script. Check the logs for more info."})
        return _answer(500, body, True, elapsed, request_id)
    elapsed = (time.perf_counter() - start) * 1000
    return _answer(200, json.dumps(result), False, elapsed, request_id)
