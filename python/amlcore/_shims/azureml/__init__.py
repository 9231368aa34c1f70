"""Inside amlcore's scoring replicas, ``azureml`` names amlcore, so entry scripts written for Azure ML import
unchanged (``from azureml.core.model import Model``). The azureml distributions amlcore does not stand in for
(azureml-dataprep, ...) stay importable when the environment has them: ``azureml`` spans their directories too."""
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
