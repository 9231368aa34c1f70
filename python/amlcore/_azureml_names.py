"""What amlcore answers for azureml's names.

Porting a notebook changes its imports from ``azureml.core`` to ``amlcore`` and nothing else, so every name a
notebook may import has to import. This module is the one place that says what amlcore does about azureml names it
does not implement:

* ``UNSUPPORTED``: the names amlcore does not provide. Each imports as a placeholder (a class, or a function);
  constructing or calling it, or reading an attribute of the class, raises
  :class:`amlcore.exceptions.UnsupportedFeatureError`, whose message names the azureml name, says why amlcore lacks
  it and what to do instead. Members of amlcore's own classes (``Webservice.deploy_from_image``) raise when called.
  The README's table "azureml names amlcore does not provide" is printed from this one
  (``python -c "from amlcore._azureml_names import readme_table; print(readme_table())"``), and a test keeps the
  two equal.
* ``MODULE_ALIASES``: azureml module paths whose names amlcore keeps in another module
  (``azureml.core.compute.aks`` is ``amlcore.compute.aks``, served from ``amlcore.compute``).
* Any other name under ``amlcore`` raises an AttributeError or ImportError that says amlcore does not have it and
  where the list is, instead of Python's bare "cannot import name".

``amlcore/__init__.py`` applies this to every module (``mirror_package()``); modules that exist only to hold
placeholders (``amlcore.experiment``, ``amlcore.run``, ...) are made from the table on import.
"""

import importlib
import importlib.abc
import importlib.machinery
import sys
from typing import NamedTuple

from amlcore import _core
from amlcore.exceptions import UnsupportedFeatureError

README_SECTION = "azureml names amlcore does not provide"


class Unsupported(NamedTuple):
    """An azureml name amlcore does not provide."""

    module: str  # the amlcore module that holds the placeholder
    name: str  # "AmlCompute", or "Webservice.deploy_from_image" for a member of an amlcore class
    kind: str  # "class", "function" or "method"
    why: str  # why amlcore does not have it (a clause, no final period)
    instead: str  # what to do instead (sentences)
    also_in: tuple = ()  # other amlcore modules that export it, as azureml's do

    @property
    def azureml_name(self):
        return "{}.{}".format(azureml_module(self.module), self.name)

    @property
    def azureml_aliases(self):
        return tuple("{}.{}".format(azureml_module(m), self.name) for m in self.also_in)

    def error(self, attribute=None):
        """The exception that using the name (or ``attribute`` of it) raises."""
        name = self.azureml_name if attribute is None else "{}.{}".format(self.azureml_name, attribute)
        return UnsupportedFeatureError("{} is not provided by amlcore {}: {}. {}".format(
            name, _core.__version__, self.why, self.instead), azureml_name=name)


def azureml_module(amlcore_module):
    """The azureml module an amlcore module stands for: ``amlcore.compute`` is ``azureml.core.compute``."""
    if amlcore_module == "amlcore":
        return "azureml.core"
    rest = amlcore_module[len("amlcore."):]
    if rest.split(".")[0] in ("exceptions", "data"):
        return "azureml." + rest
    return "azureml.core." + rest


# Why amlcore lacks a name, and what to do instead; shared by the rows below.
_TRAINING = "amlcore deploys and serves models; it has no experiments, runs or training jobs"
_TRAIN_HERE = ("Train in the notebook or any Python process, then register the model file with "
               "Model.register(workspace, model_path, model_name).")
_RUN_CONFIG = ("Describe a deployment's software with an Environment (pip and conda packages through "
               "CondaDependencies, environment variables) and pass it to InferenceConfig(entry_script=..., "
               "environment=...).")
_TRAINING_COMPUTE = "amlcore's only compute targets are AKS clusters, which serve models"
_AKS = ("Create or attach an AKS cluster: ComputeTarget.create(workspace, name, "
        "AksCompute.provisioning_configuration()) or ComputeTarget.attach(workspace, name, "
        "AksCompute.attach_configuration(...)), and train in the notebook.")
