from inference_schema.parameter_types.abstract_parameter_type import AbstractParameterType


class StandardPythonParameterType(AbstractParameterType):
    """Plain JSON values (numbers, strings, lists, dicts), passed as they are."""
