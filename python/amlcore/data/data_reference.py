"""DataReference, as in ``azureml.data.data_reference``: a path in a datastore and how a run would use it.

amlcore runs no training jobs or pipelines, so a DataReference is a description: it names a datastore path that
``Dataset.File.from_files`` and ``Dataset.Tabular.from_delimited_files`` accept.
"""

__all__ = ["DataReference"]


class DataReference:
    """A reference to ``path_on_datastore`` in ``datastore`` (the datastore's root when None)."""

    def __init__(self, datastore, data_reference_name=None, path_on_datastore=None, mode="mount",
                 path_on_compute=None, overwrite=False):
        self.datastore = datastore
        self.data_reference_name = data_reference_name or (datastore.name if datastore is not None else None)
        self.path_on_datastore = path_on_datastore
        self.mode = mode
        self.path_on_compute = path_on_compute
        self.overwrite = overwrite

    def _copy(self, **changes):
        values = dict(datastore=self.datastore, data_reference_name=self.data_reference_name,
                      path_on_datastore=self.path_on_datastore, mode=self.mode,
                      path_on_compute=self.path_on_compute, overwrite=self.overwrite)
        values.update(changes)
        return DataReference(**values)

    def path(self, path=None, data_reference_name=None):
        """A reference to ``path`` (relative to this one's) in the same datastore."""
        if path is None:
            joined = self.path_on_datastore
        elif self.path_on_datastore:
            joined = "{}/{}".format(self.path_on_datastore.rstrip("/"), path.lstrip("/"))
        else:
            joined = path
        return self._copy(path_on_datastore=joined, data_reference_name=data_reference_name or self.data_reference_name)

    def as_mount(self):
        return self._copy(mode="mount")

    def as_download(self, path_on_compute=None, overwrite=False):
        return self._copy(mode="download", path_on_compute=path_on_compute, overwrite=overwrite)

    def as_upload(self, path_on_compute=None, overwrite=False):
        return self._copy(mode="upload", path_on_compute=path_on_compute, overwrite=overwrite)

    def to_config(self):
        """The reference as azureml's data reference configuration dictionary."""
        return {"dataStoreName": self.datastore.name if self.datastore is not None else None,
                "mode": self.mode, "pathOnDataStore": self.path_on_datastore,
                "pathOnCompute": self.path_on_compute, "overwrite": self.overwrite}

    def __str__(self):
        return "$AZUREML_DATAREFERENCE_{}".format(self.data_reference_name)

    def __repr__(self):
        return "DataReference(datastore={!r}, path_on_datastore={!r}, mode={!r})".format(
            self.datastore.name if self.datastore is not None else None, self.path_on_datastore, self.mode)
