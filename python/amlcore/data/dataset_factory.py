"""The dataset factories, as in ``azureml.data.dataset_factory``: ``Dataset.File`` and ``Dataset.Tabular``."""

from amlcore import _core
from amlcore.data.abstract_dataset import _workspace_of_datastores, _wrap
from amlcore.exceptions import UserErrorException

__all__ = ["TabularDatasetFactory", "FileDatasetFactory", "DataType"]

_HEADERS = ("NO_HEADERS", "ONLY_FIRST_FILE_HAS_HEADERS", "COMBINE_ALL_FILES_HEADERS", "ALL_FILES_HAVE_SAME_HEADERS")


def _normalize_paths(path):
    """(datastore, path) pairs from azureml's accepted forms: a (Datastore, str) tuple, a DataPath, a
    DataReference, or a list of them. Web URLs are not supported by amlcore."""
    from amlcore.data.abstract_datastore import AbstractDatastore
    from amlcore.data.data_reference import DataReference
    from amlcore.data.datapath import DataPath
    invalid = UserErrorException(_core.INVALID_DATASET_PATH_MESSAGE)
    if path is None:
        raise invalid
    if not isinstance(path, list):
        path = [path]
    if not path:
        raise invalid
    if all(isinstance(p, str) for p in path):
        if all(p.lower().startswith(("http://", "https://", "wasb://", "wasbs://", "abfs://", "abfss://", "adl://"))
               for p in path):
            raise UserErrorException("amlcore datasets read files from the workspace's datastore, not from URLs: "
                                     "upload the files with datastore.upload(...) and pass (datastore, 'path').")
        raise invalid
    pairs = []
    for p in path:
        if isinstance(p, DataPath):
            if p._datastore is None:
                raise invalid
            pairs.append((p._datastore, p.path_on_datastore or ""))
        elif isinstance(p, DataReference):
            pairs.append((p.datastore, p.path_on_datastore or ""))
        elif isinstance(p, tuple):
            if len(p) == 2 and isinstance(p[0], AbstractDatastore) and isinstance(p[1], str):
                pairs.append(p)
            else:
                raise UserErrorException(
                    "Invalid tuple for path. Please make sure the tuple consists of a datastore and a path/SQL query")
        else:
            raise invalid
    return pairs


def _header(header):
    from amlcore.data.dataset_type_definitions import PromoteHeadersBehavior
    if header is True:
        return "ALL_FILES_HAVE_SAME_HEADERS"
    if header is False:
        return "NO_HEADERS"
    if isinstance(header, PromoteHeadersBehavior):
        return header.name
    if isinstance(header, str):
        return header  # checked, with azureml's message, by the core
    raise UserErrorException("header must be True, False, a PromoteHeadersBehavior or one of {}.".format(
        ", ".join(_HEADERS)))


