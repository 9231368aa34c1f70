"""amlcore: Azure Machine Learning's ``azureml.core`` deployment API, running on your own machine.

Replace ``azureml.core`` with ``amlcore`` in the imports of a notebook and it talks to a local workspace
server (``amlcored``) instead of Azure::

    from amlcore import Workspace
    from amlcore.compute import AksCompute, ComputeTarget

    ws = Workspace.create("my-ws", exist_ok=True)
    aks = ComputeTarget.create(ws, "my-aks", AksCompute.provisioning_configuration())
    aks.wait_for_completion(show_output=True)
"""

from amlcore.workspace import Workspace
from amlcore.compute import ComputeTarget

__version__ = "0.1.0"
__all__ = ["Workspace", "ComputeTarget", "__version__"]