_IMAGES = ("amlcore deploys models with an InferenceConfig and builds their environments itself; it has no "
           "container images to build or manage")
_DEPLOY_MODEL = ("Deploy with Model.deploy(workspace, name, models, inference_config, deployment_config, "
                 "deployment_target), where inference_config is InferenceConfig(entry_script=..., environment=...).")
_AZURE_RESOURCES = "amlcore runs on this machine and creates no Azure resources"
_NO_SIGN_IN = ("amlcore signs nobody in to Azure Active Directory; the SDK reaches its server with the server's own "
               "admin token, which it finds by itself")
_SERVICE_CREDENTIALS = ("To call a service over HTTP, send one of its keys (service.get_keys()) or a token "
                        "(service.get_access_token()) as 'Authorization: Bearer <key or token>'.")
_SPARK = "amlcore has no Databricks or Spark integration"
_PIP_PACKAGES = "List the Python packages a deployment needs with CondaDependencies.create(pip_packages=[...])."

UNSUPPORTED = (
    # azureml.core's top level.
    Unsupported("amlcore", "diagnostic_log", "function", "amlcore has no azureml diagnostic log to switch on",
                "Follow a deployment with wait_for_deployment(show_output=True) and read a service's log with "
                "service.get_logs()."),
    # Experiments and runs.
    Unsupported("amlcore.experiment", "Experiment", "class", _TRAINING, _TRAIN_HERE, ("amlcore",)),
    Unsupported("amlcore.run", "Run", "class", _TRAINING, _TRAIN_HERE, ("amlcore",)),
    Unsupported("amlcore.run", "get_run", "function", _TRAINING, _TRAIN_HERE, ("amlcore",)),
    Unsupported("amlcore.script_run", "ScriptRun", "class", _TRAINING, _TRAIN_HERE, ("amlcore",)),
    Unsupported("amlcore.script_run_config", "ScriptRunConfig", "class", _TRAINING, _TRAIN_HERE, ("amlcore",)),
    Unsupported("amlcore.runconfig", "RunConfiguration", "class", _TRAINING, _RUN_CONFIG, ("amlcore",)),
    Unsupported("amlcore.runconfig", "DockerConfiguration", "class", _TRAINING, _RUN_CONFIG),
    Unsupported("amlcore.runconfig", "MpiConfiguration", "class", _TRAINING, _TRAIN_HERE),
    Unsupported("amlcore.runconfig", "PyTorchConfiguration", "class", _TRAINING, _TRAIN_HERE),
    Unsupported("amlcore.runconfig", "TensorflowConfiguration", "class", _TRAINING, _TRAIN_HERE),
    Unsupported("amlcore.runconfig", "ParallelTaskConfiguration", "class", _TRAINING, _TRAIN_HERE),
    Unsupported("amlcore.runconfig", "AmlComputeConfiguration", "class", _TRAINING, _TRAIN_HERE),
    Unsupported("amlcore.runconfig", "HdiConfiguration", "class", _TRAINING, _TRAIN_HERE),
    Unsupported("amlcore.runconfig", "SparkConfiguration", "class", _TRAINING, _TRAIN_HERE),
    Unsupported("amlcore.runconfig", "HistoryConfiguration", "class", _TRAINING, _TRAIN_HERE),
    Unsupported("amlcore.runconfig", "DataReferenceConfiguration", "class", _TRAINING, _TRAIN_HERE),
    # Compute targets other than AKS.
    *(Unsupported("amlcore.compute", name, "class", _TRAINING_COMPUTE, _AKS)
      for name in ("AmlCompute", "ComputeInstance", "AdlaCompute", "BatchCompute", "DatabricksCompute",
                   "DataFactoryCompute", "DsvmCompute", "HDInsightCompute", "KubernetesCompute", "KustoCompute",
                   "RemoteCompute", "SynapseCompute")),
    *(Unsupported("amlcore.compute_target", name, "function",
                  "it prepares or attaches training targets, which amlcore does not have", _AKS, ("amlcore",))
      for name in ("prepare_compute_target", "is_compute_target_prepared", "attach_legacy_compute_target",
                   "remove_legacy_compute_target")),
    # Images and image-based deployment (deprecated in azureml).
    Unsupported("amlcore.image", "Image", "class", _IMAGES, _DEPLOY_MODEL, ("amlcore",)),
    Unsupported("amlcore.image", "ContainerImage", "class", _IMAGES, _DEPLOY_MODEL),
    Unsupported("amlcore.image", "UnknownImage", "class", _IMAGES, _DEPLOY_MODEL),
    Unsupported("amlcore.webservice", "Webservice.deploy_from_image", "method", _IMAGES, _DEPLOY_MODEL),
    Unsupported("amlcore.webservice", "Webservice.deploy", "method", _IMAGES, _DEPLOY_MODEL),
    Unsupported("amlcore.webservice", "Webservice.deploy_from_model", "method", _IMAGES, _DEPLOY_MODEL),
    Unsupported("amlcore.model", "ModelPackage", "class", _IMAGES, _DEPLOY_MODEL),
    Unsupported("amlcore.model", "Model.package", "method", _IMAGES, _DEPLOY_MODEL),
    Unsupported("amlcore.environment", "DockerBuildContext", "class",
                "amlcore builds environments as Python virtual environments, not Docker images", _PIP_PACKAGES),
    Unsupported("amlcore.webservice", "UnknownWebservice", "class", "amlcore knows the type of every service it runs",
                "Webservice(workspace, name) returns the service as an AksWebservice, AksEndpoint, AciWebservice or "
                "LocalWebservice."),
    # Azure resources around a workspace.
    Unsupported("amlcore.keyvault", "Keyvault", "class", _AZURE_RESOURCES,
                "Give a service its settings through Environment.environment_variables.", ("amlcore",)),
    Unsupported("amlcore.container_registry", "ContainerRegistry", "class", _AZURE_RESOURCES,
                "amlcore builds environments from their pip and conda packages; Environment.docker.base_image is "
                "accepted and has no effect.", ("amlcore",)),
    Unsupported("amlcore.private_endpoint", "PrivateEndPoint", "class", _AZURE_RESOURCES,
                "amlcored listens on 127.0.0.1 only; a cluster's front end serves HTTPS with "
                "AksCompute.provisioning_configuration(...).enable_ssl(...).", ("amlcore",)),
    Unsupported("amlcore.private_endpoint", "PrivateEndPointConfig", "class", _AZURE_RESOURCES,
                "amlcored listens on 127.0.0.1 only; a cluster's front end serves HTTPS with "
                "AksCompute.provisioning_configuration(...).enable_ssl(...).", ("amlcore",)),
    *(Unsupported("amlcore.linked_service", name, "class", _AZURE_RESOURCES,
                  "Reach Synapse and other Azure services with their own clients.", also_in)
      for name, also_in in (("LinkedService", ("amlcore",)), ("LinkedServiceConfiguration", ()),
                            ("SynapseWorkspaceLinkedServiceConfiguration", ("amlcore",)))),
    # Databricks, Spark and R.
    *(Unsupported("amlcore.databricks", name, "class", _SPARK, _PIP_PACKAGES)
      for name in ("DatabricksCluster", "EggLibrary", "JarLibrary", "MavenLibrary", "PyPiLibrary", "RCranLibrary")),
    Unsupported("amlcore.environment", "SparkSection", "class", _SPARK, _PIP_PACKAGES),
    Unsupported("amlcore.environment", "RSection", "class", "amlcore's replicas run Python entry scripts only",
                "Write the entry script in Python."),
    # Authentication: the classes notebooks pass as auth= work (amlcore.authentication); these do not.
    Unsupported("amlcore.authentication", "AzureMLTokenAuthentication", "class", _NO_SIGN_IN,
                "Workspace(...) and Workspace.from_config() need no auth=. " + _SERVICE_CREDENTIALS),
    Unsupported("amlcore.authentication", "Audience", "class", _NO_SIGN_IN, _SERVICE_CREDENTIALS),
    Unsupported("amlcore.authentication", "AbstractAuthentication.get_authentication_header", "method", _NO_SIGN_IN,
                _SERVICE_CREDENTIALS),
    Unsupported("amlcore.authentication", "TokenAuthentication.get_token", "method", _NO_SIGN_IN,
                _SERVICE_CREDENTIALS),
)

