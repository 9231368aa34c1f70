"""Inside amlcore's scoring replicas, ``azureml`` names amlcore, so entry scripts written for Azure ML import
unchanged (``from azureml.core.model import Model``).

``azureml.core.<module>`` is ``amlcore.<module>`` (and ``azureml.exceptions``, ``azureml.data`` amlcore's), so
names amlcore does not provide import as its placeholders; ``azureml.contrib.services`` and ``azureml.monitoring``
are here. The azureml distributions amlcore does not stand in for (azureml-dataprep, ...) stay importable when
the environment has them: ``azureml`` spans their directories too. Any other azureml package raises an ImportError
that says it is not available in amlcore's replicas.
"""

from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)

import importlib
import importlib.abc
import importlib.machinery
import sys


def _amlcore_name(fullname):
    """The amlcore module an azureml module path stands for, or None."""
    if fullname.startswith("azureml.core."):
        return "amlcore." + fullname[len("azureml.core."):]
    for package in ("azureml.exceptions", "azureml.data"):
        if fullname == package or fullname.startswith(package + "."):
            return "amlcore." + fullname[len("azureml."):]
    return None


class _AmlcoreModuleLoader(importlib.abc.Loader):
    """An azureml module with the names of the amlcore module it stands for."""

    def __init__(self, target):
        self.target = target

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        target = importlib.import_module(self.target)
        module.__doc__ = "``{}`` inside amlcore's replicas: :mod:`{}`.".format(module.__name__, self.target)
        for name, value in vars(target).items():
            if not (name.startswith("__") and name.endswith("__")):
                setattr(module, name, value)
        module.__all__ = list(getattr(target, "__all__", ()))
        module.__path__ = []
        module.__getattr__ = lambda name: getattr(target, name)


class _AzuremlFinder(importlib.abc.MetaPathFinder):
    """Consulted after Python's own finders, for the azureml modules that have no file here."""

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith("azureml."):
            return None
        amlcore_name = _amlcore_name(fullname)
        if amlcore_name is not None:
            return importlib.machinery.ModuleSpec(fullname, _AmlcoreModuleLoader(amlcore_name))
        raise ImportError(
            "{} is not available in amlcore's scoring replicas: there, azureml names amlcore, and entry scripts can "
            "import azureml.core (amlcore's names), azureml.exceptions, azureml.contrib.services and "
            "azureml.monitoring. amlcore's README lists what it does not provide under 'azureml names amlcore "
            "does not provide'.".format(fullname), name=fullname)


if not any(isinstance(f, _AzuremlFinder) for f in sys.meta_path):
    sys.meta_path.append(_AzuremlFinder())
