"""What Model.register keeps beyond files (datasets, sample datasets, resource configuration, framework) and
Model.profile, which runs the entry script in a replica of its own and measures it."""

import warnings

import pytest

from amlcore import Dataset, Model
from amlcore.exceptions import UserErrorException, WebserviceException
from amlcore.model import InferenceConfig
from amlcore.profile import ModelProfile
from amlcore.resource_configuration import ResourceConfiguration
from services import script_dir


@pytest.fixture
def datasets(ws, tmp_path):
    """A model file, and tabular and file datasets of uploaded data."""
    folder = tmp_path / "upload"
    folder.mkdir()
    (folder / "train.csv").write_text("x,y\n1,2\n3,4\n")
    (folder / "inputs.txt").write_text('input\n{"data": [1, 2]}\n{"data": [3]}\n{"data": [4, 5, 6]}\n')
    (folder / "numbers.csv").write_text("n\n1\n2\n")
    (folder / "two.csv").write_text("a,b\n1,2\n")
    (folder / "header_only.txt").write_text("input\n")
    store = ws.get_default_datastore()
    store.upload(str(folder), target_path="model-data", show_progress=False)
    (tmp_path / "model.txt").write_text("2.5")
    return {
        "model": str(tmp_path / "model.txt"),
        "train": Dataset.Tabular.from_delimited_files((store, "model-data/train.csv")),
        "inputs": Dataset.Tabular.from_delimited_files((store, "model-data/inputs.txt"), separator="\n"),
        "files": Dataset.File.from_files((store, "model-data/")),
        "store": store,
    }


def test_resource_configuration_checks_and_serializes():
    config = ResourceConfiguration(cpu=1, memory_in_gb=0.5)
    assert config.serialize() == {"cpu": 1, "memoryInGB": 0.5, "gpu": None}
    assert ResourceConfiguration.deserialize(config.serialize()) == config
    assert ResourceConfiguration.deserialize(None) is None
    with pytest.raises(WebserviceException) as missing:
        ResourceConfiguration.deserialize({"cpu": 1, "gpu": None})
    assert str(missing.value) == ("Invalid webservice payload, missing memoryInGB for ResourceConfiguration:\n"
                                  "{'cpu': 1, 'gpu': None}")
    config._validate_configuration()
    with pytest.raises(WebserviceException) as every:
        ResourceConfiguration(cpu=-1, memory_in_gb=0, gpu=1.5)._validate_configuration()
    assert str(every.value) == ("Invalid configuration, cpu must be greater than zero.\n"
                                "Invalid configuration, memory_in_gb must be greater than zero.\n"
                                "Invalid configuration, gpu must be integer and greater than zero.")
    for bad, line in ((dict(cpu="two"), "cpu must be greater than zero"),
                      (dict(memory_in_gb=True), "memory_in_gb must be greater than zero"),
                      (dict(gpu=0), "gpu must be integer and greater than zero")):
        with pytest.raises(WebserviceException, match=line):
            ResourceConfiguration(**bad)._validate_configuration()


def test_register_keeps_datasets_samples_and_resources(ws, datasets):
    train, inputs = datasets["train"], datasets["inputs"]
    model = Model.register(ws, datasets["model"], "with-data", model_framework=Model.Framework.SCIKITLEARN,
                           model_framework_version="1.2.2", datasets=[("training", train), ("training", inputs),
                                                                      ("scoring", datasets["files"])],
                           sample_input_dataset=inputs, sample_output_dataset=train,
                           resource_configuration=ResourceConfiguration(cpu=1, memory_in_gb=0.5, gpu=1))
    for read in (model, Model(ws, "with-data"), Model(ws, id="with-data:1"), Model.list(ws, name="with-data")[0]):
        assert (read.model_framework, read.model_framework_version) == ("ScikitLearn", "1.2.2")
        assert read.resource_configuration == ResourceConfiguration(cpu=1, memory_in_gb=0.5, gpu=1)
        assert isinstance(read.resource_configuration.gpu, int)
        assert read.sample_input_dataset.id == inputs.id and read.sample_output_dataset.id == train.id
        assert read.sample_input_dataset.to_pandas_dataframe()["input"].tolist()[0] == '{"data": [1, 2]}'
        assert sorted(read.datasets) == ["scoring", "training"]
        assert [d.id for d in read.datasets["training"]] == [train.id, inputs.id]
        assert read.datasets["scoring"][0].to_path()[0] == "/header_only.txt"
    serialized = model.serialize()
    assert serialized["resourceConfiguration"] == {"cpu": 1.0, "memoryInGB": 0.5, "gpu": 1.0}
    assert serialized["sampleInputDatasetId"] == inputs.id and serialized["sampleOutputDatasetId"] == train.id
    assert serialized["datasets"] == {"training": [train.id, inputs.id], "scoring": [datasets["files"].id]}
    # A registered dataset is its saved definition: the model points at the same id.
    registered = train.register(ws, "training-data")
    assert registered.id == train.id
    plain = Model.register(ws, datasets["model"], "plain")
    assert (plain.resource_configuration, plain.sample_input_dataset, plain.datasets) == (None, None, {})
    assert plain.model_framework_version is None


