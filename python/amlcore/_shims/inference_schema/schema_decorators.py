"""``@input_schema`` and ``@output_schema`` for entry scripts written for Azure ML."""

import functools
import json


def _schemas_of(func):
    """The parameters declared on `func` so far, innermost decorator first; a stacked decorator adds to them."""
    return dict(getattr(func, "_amlcore_input_schemas", {}))


def input_schema(param_name, param_type, convert_to_provided_type=True, optional=False):
    """run(data) receives the request body as text; this decorator decodes it, picks ``param_name`` from a
    JSON object (or takes the whole value), and converts it with ``param_type``."""
    def decorator(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            if len(args) == 1 and not kwargs and isinstance(args[0], (str, bytes)):
                payload = json.loads(args[0])
                declared = wrapper._amlcore_input_schemas
                if len(declared) == 1:
                    value = payload.get(param_name) if isinstance(payload, dict) and param_name in payload else payload
                    if convert_to_provided_type:
                        value = param_type.deserialize_input(value)
                    return func(value)
                # Several parameters: the body is decoded once, here, the outermost decorator; each decorator
                # converts its own parameter as the call passes through it.
                if not isinstance(payload, dict):
                    raise ValueError("The request body must be a JSON object with the parameters {}".format(
                        ", ".join(declared)))
                args, kwargs = (), {name: payload[name] for name in declared if name in payload}
            if param_name in kwargs and convert_to_provided_type:
                kwargs[param_name] = param_type.deserialize_input(kwargs[param_name])
            return func(*args, **kwargs)
        wrapper._amlcore_input_schema = (param_name, param_type)
        # Declared parameters in the order the request carries them, for swagger.json (schema_util).
        schemas = {param_name: param_type}
        schemas.update(_schemas_of(func))
        wrapper._amlcore_input_schemas = schemas
        return wrapper
    return decorator


def output_schema(output_type):
    """Makes run()'s result JSON-serializable the way the declared type describes it."""
    def decorator(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            return output_type.serialize_output(func(*args, **kwargs))
        wrapper._amlcore_output_schema = output_type
        return wrapper
    return decorator
