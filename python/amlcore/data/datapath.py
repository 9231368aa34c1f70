"""DataPath, as in ``azureml.data.datapath``: a path in a datastore."""

__all__ = ["DataPath"]


class DataPath:
    """``path_on_datastore`` in ``datastore`` (its root when None), for ``Dataset.File.from_files`` and
    ``Dataset.Tabular.from_delimited_files``."""

    def __init__(self, datastore=None, path_on_datastore=None, name=None):
        from amlcore.data.abstract_datastore import AbstractDatastore
        from amlcore.exceptions import UserErrorException
        if datastore is not None and not isinstance(datastore, AbstractDatastore):
            raise UserErrorException("datastore must be a Datastore, not {}.".format(type(datastore).__name__))
        if path_on_datastore is not None and not isinstance(path_on_datastore, str):
            raise UserErrorException("path_on_datastore must be a string, not {}.".format(
                type(path_on_datastore).__name__))
        self._datastore = datastore
        self.path_on_datastore = path_on_datastore
        self._name = name

    @property
    def datastore_name(self):
        return self._datastore.name if self._datastore is not None else None

    def create_data_reference(self, data_reference_name=None, datapath_compute_binding=None):
        from amlcore.data.data_reference import DataReference
        return DataReference(self._datastore, data_reference_name, self.path_on_datastore)

    def __eq__(self, other):
        return (isinstance(other, DataPath) and self.datastore_name == other.datastore_name
                and self.path_on_datastore == other.path_on_datastore)

    def __hash__(self):
        return hash((self.datastore_name, self.path_on_datastore))

    def __repr__(self):
        return "DataPath(datastore_name={!r}, path_on_datastore={!r})".format(self.datastore_name,
                                                                             self.path_on_datastore)
