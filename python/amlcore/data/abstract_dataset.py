"""The base of datasets, as in ``azureml.data.abstract_dataset``: registration, lookup and identity."""

import json

from amlcore import _core
from amlcore.exceptions import UserErrorException

__all__ = ["AbstractDataset"]


def _wrap(workspace, core):
    from amlcore.data.file_dataset import FileDataset
    from amlcore.data.tabular_dataset import TabularDataset
    cls = TabularDataset if core.dataset_type == "Tabular" else FileDataset
    dataset = cls.__new__(cls)
    dataset._workspace = workspace
    dataset._core = core
    return dataset


def _workspace_of_datastores(path_pairs):
    workspaces = {id(store.workspace): store.workspace for store, _ in path_pairs}
    if len(workspaces) != 1:
        raise UserErrorException("The paths of a dataset must all be in datastores of one workspace.")
    return next(iter(workspaces.values()))


class AbstractDataset:
    """A dataset: paths in a workspace's datastores (and, for a tabular one, how to read them), which can be
    registered under a name in versions. Made with ``Dataset.File.from_files`` or
    ``Dataset.Tabular.from_delimited_files``."""

    def __init__(self):
        raise UserErrorException("Datasets are made with Dataset.File.from_files or "
                                 "Dataset.Tabular.from_delimited_files, or fetched with Dataset.get_by_name.")

    @staticmethod
    def get_by_name(workspace, name, version="latest"):
        """The registered dataset ``name`` at ``version`` (an integer, or "latest")."""
        if version != "latest":
            try:
                version = int(version)
            except (TypeError, ValueError):
                raise ValueError('Invalid value {} for version. Version value must be number or "latest".'.format(
                    version))
        return _wrap(workspace, _core.Dataset.get_by_name(workspace._core, name,
                                                          None if version == "latest" else version))

    @staticmethod
    def get_by_id(workspace, id):
        """The saved dataset with this id (with its registration, when it has one)."""
        return _wrap(workspace, _core.Dataset.get_by_id(workspace._core, id))

    @staticmethod
    def get_all(workspace):
        """A dict of registered name to the latest version of that dataset."""
        return {core.name: _wrap(workspace, core) for core in _core.Dataset.list(workspace._core)}

    def register(self, workspace, name, description=None, tags=None, create_new_version=False):
        """Register the dataset under ``name``; an existing name needs ``create_new_version=True``.

        :return: The registered dataset (with its name and version).
        """
        if workspace is not None and workspace != self._workspace:
            raise UserErrorException("A dataset is registered in the workspace of its datastores ({}).".format(
                self._workspace.name))
        if tags is not None and (not isinstance(tags, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in tags.items())):
            raise UserErrorException("tags must be a dict of strings to strings.")
        core = self._core.register(name, description or "", dict(tags or {}), bool(create_new_version))
        return _wrap(self._workspace, core)

    def _ensure_saved(self, workspace=None):
        if not self._core.id:
            self._core = self._core.save()
        return self._core.id

    @property
    def id(self):
        """The saved dataset's id (saving it on first use)."""
        return self._ensure_saved()

    @property
    def name(self):
        return self._core.name or None

    @property
    def version(self):
        return self._core.version or None

    @property
    def description(self):
        return (self._core.description or None) if self._core.name else None

    @property
    def tags(self):
        return dict(self._core.tags) if self._core.name else None

    @property
    def data_changed_time(self):
        return None

    def as_named_input(self, name):
        raise UserErrorException("as_named_input is for training runs, which amlcore does not run.")

    def _source(self):
        return ["('{}', '{}')".format(store, path) for store, path in self._core.paths]

    def __str__(self):
        content = {"source": self._source(), "definition": self._definition_steps()}
        if self._core.name:
            registration = {"name": self.name, "version": self.version}
            if self._core.description:
                registration["description"] = self._core.description
            if self._core.tags:
                registration["tags"] = dict(self._core.tags)
            registration["workspace"] = repr(self._workspace)
            content["registration"] = registration
        return "{}\n{}".format(type(self).__name__, json.dumps(content, indent=2))

    def __repr__(self):
        return self.__str__()

    def __eq__(self, other):
        return (isinstance(other, AbstractDataset) and type(self) is type(other)
                and self._core.paths == other._core.paths and self._core.name == other._core.name
                and self._core.version == other._core.version)

    def __hash__(self):
        return hash((tuple(self._core.paths), self._core.name, self._core.version))
