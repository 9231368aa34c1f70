"""A notebook written for azureml.core, ported by changing its imports only, runs to the end: the cells of
Microsoft's production-deploy-to-AKS and deploy-to-ACI samples, in their order, as one script in a fresh Python
process against a real amlcored."""

import json
import os
import subprocess
import sys
import textwrap

from amlcore import Workspace

# The diabetes entry script of Microsoft's samples, unchanged (its azureml imports resolve inside replicas).
SCORE = """
    import joblib
    import json
    import numpy as np
    import os

    from inference_schema.schema_decorators import input_schema, output_schema
    from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType


    def init():
        global model
        # AZUREML_MODEL_DIR is an environment variable created during deployment.
        model_path = os.path.join(os.getenv('AZUREML_MODEL_DIR'), 'sklearn_regression_model.pkl')
        model = joblib.load(model_path)


    input_sample = np.array([[10, 9, 8, 7, 6, 5, 4, 3, 2, 1]])
    output_sample = np.array([3726.995])


    @input_schema('data', NumpyParameterType(input_sample))
    @output_schema(NumpyParameterType(output_sample))
    def run(data):
        try:
            result = model.predict(data)
            return result.tolist()
        except Exception as e:
            error = str(e)
            return error
"""

# The notebook's cells; "# cell" marks where one ends. Only the imports differ from the samples (azureml.core ->
# amlcore, azureml.exceptions -> amlcore.exceptions).
NOTEBOOK = """
    # cell: check the SDK version
    import amlcore
    print("SDK version:", amlcore.VERSION)

    # cell: initialize the workspace from its config.json
    from amlcore import Workspace
    ws = Workspace.from_config()
    print(ws.name, ws.resource_group, ws.location, ws.subscription_id, sep='\\n')

    # cell: train and save a model (the samples download one; it is trained here)
    import joblib
    import sklearn
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge
    X, y = load_diabetes(return_X_y=True)
    joblib.dump(Ridge().fit(X, y), 'sklearn_regression_model.pkl')

    # cell: register the model
    from amlcore.model import Model
    model = Model.register(model_path="sklearn_regression_model.pkl",
                           model_name="sklearn_model",
                           tags={'area': "diabetes", 'type': "regression"},
                           description="Ridge regression model to predict diabetes",
                           model_framework=Model.Framework.SCIKITLEARN,
                           model_framework_version=sklearn.__version__,
                           workspace=ws)
    print(model.name, model.id, model.version, sep='\\t')

    # cell: create the environment
    from amlcore import Environment
    from amlcore.conda_dependencies import CondaDependencies
    myenv = Environment(name="myenv")
    myenv.python.conda_dependencies.add_pip_package("scikit-learn")
    myenv.python.conda_dependencies.add_pip_package("azureml-defaults")
    myenv.python.conda_dependencies.add_pip_package("inference-schema[numpy-support]")
    myenv.register(workspace=ws)

    # cell: the inference configuration
    from amlcore.model import InferenceConfig
    inf_config = InferenceConfig(entry_script='score.py', environment=myenv)

    # cell: provision the AKS cluster, or use the one that exists
    from amlcore.compute import ComputeTarget, AksCompute
    from amlcore.compute_target import ComputeTargetException
    aks_name = 'my-aks-9'
    try:
        aks_target = ComputeTarget(workspace=ws, name=aks_name)
        print('Found existing cluster, use it.')
    except ComputeTargetException:
        prov_config = AksCompute.provisioning_configuration(cluster_purpose=AksCompute.ClusterPurpose.DEV_TEST)
        aks_target = ComputeTarget.create(workspace=ws, name=aks_name, provisioning_configuration=prov_config)
    if aks_target.get_status() != "Succeeded":
        aks_target.wait_for_completion(show_output=True)
    print(aks_target.provisioning_state)
    print(aks_target.provisioning_errors)

    # cell: deploy the web service to AKS
    from amlcore.webservice import Webservice, AksWebservice
    aks_config = AksWebservice.deploy_configuration()
    aks_service_name = 'aks-service-1'
    aks_service = Model.deploy(workspace=ws, name=aks_service_name, models=[model],
                               inference_config=inf_config, deployment_config=aks_config,
                               deployment_target=aks_target)
    aks_service.wait_for_deployment(show_output=True)
    print(aks_service.state)

    # cell: test the web service with the SDK
    import json
    test_sample = json.dumps({'data': [
        [1,2,3,4,5,6,7,8,9,10],
        [10,9,8,7,6,5,4,3,2,1]
    ]})
    test_sample = bytes(test_sample, encoding='utf8')
    prediction = aks_service.run(input_data=test_sample)
    print(prediction)

    # cell: test the web service with HTTP requests
    import requests
    key1, key2 = aks_service.get_keys()
    headers = {'Content-Type': 'application/json', 'Authorization': ('Bearer ' + key1)}
    resp = requests.post(aks_service.scoring_uri, test_sample, headers=headers)
    print("prediction:", resp.text)

    # cell: deploy the same model to ACI
    from amlcore.webservice import AciWebservice
    aciconfig = AciWebservice.deploy_configuration(cpu_cores=1, memory_gb=1,
                                                   tags={"data": "diabetes", "method": "sklearn"},
                                                   description='Predict diabetes with sklearn')
    aci_service = Model.deploy(ws, 'aci-service-1', [model], inf_config, aciconfig)
    aci_service.wait_for_deployment(True)
    print(aci_service.state)
    print(aci_service.scoring_uri)
    aci_prediction = aci_service.run(input_data=test_sample)
    print(aci_prediction)
    assert requests.post(aci_service.scoring_uri, test_sample,
                         headers={'Content-Type': 'application/json'}).json() == aci_prediction

    # cell: no-code deployment of the registered scikit-learn model
    nocode_service = Model.deploy(ws, 'sklearn-nocode', [model])
    nocode_service.wait_for_deployment(show_output=True)
    print(nocode_service.run(json.dumps({'data': [[1,2,3,4,5,6,7,8,9,10]], 'method': 'predict'})))

    # cell: update the AKS service (a new description, and application insights)
    aks_service.update(enable_app_insights=True, description="diabetes, updated")
    aks_service.wait_for_deployment(show_output=True)
    print(aks_service.state, aks_service.description)
    print(aks_service.get_logs())

    # cell: clean up
    for service in (aks_service, aci_service, nocode_service):
        service.delete()
    model.delete()
    aks_target.delete()
    aks_target.wait_for_completion(show_output=True, is_delete_operation=True)
    print("notebook finished")
"""


