"""Web services, as in ``azureml.core.webservice``: Webservice, AksWebservice, AksEndpoint, AciWebservice and
LocalWebservice."""

import datetime
import enum
import inspect
import json
import numbers
import os
import warnings

from amlcore import _core
from amlcore._core_property import core_property
from amlcore.exceptions import WebserviceException

__all__ = ["Webservice", "AksWebservice", "AksServiceDeploymentConfiguration", "AksEndpoint",
           "AksEndpointDeploymentConfiguration", "AciWebservice", "AciServiceDeploymentConfiguration",
           "ContainerResourceRequirements", "LocalWebservice", "LocalWebserviceDeploymentConfiguration",
           "deploy_configuration_from_file"]

# The deployment settings, from the core's table: (name, kind, scopes), in azureml's parameter order. The scopes
# say which calls take a setting (DeploySettingScope in amlcore/webservice.h).
_SETTINGS = _core.AksServiceDeploymentConfiguration.settings()
_WEBSERVICE, _ENDPOINT, _SERVICE_UPDATE, _VERSION = 1, 2, 4, 8
_KINDS = {name: kind for name, kind, _ in _SETTINGS}


def _names(scope):
    return tuple(name for name, _, scopes in _SETTINGS if scopes & scope)


_DEPLOY_PARAMETERS = _names(_WEBSERVICE)


def _signature(names, first=()):
    """A signature of keyword parameters that default to None, after `first` (already made Parameters)."""
    return inspect.Signature(list(first) + [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None)
                                            for n in names])


def _core_config(values, error_prefix="Invalid configuration, "):
    """The core's deployment configuration from a dict of azureml parameters (None = not given)."""
    core = _core.AksServiceDeploymentConfiguration()
    for name, value in values.items():
        if value is None:
            continue
        kind = _KINDS[name]
        if kind == "bool":
            if not isinstance(value, bool):
                raise WebserviceException("{}{} must be True or False, not {!r}.".format(error_prefix, name, value))
        elif kind == "number":
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise WebserviceException("{}{} must be a number, not {!r}.".format(error_prefix, name, value))
            value = float(value)
        elif kind == "str":
            if not isinstance(value, str):
                raise WebserviceException("{}{} must be a string, not {!r}.".format(error_prefix, name, value))
        elif kind == "dict":
            if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                      for k, v in value.items()):
                raise WebserviceException("{}{} must be a dict of strings to strings.".format(error_prefix, name))
        else:
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise WebserviceException("{}{} must be an integer, not {!r}.".format(error_prefix, name, value))
            value = int(value)
            if not -2**63 <= value < 2**63:
                raise WebserviceException("{}{} must be an integer of at most 64 bits, not {!r}.".format(
                    error_prefix, name, value))
        core.set(name, value)
    return core


class AksServiceDeploymentConfiguration:
    """The configuration of an AKS web service, from ``AksWebservice.deploy_configuration()``. Unset values take
    the server's defaults (autoscale 1-10 replicas, 0.1 CPU, 0.5 GB, key auth, 60 s scoring timeout)."""

    _PARAMETERS = _DEPLOY_PARAMETERS

    def __init__(self, **values):
        for name in self._PARAMETERS:
            setattr(self, name, values.pop(name, None))
        if values:
            raise WebserviceException("Invalid configuration, unknown setting {}.".format(", ".join(sorted(values))))
        self.validate_configuration()

    def validate_configuration(self):
        """Every violated rule, one "Invalid configuration, ..." line each, in one WebserviceException."""
        self._to_core().validate()

    def _to_core(self):
        return _core_config({name: getattr(self, name, None) for name in self._PARAMETERS})

    def __repr__(self):
        given = ", ".join("{}={!r}".format(n, getattr(self, n)) for n in self._PARAMETERS
                          if getattr(self, n, None) is not None)
        return "{}({})".format(type(self).__name__, given)


