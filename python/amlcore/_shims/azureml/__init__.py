"""Inside amlcore's scoring replicas, ``azureml`` names amlcore, so entry scripts written for Azure ML import
unchanged (``from azureml.core.model import Model``)."""
