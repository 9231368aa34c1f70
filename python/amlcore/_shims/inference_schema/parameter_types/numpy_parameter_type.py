from inference_schema.parameter_types.abstract_parameter_type import AbstractParameterType


class NumpyParameterType(AbstractParameterType):
    """A numpy array shaped like the sample: JSON lists in, lists out."""

    def __init__(self, sample_input, enforce_column_type=True, enforce_shape=True):
        super().__init__(sample_input)
        self.enforce_column_type = enforce_column_type
        self.enforce_shape = enforce_shape

    def deserialize_input(self, value):
        import numpy as np
        dtype = getattr(self.sample_input, "dtype", None) if self.enforce_column_type else None
        return np.array(value, dtype=dtype)

    def serialize_output(self, value):
        return value.tolist() if hasattr(value, "tolist") else value