class AksEndpointDeploymentConfiguration(AksServiceDeploymentConfiguration):
    """The configuration of an AKS endpoint and its first version, from ``AksEndpoint.deploy_configuration()``:
    the web service settings (without ``blobfuse_enabled``) plus ``version_name`` and ``traffic_percentile``."""

    _PARAMETERS = _names(_ENDPOINT)


def _wrap_service(workspace, core, expected=None):
    if isinstance(core, _core.AksEndpoint):
        subclass = AksEndpoint
    elif isinstance(core, _core.AciWebservice):
        subclass = AciWebservice
    elif isinstance(core, _core.LocalWebservice):
        subclass = LocalWebservice
    else:
        subclass = AksWebservice
    if expected is not None and expected is not Webservice and not issubclass(subclass, expected):
        raise WebserviceException("Webservice {} is of type {}, not {}.".format(core.name, core.compute_type,
                                                                               expected.__name__))
    service = object.__new__(subclass)
    service.workspace = workspace
    service._core = core
    return service


class AksServiceAccessToken:
    """A service's token: ``access_token``, ``token_type`` ("Bearer"), ``refresh_after`` and ``expiry_on``."""

    def __init__(self, access_token, token_type, refresh_after, expiry_on):
        self.access_token = access_token
        self.token_type = token_type
        self.refresh_after = refresh_after
        self.expiry_on = expiry_on

    def serialize(self):
        return {"accessToken": self.access_token, "tokenType": self.token_type,
                "refreshAfter": int(self.refresh_after.timestamp()), "expiryOn": int(self.expiry_on.timestamp())}

    def __repr__(self):
        return "AksServiceAccessToken(token_type={!r}, refresh_after={}, expiry_on={})".format(
            self.token_type, self.refresh_after, self.expiry_on)


