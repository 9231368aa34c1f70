"""The amlcore quick start: a workspace, an AKS compute target, and a second workspace sharing the cluster.

Written exactly as for azureml.core; only the imports differ.
"""

from amlcore import Workspace
from amlcore.compute import AksCompute, ComputeTarget
from amlcore.exceptions import ComputeTargetException

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

# A second workspace attaches the same cluster by its resource id.
team_ws = Workspace.create(name="quickstart-team-ws", exist_ok=True)
attach_config = AksCompute.attach_configuration(resource_id=aks_target.cluster_resource_id)
shared = ComputeTarget.attach(team_ws, "shared-aks", attach_config)
shared.wait_for_completion(show_output=True)
print("Attached to {} as {} (is_attached={})".format(team_ws.name, shared.name, shared.is_attached))

# Detaching leaves the cluster running; deleting it in the workspace that created it removes it.
shared.detach()
shared.wait_for_completion(show_output=True, is_delete_operation=True)
print("Compute targets of {}: {}".format(team_ws.name, list(team_ws.compute_targets)))
aks_target.delete()
aks_target.wait_for_completion(show_output=True, is_delete_operation=True)
print("Compute targets of {}: {}".format(ws.name, list(ws.compute_targets)))
