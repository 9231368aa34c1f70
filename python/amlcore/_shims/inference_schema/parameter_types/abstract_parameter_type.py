import json


def swagger_of_value(value):
    """The Swagger 2 schema of a JSON-like sample value: its type, and for lists and dicts what they hold."""
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer", "format": "int64"}
    if isinstance(value, float):
        return {"type": "number", "format": "double"}
    if isinstance(value, str):
        return {"type": "string"}
    if isinstance(value, (list, tuple)):
        return {"type": "array", "items": swagger_of_value(value[0]) if value else {}}
    if isinstance(value, dict):
        return {"type": "object", "properties": {str(k): swagger_of_value(v) for k, v in value.items()}}
    if hasattr(value, "tolist"):  # a numpy scalar or array inside a plain sample
        return swagger_of_value(value.tolist())
    return {"type": "object"}


def json_example(value):
    """The sample as JSON would carry it (numpy and pandas values as lists and records), or None."""
    try:
        return json.loads(json.dumps(value, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))
    except (TypeError, ValueError):
        return None


class AbstractParameterType:
    def __init__(self, sample_input=None):
        self.sample_input = sample_input

    def deserialize_input(self, value):
        return value

    def serialize_output(self, value):
        return value

    def input_to_swagger(self):
        """What a request carries for this parameter, with the sample as its example (Swagger 2)."""
        schema = swagger_of_value(self.sample_input)
        example = json_example(self.sample_input)
        if example is not None:
            schema["example"] = example
        return schema
