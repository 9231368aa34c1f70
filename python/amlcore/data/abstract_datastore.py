"""The base of datastores, as in ``azureml.data.abstract_datastore``."""

__all__ = ["AbstractDatastore"]


class AbstractDatastore:
    """A datastore of a workspace: where the files of datasets live.

    Get one with ``Datastore.get(workspace, name)`` or ``workspace.get_default_datastore()``.
    """

    def __init__(self, workspace, name, datastore_type):
        self.workspace = workspace
        self.name = name
        self.datastore_type = datastore_type

    def _as_dict(self, hide_secret=True):
        return {"name": self.name, "datastore_type": self.datastore_type}
