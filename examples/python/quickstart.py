"""The amlcore quick start, written as for azureml.core; only the imports differ.

1. A workspace and an AKS compute target; a second workspace attaches the same cluster, then detaches.
2. The scikit-learn diabetes model: trained here, registered, deployed as a web service, scored over HTTP
   with the service key, and its logs printed.
3. Everything is deleted again.
"""

import json
import os
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
from amlcore.webservice import AksWebservice

HERE = os.path.dirname(os.path.abspath(__file__))

# --- 1. Workspace and compute -------------------------------------------------------------------------------
ws = Workspace.create(name="quickstart-ws", exist_ok=True)
print("Workspace:", ws.name, "in", ws.resource_group, "/", ws.location)

aks_name = "quickstart-aks"
try:
    aks_target = ComputeTarget(workspace=ws, name=aks_name)
    print("Found existing cluster, use it.")
except ComputeTargetException:
    prov_config = AksCompute.provisioning_configuration()
    aks_target = ComputeTarget.create(workspace=ws, name=aks_name, provisioning_configuration=prov_config)
    aks_target.wait_for_completion(show_output=True)
print(aks_target.provisioning_state, aks_target.provisioning_errors)
print("Cluster {}: {} x {} ({}), front end at {}".format(
    aks_target.cluster_resource_id.rsplit("/", 1)[1], aks_target.agent_count, aks_target.agent_vm_size,
    aks_target.cluster_purpose, aks_target.scoring_endpoint))

team_ws = Workspace.create(name="quickstart-team-ws", exist_ok=True)
attach_config = AksCompute.attach_configuration(resource_id=aks_target.cluster_resource_id)
shared = ComputeTarget.attach(team_ws, "shared-aks", attach_config)
shared.wait_for_completion(show_output=True)
print("Attached to {} as {} (is_attached={})".format(team_ws.name, shared.name, shared.is_attached))
shared.detach()
shared.wait_for_completion(show_output=True, is_delete_operation=True)
print("Compute targets of {}: {}".format(team_ws.name, list(team_ws.compute_targets)))

# --- 2. The diabetes model as a web service -----------------------------------------------------------------
X, y = load_diabetes(return_X_y=True)
model_dir = tempfile.mkdtemp()
model_file = os.path.join(model_dir, "sklearn_regression_model.pkl")
joblib.dump(Ridge().fit(X, y), model_file)

model = Model.register(workspace=ws, model_path=model_file, model_name="sklearn_regression_model",
                       tags={"area": "diabetes", "type": "regression"},
                       model_framework=Model.Framework.SCIKITLEARN)
print("Registered", model.id)

env = Environment("diabetes-env")
env.python.conda_dependencies = CondaDependencies.create(pip_packages=["scikit-learn", "joblib", "numpy"])
inference_config = InferenceConfig(entry_script="score.py", source_directory=os.path.join(HERE, "diabetes"),
                                   environment=env)
deployment_config = AksWebservice.deploy_configuration(cpu_cores=0.5, memory_gb=1, num_replicas=1)
service = Model.deploy(ws, "diabetes-service", [model], inference_config, deployment_config, aks_target,
                       overwrite=True)
service.wait_for_deployment(show_output=True)
print("Service {} is {} at {}".format(service.name, service.state, service.scoring_uri))

sample = json.dumps({"data": [X[0].tolist(), X[1].tolist()]})
print("Prediction with service.run():", service.run(sample))

# The same call as any HTTP client makes it, with the service key.
primary_key, _ = service.get_keys()
request = urllib.request.Request(service.scoring_uri, data=sample.encode(), method="POST",
                                  headers={"Content-Type": "application/json",
                                           "Authorization": "Bearer " + primary_key})
with urllib.request.urlopen(request) as response:
    print("Prediction over HTTP with the key:", json.loads(response.read()))

print("Service logs:")
print(service.get_logs())

# --- 3. Clean up ---------------------------------------------------------------------------------------------
service.delete()
model.delete()
aks_target.delete()
aks_target.wait_for_completion(show_output=True, is_delete_operation=True)
print("Compute targets of {}: {}".format(ws.name, list(ws.compute_targets)))