class TabularDatasetFactory:
    """``Dataset.Tabular``: tabular datasets."""

    @staticmethod
    def from_delimited_files(path, validate=True, include_path=False, infer_column_types=True, set_column_types=None,
                             separator=",", header=True, partition_format=None, support_multi_line=False,
                             empty_as_string=False, encoding="utf8"):
        """A TabularDataset of the delimited files at ``path`` ((datastore, 'relative/path'), a DataPath, or a list
        of them; folders and globs such as 'data/**/*.csv' name several files)."""
        if set_column_types is not None:
            raise UserErrorException("set_column_types is not supported by amlcore; convert the columns of "
                                     "to_pandas_dataframe()'s result with pandas (astype, to_datetime) instead.")
        if partition_format is not None:
            raise UserErrorException("partition_format is not supported by amlcore; add columns from the paths "
                                     "with include_path=True and pandas instead.")
        if not isinstance(separator, str):
            raise UserErrorException("separator must be a string, not {}.".format(type(separator).__name__))
        if not isinstance(encoding, str):
            raise UserErrorException("Invalid encoding '{}'.".format(encoding))
        pairs = _normalize_paths(path)
        workspace = _workspace_of_datastores(pairs)
        options = _core.DelimitedFilesOptions()
        options.separator = separator
        options.header = _header(header)
        options.encoding = encoding
        options.include_path = bool(include_path)
        options.infer_column_types = bool(infer_column_types)
        options.support_multi_line = bool(support_multi_line)
        options.empty_as_string = bool(empty_as_string)
        core = _core.Dataset.from_delimited_files(workspace._core, [(s.name, p) for s, p in pairs], options,
                                                  bool(validate))
        return _wrap(workspace, core)

    @staticmethod
    def from_parquet_files(path, *args, **kwargs):
        raise UserErrorException("amlcore reads delimited files only; use Dataset.Tabular.from_delimited_files.")

    @staticmethod
    def from_json_lines_files(path, *args, **kwargs):
        raise UserErrorException("amlcore reads delimited files only; use Dataset.Tabular.from_delimited_files.")

    @staticmethod
    def from_sql_query(query, *args, **kwargs):
        raise UserErrorException("amlcore has no SQL datastores; use Dataset.Tabular.from_delimited_files.")

    @staticmethod
    def register_pandas_dataframe(dataframe, target, name, *args, **kwargs):
        raise UserErrorException("register_pandas_dataframe is not supported by amlcore; write the frame with "
                                 "dataframe.to_csv, upload it with datastore.upload_files and use "
                                 "Dataset.Tabular.from_delimited_files.")


class FileDatasetFactory:
    """``Dataset.File``: file datasets."""

    @staticmethod
    def from_files(path, validate=True, partition_format=None, is_file=False):
        """A FileDataset of the files at ``path`` ((datastore, 'relative/path'), a DataPath, or a list of them;
        folders and globs such as 'images/**/*.jpg' name several files)."""
        if partition_format is not None:
            raise UserErrorException("partition_format is not supported by amlcore.")
        pairs = _normalize_paths(path)
        workspace = _workspace_of_datastores(pairs)
        core = _core.Dataset.from_files(workspace._core, [(s.name, p) for s, p in pairs], bool(validate))
        return _wrap(workspace, core)

    @staticmethod
    def upload_directory(src_dir, target, pattern=None, overwrite=False, show_progress=True):
        """Upload ``src_dir`` to ``target`` (a Datastore, a DataPath or a (datastore, path) tuple) and return a
        FileDataset of what is there."""
        from amlcore.data.abstract_datastore import AbstractDatastore
        from amlcore.data.datapath import DataPath
        if pattern is not None:
            raise UserErrorException("upload_directory's pattern is not supported by amlcore.")
        if isinstance(target, AbstractDatastore):
            datastore, relative = target, ""
        elif isinstance(target, DataPath):
            datastore, relative = target._datastore, target.path_on_datastore or ""
        elif isinstance(target, tuple) and len(target) == 2 and isinstance(target[0], AbstractDatastore):
            datastore, relative = target
        else:
            raise UserErrorException("target must be a Datastore, a DataPath or a (datastore, path) tuple.")
        datastore.upload(src_dir, relative, overwrite=overwrite, show_progress=show_progress)
        return FileDatasetFactory.from_files((datastore, relative.rstrip("/") + "/" if relative else ""))


class DataType:
    """Column types of azureml's ``set_column_types``, which amlcore does not apply (``from_delimited_files``
    refuses it with a message); convert the DataFrame's columns with pandas instead."""

    def __init__(self, conversion=None):
        self._type_conversion = conversion

    @staticmethod
    def to_string():
        return DataType("string")

    @staticmethod
    def to_long():
        return DataType("long")

    @staticmethod
    def to_float(decimal_mark="."):
        return DataType("float")

    @staticmethod
    def to_bool():
        return DataType("bool")

    @staticmethod
    def to_datetime(formats=None):
        return DataType("datetime")
