"""Entry script of the diabetes service: loads the Ridge model once, predicts for each request."""
import json
import os

import joblib
import numpy as np


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
