"""TabularDataset, as in ``azureml.data.tabular_dataset``: delimited files read as one table."""

import os
import tempfile

from amlcore.data.abstract_dataset import AbstractDataset
from amlcore.exceptions import UserErrorException

__all__ = ["TabularDataset"]

# The dataset encodings (azureml's names) as Python codecs.
_ENCODINGS = {"utf8": "utf-8", "iso88591": "iso-8859-1", "latin1": "latin-1", "ascii": "ascii", "utf16": "utf-16",
              "utf32": "utf-32", "utf8bom": "utf-8-sig", "windows1252": "cp1252"}
# pandas' own missing-value markers, less the empty string (what empty_as_string keeps as text).
_NA_BUT_EMPTY = ["#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>",
                 "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]


def _read_lines(pandas, path, encoding, header):
    """A file whose separator is the line break: one column, a row per non-empty line (azureml's profiling
    samples are made this way, one JSON input per line)."""
    with open(path, encoding=encoding, newline="") as f:
        lines = [line for line in f.read().splitlines() if line.strip()]
    name = lines.pop(0) if header and lines else "Column1"
    return pandas.DataFrame({name: pandas.Series(lines, dtype=object)})


class TabularDataset(AbstractDataset):
    """Delimited files in datastores read as one table, made with ``Dataset.Tabular.from_delimited_files``."""

    def _definition_steps(self):
        return ["GetDatastoreFiles", "ParseDelimited", "DropColumns"]

    def to_pandas_dataframe(self, on_error="null", out_of_range_datetime="null"):
        """Read the files (in path order) into one pandas DataFrame.

        The header setting applies as in azureml (NO_HEADERS names the columns Column1, Column2, ...);
        ``include_path`` adds a first column ``Path``. Quoted fields may hold line breaks whatever
        ``support_multi_line`` says.
        """
        try:
            import pandas
        except ImportError:
            raise UserErrorException("to_pandas_dataframe needs pandas (Debian: apt-get install python3-pandas).")
        options = self._core.delimited
        with tempfile.TemporaryDirectory(prefix="amlcore-dataset-") as folder:
            local = list(self._core.download(folder, True))
            frames = []
            columns = None
            for index, path in enumerate(local):
                header = options.header
                kwargs = {"sep": options.separator, "encoding": _ENCODINGS[options.encoding]}
                if len(options.separator) > 1:
                    kwargs["engine"] = "python"
                if not options.infer_column_types:
                    kwargs["dtype"] = str
                if options.empty_as_string:
                    kwargs.update(keep_default_na=False, na_values=_NA_BUT_EMPTY)
                first_has_header = header == "ONLY_FIRST_FILE_HAS_HEADERS" and index == 0
                if header == "NO_HEADERS" or (header == "ONLY_FIRST_FILE_HAS_HEADERS" and not first_has_header):
                    kwargs["header"] = None
                try:
                    if options.separator in ("\n", "\r\n"):
                        frame = _read_lines(pandas, path, kwargs["encoding"], kwargs.get("header", 0) is not None)
                    else:
                        frame = pandas.read_csv(path, **kwargs)
                except Exception as e:  # pandas' parser errors, empty files, undecodable bytes
                    raise UserErrorException("Cannot read {} as delimited text: {}".format(
                        "/" + os.path.relpath(path, folder), e))
                if header == "NO_HEADERS":
                    frame.columns = ["Column{}".format(i + 1) for i in range(len(frame.columns))]
                elif header == "ONLY_FIRST_FILE_HAS_HEADERS":
                    if columns is None:
                        columns = list(frame.columns)
                    elif len(frame.columns) == len(columns):
                        frame.columns = columns
                if options.include_path:
                    frame.insert(0, "Path", "/" + os.path.relpath(path, folder))
                frames.append(frame)
        if not frames:
            return pandas.DataFrame()
        return pandas.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]

    def take(self, count):
        raise UserErrorException("amlcore datasets do not transform; use to_pandas_dataframe().head(count).")