class Webservice:
    """A deployed web service. ``Webservice(workspace, name)`` returns it as its subclass (an AksWebservice) or
    raises ``WebserviceException("WebserviceNotFound: ...")``."""

    _webservice_type = None

    def __new__(cls, workspace=None, name=None):
        if workspace is None and name is None:
            return super().__new__(cls)
        if not isinstance(name, str):
            raise WebserviceException("name must be a string, not {!r}.".format(name))
        return _wrap_service(workspace, _core.Webservice.get(workspace._core, name), expected=cls)

    def __init__(self, workspace=None, name=None):
        # __new__ has loaded the object.
        pass

    @staticmethod
    def list(workspace, compute_type=None, image_name=None, image_id=None, model_name=None, model_id=None,
             tags=None, properties=None, image_digest=None):
        """The workspace's web services, filtered by compute type, model name, tags and properties."""
        from amlcore.model import _filters
        if model_id and not model_name:
            model_name = model_id.split(":")[0]
        props = {}
        for item in _filters(properties, "properties"):
            key, _, value = item.partition("=")
            props[key] = value
        cores = _core.Webservice.list(workspace._core, compute_type or "", model_name or "",
                                      _filters(tags, "tags"), props)
        return [_wrap_service(workspace, core) for core in cores]

    def wait_for_deployment(self, show_output=False, timeout_sec=None):
        """Wait for the deployment this object started (or the one running).

        With ``show_output``, prints the state, a dot per poll, each log line as ``<local time> <message>``,
        and ``AKS service creation operation finished, operation "Succeeded"``. ``timeout_sec`` raises
        :class:`amlcore.exceptions.WebserviceTimeoutException` (a ``TimeoutError``); the deployment continues.

        :raises amlcore.exceptions.WebserviceException: the deployment failed; the message names the phase and
            ends with the replica's last log lines.
        """
        if timeout_sec is not None and (isinstance(timeout_sec, bool) or not isinstance(timeout_sec, numbers.Real)
                                        or timeout_sec <= 0):
            raise WebserviceException("timeout_sec must be a positive number of seconds, not {!r}.".format(timeout_sec))
        self._core.wait_for_deployment(bool(show_output), None if timeout_sec is None else float(timeout_sec))

    def update_deployment_state(self):
        """Reload the service's state from the server."""
        self._core.update_deployment_state()

    def get_logs(self, num_lines=5000, init=False, *, all_replicas=False):
        """The log of the replica that best shows the service (its last ``num_lines`` lines), under a line that
        names it; with ``init``, the deployment log and the replica's start-up. ``all_replicas=True`` (beyond
        azureml, which shows one pod) gives every replica's. The log of a crashed replica stays readable."""
        if isinstance(num_lines, bool) or not isinstance(num_lines, numbers.Integral):
            raise WebserviceException("num_lines must be an integer, not {!r}.".format(num_lines))
        return self._core.get_logs(int(num_lines), bool(init), bool(all_replicas))

    def get_keys(self):
        """The service's (primary, secondary) keys."""
        return tuple(self._core.get_keys())

    def regen_key(self, key, set_key=None):
        """Regenerate the 'Primary' or 'Secondary' key, or set it to ``set_key``."""
        if not isinstance(key, str):
            raise WebserviceException("Error, invalid key {}. Valid keys are Primary and Secondary.".format(key))
        self._core.regen_key(key, set_key or "")

    def get_token(self):
        """DEPRECATED: use ``get_access_token``. The service's token and when to refresh it."""
        warnings.warn("get_token() method has been deprecated and will be removed in a future release. "
                      + "Please migrate to get_access_token() method.", category=DeprecationWarning)
        token = self.get_access_token()
        return token.access_token, token.refresh_after

    def get_access_token(self):
        """A new token for a service with ``token_auth_enabled``: an ``AksServiceAccessToken`` whose
        ``refresh_after`` is half its life and ``expiry_on`` its end (local-time datetimes, as azureml gives)."""
        access_token, token_type, refresh_after, expiry_on = self._core.get_access_token()
        return AksServiceAccessToken(access_token, token_type, datetime.datetime.fromtimestamp(refresh_after),
                                     datetime.datetime.fromtimestamp(expiry_on))

    def run(self, input_data):
        """POST ``input_data`` (JSON text, or an object to encode) to the scoring URI with the service's key or
        token (fetched and refreshed by itself); returns the decoded JSON answer."""
        if not isinstance(input_data, (str, bytes)):
            input_data = json.dumps(input_data)
        if isinstance(input_data, bytes):
            input_data = input_data.decode("utf-8")
        body = self._core.run(input_data)
        try:
            return json.loads(body)
        except ValueError:
            return body.decode("utf-8", "replace")

    def delete(self):
        """Delete the service and stop its replicas; returns once it is gone."""
        self._core.delete()

    def serialize(self):
        return json.loads(self._core.serialize())

    name = core_property("name")
    compute_type = core_property("compute_type")
    state = core_property("state")

    @property
    def phase(self):
        """Where the deployment is (beyond azureml): Validating, BuildingEnvironment, Scheduling,
        StartingReplicas, Initializing or Ready."""
        return self._core.phase

    @property
    def reason(self):
        """Why the service is not Healthy (beyond azureml), e.g. UserScriptInitFailed or InsufficientCapacity."""
        return self._core.reason or None

    @property
    def error(self):
        return json.loads(self._core.error) if self._core.error else None

    # As a version of an AksEndpoint: its share of traffic, whether it is the default, and its type.
    traffic_percentile = core_property("traffic_percentile")
    is_default = core_property("is_default")
    version_type = core_property("version_type", empty_as_none=True)

    @property
    def is_control_version_type(self):
        return self._core.version_type == "Control"

    scoring_uri = core_property("scoring_uri", empty_as_none=True)
    swagger_uri = core_property("swagger_uri", empty_as_none=True)
    auth_enabled = core_property("auth_enabled")
    token_auth_enabled = core_property("token_auth_enabled")
    tags = core_property("tags", as_dict=True)
    properties = core_property("properties", as_dict=True)
    description = core_property("description", empty_as_none=True)
    created_time = core_property("created_time")
    updated_time = core_property("updated_time")
    compute_name = core_property("compute_name")

    @property
    def models(self):
        from amlcore.model import Model
        return [Model(self.workspace, id=model_id) for model_id in self._core.model_ids]

    def __repr__(self):
        return "{}(workspace={!r}, name={}, image_id=None, compute_type={}, state={}, scoring_uri={}, tags={}, " \
               "properties={}, created_by=None)".format(type(self).__name__, self.workspace, self.name,
                                                        self.compute_type, self.state, self.scoring_uri, self.tags,
                                                        self.properties)


