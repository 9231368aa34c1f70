"""The workspace's default datastore and datasets, as azureml's notebooks use them: upload, download, file and
tabular datasets, registration in versions, and every refusal with its message."""

import os
import subprocess

import pytest

from amlcore import Dataset, Datastore, Workspace
from amlcore.data import DataType, FileDataset, TabularDataset
from amlcore.data.azure_storage_datastore import AzureBlobDatastore
from amlcore.data.data_reference import DataReference
from amlcore.data.datapath import DataPath
from amlcore.data.dataset_type_definitions import PromoteHeadersBehavior
from amlcore.exceptions import UserErrorException
from conftest import amlcored


def test_the_modules_azureml_notebooks_import_from():
    import amlcore
    from amlcore import data
    from amlcore.data import datapath, file_dataset, tabular_dataset
    from amlcore.dataset import Dataset as CoreDataset
    from amlcore.datastore import Datastore as CoreDatastore
    assert (amlcore.Dataset, amlcore.Datastore) == (CoreDataset, CoreDatastore)
    assert {"Dataset", "Datastore"} <= set(amlcore.__all__)
    assert file_dataset.FileDataset is data.FileDataset and tabular_dataset.TabularDataset is data.TabularDataset
    assert datapath.DataPath is DataPath
    assert Dataset.File.from_files and Dataset.Tabular.from_delimited_files


@pytest.fixture
def data(tmp_path):
    """A local folder with two CSV files (one in a subfolder) and an empty folder."""
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "one.csv").write_text("a,b\n1,x\n2,y\n")
    (root / "sub" / "two.csv").write_text("a,b\n3,z\n")
    return root


def test_every_workspace_has_its_default_blob_datastore(ws):
    store = ws.get_default_datastore()
    assert isinstance(store, AzureBlobDatastore)
    assert (store.name, store.datastore_type) == ("workspaceblobstore", "AzureBlob")
    assert store.workspace is ws and store.container_name and store.account_name
    assert Datastore(ws).name == "workspaceblobstore"
    assert Datastore(ws, "workspaceblobstore").name == "workspaceblobstore"
    assert Datastore.get(ws, "workspaceblobstore").name == "workspaceblobstore"
    assert Datastore.get_default(ws).name == "workspaceblobstore"
    assert list(ws.datastores) == ["workspaceblobstore"]
    assert isinstance(ws.datastores["workspaceblobstore"], AzureBlobDatastore)
    with pytest.raises(UserErrorException) as missing:
        Datastore.get(ws, "workspacefilestore")
    assert str(missing.value).startswith(
        "DatastoreNotFound: Datastore with name workspacefilestore not found in provided workspace")
    assert missing.value.http_status == 404
    with pytest.raises(UserErrorException, match="cannot register other storage"):
        Datastore.register_azure_blob_container(ws, "mine", "container", "account", account_key="k")


def test_upload_skips_existing_files_unless_overwrite(ws, data, capsys):
    store = ws.get_default_datastore()
    reference = store.upload(str(data), target_path="csv", overwrite=False, show_progress=True)
    assert isinstance(reference, DataReference) and reference.path_on_datastore == "csv"
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Uploading an estimated of 2 files"
    assert "Uploading {}".format(data / "one.csv") in out
    assert "Uploaded {}, 1 files out of an estimated total of 2".format(data / "one.csv") in out
    assert out[-1] == "Uploaded 2 files"
    assert store._list_files("csv/") == [("csv/one.csv", 12), ("csv/sub/two.csv", 8)]  # the empty folder is not kept

    (data / "one.csv").write_text("a,b\n9,changed\n")
    store.upload(str(data), target_path="csv")
    out = capsys.readouterr().out.splitlines()
    assert "Target already exists. Skipping upload for csv/one.csv" in out
    assert out[-1] == "Uploaded 0 files"
    assert dict(store._list_files("csv/"))["csv/one.csv"] == 12

    store.upload(str(data), target_path="csv", overwrite=True, show_progress=False)
    assert capsys.readouterr().out == ""
    assert dict(store._list_files("csv/"))["csv/one.csv"] == 14
    # An empty folder uploads nothing, as os.walk finds no file in it.
    store.upload(str(data / "empty"), target_path="nothing", show_progress=False)
    assert store._list_files("nothing") == []


