"""ResourceConfiguration, as in ``azureml.core.resource_configuration``: the resources a registered model needs."""

import math
import numbers

from amlcore import _core

__all__ = ["ResourceConfiguration"]


def _number(value):
    """A value for the core's checks: None stays None, a number becomes a float, anything else NaN (which fails
    every rule, so the message names the setting)."""
    if value is None:
        return None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return math.nan


class ResourceConfiguration:
    """The CPU cores, memory (GB) and GPUs to run a model with, kept with the model when it is registered.

    :param cpu: CPU cores, can be a decimal.
    :param memory_in_gb: memory in GB, can be a decimal.
    :param gpu: a whole number of GPUs.
    """

    _expected_payload_keys = ["cpu", "memoryInGB", "gpu"]

    def __init__(self, cpu=None, memory_in_gb=None, gpu=None):
        self.cpu = cpu
        self.memory_in_gb = memory_in_gb
        self.gpu = gpu

    def serialize(self):
        """This configuration as azureml's JSON dictionary."""
        return {"cpu": self.cpu, "memoryInGB": self.memory_in_gb, "gpu": self.gpu}

    @staticmethod
    def deserialize(payload_obj):
        """A ResourceConfiguration from ``serialize()``'s dictionary (None gives None)."""
        from amlcore.exceptions import WebserviceException
        if payload_obj is None:
            return None
        for key in ResourceConfiguration._expected_payload_keys:
            if key not in payload_obj:
                raise WebserviceException("Invalid webservice payload, missing {} for ResourceConfiguration:\n"
                                          "{}".format(key, payload_obj))
        return ResourceConfiguration(payload_obj["cpu"], payload_obj["memoryInGB"], payload_obj["gpu"])

    def _validate_configuration(self):
        """Raises WebserviceException naming every rule the values break."""
        self._to_core().validate()

    def _to_core(self):
        core = _core.ResourceConfiguration()
        core.cpu = _number(self.cpu)
        core.memory_in_gb = _number(self.memory_in_gb)
        core.gpu = _number(self.gpu)
        return core

    @staticmethod
    def _from_core(core):
        if core is None:
            return None
        gpu = core.gpu
        if gpu is not None and float(gpu).is_integer():
            gpu = int(gpu)
        return ResourceConfiguration(core.cpu, core.memory_in_gb, gpu)

    def __eq__(self, other):
        return isinstance(other, ResourceConfiguration) and self.serialize() == other.serialize()

    def __repr__(self):
        return "ResourceConfiguration(cpu={!r}, memory_in_gb={!r}, gpu={!r})".format(self.cpu, self.memory_in_gb,
                                                                                      self.gpu)
