"""Exceptions raised by amlcore, named as in ``azureml.exceptions``.

Every exception carries what is known about the failure: ``error_code`` (the service's code, such as
``ComputeTargetNotFound``), ``http_status``, ``request_id`` and ``operation_state``. A wait that runs out of
time raises a subclass that is also a builtin :class:`TimeoutError`. Using an azureml name amlcore does not provide
raises :class:`UnsupportedFeatureError`. azureml's classes for failures amlcore does not have (runs, Azure sign-in,
...) are here too, so that the ``except`` clauses of ported notebooks work; amlcore never raises them.
"""

__all__ = [
    "AzureMLException",
    "UserErrorException",
    "ComputeTargetException",
    "WebserviceException",
    "ModelNotFoundException",
    "ComputeTargetTimeoutException",
    "WebserviceTimeoutException",
    "OperationTimeoutException",
    "UnsupportedFeatureError",
    # azureml.exceptions names for failures amlcore never has: provided so that `except` clauses of ported
    # notebooks work.
    "ActivityFailedException",
    "AuthenticationException",
    "AzureMLAggregatedException",
    "DatasetTimestampMissingError",
    "DiscoveryUrlNotFoundException",
    "ExperimentExecutionException",
    "ModelPathNotFoundException",
    "ParallelRunException",
    "ProjectSystemException",
    "RunConfigurationException",
    "RunEnvironmentException",
    "ServiceException",
    "SnapshotException",
    "TrainingException",
    "WorkspaceException",
    "WorkspacePrivateEndpointException",
]


class AzureMLException(Exception):
    """Base of every amlcore exception.

    :param exception_message: What went wrong and, where it helps, what is allowed.
    """

    def __init__(self, exception_message, inner_exception=None, *, error_code=None, http_status=None,
                 request_id=None, operation_state=None, **kwargs):
        super().__init__(exception_message)
        self.message = exception_message
        self.inner_exception = inner_exception
        self.error_code = error_code
        self.http_status = http_status
        self.request_id = request_id
        self.operation_state = operation_state

    def __str__(self):
        return self.message

    def __repr__(self):
        return "{}({!r}, error_code={!r}, http_status={!r})".format(
            type(self).__name__, self.message, self.error_code, self.http_status)


class UserErrorException(AzureMLException):
    """A request that cannot succeed as given: bad names, missing resources, conflicts."""


class ComputeTargetException(AzureMLException):
    """A compute target operation failed or was refused."""


class WebserviceException(AzureMLException):
    """A web service operation failed or was refused."""


class ModelNotFoundException(AzureMLException):
    """No model matches the name, id or version asked for."""


class OperationTimeoutException(AzureMLException, TimeoutError):
    """A wait ran out of time; the operation itself continues on the server."""


class ComputeTargetTimeoutException(ComputeTargetException, TimeoutError):
    """``wait_for_completion(timeout=...)`` ran out of time; the compute operation continues."""


class WebserviceTimeoutException(WebserviceException, TimeoutError):
    """``wait_for_deployment(timeout_sec=...)`` ran out of time; the deployment continues."""


class UnsupportedFeatureError(UserErrorException, NotImplementedError):
    """An azureml name amlcore does not provide was used.

    Importing such a name works; constructing it, calling it or reading its attributes raises this error, whose
    message names the azureml name, says why amlcore lacks it and what to use instead. The README lists every such
    name. It is a :class:`UserErrorException` (so notebooks' handlers catch it) and a builtin
    :class:`NotImplementedError`.
    """

    def __init__(self, exception_message, inner_exception=None, *, azureml_name=None, **kwargs):
        kwargs.setdefault("error_code", "UnsupportedFeature")
        super().__init__(exception_message, inner_exception, **kwargs)
        self.azureml_name = azureml_name


class ActivityFailedException(AzureMLException):
    """azureml raises it for a failed run; amlcore has no runs and never raises it."""


class AuthenticationException(AzureMLException):
    """azureml raises it when signing in to Azure fails; amlcore needs no sign-in and never raises it."""


class AzureMLAggregatedException(AzureMLException):
    """azureml raises it for several failures at once; amlcore never raises it."""


class DatasetTimestampMissingError(UserErrorException):
    """azureml raises it for time-series datasets without a timestamp column; amlcore never raises it."""


class DiscoveryUrlNotFoundException(AzureMLException):
    """azureml raises it when an Azure region's service discovery fails; amlcore never raises it."""


class ExperimentExecutionException(AzureMLException):
    """azureml raises it when an experiment cannot be submitted; amlcore has no experiments."""


class ModelPathNotFoundException(AzureMLException):
    """azureml raises it for a model path missing in a run's outputs; amlcore has no runs and never raises it."""


class ParallelRunException(AzureMLException):
    """azureml raises it for failures of parallel run steps; amlcore has no pipelines and never raises it."""


class ProjectSystemException(AzureMLException):
    """azureml raises it for Azure resource lookups that fail; amlcore raises UserErrorException instead."""


class RunConfigurationException(AzureMLException):
    """azureml raises it for invalid run configurations; amlcore has no runs and never raises it."""


class RunEnvironmentException(AzureMLException):
    """azureml raises it when a run's environment is unusable; amlcore has no runs and never raises it."""


class ServiceException(AzureMLException):
    """azureml raises it for failed REST calls to Azure; amlcore raises the exception of the object involved."""


class SnapshotException(AzureMLException):
    """azureml raises it for run snapshots; amlcore has no runs and never raises it."""


class TrainingException(AzureMLException):
    """azureml raises it for failed training submissions; amlcore does not train and never raises it."""


class WorkspaceException(AzureMLException):
    """azureml raises it for some workspace failures; amlcore raises UserErrorException instead."""


class WorkspacePrivateEndpointException(AzureMLException):
    """azureml raises it for private endpoint failures; amlcore has no private endpoints and never raises it."""


_TIMEOUT_CLASSES = {
    "AzureMLException": OperationTimeoutException,
    "ComputeTargetException": ComputeTargetTimeoutException,
    "WebserviceException": WebserviceTimeoutException,
}


def _exception_class(name, timed_out):
    """The class amlcore._core raises for a failure of kind ``name``."""
    if timed_out and name in _TIMEOUT_CLASSES:
        return _TIMEOUT_CLASSES[name]
    return globals()[name]
