"""Model and InferenceConfig, as in ``azureml.core.model``."""

import json
import os

from amlcore import _core
from amlcore._core_property import core_property
from amlcore.exceptions import UserErrorException, WebserviceException

__all__ = ["Model", "InferenceConfig"]


def _string_map(value, name):
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise WebserviceException("{} must be a dict of strings to strings.".format(name))
    return dict(value)


def _optional_float(value, name):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserErrorException("{} must be a number, not {}.".format(name, type(value).__name__))
    return float(value)


def _is_dataset(value):
    from amlcore.data.file_dataset import FileDataset
    from amlcore.data.tabular_dataset import TabularDataset
    return isinstance(value, (FileDataset, TabularDataset))


def _filters(value, name):
    """azureml filters: strings ("key") or [key, value] pairs, as "key" / "key=value"."""
    out = []
    for item in value or []:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            out.append("{}={}".format(item[0], item[1]))
        else:
            raise WebserviceException("{} entries must be 'key' or [key, value], not {!r}.".format(name, item))
    return out


def _model_list(models):
    """``models`` as a list, each checked to be a Model (Model.deploy and Model.profile take them alike)."""
    models = list(models or [])
    for m in models:
        if not isinstance(m, Model):
            raise WebserviceException("models must be Model objects, not {}.".format(type(m).__name__))
    return models


