"""Exceptions raised by amlcore, named as in ``azureml.exceptions``.

Every exception carries what is known about the failure: ``error_code`` (the service's code, such as
``ComputeTargetNotFound``), ``http_status``, ``request_id`` and ``operation_state``. A wait that runs out of
time raises a subclass that is also a builtin :class:`TimeoutError`.
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
