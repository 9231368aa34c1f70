"""Entry script of the diabetes service: loads the Ridge model once, then predicts for the requests.

run() is what Azure ML's inference server calls, one request at a time. amlcore's replicas call run_batch()
instead when a script defines it, with the requests that arrived together (up to BATCH_MAX_SIZE, waiting up to
BATCH_MAX_WAIT_MS for a batch to fill): one model.predict over all their rows costs little more than one
request's. Each request gets the answer run() would give it.
"""
import json
import os

import joblib
import numpy as np

BATCH_MAX_SIZE = 32  # requests per run_batch() call at most
BATCH_MAX_WAIT_MS = 2  # how long a batch that is not full may wait for more requests


def init():
    global model
    # AZUREML_MODEL_DIR is azureml-models/<name>/<version> of the registered model, as in Azure ML.
    model_path = os.path.join(os.getenv("AZUREML_MODEL_DIR"), "sklearn_regression_model.pkl")
    model = joblib.load(model_path)
    print("Loaded", model_path)


def run(raw_data):
    data = np.array(json.loads(raw_data)["data"])
    result = model.predict(data)
    return result.tolist()


def run_batch(requests):
    # Each request is a body as run() gets it, with one or more rows. A request that cannot be read gets its
    # exception in place of a result, which fails it alone (as run() raising would), not its whole batch.
    results, rows = [], []
    for raw_data in requests:
        try:
            data = np.array(json.loads(raw_data)["data"], dtype=float)
            if data.ndim != 2 or data.shape[1] != model.n_features_in_:
                raise ValueError("expected rows of {} numbers, got shape {}".format(model.n_features_in_, data.shape))
        except Exception as error:
            results.append(error)
            continue
        results.append(len(data))
        rows.append(data)
    predictions = model.predict(np.concatenate(rows)).tolist() if rows else []
    start = 0
    for i, result in enumerate(results):
        if isinstance(result, int):
            results[i] = predictions[start:start + result]
            start += result
    return results