class Model:
    """A registered model: versioned files stored by the workspace server.

    ``Model(workspace, name=None, id=None, version=None)`` loads one (the latest version when none is given);
    ``Model.register`` uploads a file or folder as the next version of a name.
    """

    class Framework:
        CUSTOM = "Custom"
        TENSORFLOW = "TensorFlow"
        SCIKITLEARN = "ScikitLearn"
        ONNX = "Onnx"
        PYTORCH = "PyTorch"
        MULTI = "Multi"

    def __init__(self, workspace, name=None, id=None, tags=None, properties=None, version=None, run_id=None,
                 model_framework=None, expand=True, sample_input_dataset_id=None, sample_output_dataset_id=None):
        self.workspace = workspace
        if id:
            core = _core.Model.get_by_id(workspace._core, id)
        elif name:
            core = _core.Model.get(workspace._core, name, None if version is None else int(version))
        else:
            raise WebserviceException("Model(workspace, ...) needs a name or an id.")
        self._core = core

    @classmethod
    def _wrap(cls, workspace, core):
        model = cls.__new__(cls)
        model.workspace = workspace
        model._core = core
        return model

    @staticmethod
    def register(workspace, model_path, model_name, tags=None, properties=None, description=None, datasets=None,
                 model_framework=None, model_framework_version=None, child_paths=None, sample_input_dataset=None,
                 sample_output_dataset=None, resource_configuration=None):
        """Upload the file or folder at ``model_path`` as the next version of ``model_name``.

        ``datasets`` ((purpose, dataset) pairs), ``sample_input_dataset``, ``sample_output_dataset`` and
        ``resource_configuration`` are kept with the model and read back as its attributes.
        """
        from amlcore.resource_configuration import ResourceConfiguration
        dataset_ids = []
        for pair in datasets or []:
            if not isinstance(pair, (list, tuple)) or len(pair) != 2 or not isinstance(pair[0], str):
                raise WebserviceException("datasets must be a list of (purpose, dataset) tuples, not {!r}.".format(
                    pair))
            if not _is_dataset(pair[1]):
                raise WebserviceException("Invalid dataset of type {} passed, must be of type Dataset or "
                                          "DatasetSnapshot".format(type(pair[1])))
            dataset_ids.append((pair[0], pair[1]._ensure_saved(workspace)))
        sample_input_id = Model._get_dataset_id(workspace, sample_input_dataset, "sample input dataset")
        sample_output_id = Model._get_dataset_id(workspace, sample_output_dataset, "sample output dataset")
        resources = None
        if resource_configuration is not None:
            if not isinstance(resource_configuration, ResourceConfiguration):
                raise WebserviceException("resource_configuration must be a ResourceConfiguration, not {}.".format(
                    type(resource_configuration).__name__))
            resources = resource_configuration._to_core()
            resources.validate()
        print("Registering model {}".format(model_name))
        core = _core.Model.register(workspace._core, os.fspath(model_path), model_name, _string_map(tags, "tags"),
                                    _string_map(properties, "properties"), description or "", model_framework or "",
                                    model_framework_version or "", dataset_ids, sample_input_id, sample_output_id,
                                    resources)
        return Model._wrap(workspace, core)

    @staticmethod
    def _get_dataset_id(workspace, dataset, param_name):
        """The saved id of a sample dataset ("" for None)."""
        if dataset is None:
            return ""
        if not _is_dataset(dataset):
            raise WebserviceException("Invalid {} of type {} passed, must be of type TabularDataset or "
                                      "FileDataset".format(param_name, type(dataset)))
        return dataset._ensure_saved(workspace)

    @staticmethod
    def list(workspace, name=None, tags=None, properties=None, run_id=None, latest=False, dataset_id=None,
             expand=True, page_count=255, model_framework=None):
        """Registered models, newest version first per name; ``latest`` keeps only the newest of each name."""
        props = {}
        for item in _filters(properties, "properties"):
            key, _, value = item.partition("=")
            props[key] = value
        cores = _core.Model.list(workspace._core, name or "", _filters(tags, "tags"), props, bool(latest))
        models = [Model._wrap(workspace, core) for core in cores]
        if model_framework:
            models = [m for m in models if m.model_framework == model_framework]
        return models

    @staticmethod
    def profile(workspace, profile_name, models, inference_config, input_dataset, cpu=None, memory_in_gb=None,
                description=None):
        """Measure what a deployment of ``models`` with ``inference_config`` needs: each row of
        ``input_dataset`` (a TabularDataset with one column of strings) is sent to ``run()`` in a scoring replica
        of its own on this machine. Returns a ModelProfile at once; then ``wait_for_completion()``."""
        from amlcore.data.tabular_dataset import TabularDataset
        from amlcore.profile import ModelProfile
        _core.ModelProfile.validate_arguments(profile_name or "", _optional_float(cpu, "cpu"),
                                              _optional_float(memory_in_gb, "memory_in_gb"))
        if input_dataset is None:
            raise UserErrorException("Dataset not provided. Profiling required a dataset with sample input data.")
        if not isinstance(input_dataset, TabularDataset):
            raise UserErrorException("Dataset type not supported. Profiling currently works only with Tabular "
                                     "Datasets. Provided: %s" % type(input_dataset))
        if not isinstance(inference_config, InferenceConfig):
            raise WebserviceException("inference_config must be an InferenceConfig, not {}.".format(
                type(inference_config).__name__))
        models = _model_list(models)
        frame = input_dataset.to_pandas_dataframe()
        description_of = "columns: {}, rows: {}, types: {}".format(
            list(frame.columns), len(frame), {str(c): str(t) for c, t in frame.dtypes.items()})
        if len(frame.columns) != 1:
            raise UserErrorException("Dataset format not supported. Number of columns != 1. Dataset profile %s"
                                     % description_of)
        column = frame[frame.columns[0]]
        if not all(isinstance(v, str) for v in column.tolist()):
            raise UserErrorException("Dataset format not supported. Dataset contains datatype other than string. "
                                     "Dataset profile %s" % description_of)
        if len(frame) < 1:
            raise UserErrorException("Empty Dataset. Dataset profile %s" % description_of)
        core = _core.ModelProfile.start(workspace._core, profile_name, [m._core for m in models],
                                        inference_config._to_core(), column.tolist(), _optional_float(cpu, "cpu"),
                                        _optional_float(memory_in_gb, "memory_in_gb"), description or "",
                                        input_dataset.id)
        return ModelProfile._wrap(workspace, core)

    @staticmethod
    def get_model_path(model_name, version=None, _workspace=None):
        """Inside a scoring replica: the path of the model's file or folder under AML_APP_ROOT/azureml-models."""
        return _core.Model.get_model_path(model_name, None if version is None else int(version))

    @staticmethod
    def deploy(workspace, name, models, inference_config=None, deployment_config=None, deployment_target=None,
               overwrite=False, show_output=False):
        """Start deploying ``models`` as web service ``name``; returns at once (then ``wait_for_deployment``).

        The kind of service follows ``deployment_config``: AKS (with an AksCompute ``deployment_target``), an AKS
        endpoint, ACI (``AciWebservice.deploy_configuration()``, also the default when there is neither a
        configuration nor a target) or local (``LocalWebservice.deploy_configuration()``, which waits for the
        service as azureml's does). Without ``inference_config``, a single scikit-learn or ONNX model registered
        with its ``model_framework`` gets a default entry script and environment (no-code deployment).
        """
        from amlcore.compute import AksCompute
        from amlcore.webservice import (AciServiceDeploymentConfiguration, AksEndpointDeploymentConfiguration,
                                        AksServiceDeploymentConfiguration, AksWebservice,
                                        LocalWebserviceDeploymentConfiguration, _wrap_service)
        if inference_config is not None and not isinstance(inference_config, InferenceConfig):
            raise WebserviceException("inference_config must be an InferenceConfig, not {}.".format(
                type(inference_config).__name__))
        models = _model_list(models)
        core_models = [m._core for m in models]
        core_inference = inference_config._to_core() if inference_config is not None else _core.InferenceConfig()
        if deployment_config is None and deployment_target is None:
            from amlcore.webservice import AciWebservice
            deployment_config = AciWebservice.deploy_configuration()
        if isinstance(deployment_config, (AciServiceDeploymentConfiguration, LocalWebserviceDeploymentConfiguration)):
            if deployment_target is not None:
                raise WebserviceException("Error, {} services run in a container group of their own; deploy them "
                                          "without a deployment_target.".format(
                                              "ACI" if isinstance(deployment_config,
                                                                  AciServiceDeploymentConfiguration) else "Local"))
            if isinstance(deployment_config, AciServiceDeploymentConfiguration):
                core = _core.AciWebservice.deploy(workspace._core, name, core_models, core_inference,
                                                  deployment_config._to_core(), bool(overwrite))
                return _wrap_service(workspace, core)
            core = _core.LocalWebservice.deploy(workspace._core, name, core_models, core_inference,
                                                deployment_config._to_core(), bool(overwrite))
            service = _wrap_service(workspace, core)
            service.wait_for_deployment(show_output=bool(show_output))
            return service
        if deployment_target is None or not isinstance(deployment_target, AksCompute):
            raise WebserviceException("deployment_target must be an AksCompute for an AKS deployment; ACI and local "
                                      "services (AciWebservice/LocalWebservice.deploy_configuration()) take none.")
        if deployment_config is None:
            deployment_config = AksWebservice.deploy_configuration()
        if not isinstance(deployment_config, AksServiceDeploymentConfiguration):
            raise WebserviceException("deployment_config must come from AksWebservice.deploy_configuration(), "
                                      "AksEndpoint.deploy_configuration(), AciWebservice.deploy_configuration() or "
                                      "LocalWebservice.deploy_configuration(), not {}.".format(
                                          type(deployment_config).__name__))
        if isinstance(deployment_config, AksEndpointDeploymentConfiguration):
            core = _core.AksEndpoint.deploy(workspace._core, name, core_models, core_inference,
                                            deployment_config._to_core(), deployment_target._core)
        else:
            core = _core.AksWebservice.deploy(workspace._core, name, core_models, core_inference,
                                              deployment_config._to_core(), deployment_target._core, bool(overwrite))
        return _wrap_service(workspace, core)

    def download(self, target_dir=".", exist_ok=False, exists_ok=None):
        """Write the model's files under ``target_dir``; returns the path of its file or folder."""
        return self._core.download(os.fspath(target_dir), bool(exist_ok if exists_ok is None else exists_ok))

    def delete(self):
        """Delete this version; refused while a web service deploys it."""
        self._core.delete()

    def serialize(self):
        resources = self.resource_configuration
        return {"id": self.id, "name": self.name, "version": self.version, "tags": self.tags,
                "properties": self.properties, "description": self.description, "createdTime": self.created_time,
                "modelFramework": self.model_framework, "modelFrameworkVersion": self.model_framework_version,
                "datasets": {purpose: list(ids) for purpose, ids in self._dataset_ids().items()},
                "resourceConfiguration": resources.serialize() if resources else None,
                "sampleInputDatasetId": self._core.sample_input_dataset_id or None,
                "sampleOutputDatasetId": self._core.sample_output_dataset_id or None}

    def _dataset_ids(self):
        ids = {}
        for purpose, dataset_id in self._core.datasets:
            ids.setdefault(purpose, []).append(dataset_id)
        return ids

    def _dataset(self, dataset_id):
        """The saved dataset with this id, or None when it cannot be read (azureml logs and skips those)."""
        if not dataset_id:
            return None
        from amlcore.dataset import Dataset
        cache = self.__dict__.setdefault("_datasets_by_id", {})
        if dataset_id not in cache:
            try:
                cache[dataset_id] = Dataset.get_by_id(self.workspace, dataset_id)
            except Exception:  # azureml: "Cannot find Saved Dataset with ID ..." is a warning, not an error
                cache[dataset_id] = None
        return cache[dataset_id]

    @property
    def datasets(self):
        """A dict of purpose ("training", ...) to the datasets registered with the model for it."""
        out = {}
        for purpose, ids in self._dataset_ids().items():
            for dataset_id in ids:
                dataset = self._dataset(dataset_id)
                if dataset is not None:
                    out.setdefault(purpose, []).append(dataset)
        return out

    @property
    def sample_input_dataset(self):
        """The sample input dataset given at registration, or None."""
        return self._dataset(self._core.sample_input_dataset_id)

    @property
    def sample_output_dataset(self):
        """The sample output dataset given at registration, or None."""
        return self._dataset(self._core.sample_output_dataset_id)

    @property
    def resource_configuration(self):
        """The ResourceConfiguration given at registration, or None."""
        from amlcore.resource_configuration import ResourceConfiguration
        return ResourceConfiguration._from_core(self._core.resource_configuration)

    id = core_property("id")
    name = core_property("name")
    version = core_property("version")
    tags = core_property("tags", as_dict=True)
    properties = core_property("properties", as_dict=True)
    description = core_property("description", empty_as_none=True)
    created_time = core_property("created_time")
    model_framework = core_property("model_framework", empty_as_none=True)
    model_framework_version = core_property("model_framework_version", empty_as_none=True)

    def __repr__(self):
        return "Model(workspace={!r}, name={}, id={}, version={}, tags={}, properties={})".format(
            self.workspace, self.name, self.id, self.version, self.tags, self.properties)


