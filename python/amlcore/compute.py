"""Compute targets, as in ``azureml.core.compute``: ComputeTarget and AksCompute with their configurations."""

import json
import numbers

from amlcore import _core
from amlcore._core_property import core_property
from amlcore.exceptions import ComputeTargetException

__all__ = [
    "ComputeTarget",
    "AksCompute",
    "AksProvisioningConfiguration",
    "AksAttachConfiguration",
    "AksUpdateConfiguration",
    "SslConfiguration",
]


def _text(value, name):
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ComputeTargetException(
            "Invalid configuration, {} must be a string, not {}.".format(name, type(value).__name__))
    return value


def _count(value, name="agent_count"):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ComputeTargetException(
            "Invalid configuration, {} must be an integer, not {}.".format(name, type(value).__name__))
    return int(value)


def _wrap_compute(workspace, core, expected=None):
    subclass = _SUBCLASSES.get(core.type)
    if subclass is None:
        raise ComputeTargetException("Compute target {} has type {}, which amlcore does not support.".format(
            core.name, core.type))
    if expected is not None and expected is not ComputeTarget and not issubclass(subclass, expected):
        raise ComputeTargetException("Compute Target with name {} is of type {}, not {}.".format(
            core.name, core.type, expected._compute_type))
    target = object.__new__(subclass)
    target._workspace = workspace
    target._core = core
    return target


class ComputeTarget:
    """A compute target of a workspace.

    ``ComputeTarget(workspace, name)`` returns the existing target as its subclass (an AksCompute) or raises
    ``ComputeTargetException("ComputeTargetNotFound: ...")``. Objects are snapshots of the server's state;
    ``refresh_state()`` reloads them.
    """

    _compute_type = None

    def __new__(cls, workspace=None, name=None):
        if workspace is None and name is None:
            return super().__new__(cls)
        core = _core.ComputeTarget.get(workspace._core, _text(name, "name"))
        return _wrap_compute(workspace, core, expected=cls)

    def __init__(self, workspace=None, name=None):
        # __new__ has loaded the object.
        pass

    @staticmethod
    def create(workspace, name, provisioning_configuration):
        """Start creating a compute target; returns at once. Follow with ``wait_for_completion()``."""
        if not isinstance(provisioning_configuration, AksProvisioningConfiguration):
            raise ComputeTargetException("provisioning_configuration must come from "
                                         "AksCompute.provisioning_configuration(), not {}.".format(
                                             type(provisioning_configuration).__name__))
        provisioning_configuration.validate_configuration()
        core = _core.AksCompute.create(workspace._core, _text(name, "name"), provisioning_configuration._to_core())
        return _wrap_compute(workspace, core)

    @staticmethod
    def attach(workspace, name, attach_configuration):
        """Start attaching an existing cluster under ``name``; returns at once."""
        if not isinstance(attach_configuration, AksAttachConfiguration):
            raise ComputeTargetException("attach_configuration must come from AksCompute.attach_configuration(), "
                                         "not {}.".format(type(attach_configuration).__name__))
        attach_configuration.validate_configuration()
        core = _core.AksCompute.attach(workspace._core, _text(name, "name"), attach_configuration._to_core())
        return _wrap_compute(workspace, core)

    @staticmethod
    def list(workspace):
        """All compute targets of the workspace."""
        return [_wrap_compute(workspace, core) for core in _core.ComputeTarget.list(workspace._core)]

    def wait_for_completion(self, show_output=False, is_delete_operation=False, *, timeout=None):
        """Wait for the operation this object started (create, attach, update, delete, detach).

        With ``show_output`` the progress is printed as azureml prints it. ``timeout`` (seconds) raises
        :class:`amlcore.exceptions.ComputeTargetTimeoutException`, a ``TimeoutError``; the operation continues.
        Ctrl-C interrupts the wait.

        :raises amlcore.exceptions.ComputeTargetException: the operation ended Failed or Canceled.
        """
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, numbers.Real)
                                    or timeout <= 0):
            raise ComputeTargetException("timeout must be a positive number of seconds, not {!r}.".format(timeout))
        self._core.wait_for_completion(bool(show_output), bool(is_delete_operation),
                                       None if timeout is None else float(timeout))

    def refresh_state(self):
        """Reload the object's properties from the server."""
        self._core.refresh_state()

    def get_status(self):
        """The current provisioning state (after a refresh)."""
        return self._core.get_status()

    def delete(self):
        """Remove a compute target the workspace created, deleting its cluster; refused for attached targets."""
        self._core.delete()

    def detach(self):
        """Remove the target from the workspace; the cluster keeps running."""
        self._core.detach()

    def serialize(self):
        """The object as azureml's JSON dictionary."""
        return json.loads(self._core.serialize())

    @property
    def workspace(self):
        return self._workspace

    name = core_property("name")
    id = core_property("id")
    type = core_property("type")
    location = core_property("location")
    description = core_property("description", empty_as_none=True)
    tags = core_property("tags", as_dict=True)
    created_on = core_property("created_on", empty_as_none=True)
    modified_on = core_property("modified_on", empty_as_none=True)
    provisioning_state = core_property("provisioning_state")

    @property
    def provisioning_errors(self):
        errors = self._core.provisioning_errors
        if not errors:
            return None
        return [{"error": {"code": e.code, "message": e.message}} for e in errors]

    cluster_resource_id = core_property("cluster_resource_id")
    cluster_location = core_property("cluster_location", empty_as_none=True)
    is_attached = core_property("is_attached")

    def __repr__(self):
        return "{}(workspace={!r}, name={}, id={}, type={}, provisioning_state={}, location={}, tags={})".format(
            type(self).__name__, self.workspace, self.name, self.id, self.type, self.provisioning_state,
            self.location, self.tags)


