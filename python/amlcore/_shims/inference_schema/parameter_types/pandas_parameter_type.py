from inference_schema.parameter_types.abstract_parameter_type import AbstractParameterType, json_example
from inference_schema.parameter_types.numpy_parameter_type import swagger_of_dtype


class PandasParameterType(AbstractParameterType):
    """A pandas DataFrame like the sample: JSON records in, records out."""

    def __init__(self, sample_input, enforce_column_type=True, enforce_shape=True, apply_column_names=False,
                 orient="records"):
        super().__init__(sample_input)
        self.orient = orient

    def deserialize_input(self, value):
        import pandas as pd
        return pd.DataFrame(value) if self.orient == "records" else pd.DataFrame.from_dict(value, orient=self.orient)

    def serialize_output(self, value):
        return value.to_dict(orient=self.orient) if hasattr(value, "to_dict") else value

    def input_to_swagger(self):
        columns = {str(name): swagger_of_dtype(dtype) for name, dtype in self.sample_input.dtypes.items()}
        row = {"type": "object", "properties": columns}
        if self.orient == "records":
            schema = {"type": "array", "items": row}
        else:
            # Other orientations nest the same columns differently; their shape is described as an object.
            schema = {"type": "object"}
        example = json_example(self.sample_input.to_dict(orient=self.orient))
        if example is not None:
            schema["example"] = example
        return schema
