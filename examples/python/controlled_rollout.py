"""Controlled rollout with an AksEndpoint, written as for azureml.core; only the imports differ.

Two versions of the scikit-learn diabetes model stand behind one scoring URI:
1. version a (Ridge, alpha=1.0) is deployed with 20 % of the traffic; as the only version it is the default,
   which takes the traffic no percentile claims;
2. version b (Ridge, alpha=0.1) is added with 10 %;
3. b moves to 40 % and becomes the default and the control version;
4. b is deleted, and a takes everything again.
After each step the split is measured over HTTP: every response names the version that served it in its
azureml-model-deployment header.
"""

import collections
import json
import os
import sys
import tempfile
import urllib.request

import joblib
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

from amlcore import Environment, Model, Workspace
from amlcore.compute import AksCompute, ComputeTarget
from amlcore.conda_dependencies import CondaDependencies
from amlcore.exceptions import ComputeTargetException
from amlcore.model import InferenceConfig
from amlcore.webservice import AksEndpoint

HERE = os.path.dirname(os.path.abspath(__file__))
REQUESTS = int(sys.argv[1]) if len(sys.argv) > 1 else 2000

ws = Workspace.create(name="rollout-ws", exist_ok=True)
try:
    compute = ComputeTarget(ws, "myaks")
except ComputeTargetException:
    compute = ComputeTarget.create(ws, "myaks", AksCompute.provisioning_configuration(cluster_purpose="DevTest"))
    compute.wait_for_completion(show_output=True)

# Two versions of one registered model.
X, y = load_diabetes(return_X_y=True)
model_dir = tempfile.mkdtemp()
models = {}
for tag, alpha in (("a", 1.0), ("b", 0.1)):
    path = os.path.join(model_dir, tag, "sklearn_regression_model.pkl")
    os.makedirs(os.path.dirname(path))
    joblib.dump(Ridge(alpha=alpha).fit(X, y), path)
    models[tag] = Model.register(workspace=ws, model_path=path, model_name="sklearn_regression_model",
                                 tags={"alpha": str(alpha)})
model = models["a"]

env = Environment("diabetes-env")
env.python.conda_dependencies = CondaDependencies.create(pip_packages=["scikit-learn", "joblib", "numpy"])
inference_config = InferenceConfig(entry_script="score.py", source_directory=os.path.join(HERE, "diabetes"),
                                   environment=env)
sample = json.dumps({"data": [X[0].tolist()]}).encode()


def measure_split(endpoint, count=REQUESTS):
    """Sends `count` requests to the scoring URI and counts the versions that answered."""
    key = endpoint.get_keys()[0]
    seen = collections.Counter()
    for _ in range(count):
        request = urllib.request.Request(endpoint.scoring_uri, data=sample, method="POST",
                                          headers={"Content-Type": "application/json",
                                                   "Authorization": "Bearer " + key})
        with urllib.request.urlopen(request) as response:
            seen[response.headers["azureml-model-deployment"]] += 1
    for name, version in endpoint.versions.items():
        configured = "default" if version.is_default else "{} %".format(version.traffic_percentile)
        print("  {:9} {:9} {:10} served {:5} of {} ({:.1f} %)".format(
            name, configured, version.version_type, seen[name], count, 100.0 * seen[name] / count))
    return seen


# --- The article's code, from here on --------------------------------------------------------------------------
endpoint_name = "mynewendpoint"
version_name = "versiona"
# create the deployment config and define the scoring traffic percentile for the first deployment
endpoint_deployment_config = AksEndpoint.deploy_configuration(cpu_cores=0.1, memory_gb=0.2,
                                                              enable_app_insights=True,
                                                              tags={'sckitlearn': 'demo'},
                                                              description="testing versions",
                                                              version_name=version_name,
                                                              traffic_percentile=20)
# deploy the model and endpoint
endpoint = Model.deploy(ws, endpoint_name, [model], inference_config, endpoint_deployment_config, compute)
# Wait for the process to complete
endpoint.wait_for_deployment(True)
print("Endpoint {} is {} at {}".format(endpoint.name, endpoint.state, endpoint.scoring_uri))
measure_split(endpoint)

# Adding a new version to an existing Endpoint.
version_name_add = "versionb"
endpoint.create_version(version_name=version_name_add,
                        inference_config=inference_config,
                        models=[models["b"]],
                        tags={'modelVersion': 'b'},
                        description="my second version",
                        traffic_percentile=10)
endpoint.wait_for_deployment(True)
print("With versionb at 10 %:")
measure_split(endpoint)

endpoint.update_version(version_name=endpoint.versions["versionb"].name,
                        description="my second version update",
                        traffic_percentile=40,
                        is_default=True,
                        is_control_version_type=True)
endpoint.wait_for_deployment(True)
print("With versionb at 40 %, the default and the control:")
measure_split(endpoint)

# A request can ask for one version.
key = endpoint.get_keys()[0]
for name in endpoint.versions:
    request = urllib.request.Request(endpoint.scoring_uri, data=sample, method="POST",
                                      headers={"Content-Type": "application/json", "Authorization": "Bearer " + key,
                                               "azureml-model-deployment": name})
    with urllib.request.urlopen(request) as response:
        print("  pinned to {}: {}".format(response.headers["azureml-model-deployment"], response.read().decode()))

endpoint.delete_version(version_name="versionb")
endpoint.wait_for_deployment(True)
print("After deleting versionb:")
measure_split(endpoint, 200)

# --- Clean up ------------------------------------------------------------------------------------------------------
endpoint.delete()
for registered in models.values():
    registered.delete()
print("Webservices of {}: {}".format(ws.name, [s.name for s in ws.webservices.values()]))