class SslConfiguration:
    """SSL settings of a cluster's front end: ``cname`` with ``cert`` and ``key`` (PEM text), a
    ``leaf_domain_label`` (amlcore's certificate authority issues the certificate, for ``<label>.localhost``;
    ``certificate_authority_file`` is its CA certificate, to trust), or ``status="Disabled"``.
    """

    def __init__(self, status=None, cert=None, key=None, cname=None, leaf_domain_label=None,
                 overwrite_existing_domain=False, renew=False):
        self.status = status
        self.cert = cert
        self.key = key
        self.cname = cname
        self.leaf_domain_label = leaf_domain_label
        self.overwrite_existing_domain = overwrite_existing_domain
        self.renew = renew
        self.certificate_authority_file = None

    def serialize(self):
        return {"status": self.status, "cert": self.cert, "key": self.key, "cname": self.cname,
                "leafDomainLabel": self.leaf_domain_label, "overwriteExistingDomain": self.overwrite_existing_domain}

    @staticmethod
    def deserialize(object_dict):
        ssl = SslConfiguration(object_dict.get("status"), object_dict.get("cert"), object_dict.get("key"),
                               object_dict.get("cname"), object_dict.get("leafDomainLabel"),
                               bool(object_dict.get("overwriteExistingDomain", False)))
        ssl.certificate_authority_file = object_dict.get("certificateAuthorityFile")
        return ssl

    def _to_core(self):
        core = _core.SslConfiguration()
        core.status = _text(self.status, "status")
        core.cert = _text(self.cert, "cert")
        core.key = _text(self.key, "key")
        core.cname = _text(self.cname, "cname")
        core.leaf_domain_label = _text(self.leaf_domain_label, "leaf_domain_label")
        core.overwrite_existing_domain = bool(self.overwrite_existing_domain)
        core.renew = bool(self.renew)
        return core

    @staticmethod
    def _from_core(core):
        ssl = SslConfiguration(core.status or None, core.cert or None, core.key or None, core.cname or None,
                               core.leaf_domain_label or None, core.overwrite_existing_domain, core.renew)
        ssl.certificate_authority_file = core.certificate_authority_file or None
        return ssl

    def __repr__(self):
        return "SslConfiguration(status={!r}, cname={!r}, leaf_domain_label={!r})".format(
            self.status, self.cname, self.leaf_domain_label)


