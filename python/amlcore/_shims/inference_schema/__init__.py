"""amlcore's stand-in for the inference-schema package in scoring replicas: the decorators turn the JSON body
a replica receives into the typed arguments the decorated run() expects."""