class AksWebservice(Webservice):
    """A web service on an AKS compute target, behind the cluster's front end."""

    _webservice_type = "AKS"

    @staticmethod
    def deploy_configuration(*args, **kwargs):
        """The configuration of an AKS web service; every violated rule is reported at once."""
        return AksServiceDeploymentConfiguration(**_DEPLOY_SIGNATURE.bind(*args, **kwargs).arguments)

    def update(self, *args, **kwargs):
        """Start a rolling update (new replicas ready before old ones stop); then ``wait_for_deployment()``."""
        bound = _UPDATE_SIGNATURE.bind(self, *args, **kwargs).arguments
        extra = bound.pop("kwargs", {})
        if extra:
            raise WebserviceException("Error, unknown parameter{} for update: {}.".format(
                "s" if len(extra) > 1 else "", ", ".join(sorted(extra))))
        if bound.get("image") is not None:
            raise WebserviceException("Error, images are not used by amlcore; pass models and inference_config.")
        models = bound.get("models")
        inference_config = bound.get("inference_config")
        update = _core.AksServiceUpdate()
        update.config = _core_config({n: bound.get(n) for n in _UPDATABLE}, error_prefix="Error, ")
        if models is not None:
            from amlcore.model import Model
            if not all(isinstance(m, Model) for m in models):
                raise WebserviceException("Error, models must be Model objects.")
            update.models = [m._core for m in models]
        if inference_config is not None:
            update.inference_config = inference_config._to_core()
        self._core.update(update)

    num_replicas = core_property("num_replicas")
    autoscale_enabled = core_property("autoscale_enabled")
    cpu_cores = core_property("cpu_cores")
    memory_gb = core_property("memory_gb")


# deploy_configuration and update take azureml's parameters, from the settings table: update's are the updatable
# settings, with models and inference_config after description as in azureml.
_DEPLOY_SIGNATURE = _signature(_DEPLOY_PARAMETERS)
AksWebservice.deploy_configuration.__signature__ = _DEPLOY_SIGNATURE
_UPDATABLE = _names(_SERVICE_UPDATE)
_UPDATE_SIGNATURE = inspect.Signature(
    [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
     inspect.Parameter("image", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None)]
    + [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None)
       for n in _UPDATABLE[:_UPDATABLE.index("description") + 1] + ("models", "inference_config")
       + _UPDATABLE[_UPDATABLE.index("description") + 1:]]
    + [inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)])
AksWebservice.update.__signature__ = _UPDATE_SIGNATURE


def _check_bool(name, value):
    if value is not None and not isinstance(value, bool):
        raise WebserviceException("Error, {} must be True or False, not {!r}.".format(name, value))


def _version(values, models, inference_config, is_default, is_control_version_type):
    """The core's version changes from create_version's or update_version's arguments."""
    from amlcore.model import InferenceConfig, Model
    version = _core.AksEndpointVersion()
    version.config = _core_config(values)
    if models is not None:
        if not all(isinstance(m, Model) for m in models):
            raise WebserviceException("Error, models must be Model objects.")
        version.models = [m._core for m in models]
    if inference_config is not None:
        if not isinstance(inference_config, InferenceConfig):
            raise WebserviceException("Error, inference_config must be an InferenceConfig, not {}.".format(
                type(inference_config).__name__))
        version.inference_config = inference_config._to_core()
    _check_bool("is_default", is_default)
    _check_bool("is_control_version_type", is_control_version_type)
    version.is_default = is_default
    version.is_control_version_type = is_control_version_type
    return version


