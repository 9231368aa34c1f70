"""Datasets and datastores, as in ``azureml.data``: ``FileDataset``, ``TabularDataset``, ``DataType``, and the
modules ``datapath``, ``data_reference``, ``azure_storage_datastore``, ``dataset_factory`` and
``dataset_type_definitions``."""

from amlcore.data.dataset_factory import DataType
from amlcore.data.file_dataset import FileDataset
from amlcore.data.tabular_dataset import TabularDataset

__all__ = ["DataType", "FileDataset", "TabularDataset"]