class InferenceConfig:
    """How a deployment runs: the entry script (``init()`` and ``run(data)``), its source directory, and an
    environment (or a conda file). Checked at once, with azureml's rules."""

    def __init__(self, entry_script, runtime=None, conda_file=None, extra_docker_file_steps=None,
                 source_directory=None, enable_gpu=None, description=None, base_image=None, base_image_registry=None,
                 cuda_version=None, environment=None):
        self.entry_script = entry_script
        self.runtime = runtime
        self.conda_file = conda_file
        self.extra_docker_file_steps = extra_docker_file_steps
        self.source_directory = source_directory
        self.enable_gpu = enable_gpu
        self.description = description
        self.base_image = base_image
        self.base_image_registry = base_image_registry
        self.cuda_version = cuda_version
        self.environment = environment
        self.validate_configuration()

    @staticmethod
    def from_file(path):
        """The inference configuration of an ``inferenceconfig.json`` file in Azure's schema (what ``az ml model
        deploy -ic`` reads; amlcore's own loader, azureml has none): ``entryScript``, ``sourceDirectory`` and an
        ``environment`` document, or the older ``runtime``/``condaFile`` keys. Paths are relative to the working
        directory, as az ml reads them. Unknown keys and wrong types raise UserErrorException naming the file, the
        key and what is allowed."""
        from amlcore.environment import Environment
        core = _core.load_inference_config_file(os.fspath(path))

        def text(value):
            return value or None
        return InferenceConfig(core.entry_script, runtime=text(core.runtime), conda_file=text(core.conda_file),
                               extra_docker_file_steps=text(core.extra_docker_file_steps),
                               source_directory=text(core.source_directory), enable_gpu=core.enable_gpu,
                               description=text(core.description), base_image=text(core.base_image),
                               base_image_registry=text(core.base_image_registry),
                               cuda_version=text(core.cuda_version),
                               environment=Environment._from_core(core.environment)
                               if core.environment is not None else None)

    def validate_configuration(self):
        """Raises UserErrorException when the configuration breaks a rule."""
        self._to_core().validate()

    def _to_core(self):
        from amlcore.environment import Environment
        core = _core.InferenceConfig()
        for field in ("entry_script", "runtime", "conda_file", "extra_docker_file_steps", "source_directory",
                      "description", "base_image", "cuda_version"):
            value = getattr(self, field)
            if value is not None and not isinstance(value, (str, os.PathLike)):
                raise UserErrorException("{} must be a string, not {}.".format(field, type(value).__name__))
            setattr(core, field, os.fspath(value) if value is not None else "")
        core.base_image_registry = ""
        core.enable_gpu = None if self.enable_gpu is None else bool(self.enable_gpu)
        if self.environment is not None:
            if not isinstance(self.environment, Environment):
                raise UserErrorException("environment must be an Environment, not {}.".format(
                    type(self.environment).__name__))
            core.environment = self.environment._to_core()
        return core

    def __repr__(self):
        return "InferenceConfig(entry_script={!r}, source_directory={!r}, environment={!r})".format(
            self.entry_script, self.source_directory, self.environment)
