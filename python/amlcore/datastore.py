"""Datastore, as in ``azureml.core.datastore``.

Every workspace has one datastore, ``workspaceblobstore`` (azureml's default blob store); its files are kept by
the workspace server. Registering other storage (blob containers, file shares, databases) is an Azure service
amlcore does not have: those methods raise UserErrorException.
"""

from amlcore import _core
from amlcore.exceptions import UserErrorException

__all__ = ["Datastore"]


def _wrap(workspace, core):
    from amlcore.data.azure_storage_datastore import AzureBlobDatastore
    return AzureBlobDatastore._wrap(workspace, core)


def _unsupported(name):
    raise UserErrorException(
        "Datastore.{}: amlcore workspaces keep their files in their default datastore, {}, and cannot register "
        "other storage. Upload the files to it with datastore.upload(...).".format(name, _core.DEFAULT_DATASTORE_NAME))


class Datastore:
    """``Datastore(workspace, name=None)`` returns the datastore called ``name`` (the default one when None)."""

    def __new__(cls, workspace, name=None):
        if name is None:
            return Datastore.get_default(workspace)
        return Datastore.get(workspace, name)

    @staticmethod
    def get(workspace, datastore_name):
        """The datastore called ``datastore_name``; UserErrorException when the workspace has none of that name."""
        if not isinstance(datastore_name, str):
            raise UserErrorException("datastore_name must be a string, not {}.".format(type(datastore_name).__name__))
        return _wrap(workspace, _core.Datastore.get(workspace._core, datastore_name))

    @staticmethod
    def get_default(workspace):
        """The workspace's default datastore, ``workspaceblobstore``."""
        return _wrap(workspace, _core.Datastore.get_default(workspace._core))

    @staticmethod
    def _list(workspace):
        return [_wrap(workspace, core) for core in _core.Datastore.list(workspace._core)]

    @staticmethod
    def register_azure_blob_container(workspace, datastore_name, container_name, account_name, *args, **kwargs):
        _unsupported("register_azure_blob_container")

    @staticmethod
    def register_azure_file_share(workspace, datastore_name, file_share_name, account_name, *args, **kwargs):
        _unsupported("register_azure_file_share")

    @staticmethod
    def register_azure_data_lake_gen2(workspace, datastore_name, filesystem, account_name, *args, **kwargs):
        _unsupported("register_azure_data_lake_gen2")

    @staticmethod
    def register_azure_sql_database(workspace, datastore_name, server_name, database_name, *args, **kwargs):
        _unsupported("register_azure_sql_database")