# azureml module paths whose names amlcore keeps in another module: path -> (module, names). Placeholders of the
# same path (amlcore.runconfig) join them.
MODULE_ALIASES = {
    "amlcore.runconfig": ("amlcore.environment", ("CondaDependencies", "DEFAULT_CPU_IMAGE", "DEFAULT_GPU_IMAGE",
                                                  "DockerSection", "Environment", "PythonSection")),
    "amlcore.compute.aks": ("amlcore.compute", ("AksCompute", "AksProvisioningConfiguration", "AksAttachConfiguration",
                                                "AksUpdateConfiguration", "SslConfiguration")),
    "amlcore.compute.compute": ("amlcore.compute", ("ComputeTarget",)),
    "amlcore.webservice.aks": ("amlcore.webservice", ("AksWebservice", "AksEndpoint",
                                                      "AksServiceDeploymentConfiguration",
                                                      "AksEndpointDeploymentConfiguration")),
    "amlcore.webservice.webservice": ("amlcore.webservice", ("Webservice",)),
    "amlcore.webservice.aci": ("amlcore.webservice", ("AciWebservice", "AciServiceDeploymentConfiguration",
                                                      "ContainerResourceRequirements")),
    "amlcore.webservice.local": ("amlcore.webservice", ("LocalWebservice", "LocalWebserviceDeploymentConfiguration")),
}