def test_register_refuses_what_azureml_refuses(ws, datasets):
    path = datasets["model"]
    with pytest.raises(WebserviceException) as version:
        Model.register(ws, path, "refused", model_framework_version="1.0")
    assert str(version.value) == "Model framework version cannot be provided without a valid framework"
    with pytest.raises(WebserviceException) as sample:
        Model.register(ws, path, "refused", sample_input_dataset="data.csv")
    assert str(sample.value) == ("Invalid sample input dataset of type <class 'str'> passed, must be of type "
                                 "TabularDataset or FileDataset")
    with pytest.raises(WebserviceException, match="^Invalid sample output dataset of type <class 'int'>"):
        Model.register(ws, path, "refused", sample_output_dataset=3)
    with pytest.raises(WebserviceException) as dataset:
        Model.register(ws, path, "refused", datasets=[("training", "data.csv")])
    assert str(dataset.value) == ("Invalid dataset of type <class 'str'> passed, must be of type Dataset or "
                                  "DatasetSnapshot")
    with pytest.raises(WebserviceException, match="datasets must be a list of \\(purpose, dataset\\) tuples"):
        Model.register(ws, path, "refused", datasets=[datasets["train"]])
    with pytest.raises(WebserviceException, match="^Invalid configuration, cpu must be greater than zero.$"):
        Model.register(ws, path, "refused", resource_configuration=ResourceConfiguration(cpu=0))
    with pytest.raises(WebserviceException, match="resource_configuration must be a ResourceConfiguration"):
        Model.register(ws, path, "refused", resource_configuration={"cpu": 1})
    assert "refused" not in ws.models


SCALE = """
    import json, os
    factor = None
    def init():
        global factor
        factor = float(open(os.path.join(os.getenv("AZUREML_MODEL_DIR"), "model.txt")).read())
    def run(raw):
        return [x * factor for x in json.loads(raw)["data"]]
"""


def test_profile_measures_the_entry_script_on_each_input(ws, datasets, tmp_path, capsys):
    model = Model.register(ws, datasets["model"], "scale")
    config = InferenceConfig(entry_script="score.py", source_directory=script_dir(tmp_path, SCALE))
    profile = Model.profile(ws, "scale-profile", [model], config, datasets["inputs"], cpu=1, memory_in_gb=2,
                            description="three inputs")
    assert isinstance(profile, ModelProfile)
    profile.wait_for_completion(show_output=True)
    out = capsys.readouterr().out
    assert out.rstrip().endswith("Succeeded"), out
    assert profile.state == "Succeeded"
    details = profile.get_details()
    assert details["name"] == "scale-profile" and details["description"] == "three inputs"
    assert (details["totalQueries"], details["successQueries"], details["successRate"]) == (3, 3, 100.0)
    assert (details["requestedCpu"], details["requestedMemoryInGB"]) == (1.0, 2.0)
    assert details["latencyPercentile50InMs"] <= details["latencyPercentile99InMs"]
    assert details["averageLatencyInMs"] > 0 and details["measuredQueriesPerSecond"] > 0
    assert 0 < details["maxUtilizedMemoryInGB"] < 2
    assert 0.1 <= profile.recommended_cpu <= 1 and 0.1 <= profile.recommended_memory <= 2
    assert details["recommendedCpu"] == profile.recommended_cpu
    assert details["recommendedMemoryInGB"] == profile.recommended_memory
    serialized = profile.serialize()
    assert serialized["modelIds"] == ["scale:1"] and serialized["inputDatasetId"] == datasets["inputs"].id
    assert serialized["error"] is None and "recommendedCpu" in serialized


def test_a_profile_whose_script_fails_says_why(ws, datasets, tmp_path):
    broken = """
        def init():
            raise RuntimeError("no weights here")
        def run(raw):
            return raw
    """
    config = InferenceConfig(entry_script="score.py", source_directory=script_dir(tmp_path, broken))
    profile = Model.profile(ws, "broken-profile", [], config, datasets["inputs"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        profile.wait_for_completion()
    assert profile.state == "Failed"
    assert any("no weights here" in str(w.message) for w in caught)
    details = profile.get_details()
    assert details["state"] == "Failed" and "UserScriptInitFailed" in details["error"]["message"]
    assert "recommendedCpu" not in details


def test_profile_arguments_are_checked_with_azuremls_messages(ws, datasets, tmp_path):
    config = InferenceConfig(entry_script="score.py", source_directory=script_dir(tmp_path, SCALE))
    store, inputs = datasets["store"], datasets["inputs"]
    checks = [
        (dict(profile_name=""), "^profile_name cannot be None or empty.$"),
        (dict(cpu=5), "^Expected cpu value is between 0.1 and 3.5. Provided: 5$"),
        (dict(memory_in_gb=0.05), "^Expected memory value is between 0.1 and 15.0. Provided: 0.05$"),
        (dict(input_dataset=None), "^Dataset not provided. Profiling required a dataset with sample input data.$"),
        (dict(input_dataset=datasets["files"]),
         "^Dataset type not supported. Profiling currently works only with Tabular Datasets. Provided: "),
        (dict(input_dataset=Dataset.Tabular.from_delimited_files((store, "model-data/two.csv"))),
         "^Dataset format not supported. Number of columns != 1. Dataset profile "),
        (dict(input_dataset=Dataset.Tabular.from_delimited_files((store, "model-data/numbers.csv"))),
         "^Dataset format not supported. Dataset contains datatype other than string. Dataset profile "),
        (dict(input_dataset=Dataset.Tabular.from_delimited_files((store, "model-data/header_only.txt"),
                                                                 separator="\n")),
         "^Empty Dataset. Dataset profile "),
    ]
    for change, message in checks:
        arguments = dict(profile_name="checked", input_dataset=inputs)
        arguments.update(change)
        with pytest.raises(UserErrorException, match=message):
            Model.profile(ws, arguments.pop("profile_name"), [], config, **arguments)
    with pytest.raises(WebserviceException) as stored:
        ModelProfile(ws, "checked")
    assert str(stored.value).startswith("Model profiling result with name checked not found in provided workspace")
