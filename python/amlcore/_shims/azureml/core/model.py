from amlcore.model import InferenceConfig, Model  # noqa: F401
