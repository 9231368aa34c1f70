"""Authentication, as in ``azureml.core.authentication``: accepted, and not needed.

amlcore signs nobody in to Azure. The SDK reaches its workspace server with the server's own admin token, which it
finds by itself (``AMLCORE_ENDPOINT`` and ``AMLCORE_TOKEN``, or the server file of ``AMLCORE_HOME``). So that
notebooks run as written, the classes they pass as ``auth=`` construct, and ``Workspace(...)``,
``Workspace.create``, ``Workspace.get``, ``Workspace.list`` and ``Workspace.from_config`` accept and ignore them::

    from amlcore import Workspace
    from amlcore.authentication import ServicePrincipalAuthentication

    auth = ServicePrincipalAuthentication(tenant_id, client_id, secret)  # keeps no secret
    ws = Workspace.from_config(auth=auth)

What would need an Azure Active Directory token (``get_authentication_header()``, ``TokenAuthentication.get_token``)
raises :class:`amlcore.exceptions.UnsupportedFeatureError`; a service takes its keys or tokens instead
(``service.get_keys()``, ``service.get_access_token()``).
"""

from amlcore.exceptions import AuthenticationException

__all__ = [
    "AbstractAuthentication",
    "InteractiveLoginAuthentication",
    "AzureCliAuthentication",
    "ServicePrincipalAuthentication",
    "MsiAuthentication",
    "TokenAuthentication",
]


class AbstractAuthentication:
    """Base of the authentication classes. amlcore keeps only the cloud's name, which changes nothing."""

    def __init__(self, cloud=None):
        self.cloud = cloud

    def __repr__(self):
        return "{}(cloud={!r})".format(type(self).__name__, self.cloud)


class InteractiveLoginAuthentication(AbstractAuthentication):
    """azureml's default sign-in (a browser or ``az login``). amlcore asks nobody to sign in."""

    def __init__(self, force=False, tenant_id=None, cloud=None):
        super().__init__(cloud)
        self.tenant_id = tenant_id


class AzureCliAuthentication(AbstractAuthentication):
    """The Azure CLI's sign-in. amlcore does not need the Azure CLI."""


class ServicePrincipalAuthentication(AbstractAuthentication):
    """A service principal's sign-in, for automation. amlcore keeps the ids and drops the password."""

    def __init__(self, tenant_id, service_principal_id, service_principal_password, cloud="AzureCloud",
                 _enable_caching=True):
        super().__init__(cloud)
        self.tenant_id = tenant_id
        self.service_principal_id = service_principal_id


class MsiAuthentication(AbstractAuthentication):
    """A managed identity's sign-in, on Azure VMs. amlcore keeps the identity's settings and does not use them."""

    def __init__(self, cloud=None, **kwargs):
        super().__init__(cloud)
        self.identity_config = dict(kwargs.get("identity_config") or {})


class TokenAuthentication(AbstractAuthentication):
    """Sign-in with tokens from a function of the caller's. amlcore never calls the function."""

    def __init__(self, get_token_for_audience, cloud=None):
        super().__init__(cloud)
        if get_token_for_audience is None:
            raise AuthenticationException("get_token_for_audience cannot be null.")
        self._get_token_for_audience = get_token_for_audience
