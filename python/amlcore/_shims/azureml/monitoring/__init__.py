"""``azureml.monitoring`` inside amlcore's scoring replicas: entry scripts that collect model data run unchanged.

amlcore accepts ``collect_model_data`` and keeps no collected data, so :class:`ModelDataCollector` takes what an
entry script gives it and stores nothing.
"""

import uuid

__all__ = ["ModelDataCollector"]


class ModelDataCollector:
    """``ModelDataCollector(model_name, designation="default", feature_names=None, ...)``, whose ``collect``
    stores nothing."""

    def __init__(self, model_name, designation="default", feature_names=None, workspace="default/default/default",
                 webservice_name="default", model_version="default", collection_name="default"):
        self.model_name = model_name
        self.designation = designation
        self.feature_names = feature_names
        self.workspace = workspace
        self.webservice_name = webservice_name
        self.model_version = model_version
        self.collection_name = collection_name

    def collect(self, input_data, user_correlation_id=""):
        """Take ``input_data``; amlcore keeps none of it. Returns the correlation id (a new one when none given)."""
        return user_correlation_id or str(uuid.uuid4())

    def add_correlations(self, input_data, correlations):
        """azureml adds correlation columns to the data; here the data is returned as it is."""
        return input_data
