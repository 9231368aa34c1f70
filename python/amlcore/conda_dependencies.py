"""CondaDependencies, as in ``azureml.core.conda_dependencies``.

There is no conda here: conda packages are installed like pip packages, and a pinned Python version other
than the runtime's is only a warning in the build log.
"""

import os

from amlcore import _core
from amlcore.exceptions import UserErrorException

__all__ = ["CondaDependencies"]

_SERVING_PACKAGE = "azureml-defaults"


class CondaDependencies:
    """The packages an Environment installs: ``pip_packages``, ``conda_packages`` and a Python version."""

    def __init__(self, conda_dependencies_file_path=None, _underlying_structure=None):
        if conda_dependencies_file_path is not None:
            with open(conda_dependencies_file_path) as f:
                self._core = _core.CondaDependencies.parse(f.read())
        else:
            self._core = _core.CondaDependencies()

    @staticmethod
    def create(pip_packages=None, conda_packages=None, python_version=None, pin_sdk_version=True, pip_indexurl=None):
        """A specification with these packages. As in azureml, ``azureml-defaults`` is added to the pip packages;
        amlcore provides it, so it is never installed."""
        deps = CondaDependencies()
        for package in list(pip_packages or []) + ([_SERVING_PACKAGE] if pin_sdk_version else []):
            deps.add_pip_package(package)
        for package in conda_packages or []:
            deps.add_conda_package(package)
        if python_version:
            deps.set_python_version(python_version)
        return deps

    @staticmethod
    def _from_core(core):
        deps = CondaDependencies()
        deps._core = core
        return deps

    def add_pip_package(self, pip_package):
        packages = list(self._core.pip_packages)
        if pip_package not in packages:
            packages.append(_text(pip_package))
        self._core.pip_packages = packages

    def add_conda_package(self, conda_package):
        text = _text(conda_package)
        if text.startswith("python=") or text.startswith("python=="):
            return self.set_python_version(text.split("=")[-1])
        packages = list(self._core.conda_packages)
        if text not in packages:
            packages.append(text)
        self._core.conda_packages = packages

    def remove_pip_package(self, pip_package):
        self._core.pip_packages = [p for p in self._core.pip_packages if p != pip_package]

    def remove_conda_package(self, conda_package):
        self._core.conda_packages = [p for p in self._core.conda_packages if p != conda_package]

    def add_channel(self, channel):
        channels = list(self._core.channels)
        if channel not in channels:
            channels.append(_text(channel))
        self._core.channels = channels

    def set_python_version(self, version):
        self._core.python_version = _text(version)

    def get_python_version(self):
        return self._core.python_version or None

    @property
    def pip_packages(self):
        return iter(self._core.pip_packages)

    @property
    def conda_packages(self):
        return iter(self._core.conda_packages)

    def _is_empty(self):
        core = self._core
        return not (list(core.pip_packages) or list(core.conda_packages) or core.python_version or
                    list(core.channels))

    def serialize_to_string(self):
        """The specification as a conda environment file."""
        return self._core.serialize()

    def save(self, path=None):
        """Write the conda environment file to ``path`` (a file, or a directory to hold conda_dependencies.yml)."""
        path = path or "conda_dependencies.yml"
        if os.path.isdir(path):
            path = os.path.join(path, "conda_dependencies.yml")
        with open(path, "w") as f:
            f.write(self.serialize_to_string())
        return path

    save_to_file = save

    def __repr__(self):
        return "CondaDependencies(pip_packages={!r}, conda_packages={!r}, python_version={!r})".format(
            list(self._core.pip_packages), list(self._core.conda_packages), self.get_python_version())


def _text(value):
    if not isinstance(value, str) or not value:
        raise UserErrorException("A package specification must be a non-empty string, not {!r}.".format(value))
    return value
