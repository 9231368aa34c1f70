"""The Workspace class, as in ``azureml.core.Workspace``."""

import os

from amlcore import _core
from amlcore._core_property import core_property

__all__ = ["Workspace"]


class Workspace:
    """A workspace: the top-level object that owns compute targets, models and web services.

    ``Workspace(subscription_id, resource_group, workspace_name)`` loads an existing workspace, as in azureml.
    Locally the subscription defaults to ``00000000-0000-0000-0000-000000000000``, the resource group to
    ``default`` and the location to ``local``. The SDK reaches the workspace server through
    ``AMLCORE_ENDPOINT`` and ``AMLCORE_TOKEN`` when set, else through the server of ``AMLCORE_HOME``
    (default ``~/.amlcore``), which it starts when needed.
    """

    DEFAULT_CPU_CLUSTER_NAME = "cpu-cluster"
    DEFAULT_GPU_CLUSTER_NAME = "gpu-cluster"

    def __init__(self, subscription_id, resource_group, workspace_name, auth=None, _location=None,
                 _disable_service_check=False, _workspace_id=None, sku="basic", tags=None, _cloud="AzureCloud"):
        self._core = _core.Workspace.get(_text(workspace_name, "workspace_name"),
                                         _text(subscription_id, "subscription_id"),
                                         _text(resource_group, "resource_group"))

    @classmethod
    def _wrap(cls, core):
        ws = cls.__new__(cls)
        ws._core = core
        return ws

    @staticmethod
    def create(name, auth=None, subscription_id=None, resource_group=None, location=None,
               create_resource_group=True, sku="basic", tags=None, friendly_name=None, storage_account=None,
               key_vault=None, app_insights=None, container_registry=None, adb_workspace=None,
               primary_user_assigned_identity=None, cmk_keyvault=None, resource_cmk_uri=None, hbi_workspace=False,
               default_cpu_compute_target=None, default_gpu_compute_target=None, private_endpoint_config=None,
               private_endpoint_auto_approval=True, exist_ok=False, show_output=True,
               user_assigned_identity_for_cmk_encryption=None, system_datastores_auth_mode="accessKey",
               v1_legacy_mode=None):
        """Create a workspace (and, with ``create_resource_group``, its resource group).

        The Azure resources azureml creates alongside a workspace (storage account, key vault, registry,
        Application Insights) have no local counterpart; their parameters are accepted and ignored.

        :raises amlcore.exceptions.UserErrorException: the name is invalid, or the workspace exists and
            ``exist_ok`` is False.
        """
        core = _core.Workspace.create(
            _text(name, "name"), _text(subscription_id, "subscription_id"), _text(resource_group, "resource_group"),
            _text(location, "location"), bool(create_resource_group), bool(exist_ok),
            _text(friendly_name, "friendly_name"), "", _tags(tags))
        return Workspace._wrap(core)

    @staticmethod
    def get(name, auth=None, subscription_id=None, resource_group=None, location=None, cloud="AzureCloud",
            id=None):
        """Return the workspace called ``name``; subscription and resource group narrow the search."""
        return Workspace._wrap(_core.Workspace.get(_text(name, "name"), _text(subscription_id, "subscription_id"),
                                                   _text(resource_group, "resource_group")))

    @staticmethod
    def list(subscription_id=None, auth=None, resource_group=None):
        """Return the workspaces of a subscription as a dict of name to a list of Workspace objects."""
        result = {}
        for core in _core.Workspace.list(_text(subscription_id, "subscription_id"),
                                         _text(resource_group, "resource_group")):
            result.setdefault(core.name, []).append(Workspace._wrap(core))
        return result

    @staticmethod
    def from_config(path=None, auth=None, _logger=None, _file_name=None):
        """Load the workspace named in ``config.json``.

        ``path`` is the file itself or a directory; ``config.json``, ``.azureml/config.json`` and
        ``aml_config/config.json`` are searched in it and in its parents (default: the current directory).
        """
        found = _core.Workspace.find_config_file(os.fspath(path) if path is not None else "",
                                                 _text(_file_name, "file_name"))
        core = _core.Workspace.from_config(found, "")
        print("Found the config file in: {}".format(found))
        return Workspace._wrap(core)

    def write_config(self, path=None, file_name=None):
        """Write ``.azureml/config.json`` (or ``file_name``) under ``path`` (default: the current directory)."""
        return self._core.write_config(os.fspath(path) if path is not None else "", _text(file_name, "file_name"))

    def delete(self, delete_dependent_resources=False, no_wait=False):
        """Delete the workspace: clusters it created are deleted, attached ones detached."""
        self._core.delete()

    def get_details(self):
        """The workspace's properties as a dict."""
        return {"id": self.id, "name": self.name, "location": self.location, "subscriptionId": self.subscription_id,
                "resourceGroup": self.resource_group, "friendlyName": self._core.friendly_name,
                "description": self._core.description, "tags": dict(self.tags)}

    name = core_property("name")
    subscription_id = core_property("subscription_id")
    resource_group = core_property("resource_group")
    location = core_property("location")
    tags = core_property("tags", as_dict=True)
    id = core_property("id")

    @property
    def compute_targets(self):
        """A dict of compute target name to its object (an AksCompute)."""
        from amlcore.compute import _wrap_compute
        return {name: _wrap_compute(self, core) for name, core in self._core.compute_targets().items()}

    @property
    def models(self):
        """A dict of model name to its latest Model."""
        from amlcore.model import Model
        return {m.name: m for m in Model.list(self, latest=True)}

    @property
    def webservices(self):
        """A dict of web service name to its object (an AksWebservice)."""
        from amlcore.webservice import Webservice
        return {s.name: s for s in Webservice.list(self)}

    def get_default_datastore(self):
        """The workspace's default datastore, ``workspaceblobstore`` (an AzureBlobDatastore)."""
        from amlcore.datastore import Datastore
        return Datastore.get_default(self)

    @property
    def datastores(self):
        """A dict of datastore name to its object."""
        from amlcore.datastore import Datastore
        return {d.name: d for d in Datastore._list(self)}

    @property
    def datasets(self):
        """A dict of registered dataset name to its latest version."""
        from amlcore.dataset import Dataset
        return Dataset.get_all(self)

    @property
    def environments(self):
        """A dict of registered environment name to its latest Environment."""
        from amlcore.environment import Environment
        return Environment.list(self)

    def __eq__(self, other):
        return isinstance(other, Workspace) and self.id.lower() == other.id.lower()

    def __hash__(self):
        return hash(self.id.lower())

    def __repr__(self):
        return "Workspace.create(name='{}', subscription_id='{}', resource_group='{}')".format(
            self.name, self.subscription_id, self.resource_group)


def _text(value, name):
    """None becomes "" (the core's "not given"); anything but a string is refused."""
    from amlcore.exceptions import UserErrorException
    if value is None:
        return ""
    if not isinstance(value, str):
        raise UserErrorException("{} must be a string, not {}.".format(name, type(value).__name__))
    return value


def _tags(tags):
    from amlcore.exceptions import UserErrorException
    if tags is None:
        return {}
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise UserErrorException("tags must be a dict of strings to strings.")
    return dict(tags)
