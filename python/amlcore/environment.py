"""Environment, as in ``azureml.core.Environment``: what a scoring replica's Python has installed."""

import json
import os

from amlcore import _core
from amlcore.conda_dependencies import CondaDependencies
from amlcore.exceptions import UserErrorException

__all__ = ["Environment", "DEFAULT_CPU_IMAGE", "DEFAULT_GPU_IMAGE"]

# azureml's default base images. Replicas run as processes of this machine, so an image only names the
# environment (it is part of its identity); nothing is pulled.
DEFAULT_CPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:20230509.v1"
DEFAULT_GPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.1-cudnn8-ubuntu20.04:20230509.v1"


class PythonSection:
    """``env.python``: the packages (``conda_dependencies``) or a user-managed interpreter."""

    def __init__(self):
        self.user_managed_dependencies = False
        self.interpreter_path = "python"
        # As in azureml, every new environment has a specification to add packages to.
        self.conda_dependencies = CondaDependencies()
        self.conda_dependencies_file = None


class DockerSection:
    """``env.docker``: the base image. Replicas run as local processes; the image is part of the environment's
    identity only."""

    def __init__(self):
        self.enabled = False
        self.base_image = None
        self.base_dockerfile = None
        self.base_image_registry = None


class Environment:
    """A named environment: Python packages, interpreter and environment variables of scoring replicas.

    Environments are identified by a hash of what changes the runtime; deployments reuse a built environment
    with the same hash (logged as a cache hit).
    """

    def __init__(self, name, _skip_validation=False):
        if not isinstance(name, str) or not name:
            raise UserErrorException("An Environment needs a name (a non-empty string).")
        self.name = name
        self.version = None
        self.python = PythonSection()
        self.docker = DockerSection()
        self.environment_variables = {}
        self.inferencing_stack_version = None

    @staticmethod
    def from_pip_requirements(name, file_path, pip_version=None):
        """An environment with the packages of a pip requirements file."""
        env = Environment(name)
        deps = CondaDependencies()
        with open(file_path) as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                if not line:
                    continue
                if line.startswith("-"):
                    raise UserErrorException("Requirements file {}: pip options such as '{}' are not supported; "
                                             "list packages only.".format(file_path, line))
                deps.add_pip_package(line)
        env.python.conda_dependencies = deps
        return env

    @staticmethod
    def from_conda_specification(name, file_path):
        """An environment with the packages of a conda environment file."""
        env = Environment(name)
        env.python.conda_dependencies = CondaDependencies(file_path)
        return env

    def register(self, workspace):
        """Register this definition as the next version of its name (the same definition keeps its version)."""
        registered = Environment._from_core(self._to_core().register(workspace._core))
        self.version = registered.version
        return registered

    @staticmethod
    def get(workspace, name, version=None):
        """The registered environment ``name`` (latest version by default)."""
        return Environment._from_core(_core.Environment.get(workspace._core, name,
                                                             None if version is None else int(version)))

    @staticmethod
    def list(workspace):
        """Registered environments as a dict of name to the latest Environment."""
        out = {}
        for core in _core.Environment.list(workspace._core):
            out[core.name] = Environment._from_core(core)
        return out

    _DEFINITION_FILE = "azureml_environment.json"
    _CONDA_FILE = "conda_dependencies.yml"

    def save_to_directory(self, path, overwrite=False):
        """Write this definition to the folder ``path``: ``azureml_environment.json`` and, when it lists
        packages, ``conda_dependencies.yml`` (as azureml does); ``load_from_directory`` reads it back."""
        os.makedirs(path, exist_ok=True)
        definition = os.path.join(path, self._DEFINITION_FILE)
        conda = os.path.join(path, self._CONDA_FILE)
        if not overwrite:
            for existing in (definition, conda):
                if os.path.exists(existing):
                    raise UserErrorException("File {} already exists. Set overwrite=True to replace it.".format(
                        existing))
        deps = self.python.conda_dependencies
        has_deps = deps is not None and not deps._is_empty()
        document = {
            "name": self.name,
            "version": self.version,
            "environmentVariables": dict(self.environment_variables),
            "python": {"userManagedDependencies": bool(self.python.user_managed_dependencies),
                       "interpreterPath": self.python.interpreter_path or "python",
                       "condaDependenciesFile": self._CONDA_FILE if has_deps else None},
            "docker": {"baseImage": self.docker.base_image, "baseDockerfile": self.docker.base_dockerfile},
            "inferencingStackVersion": self.inferencing_stack_version,
        }
        with open(definition, "w") as f:
            json.dump(document, f, indent=4)
        if has_deps:
            deps.save(conda)
        elif os.path.exists(conda):
            os.remove(conda)

    @staticmethod
    def load_from_directory(path):
        """The environment ``save_to_directory`` wrote to the folder ``path``."""
        definition = os.path.join(path, Environment._DEFINITION_FILE)
        try:
            with open(definition) as f:
                document = json.load(f)
        except OSError as e:
            raise UserErrorException("Cannot read {}: {}.".format(definition, e.strerror))
        except ValueError as e:
            raise UserErrorException("{} is not valid JSON: {}.".format(definition, e))
        if not isinstance(document, dict) or not isinstance(document.get("name"), str):
            raise UserErrorException("{} has no environment name.".format(definition))
        env = Environment(document["name"])
        env.version = document.get("version")
        env.environment_variables = dict(document.get("environmentVariables") or {})
        python = document.get("python") or {}
        env.python.user_managed_dependencies = bool(python.get("userManagedDependencies", False))
        env.python.interpreter_path = python.get("interpreterPath") or "python"
        conda_file = python.get("condaDependenciesFile")
        if conda_file:
            env.python.conda_dependencies = CondaDependencies(os.path.join(path, conda_file))
        docker = document.get("docker") or {}
        env.docker.base_image = docker.get("baseImage")
        env.docker.base_dockerfile = docker.get("baseDockerfile")
        env.inferencing_stack_version = document.get("inferencingStackVersion")
        return env

    def _to_core(self):
        core = _core.Environment()
        core.name = self.name
        core.version = "" if self.version is None else str(self.version)
        section = _core.Environment.PythonSection()
        section.user_managed_dependencies = bool(self.python.user_managed_dependencies)
        section.interpreter_path = self.python.interpreter_path or "python"
        deps = self.python.conda_dependencies
        # A specification with nothing in it is the same environment as none (and builds nothing).
        if deps is not None and not deps._is_empty():
            if not isinstance(deps, CondaDependencies):
                raise UserErrorException("env.python.conda_dependencies must be a CondaDependencies, not {}.".format(
                    type(deps).__name__))
            section.conda_dependencies = deps._core
        core.python = section
        docker = _core.Environment.DockerSection()
        docker.base_image = self.docker.base_image or ""
        docker.base_dockerfile = self.docker.base_dockerfile or ""
        core.docker = docker
        if not isinstance(self.environment_variables, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in self.environment_variables.items()):
            raise UserErrorException("environment_variables must be a dict of strings to strings.")
        core.environment_variables = dict(self.environment_variables)
        return core

    @staticmethod
    def _from_core(core):
        env = Environment(core.name or "environment")
        env.version = core.version or None
        env.python.user_managed_dependencies = core.python.user_managed_dependencies
        env.python.interpreter_path = core.python.interpreter_path
        if core.python.conda_dependencies is not None:
            env.python.conda_dependencies = CondaDependencies._from_core(core.python.conda_dependencies)
        env.docker.base_image = core.docker.base_image or None
        env.docker.base_dockerfile = core.docker.base_dockerfile or None
        env.environment_variables = dict(core.environment_variables)
        return env

    def get_hash(self):
        """The environment's identity in the build cache."""
        return self._to_core().hash()

    def __repr__(self):
        return "Environment(name={!r}, version={!r})".format(self.name, self.version)