# amlcore's own modules (files) that mirror azureml modules; mirror_package() applies the table to them.
MIRRORED_MODULES = ("amlcore", "amlcore.authentication", "amlcore.compute", "amlcore.compute_target",
                    "amlcore.conda_dependencies", "amlcore.data", "amlcore.dataset", "amlcore.datastore",
                    "amlcore.environment", "amlcore.exceptions", "amlcore.model", "amlcore.profile",
                    "amlcore.resource_configuration", "amlcore.webservice", "amlcore.workspace")

_UNKNOWN = ("amlcore has no {what} {name!r}. amlcore provides azureml.core's deployment API under azureml's names "
            "(azureml.core -> amlcore); the azureml names it does not provide are listed in its README under '"
            + README_SECTION + "', and importing those works.")


class _PlaceholderType(type):
    """The type of placeholder classes: constructing one, or reading an attribute it lacks, raises."""

    def __call__(cls, *args, **kwargs):
        raise cls._amlcore_unsupported.error()

    def __getattr__(cls, attribute):
        # Private and special names stay AttributeErrors, so introspection (help(), isinstance, copy, IPython's
        # display hooks) works on placeholders.
        if attribute.startswith("_"):
            raise AttributeError("type object {!r} has no attribute {!r}".format(cls.__name__, attribute))
        raise cls._amlcore_unsupported.error(attribute)


_placeholders = {}


def placeholder(entry):
    """The object that stands for ``entry`` (made once, so every module exports the same one)."""
    key = (entry.module, entry.name)
    if key not in _placeholders:
        doc = str(entry.error())
        if entry.kind == "class":
            made = _PlaceholderType(entry.name, (), {"__doc__": doc, "__module__": entry.module,
                                                     "__qualname__": entry.name, "__slots__": (),
                                                     "_amlcore_unsupported": entry})
        else:
            def made(*args, **kwargs):
                raise entry.error()
            made.__name__ = entry.name.rpartition(".")[2]
            made.__qualname__ = entry.name
            made.__module__ = entry.module
            made.__doc__ = doc
            if entry.kind == "method":
                made = staticmethod(made)
        _placeholders[key] = made
    return _placeholders[key]