def test_upload_refuses_what_would_leave_the_datastore(ws, data):
    store = ws.get_default_datastore()
    with pytest.raises(UserErrorException, match="^src_path must be a directory.$"):
        store.upload(str(data / "one.csv"))
    with pytest.raises(UserErrorException, match="src_path must be a directory"):
        store.upload(str(data / "missing"))
    with pytest.raises(UserErrorException, match="leaves the datastore"):
        store.upload(str(data), target_path="csv/../../etc", show_progress=False)
    # A leading "../" is dropped, as azureml drops it: the files land at the root's "up".
    store.upload(str(data), target_path="../up", show_progress=False)
    assert [path for path, _ in store._list_files("up/")] == ["up/one.csv", "up/sub/two.csv"]
    with pytest.raises(UserErrorException, match="target_path must be a string"):
        store.upload(str(data), target_path=5)


def test_upload_files_paths_relative_to_their_root(ws, data):
    store = ws.get_default_datastore()
    files = [str(data / "one.csv"), str(data / "sub" / "two.csv")]
    store.upload_files(files, target_path="flat", show_progress=False)
    assert [p for p, _ in store._list_files("flat/")] == ["flat/one.csv", "flat/sub/two.csv"]
    store.upload_files([str(data / "sub" / "two.csv")], relative_root=str(data), target_path="rooted",
                       show_progress=False)
    assert [p for p, _ in store._list_files("rooted/")] == ["rooted/sub/two.csv"]
    store.upload_files([str(data / "sub" / "two.csv")], show_progress=False)
    assert [p for p, _ in store._list_files("two")] == ["two.csv"]
    with pytest.raises(UserErrorException) as outside:
        store.upload_files([str(data / "one.csv")], relative_root=str(data / "sub"))
    assert str(outside.value) == "relative_root: '{}' is not part of the file_path: '{}'.".format(
        data / "sub", data / "one.csv")
    with pytest.raises(UserErrorException) as folder:
        store.upload_files([str(data / "sub")], relative_root=str(data))
    assert str(folder.value) == ("'{}' does not point to a file. Please upload the file to cloud first if running in "
                                 "a cloud notebook.".format(data / "sub"))
    with pytest.raises(UserErrorException, match="files must be a list of file paths"):
        store.upload_files(str(data / "one.csv"))


def test_download_by_prefix_keeps_existing_files(ws, data, tmp_path, capsys):
    store = ws.get_default_datastore()
    store.upload(str(data), target_path="csv", show_progress=False)
    target = tmp_path / "out"
    assert store.download(str(target), prefix="csv/sub", show_progress=True) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == ["Downloading csv/sub/two.csv", "Downloaded csv/sub/two.csv, 1 files out of an estimated total of 1"]
    assert (target / "csv" / "sub" / "two.csv").read_text() == "a,b\n3,z\n"
    (target / "csv" / "sub" / "two.csv").write_text("local")
    assert store.download(str(target), prefix="csv/", show_progress=False) == 1  # one.csv only
    assert (target / "csv" / "sub" / "two.csv").read_text() == "local"
    assert store.download(str(target), overwrite=True, show_progress=False) == 2
    assert (target / "csv" / "sub" / "two.csv").read_text() == "a,b\n3,z\n"
    assert store.download(str(tmp_path / "none"), prefix="no/such/", show_progress=False) == 0


def test_paths_and_data_references(ws):
    store = ws.get_default_datastore()
    reference = store.path("csv/one.csv")
    assert isinstance(reference, DataReference)
    assert (reference.datastore, reference.path_on_datastore, reference.mode) == (store, "csv/one.csv", "mount")
    assert store.as_mount().mode == "mount"
    assert reference.as_download().mode == "download"
    assert str(reference) == "$AZUREML_DATAREFERENCE_workspaceblobstore"
    path = DataPath(store, "csv/")
    assert (path.datastore_name, path.path_on_datastore) == ("workspaceblobstore", "csv/")
    with pytest.raises(UserErrorException, match="datastore must be a Datastore"):
        DataPath("workspaceblobstore", "csv/")


