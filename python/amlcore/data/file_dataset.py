"""FileDataset, as in ``azureml.data.file_dataset``: the files at paths in a workspace's datastores."""

import os
import tempfile

from amlcore.data.abstract_dataset import AbstractDataset
from amlcore.exceptions import UserErrorException

__all__ = ["FileDataset"]


class FileDataset(AbstractDataset):
    """Files in datastores, made with ``Dataset.File.from_files``. ``to_path()`` lists them, ``download()``
    copies them here."""

    def _definition_steps(self):
        return ["GetDatastoreFiles"]

    def to_path(self):
        """The files' paths relative to the folder the dataset's paths share (e.g. ``['/a.csv', '/b/c.csv']``)."""
        return list(self._core.to_path())

    def download(self, target_path=None, overwrite=False, ignore_not_found=False):
        """Copy the files under ``target_path`` (a new temporary folder when None), at their ``to_path()`` paths.

        An existing file is an error unless ``overwrite``; nothing is written then.

        :return: The paths of the files written.
        """
        if target_path is None:
            target_path = tempfile.mkdtemp(prefix="amlcore-dataset-")
        elif not isinstance(target_path, (str, os.PathLike)):
            raise UserErrorException("target_path must be a string, not {}.".format(type(target_path).__name__))
        return list(self._core.download(os.fspath(target_path), bool(overwrite)))

    def mount(self, mount_point=None, **kwargs):
        raise UserErrorException("amlcore does not mount datasets (no FUSE); use dataset.download(target_path) "
                                 "to copy the files instead.")

    def as_mount(self, path_on_compute=None):
        raise UserErrorException("as_mount is for training runs, which amlcore does not run; use "
                                 "dataset.download(target_path) instead.")

    def as_download(self, path_on_compute=None):
        raise UserErrorException("as_download is for training runs, which amlcore does not run; use "
                                 "dataset.download(target_path) instead.")