def test_a_ported_deployment_notebook_runs_to_the_end(home, tmp_path):
    ws = Workspace.create("notebook-ws", resource_group="notebook-rg", exist_ok=True)
    ws.write_config(path=str(tmp_path))
    (tmp_path / "score.py").write_text(textwrap.dedent(SCORE))
    (tmp_path / "notebook.py").write_text(textwrap.dedent(NOTEBOOK))
    env = dict(os.environ, AMLCORE_HOME=home.path)
    run = subprocess.run([sys.executable, "notebook.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    out = run.stdout
    assert "notebook-ws\nnotebook-rg\nlocal\n" in out
    assert 'AKS service creation operation finished, operation "Succeeded"' in out
    assert 'ACI service creation operation finished, operation "Succeeded"' in out
    lines = out.splitlines()
    # The SDK's answer and the HTTP answer are the model's predictions, two numbers each.
    sdk_prediction = json.loads(lines[lines.index("Healthy") + 1])
    assert len(sdk_prediction) == 2 and all(isinstance(v, float) for v in sdk_prediction)
    http_line = next(line for line in lines if line.startswith("prediction: "))
    assert json.loads(http_line[len("prediction: "):]) == sdk_prediction
    assert "Healthy diabetes, updated" in out
    assert lines[-1] == "notebook finished"
    assert Workspace.get("notebook-ws", resource_group="notebook-rg").webservices == {}
