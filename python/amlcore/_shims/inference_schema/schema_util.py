"""The Swagger 2 schemas of a decorated run(): what its requests and answers look like, from the samples given to
``@input_schema`` and ``@output_schema``. The scoring replica's swagger.json is made from them."""


def get_input_schema(func):
    """{"type": "object", "properties": {parameter: schema}, "example": {parameter: sample}}, or {} without
    ``@input_schema``."""
    parameters = getattr(func, "_amlcore_input_schemas", None)
    if not parameters:
        return {}
    properties, example = {}, {}
    for name, param_type in parameters.items():
        schema = param_type.input_to_swagger()
        properties[name] = schema
        if "example" in schema:
            example[name] = schema["example"]
    result = {"type": "object", "properties": properties}
    if example:
        result["example"] = example
    return result


def get_output_schema(func):
    """The schema of run()'s answer, with its sample as example, or {} without ``@output_schema``."""
    output_type = getattr(func, "_amlcore_output_schema", None)
    return output_type.input_to_swagger() if output_type is not None else {}
