"""amlcore: Azure Machine Learning's ``azureml.core`` deployment API, running on your own machine.

Replace ``azureml.core`` with ``amlcore`` in the imports of a notebook and it talks to a local workspace
server (``amlcored``) instead of Azure::

    from amlcore import Workspace, Model
    from amlcore.compute import AksCompute, ComputeTarget
    from amlcore.webservice import AksWebservice

    ws = Workspace.create("my-ws", exist_ok=True)
    aks = ComputeTarget.create(ws, "my-aks", AksCompute.provisioning_configuration())
    aks.wait_for_completion(show_output=True)
"""

from amlcore import _core
from amlcore.workspace import Workspace
from amlcore.compute import ComputeTarget
from amlcore.dataset import Dataset
from amlcore.datastore import Datastore
from amlcore.environment import Environment
from amlcore.model import InferenceConfig, Model
from amlcore.webservice import Webservice

__version__ = _core.__version__
VERSION = __version__  # azureml.core.VERSION
__all__ = ["Workspace", "ComputeTarget", "Dataset", "Datastore", "Environment", "Model", "InferenceConfig",
           "Webservice", "VERSION", "__version__"]

# Every azureml.core name imports: what amlcore does not provide imports as a placeholder that raises
# UnsupportedFeatureError when used (amlcore/_azureml_names.py, listed in the README).
from amlcore import _azureml_names  # noqa: E402

_azureml_names.mirror_package()