def _unknown_name_hook(module_name):
    def __getattr__(name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError("module {!r} has no attribute {!r}".format(module_name, name))
        raise AttributeError("module {!r} has no attribute {!r}: {}".format(
            module_name, name, _UNKNOWN.format(what="name", name="{}.{}".format(module_name, name))))
    return __getattr__


def mirror(module):
    """Give ``module`` its placeholders (added to ``__all__``), members for its classes, and clear errors.

    A name the module defines itself is left alone: once amlcore implements something, its placeholder steps aside
    (and the tests ask for its row to go). ``__path__ = []`` makes the module look like a package, so that
    ``from amlcore.compute import X`` with an unknown X and ``import amlcore.compute.aks`` reach amlcore's finder.
    """
    name = module.__name__
    added = []
    for entry in UNSUPPORTED:
        owner, _, member = entry.name.rpartition(".")
        if owner:
            cls = vars(module).get(owner) if entry.module == name else None
            if cls is not None and not hasattr(cls, member):
                setattr(cls, member, placeholder(entry))
        elif name == entry.module or name in entry.also_in:
            if entry.name not in vars(module):
                setattr(module, entry.name, placeholder(entry))
                added.append(entry.name)
    exported = list(getattr(module, "__all__", ()))
    module.__all__ = exported + [n for n in added if n not in exported]
    if not hasattr(module, "__path__"):
        module.__path__ = []
    if "__getattr__" not in vars(module):
        module.__getattr__ = _unknown_name_hook(name)
    return module


def _placeholder_modules():
    modules = set()
    for entry in UNSUPPORTED:
        if "." not in entry.name:
            modules.update((entry.module,) + entry.also_in)
    return modules - set(MIRRORED_MODULES)


class _Loader(importlib.abc.Loader):
    """Makes the modules the table describes: placeholder modules, and aliases of azureml module paths."""

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        name = module.__name__
        parts = []
        if name in MODULE_ALIASES:
            source_name, names = MODULE_ALIASES[name]
            source = importlib.import_module(source_name)
            for n in names:
                setattr(module, n, getattr(source, n))
            module.__all__ = list(names)
            parts.append("{} from :mod:`{}`".format(", ".join(names), source_name))
        held = sorted(e.name for e in UNSUPPORTED if "." not in e.name and name in (e.module,) + e.also_in)
        if held:
            parts.append("placeholders for names amlcore does not provide ({}), which import and raise "
                         "amlcore.exceptions.UnsupportedFeatureError when used".format(", ".join(held)))
        module.__doc__ = "``{}`` as amlcore has it: {}.".format(azureml_module(name), "; ".join(parts))
        mirror(module)


class _Finder(importlib.abc.MetaPathFinder):
    """Consulted after Python's own finders: serves the table's modules and explains any other amlcore name."""

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith("amlcore."):
            return None
        if fullname in MODULE_ALIASES or fullname in _placeholder_modules():
            return importlib.machinery.ModuleSpec(fullname, _Loader())
        # Not a ModuleNotFoundError: `from amlcore.compute import X` would turn that into a bare "cannot import".
        raise ImportError(_UNKNOWN.format(what="module or name", name=fullname), name=fullname)


def mirror_package():
    """Install amlcore's finder (once) and mirror amlcore's modules; called by ``amlcore/__init__.py``."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())
    for name in MIRRORED_MODULES:
        mirror(importlib.import_module(name))


def readme_table():
    """The README's table of the names in ``UNSUPPORTED``, one row per reason and alternative."""
    rows = []
    for entry in UNSUPPORTED:
        call = "()" if entry.kind in ("function", "method") else ""
        names = "`{}{}`".format(entry.azureml_name, call)
        if entry.azureml_aliases:
            names += " (also {})".format(", ".join("`{}{}`".format(a, call) for a in entry.azureml_aliases))
        gets = "`UnsupportedFeatureError`: {}.".format(entry.why)
        if rows and rows[-1][1:] == [gets, entry.instead]:
            rows[-1][0] += ", " + names
        else:
            rows.append([names, gets, entry.instead])
    lines = ["| azureml name | what you get when you use it | instead |", "| --- | --- | --- |"]
    lines += ["| {} | {} | {} |".format(*row) for row in rows]
    return "\n".join(lines)

