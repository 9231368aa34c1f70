"""``azureml.contrib.services`` inside amlcore's scoring replicas: raw HTTP access for entry scripts."""