def test_file_datasets_name_files_folders_and_globs(ws, data, tmp_path):
    store = ws.get_default_datastore()
    store.upload(str(data), target_path="csv", show_progress=False)
    (data / "notes.txt").write_text("not a csv")
    store.upload_files([str(data / "notes.txt")], target_path="csv", show_progress=False)
    assert Dataset.File.from_files(path=(store, "csv/one.csv")).to_path() == ["/one.csv"]
    assert Dataset.File.from_files(path=(store, "csv/")).to_path() == ["/notes.txt", "/one.csv", "/sub/two.csv"]
    assert Dataset.File.from_files((store, "csv/**/*.csv")).to_path() == ["/one.csv", "/sub/two.csv"]
    listed = Dataset.File.from_files([(store, "csv/one.csv"), (store, "csv/sub/two.csv")])
    assert listed.to_path() == ["/one.csv", "/sub/two.csv"]
    assert Dataset.File.from_files(DataPath(store, "csv/sub")).to_path() == ["/two.csv"]
    assert Dataset.File.from_files(store.path("csv/sub/")).to_path() == ["/two.csv"]
    files = Dataset.File.from_files((store, "csv/*.csv"))
    assert isinstance(files, FileDataset) and files.name is None and files.version is None

    target = tmp_path / "downloaded"
    written = files.download(target_path=str(target))
    assert written == [str(target / "one.csv")]
    assert (target / "one.csv").read_text() == "a,b\n1,x\n2,y\n"
    with pytest.raises(UserErrorException) as exists:
        files.download(target_path=str(target))
    assert str(exists.value) == ('File "{}" already exists. Set overwrite=True to overwrite it, or choose an empty '
                                 'target path.'.format(target / "one.csv"))
    assert files.download(target_path=str(target), overwrite=True) == [str(target / "one.csv")]
    temporary = files.download()
    assert len(temporary) == 1 and os.path.exists(temporary[0])
    with pytest.raises(UserErrorException, match="does not mount datasets"):
        files.mount()


def test_dataset_paths_are_checked_with_azuremls_messages(ws, data):
    store = ws.get_default_datastore()
    store.upload(str(data), target_path="csv", show_progress=False)
    invalid = "Invalid argument type for `path`. It can be single value or a list of"
    for bad in (None, [], 42, "csv/one.csv", [(store, "csv/one.csv"), "csv/sub/two.csv"]):
        with pytest.raises(UserErrorException, match="^" + invalid.replace("`", ".")):
            Dataset.File.from_files(bad)
    with pytest.raises(UserErrorException) as bad_tuple:
        Dataset.File.from_files((store, "csv", "extra"))
    assert str(bad_tuple.value) == ("Invalid tuple for path. Please make sure the tuple consists of a datastore and a "
                                    "path/SQL query")
    with pytest.raises(UserErrorException, match="not from URLs"):
        Dataset.Tabular.from_delimited_files("https://example.com/data.csv")
    with pytest.raises(UserErrorException, match="^Failed to validate the data"):
        Dataset.File.from_files((store, "nowhere/"))
    unchecked = Dataset.File.from_files((store, "nowhere/"), validate=False)
    assert unchecked.to_path() == []
    with pytest.raises(UserErrorException, match="leaves the datastore"):
        Dataset.File.from_files((store, "csv/../../x"))


def test_tabular_datasets_read_delimited_files_into_pandas(ws, tmp_path):
    store = ws.get_default_datastore()
    folder = tmp_path / "tables"
    folder.mkdir()
    (folder / "a.csv").write_text("x;y\n1;one\n2;two\n")
    (folder / "b.csv").write_text("x;y\n3;three\n")
    (folder / "raw.csv").write_text("1,2\n3,\n")
    (folder / "latin.csv").write_bytes("name\ncaf\xe9\n".encode("latin-1"))
    (folder / "head.csv").write_text("p,q\n1,2\n")
    store.upload(str(folder), target_path="tables", show_progress=False)

    table = Dataset.Tabular.from_delimited_files(path=[(store, "tables/a.csv"), (store, "tables/b.csv")],
                                                 separator=";")
    assert isinstance(table, TabularDataset)
    frame = table.to_pandas_dataframe()
    assert list(frame.columns) == ["x", "y"]
    assert frame["x"].tolist() == [1, 2, 3] and frame["y"].tolist() == ["one", "two", "three"]
    with_path = Dataset.Tabular.from_delimited_files((store, "tables/a.csv"), separator=";", include_path=True)
    assert with_path.to_pandas_dataframe()["Path"].tolist() == ["/a.csv", "/a.csv"]
    raw = Dataset.Tabular.from_delimited_files((store, "tables/raw.csv"), header=False)
    frame = raw.to_pandas_dataframe()
    assert list(frame.columns) == ["Column1", "Column2"] and frame["Column1"].tolist() == [1, 3]
    assert frame["Column2"].isna().tolist() == [False, True]
    text = Dataset.Tabular.from_delimited_files((store, "tables/raw.csv"), header=PromoteHeadersBehavior.NO_HEADERS,
                                                infer_column_types=False, empty_as_string=True)
    assert text.to_pandas_dataframe()["Column2"].tolist() == ["2", ""]
    latin = Dataset.Tabular.from_delimited_files((store, "tables/latin.csv"), encoding="latin1")
    assert latin.to_pandas_dataframe()["name"].tolist() == ["caf\xe9"]
    first_only = Dataset.Tabular.from_delimited_files([(store, "tables/head.csv"), (store, "tables/raw.csv")],
                                                      header="ONLY_FIRST_FILE_HAS_HEADERS")
    frame = first_only.to_pandas_dataframe()
    assert list(frame.columns) == ["p", "q"] and frame["p"].tolist() == [1, 1, 3]

    with pytest.raises(UserErrorException) as encoding:
        Dataset.Tabular.from_delimited_files((store, "tables/a.csv"), encoding="ebcdic")
    assert str(encoding.value) == ("Invalid encoding 'ebcdic'. The supported encodings are 'utf8', 'iso88591', "
                                   "'latin1', 'ascii', 'utf16', 'utf32', 'utf8bom' and 'windows1252'.")
    with pytest.raises(UserErrorException, match="^Unsupported header provided. The allowed values are"):
        Dataset.Tabular.from_delimited_files((store, "tables/a.csv"), header="SOME_HEADERS")
    with pytest.raises(UserErrorException, match="set_column_types is not supported by amlcore"):
        Dataset.Tabular.from_delimited_files((store, "tables/a.csv"), set_column_types={"x": DataType.to_long()})
    with pytest.raises(UserErrorException, match="partition_format is not supported"):
        Dataset.Tabular.from_delimited_files((store, "tables/a.csv"), partition_format="/{x}/a.csv")


