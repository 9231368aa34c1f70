from amlcore import Environment, InferenceConfig, Model, Webservice, Workspace  # noqa: F401
