from inference_schema.parameter_types.abstract_parameter_type import AbstractParameterType


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
