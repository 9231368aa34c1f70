"""Dataset, as in ``azureml.core.dataset``: the entry to datasets.

``Dataset.File.from_files`` and ``Dataset.Tabular.from_delimited_files`` make datasets of paths in a workspace's
datastores; ``Dataset.get_by_name`` and ``Dataset.get_by_id`` fetch saved and registered ones.
"""

from amlcore.data.abstract_dataset import AbstractDataset
from amlcore.data.dataset_factory import FileDatasetFactory, TabularDatasetFactory

__all__ = ["Dataset"]


class Dataset:
    """``Dataset.File`` and ``Dataset.Tabular`` make datasets; the rest finds registered ones."""

    File = FileDatasetFactory
    Tabular = TabularDatasetFactory

    get_by_name = staticmethod(AbstractDataset.get_by_name)
    get_by_id = staticmethod(AbstractDataset.get_by_id)
    get_all = staticmethod(AbstractDataset.get_all)

    def __init__(self, *args, **kwargs):
        from amlcore.exceptions import UserErrorException
        raise UserErrorException("Datasets are made with Dataset.File.from_files or "
                                 "Dataset.Tabular.from_delimited_files, or fetched with Dataset.get_by_name.")