class AksEndpoint(AksWebservice):
    """Controlled rollout: one scoring URI with up to six versions behind it, each with its share of the traffic.
    The default version takes what no percentile claims; one version may be the control, the others are
    treatments. A request may pin a version with the header ``azureml-model-deployment: <version>``, and every
    answer names the version that served it in that header."""

    _webservice_type = "AKSENDPOINT"

    class VersionType(enum.Enum):
        control = "Control"
        treatment = "Treatment"

    @staticmethod
    def deploy_configuration(*args, **kwargs):
        """The configuration of an endpoint and its first version (``version_name``, ``traffic_percentile``)."""
        return AksEndpointDeploymentConfiguration(**_ENDPOINT_SIGNATURE.bind(*args, **kwargs).arguments)

    def create_version(self, *args, **kwargs):
        """Start deploying a new version; then ``wait_for_deployment()``. Other versions keep serving."""
        bound = _VERSION_SIGNATURE.bind(self, *args, **kwargs).arguments
        version = _version({n: bound.get(n) for n in _VERSION_PARAMETERS}, bound.get("models"),
                           bound.get("inference_config"), bound.get("is_default"),
                           bound.get("is_control_version_type"))
        self._core.create_version(bound.get("version_name") or "", version)

    def update_version(self, *args, **kwargs):
        """Change a version: its traffic, default or control role (at once), or what it runs (a rolling update of
        that version alone); then ``wait_for_deployment()``."""
        bound = _VERSION_SIGNATURE.bind(self, *args, **kwargs).arguments
        version = _version({n: bound.get(n) for n in _VERSION_PARAMETERS}, bound.get("models"),
                           bound.get("inference_config"), bound.get("is_default"),
                           bound.get("is_control_version_type"))
        self._core.update_version(bound.get("version_name") or "", version)

    def delete_version(self, version_name):
        """Delete a version; when it was the default, the control version (else the oldest) becomes the default.
        The last version cannot be deleted: delete the endpoint."""
        if version_name is not None and not isinstance(version_name, str):
            raise WebserviceException("Error, version_name must be a string, not {!r}.".format(version_name))
        self._core.delete_version(version_name or "")

    def update(self, auth_enabled=None, token_auth_enabled=None, enable_app_insights=None, description=None,
               tags=None, properties=None):
        """Change the endpoint's own settings (not its versions')."""
        update = _core.AksEndpointUpdate()
        for name, value in (("auth_enabled", auth_enabled), ("token_auth_enabled", token_auth_enabled),
                            ("enable_app_insights", enable_app_insights)):
            _check_bool(name, value)
            setattr(update, name, value)
        if description is not None:
            if not isinstance(description, str):
                raise WebserviceException("Error, description must be a string, not {!r}.".format(description))
            update.description = description
        for name, value in (("tags", tags), ("properties", properties)):
            if value is None:
                continue
            if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                      for k, v in value.items()):
                raise WebserviceException("Error, {} must be a dict of strings to strings.".format(name))
            setattr(update, name, value)
        self._core.update_endpoint(update)

    @property
    def versions(self):
        """The versions, oldest first, by name; each an AksWebservice with ``traffic_percentile``, ``is_default``,
        ``version_type``, its own state and ``get_logs``."""
        out = {}
        for name, core in self._core.versions:
            out[name] = _wrap_service(self.workspace, core)
        return out

    def serialize(self):
        document = json.loads(self._core.serialize())
        document["versions"] = {name: version.serialize() for name, version in self.versions.items()}
        return document