class _AksConfiguration:
    """What the AKS configuration objects share: validation by the core's rules."""

    def validate_configuration(self):
        """Check the values; raises ComputeTargetException with azureml's messages."""
        self._to_core().validate()


class _SslSettings(_AksConfiguration):
    """Configurations that can carry SSL settings given as PEM file names."""

    def enable_ssl(self, ssl_cname=None, ssl_cert_pem_file=None, ssl_key_pem_file=None, leaf_domain_label=None,
                   overwrite_existing_domain=False):
        """Serve the cluster's endpoint over HTTPS with this certificate."""
        if ssl_cname:
            self.ssl_cname = ssl_cname
        if ssl_cert_pem_file:
            self.ssl_cert_pem_file = ssl_cert_pem_file
        if ssl_key_pem_file:
            self.ssl_key_pem_file = ssl_key_pem_file
        if leaf_domain_label:
            self.leaf_domain_label = leaf_domain_label
        if overwrite_existing_domain:
            self.overwrite_existing_domain = overwrite_existing_domain
        self.validate_configuration()
        return self


class AksProvisioningConfiguration(_SslSettings):
    """Parameters of a new AKS cluster; made by ``AksCompute.provisioning_configuration()``.

    Unset values take the server's defaults: 3 agents of Standard_D3_v2, FastProd, PublicIp, aks-subnet.
    """

    def __init__(self, agent_count, vm_size, ssl_cname, ssl_cert_pem_file, ssl_key_pem_file, location,
                 vnet_resourcegroup_name, vnet_name, subnet_name, service_cidr, dns_service_ip, docker_bridge_cidr,
                 cluster_purpose, load_balancer_type, load_balancer_subnet):
        self._compute_type = AksCompute
        self.agent_count = agent_count
        self.vm_size = vm_size
        self.ssl_cname = ssl_cname
        self.ssl_cert_pem_file = ssl_cert_pem_file
        self.ssl_key_pem_file = ssl_key_pem_file
        self.location = location
        self.vnet_resourcegroup_name = vnet_resourcegroup_name
        self.vnet_name = vnet_name
        self.subnet_name = subnet_name
        self.leaf_domain_label = None
        self.overwrite_existing_domain = False
        self.service_cidr = service_cidr
        self.dns_service_ip = dns_service_ip
        self.docker_bridge_cidr = docker_bridge_cidr
        self.cluster_purpose = cluster_purpose
        self.load_balancer_type = load_balancer_type
        self.load_balancer_subnet = load_balancer_subnet
        self.validate_configuration()

    def _to_core(self):
        core = _core.AksProvisioningConfiguration()
        core.agent_count = _count(self.agent_count)
        for field in ("vm_size", "ssl_cname", "ssl_cert_pem_file", "ssl_key_pem_file", "location",
                      "vnet_resourcegroup_name", "vnet_name", "subnet_name", "service_cidr", "dns_service_ip",
                      "docker_bridge_cidr", "cluster_purpose", "load_balancer_type", "load_balancer_subnet",
                      "leaf_domain_label"):
            setattr(core, field, _text(getattr(self, field), field))
        core.overwrite_existing_domain = bool(self.overwrite_existing_domain)
        return core

    def __repr__(self):
        return "AksProvisioningConfiguration(agent_count={!r}, vm_size={!r}, cluster_purpose={!r})".format(
            self.agent_count, self.vm_size, self.cluster_purpose)


