"""``azureml.contrib`` in scoring replicas: amlcore's ``services``, and the environment's own azureml-contrib-*
distributions beside it."""
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
