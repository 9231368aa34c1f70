"""Blob datastores, as in ``azureml.data.azure_storage_datastore``.

A workspace's default datastore, ``workspaceblobstore``, keeps its files on the workspace server (content-addressed,
like model files): ``upload`` and ``upload_files`` send them there, ``download`` brings them back, and datasets read
them.
"""

import collections
import json
import os

from amlcore.data.abstract_datastore import AbstractDatastore
from amlcore.data.data_reference import DataReference
from amlcore.exceptions import UserErrorException

__all__ = ["AbstractAzureStorageDatastore", "AzureBlobDatastore", "AzureFileDatastore"]


def _text(value, name):
    if value is None:
        return ""
    if not isinstance(value, (str, os.PathLike)):
        raise UserErrorException("{} must be a string, not {}.".format(name, type(value).__name__))
    return os.fspath(value)


class AbstractAzureStorageDatastore(AbstractDatastore):
    """What blob and file-share datastores share: the container they are, paths and data references."""

    def __init__(self, workspace, name, datastore_type, container_name, account_name, sas_token=None,
                 account_key=None, protocol=None, endpoint=None):
        super().__init__(workspace, name, datastore_type)
        self.container_name = container_name
        self.account_name = account_name
        self.sas_token = sas_token
        self.account_key = account_key
        self.credential_type = "None"
        self.protocol = protocol
        self.endpoint = endpoint

    def path(self, path=None, data_reference_name=None):
        """A DataReference to ``path`` in this datastore."""
        return DataReference(datastore=self, data_reference_name=data_reference_name, path_on_datastore=path)

    def as_mount(self):
        """A DataReference to the datastore's root, in mount mode."""
        return DataReference(datastore=self).as_mount()

    def as_download(self, path_on_compute=None):
        return DataReference(datastore=self).as_download(path_on_compute)

    def as_upload(self, path_on_compute=None):
        return DataReference(datastore=self).as_upload(path_on_compute)

    def _as_dict(self, hide_secret=True):
        output = super()._as_dict()
        output.update(container_name=self.container_name, account_name=self.account_name, protocol=self.protocol,
                      endpoint=self.endpoint)
        return output

    def __repr__(self):
        content = collections.OrderedDict(name=self.name, container_name=self.container_name,
                                          account_name=self.account_name, protocol=self.protocol,
                                          endpoint=self.endpoint)
        return json.dumps(content, indent=2)

    def __str__(self):
        return self.__repr__()


class AzureBlobDatastore(AbstractAzureStorageDatastore):
    """A blob datastore of a workspace. Get it with ``Datastore.get(ws, "workspaceblobstore")`` or
    ``ws.get_default_datastore()``; amlcore keeps its files on the workspace server."""

    def __init__(self, workspace, name, container_name, account_name, sas_token=None, account_key=None,
                 protocol=None, endpoint=None, request_session=None, workspace_msi_has_access=False,
                 subscription_id=None, resource_group=None, service_data_access_auth_identity=None):
        super().__init__(workspace, name, "AzureBlob", container_name, account_name, sas_token, account_key,
                         protocol, endpoint)
        self.workspace_msi_has_access = workspace_msi_has_access
        self.subscription_id = subscription_id
        self.resource_group = resource_group
        self.service_data_access_auth_identity = service_data_access_auth_identity
        self._core = None

    @classmethod
    def _wrap(cls, workspace, core):
        store = cls(workspace, core.name, core.container_name, core.account_name, protocol="https",
                    endpoint="amlcore.local", subscription_id=workspace.subscription_id,
                    resource_group=workspace.resource_group)
        store._core = core
        return store

    def upload(self, src_dir, target_path=None, overwrite=False, show_progress=True):
        """Upload every file under the folder ``src_dir`` to ``target_path`` (the root when None).

        Existing files are skipped (and said so) unless ``overwrite``; empty folders upload nothing.

        :return: A DataReference to ``target_path``.
        """
        target_path = _text(target_path, "target_path")
        self._core.upload(_text(src_dir, "src_dir"), target_path, bool(overwrite), bool(show_progress))
        return DataReference(datastore=self, path_on_datastore=target_path)

    def upload_files(self, files, relative_root=None, target_path=None, overwrite=False, show_progress=True):
        """Upload ``files``, each to ``target_path`` + its path relative to ``relative_root`` (by default the
        folder the files share).

        :return: A DataReference to ``target_path``.
        """
        if isinstance(files, (str, os.PathLike)) or not isinstance(files, (list, tuple)):
            raise UserErrorException("files must be a list of file paths, not {}.".format(type(files).__name__))
        target_path = _text(target_path, "target_path")
        self._core.upload_files([_text(f, "files[]") for f in files], _text(relative_root, "relative_root"),
                                target_path, bool(overwrite), bool(show_progress))
        return DataReference(datastore=self, path_on_datastore=target_path)

    def download(self, target_path, prefix=None, overwrite=False, show_progress=True):
        """Download the files whose path starts with ``prefix`` (all when None) under ``target_path``.

        :return: The number of files downloaded (existing local files are kept unless ``overwrite``).
        """
        return self._core.download(_text(target_path, "target_path"), _text(prefix, "prefix"), bool(overwrite),
                                   bool(show_progress))

    def _list_files(self, prefix=None):
        """The datastore's files as (path, size) pairs."""
        return [(f.path, f.size) for f in self._core.list_files(_text(prefix, "prefix"))]

    def set_as_default(self):
        if self.name != "workspaceblobstore":
            raise UserErrorException("amlcore keeps workspaceblobstore as the default datastore.")

    def unregister(self):
        raise UserErrorException("The datastore {} comes with the workspace and cannot be unregistered.".format(
            self.name))


class AzureFileDatastore(AbstractAzureStorageDatastore):
    """A file-share datastore. amlcore workspaces have none (their one datastore is ``workspaceblobstore``); the
    class exists so that code naming it imports."""

    def __init__(self, workspace, name, container_name, account_name, sas_token=None, account_key=None,
                 protocol=None, endpoint=None, request_session=None):
        super().__init__(workspace, name, "AzureFile", container_name, account_name, sas_token, account_key,
                         protocol, endpoint)

    def _refuse(self, *args, **kwargs):
        raise UserErrorException("amlcore workspaces have no file-share datastores; use the default datastore, "
                                 "workspaceblobstore (ws.get_default_datastore()).")

    upload = upload_files = download = _refuse
