"""``azureml.core.compute_target``, where Microsoft's deployment samples import ``ComputeTargetException`` from
(``from azureml.core.compute_target import ComputeTargetException`` → ``from amlcore.compute_target import
ComputeTargetException``)."""

from amlcore.compute import ComputeTarget
from amlcore.exceptions import ComputeTargetException

__all__ = ["ComputeTarget", "ComputeTargetException"]