def test_registered_datasets_are_versioned_per_name(ws, data):
    store = ws.get_default_datastore()
    store.upload(str(data), target_path="csv", show_progress=False)
    files = Dataset.File.from_files((store, "csv/"))
    first = files.register(ws, "csv-files", description="all the csv", tags={"stage": "raw"})
    assert (first.name, first.version, first.description, first.tags) == ("csv-files", 1, "all the csv",
                                                                          {"stage": "raw"})
    assert first.id == files.id and len(first.id) == 36
    # The same definition again is its registration; another needs create_new_version.
    assert files.register(ws, "csv-files").version == 1
    one = Dataset.File.from_files((store, "csv/one.csv"))
    with pytest.raises(UserErrorException) as taken:
        one.register(ws, "csv-files")
    assert str(taken.value) == ('There is already a dataset registered under name "csv-files". Specify '
                                '`create_new_version=True` to register the dataset as a new version.')
    second = one.register(ws, "csv-files", create_new_version=True)
    assert second.version == 2 and second.description is None and second.tags == {}
    table = Dataset.Tabular.from_delimited_files((store, "csv/one.csv"))
    with pytest.raises(UserErrorException) as kind:
        table.register(ws, "csv-files", create_new_version=True)
    assert str(kind.value) == ('There is already a "File" dataset registered under name "csv-files". Cannot '
                               'register dataset of type "Tabular" under the same name.')

    latest = Dataset.get_by_name(ws, "csv-files")
    assert isinstance(latest, FileDataset) and latest.version == 2 and latest.to_path() == ["/one.csv"]
    assert Dataset.get_by_name(ws, name="csv-files", version=1).to_path() == ["/one.csv", "/sub/two.csv"]
    assert Dataset.get_by_name(ws, "csv-files", version="1").version == 1
    with pytest.raises(ValueError) as version:
        Dataset.get_by_name(ws, "csv-files", version="newest")
    assert str(version.value) == 'Invalid value newest for version. Version value must be number or "latest".'
    with pytest.raises(Exception) as missing:
        Dataset.get_by_name(ws, "no-such-data")
    assert str(missing.value) == 'Dataset with name "no-such-data" is not registered in the workspace'
    by_id = Dataset.get_by_id(ws, first.id)
    assert (by_id.name, by_id.to_path()) == ("csv-files", ["/one.csv", "/sub/two.csv"])
    assert list(ws.datasets) == ["csv-files"] and ws.datasets["csv-files"].version == 2
    assert "csv-files" in repr(latest) and "('workspaceblobstore', 'csv/one.csv')" in repr(latest)
    with pytest.raises(UserErrorException, match="tags must be a dict"):
        files.register(ws, "other", tags=["a"])


def test_files_and_datasets_outlive_the_server(ws, data, home):
    store = ws.get_default_datastore()
    store.upload(str(data), target_path="csv", show_progress=False)
    Dataset.File.from_files((store, "csv/")).register(ws, "kept")
    subprocess.run([amlcored(), "--stop", "--home", home.path], capture_output=True, timeout=120, check=True)
    again = Workspace.get("test-ws")  # starts the server again
    assert Dataset.get_by_name(again, "kept").to_path() == ["/one.csv", "/sub/two.csv"]
    assert again.get_default_datastore()._list_files("csv/") == [("csv/one.csv", 12), ("csv/sub/two.csv", 8)]
