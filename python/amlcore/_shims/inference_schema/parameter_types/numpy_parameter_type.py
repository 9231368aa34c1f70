from inference_schema.parameter_types.abstract_parameter_type import AbstractParameterType, json_example


def swagger_of_dtype(dtype):
    """The Swagger 2 schema of one element of a numpy dtype (a structured dtype is an object of its fields)."""
    if dtype.fields:
        return {"type": "object",
                "properties": {name: swagger_of_field(dtype.fields[name][0]) for name in dtype.names}}
    kind = dtype.kind
    if kind == "b":
        return {"type": "boolean"}
    if kind in "iu":
        return {"type": "integer", "format": "int64" if dtype.itemsize > 4 else "int32"}
    if kind == "f":
        return {"type": "number", "format": "double" if dtype.itemsize > 4 else "float"}
    if kind == "M":
        return {"type": "string", "format": "date-time"}
    return {"type": "string"}


def swagger_of_field(dtype):
    # A field with a shape of its own (('grades', float64, (2,))) is an array of its base type.
    schema = swagger_of_dtype(dtype.base)
    for _ in dtype.shape:
        schema = {"type": "array", "items": schema}
    return schema


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

    def input_to_swagger(self):
        sample = self.sample_input
        schema = swagger_of_dtype(sample.dtype)
        for _ in range(max(1, sample.ndim)):
            schema = {"type": "array", "items": schema}
        example = json_example(sample)
        if example is not None:
            schema["example"] = example
        return schema