class AksAttachConfiguration(_SslSettings):
    """Which existing cluster to attach: ``resource_id``, or ``resource_group`` and ``cluster_name``.

    Beyond azureml, any Kubernetes cluster: a cluster amlcore did not create is reached through the kubeconfig
    context named like the cluster (``az aks get-credentials`` makes it), or ``context`` in ``kubeconfig`` (an
    absolute path; both read by the workspace server). amlcore's objects go to ``namespace`` (default
    ``azureml``); its pods run ``image`` (default ``amlcore/runtime:<version>``)."""

    def __init__(self, resource_group=None, cluster_name=None, resource_id=None, cluster_purpose=None,
                 load_balancer_type=None, load_balancer_subnet=None, kubeconfig=None, context=None, namespace=None,
                 image=None):
        self._compute_type = AksCompute
        self.resource_group = resource_group
        self.cluster_name = cluster_name
        self.resource_id = resource_id
        self.cluster_purpose = cluster_purpose
        self.ssl_cname = None
        self.ssl_cert_pem_file = None
        self.ssl_key_pem_file = None
        self.leaf_domain_label = None
        self.overwrite_existing_domain = False
        self.load_balancer_type = load_balancer_type
        self.load_balancer_subnet = load_balancer_subnet
        self.kubeconfig = kubeconfig
        self.context = context
        self.namespace = namespace
        self.image = image
        self.validate_configuration()

    def _to_core(self):
        core = _core.AksAttachConfiguration()
        for field in ("resource_group", "cluster_name", "resource_id", "cluster_purpose", "load_balancer_type",
                      "load_balancer_subnet", "ssl_cname", "ssl_cert_pem_file", "ssl_key_pem_file",
                      "leaf_domain_label", "kubeconfig", "context", "namespace", "image"):
            setattr(core, field, _text(getattr(self, field), field))
        core.overwrite_existing_domain = bool(self.overwrite_existing_domain)
        return core

    def __repr__(self):
        return "AksAttachConfiguration(resource_group={!r}, cluster_name={!r}, resource_id={!r})".format(
            self.resource_group, self.cluster_name, self.resource_id)


class AksUpdateConfiguration(_AksConfiguration):
    """Changes to an existing cluster: SSL, load balancer and, beyond azureml, ``agent_count`` (scaling) and
    ``access_log`` (the cluster's router writes a line per request to its log)."""

    def __init__(self, ssl_configuration=None, load_balancer_type=None, load_balancer_subnet=None,
                 agent_count=None, access_log=None):
        self._compute_type = AksCompute
        self.ssl_configuration = ssl_configuration
        self.load_balancer_type = load_balancer_type
        self.load_balancer_subnet = load_balancer_subnet
        self.agent_count = agent_count
        self.access_log = access_log
        self.validate_configuration()

    def _to_core(self):
        core = _core.AksUpdateConfiguration()
        if self.ssl_configuration is not None:
            if not isinstance(self.ssl_configuration, SslConfiguration):
                raise ComputeTargetException("Invalid configuration, ssl_configuration must be an SslConfiguration, "
                                             "not {}.".format(type(self.ssl_configuration).__name__))
            core.ssl_configuration = self.ssl_configuration._to_core()
        core.load_balancer_type = _text(self.load_balancer_type, "load_balancer_type")
        core.load_balancer_subnet = _text(self.load_balancer_subnet, "load_balancer_subnet")
        core.agent_count = _count(self.agent_count)
        if self.access_log is not None:
            if not isinstance(self.access_log, bool):
                raise ComputeTargetException("Invalid configuration, access_log must be True or False, not {!r}."
                                             .format(self.access_log))
            core.access_log = self.access_log
        return core