_ENDPOINT_SIGNATURE = _signature(_names(_ENDPOINT))
AksEndpoint.deploy_configuration.__signature__ = _ENDPOINT_SIGNATURE
# create_version and update_version: version_name, then the version settings with models and inference_config
# after description and is_default and is_control_version_type after traffic_percentile, as in azureml.
_VERSION_PARAMETERS = _names(_VERSION)
_VERSION_SIGNATURE = inspect.Signature(
    [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
     inspect.Parameter("version_name", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    + [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None) for n in
       _VERSION_PARAMETERS[:_VERSION_PARAMETERS.index("description") + 1] + ("models", "inference_config")
       + _VERSION_PARAMETERS[_VERSION_PARAMETERS.index("description") + 1:_VERSION_PARAMETERS.index(
           "traffic_percentile") + 1]
       + ("is_default", "is_control_version_type")
       + _VERSION_PARAMETERS[_VERSION_PARAMETERS.index("traffic_percentile") + 1:]])
AksEndpoint.create_version.__signature__ = _VERSION_SIGNATURE
AksEndpoint.update_version.__signature__ = _VERSION_SIGNATURE


def _check_value(name, value, kind, prefix="Invalid configuration, "):
    """azureml-style type checks of keyword arguments: kind is bool, number, str, int or dict."""
    if value is None:
        return None
    if kind == "bool":
        ok = isinstance(value, bool)
        expected = "True or False"
    elif kind == "number":
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        expected = "a number"
    elif kind == "int":
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        expected = "an integer"
    elif kind == "dict":
        ok = isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
        expected = "a dict of strings to strings"
    else:
        ok = isinstance(value, str)
        expected = "a string"
    if not ok:
        raise WebserviceException("{}{} must be {}, not {!r}.".format(prefix, name, expected, value))
    return float(value) if kind == "number" else int(value) if kind == "int" else value


def _models_and_inference(models, inference_config):
    """The core's models and inference configuration from update()'s arguments (None when not given)."""
    from amlcore.model import InferenceConfig, Model
    core_models = None
    if models is not None:
        if not all(isinstance(m, Model) for m in models):
            raise WebserviceException("Error, models must be Model objects.")
        core_models = [m._core for m in models]
    core_inference = None
    if inference_config is not None:
        if not isinstance(inference_config, InferenceConfig):
            raise WebserviceException("Error, inference_config must be an InferenceConfig, not {}.".format(
                type(inference_config).__name__))
        core_inference = inference_config._to_core()
    return core_models, core_inference


_ACI_PARAMETERS = (("cpu_cores", "number"), ("memory_gb", "number"), ("tags", "dict"), ("properties", "dict"),
                   ("description", "str"), ("location", "str"), ("auth_enabled", "bool"), ("ssl_enabled", "bool"),
                   ("enable_app_insights", "bool"), ("ssl_cert_pem_file", "str"), ("ssl_key_pem_file", "str"),
                   ("ssl_cname", "str"), ("dns_name_label", "str"), ("primary_key", "str"),
                   ("secondary_key", "str"), ("collect_model_data", "bool"), ("cmk_vault_base_url", "str"),
                   ("cmk_key_name", "str"), ("cmk_key_version", "str"), ("vnet_name", "str"), ("subnet_name", "str"))


class AciServiceDeploymentConfiguration:
    """The configuration of an ACI web service, from ``AciWebservice.deploy_configuration()``. Unset values take
    ACI's defaults (0.1 CPU, 0.5 GB, auth off); a container group takes at most 4 CPU cores and 16 GB."""

    def __init__(self, cpu_cores=None, memory_gb=None, tags=None, properties=None, description=None, location=None,
                 auth_enabled=None, ssl_enabled=None, enable_app_insights=None, ssl_cert_pem_file=None,
                 ssl_key_pem_file=None, ssl_cname=None, dns_name_label=None, primary_key=None, secondary_key=None,
                 collect_model_data=None, cmk_vault_base_url=None, cmk_key_name=None, cmk_key_version=None,
                 vnet_name=None, subnet_name=None):
        values = dict(locals())
        for name, kind in _ACI_PARAMETERS:
            setattr(self, name, _check_value(name, values[name], kind))
        self.validate_configuration()

    def validate_configuration(self):
        """azureml's checks, with its messages; raises WebserviceException."""
        self._to_core().validate()

    def _to_core(self):
        core = _core.AciServiceDeploymentConfiguration()
        for name, _ in _ACI_PARAMETERS:
            value = getattr(self, name)
            if value is not None:
                setattr(core, name, os.fspath(value) if name.endswith("_file") else value)
        return core

    def print_deploy_configuration(self):
        parts = []
        if self.cpu_cores:
            parts.append("CPU requirement: {}".format(self.cpu_cores))
        if self.memory_gb:
            parts.append("Memory requirement: {}GB".format(self.memory_gb))
        if parts:
            print(", ".join(parts))

    def __repr__(self):
        given = ", ".join("{}={!r}".format(n, getattr(self, n)) for n, _ in _ACI_PARAMETERS
                          if getattr(self, n) is not None and n != "primary_key" and n != "secondary_key")
        return "AciServiceDeploymentConfiguration({})".format(given)


class ContainerResourceRequirements:
    """The CPU cores and memory (GB) of an ACI service's container."""

    def __init__(self, cpu, memory_in_gb):
        self.cpu = cpu
        self.memory_in_gb = memory_in_gb

    def serialize(self):
        return {"cpu": self.cpu, "memoryInGB": self.memory_in_gb}

    def __repr__(self):
        return "ContainerResourceRequirements(cpu={}, memory_in_gb={})".format(self.cpu, self.memory_in_gb)


class AciWebservice(Webservice):
    """A web service in a container group of its own, as on Azure Container Instances: no compute target to
    create, one container, scoring URI ``http(s)://<host>:<port>/score``. Deploy with
    ``Model.deploy(ws, name, models, inference_config, AciWebservice.deploy_configuration(...))``."""

    _webservice_type = "ACI"

    @staticmethod
    def deploy_configuration(cpu_cores=None, memory_gb=None, tags=None, properties=None, description=None,
                             location=None, auth_enabled=None, ssl_enabled=None, enable_app_insights=None,
                             ssl_cert_pem_file=None, ssl_key_pem_file=None, ssl_cname=None, dns_name_label=None,
                             primary_key=None, secondary_key=None, collect_model_data=None,
                             cmk_vault_base_url=None, cmk_key_name=None, cmk_key_version=None,
                             vnet_name=None, subnet_name=None):
        """The configuration of an ACI web service (azureml's parameters and checks)."""
        return AciServiceDeploymentConfiguration(
            cpu_cores, memory_gb, tags, properties, description, location, auth_enabled, ssl_enabled,
            enable_app_insights, ssl_cert_pem_file, ssl_key_pem_file, ssl_cname, dns_name_label, primary_key,
            secondary_key, collect_model_data, cmk_vault_base_url, cmk_key_name, cmk_key_version, vnet_name,
            subnet_name)

    def update(self, image=None, tags=None, properties=None, description=None, auth_enabled=None, ssl_enabled=None,
               ssl_cert_pem_file=None, ssl_key_pem_file=None, ssl_cname=None, enable_app_insights=None, models=None,
               inference_config=None):
        """Change the service; new models or an inference configuration start a new deployment (then
        ``wait_for_deployment()``)."""
        if image is not None:
            raise WebserviceException("Error, images are not used by amlcore; pass models and inference_config.")
        changes = _core.AciWebservice.Changes()
        if tags is not None:
            changes.tags = _check_value("tags", tags, "dict", "Error, ")
        for name, value, kind in (("properties", properties, "dict"), ("description", description, "str"),
                                  ("ssl_cert_pem_file", ssl_cert_pem_file, "str"),
                                  ("ssl_key_pem_file", ssl_key_pem_file, "str"), ("ssl_cname", ssl_cname, "str")):
            if value is not None:
                setattr(changes, name, _check_value(name, value, kind, "Error, "))
        for name, value in (("auth_enabled", auth_enabled), ("ssl_enabled", ssl_enabled),
                            ("enable_app_insights", enable_app_insights)):
            setattr(changes, name, _check_value(name, value, "bool", "Error, "))
        changes.models, changes.inference_config = _models_and_inference(models, inference_config)
        self._core.update(changes)

    @property
    def container_resource_requirements(self):
        return ContainerResourceRequirements(self._core.cpu_cores, self._core.memory_gb)

    cpu_cores = core_property("cpu_cores")
    memory_gb = core_property("memory_gb")
    location = core_property("location")
    ssl_enabled = core_property("ssl_enabled")
    cname = core_property("cname", empty_as_none=True)
    dns_name_label = core_property("dns_name_label", empty_as_none=True)
    public_fqdn = core_property("public_fqdn", empty_as_none=True)
    enable_app_insights = core_property("enable_app_insights")

    @property
    def public_ip(self):
        return "127.0.0.1"


class LocalWebserviceDeploymentConfiguration:
    """The configuration of a local web service, from ``LocalWebservice.deploy_configuration(port=None)``: the
    port it listens on (a free one when None)."""

    def __init__(self, port=None):
        self.port = _check_value("port", port, "int")
        self.validate_configuration()

    def validate_configuration(self):
        self._to_core().validate()

    def _to_core(self):
        core = _core.LocalWebserviceDeploymentConfiguration()
        core.port = self.port
        return core

    def __repr__(self):
        return "LocalWebserviceDeploymentConfiguration(port={!r})".format(self.port)


class LocalWebservice(Webservice):
    """A web service on a port of this machine, to try a model out: scoring URI ``http://localhost:<port>/score``,
    no authentication, one replica. ``reload()`` deploys the entry script and source directory again from disk.
    Like the other services it is kept by the workspace server: ``Webservice(ws, name)`` finds it."""

    _webservice_type = "Local"

    @staticmethod
    def deploy_configuration(port=None):
        """The configuration of a local web service."""
        return LocalWebserviceDeploymentConfiguration(port)

    def update(self, models=None, image_config=None, deployment_config=None, wait=False, inference_config=None):
        """Deploy new models, inference configuration or port; waits for it when ``wait``."""
        if image_config is not None:
            raise WebserviceException("Error, images are not used by amlcore; pass models and inference_config.")
        if deployment_config is not None and not isinstance(deployment_config, LocalWebserviceDeploymentConfiguration):
            raise WebserviceException("Error, deployment_config must come from LocalWebservice.deploy_configuration()"
                                      ", not {}.".format(type(deployment_config).__name__))
        changes = _core.LocalWebservice.Changes()
        changes.models, changes.inference_config = _models_and_inference(models, inference_config)
        if deployment_config is not None:
            changes.deployment_config = deployment_config._to_core()
        self._core.update(changes)
        if wait:
            self.wait_for_deployment()

    def reload(self, wait=False):
        """Deploy the entry script and source directory again from where they were deployed from (the models and
        environment stay), as after editing ``score.py``; waits for it when ``wait``."""
        self._core.reload()
        if wait:
            self.wait_for_deployment()

    def delete(self, delete_cache=True, delete_image=False):
        """Delete the service and free its port."""
        self._core.delete()

    def get_logs(self, num_lines=5000, init=False, *, all_replicas=False):
        return super().get_logs(num_lines, init, all_replicas=all_replicas)

    port = core_property("port")


def deploy_configuration_from_file(path):
    """The deployment configuration of a ``deploymentconfig.json`` file in Azure's schema (what ``az ml model
    deploy -dc`` reads; amlcore's own loader, azureml has none): an AksServiceDeploymentConfiguration,
    AksEndpointDeploymentConfiguration, AciServiceDeploymentConfiguration or LocalWebserviceDeploymentConfiguration
    as its ``computeType`` says ("aks", "aksendpoint", "aci", "local"). Unknown keys and wrong types raise
    UserErrorException naming the file, the key and what is allowed; the values are then checked as
    ``deploy_configuration()`` checks them."""
    core = _core.load_deployment_config_file(os.fspath(path))
    if core.compute_type in ("aks", "aksendpoint"):
        cls = AksServiceDeploymentConfiguration if core.compute_type == "aks" else AksEndpointDeploymentConfiguration
        return cls(**{name: core.aks.get(name) for name in cls._PARAMETERS if core.aks.get(name) is not None})
    if core.compute_type == "aci":
        values = {}
        for name, _ in _ACI_PARAMETERS:
            value = getattr(core.aci, name)
            if value not in (None, "", {}):
                values[name] = value
        return AciServiceDeploymentConfiguration(**values)
    return LocalWebserviceDeploymentConfiguration(core.local.port)
