"""A linear model served from C++'s quick start: the weights are the registered model."""
import json
import os


def init():
    global weights
    with open(os.path.join(os.getenv("AZUREML_MODEL_DIR"), "weights.json")) as f:
        weights = json.load(f)
    print("Loaded", len(weights), "weights")


def run(raw_data):
    rows = json.loads(raw_data)["data"]
    return [sum(w * x for w, x in zip(weights, row)) for row in rows]
