"""``azureml.core`` inside amlcore's scoring replicas: amlcore's names (``from azureml.core import Model``)."""

import amlcore as _amlcore
from amlcore import *  # noqa: F401,F403
from amlcore import VERSION, __version__  # noqa: F401

__all__ = list(_amlcore.__all__)


def __getattr__(name):
    return getattr(_amlcore, name)