class AksCompute(ComputeTarget):
    """An Azure Kubernetes Service cluster as a compute target.

    On the local backend a cluster is a capacity pool on this machine (agents x VM size, which may exceed what
    the machine has) served by its own front end process; ``scoring_endpoint`` is the front end's base URL.
    """

    _compute_type = "AKS"

    class ClusterPurpose:
        """How a cluster is used. FAST_PROD clusters need at least 12 vCPUs in total."""

        FAST_PROD = "FastProd"
        DEV_TEST = "DevTest"

    @staticmethod
    def provisioning_configuration(agent_count=None, vm_size=None, ssl_cname=None, ssl_cert_pem_file=None,
                                   ssl_key_pem_file=None, location=None, vnet_resourcegroup_name=None,
                                   vnet_name=None, subnet_name=None, service_cidr=None, dns_service_ip=None,
                                   docker_bridge_cidr=None, cluster_purpose=None, load_balancer_type=None,
                                   load_balancer_subnet=None):
        """A configuration for ``ComputeTarget.create``; validated at once.

        :raises amlcore.exceptions.ComputeTargetException: with azureml's message for the first broken rule.
        """
        return AksProvisioningConfiguration(agent_count, vm_size, ssl_cname, ssl_cert_pem_file, ssl_key_pem_file,
                                            location, vnet_resourcegroup_name, vnet_name, subnet_name, service_cidr,
                                            dns_service_ip, docker_bridge_cidr, cluster_purpose, load_balancer_type,
                                            load_balancer_subnet)

    @staticmethod
    def attach_configuration(resource_group=None, cluster_name=None, resource_id=None, cluster_purpose=None,
                             load_balancer_type=None, load_balancer_subnet=None, *, kubeconfig=None, context=None,
                             namespace=None, image=None):
        """A configuration for ``ComputeTarget.attach``; validated at once. ``kubeconfig``, ``context``,
        ``namespace`` and ``image`` are amlcore's, for Kubernetes clusters (see AksAttachConfiguration)."""
        return AksAttachConfiguration(resource_group, cluster_name, resource_id, cluster_purpose, load_balancer_type,
                                      load_balancer_subnet, kubeconfig=kubeconfig, context=context,
                                      namespace=namespace, image=image)

    @staticmethod
    def attach(workspace, name, resource_id):
        """DEPRECATED, as in azureml. Use ``ComputeTarget.attach`` with ``attach_configuration``."""
        raise ComputeTargetException(
            "This method is DEPRECATED. Please use the following code to attach a AKS compute resource.\n"
            "# Attach AKS\n"
            "attach_config = AksCompute.attach_configuration(resource_group=\"name_of_resource_group\",\n"
            "                                                cluster_name=\"name_of_aks_cluster\")\n"
            "compute = ComputeTarget.attach(workspace, name, attach_config)")

    def update(self, update_configuration):
        """Start an update (SSL, load balancer, agent count); follow with ``wait_for_completion()``."""
        if not isinstance(update_configuration, AksUpdateConfiguration):
            raise ComputeTargetException("update_configuration must be an AksUpdateConfiguration, not {}.".format(
                type(update_configuration).__name__))
        update_configuration.validate_configuration()
        self._core.update(update_configuration._to_core())

    def get_credentials(self):
        """The cluster's credentials. Local clusters have no Kubernetes API, so the kubeconfigs are None."""
        return json.loads(self._core.get_credentials())

    @staticmethod
    def deserialize(workspace, object_dict):
        """An AksCompute from ``serialize()`` output; refused when it belongs to another workspace."""
        return _wrap_compute(workspace, _core.AksCompute.deserialize(workspace._core, json.dumps(object_dict)))

    agent_count = core_property("agent_count")
    access_log = core_property("access_log")
    agent_vm_size = core_property("agent_vm_size", empty_as_none=True)
    cluster_purpose = core_property("cluster_purpose", empty_as_none=True)
    cluster_fqdn = core_property("cluster_fqdn", empty_as_none=True)

    @property
    def system_services(self):
        return None

    @property
    def ssl_configuration(self):
        ssl = self._core.ssl_configuration
        return None if ssl is None else SslConfiguration._from_core(ssl)

    load_balancer_type = core_property("load_balancer_type", empty_as_none=True)
    load_balancer_subnet = core_property("load_balancer_subnet", empty_as_none=True)

    @property
    def scoring_endpoint(self):
        """Base URL of the cluster's front end (beyond azureml), e.g. ``http://127.0.0.1:41234``."""
        return self._core.scoring_endpoint or None


_SUBCLASSES = {"AKS": AksCompute}
