"""swagger.json from the entry script: the samples given to inference_schema's decorators describe what run()
takes and returns, as Azure ML's inference server describes them."""

import json
import os
import sys

import numpy as np
import pandas as pd
import pytest

from services import deploy, get, script_dir

SHIMS = os.path.join(os.path.dirname(__import__("amlcore").__file__), "_shims")

SCRIPT = """
    import numpy as np
    from inference_schema.schema_decorators import input_schema, output_schema
    from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType

    def init():
        pass

    @input_schema('data', NumpyParameterType(np.array([[10, 9, 8, 7, 6, 5, 4, 3, 2, 1]])))
    @output_schema(NumpyParameterType(np.array([3726.995])))
    def run(data):
        return data.sum(axis=1).astype(float)
"""


@pytest.fixture
def inference_schema(monkeypatch):
    """amlcore's inference_schema, as replicas import it."""
    monkeypatch.syspath_prepend(SHIMS)
    for name in [n for n in sys.modules if n.startswith("inference_schema")]:
        monkeypatch.delitem(sys.modules, name)
    import inference_schema.schema_util
    return inference_schema


def test_the_service_swagger_describes_run_from_its_samples(aks, tmp_path):
    ws, target = aks
    service = deploy(ws, target, script_dir(tmp_path, SCRIPT), name="schema-svc")
    service.wait_for_deployment()
    status, body = get(service.swagger_uri, service.get_keys()[0])
    assert status == 200, body
    definitions = json.loads(body)["definitions"]
    sample = [[10, 9, 8, 7, 6, 5, 4, 3, 2, 1]]
    assert definitions["ServiceInput"] == {
        "type": "object",
        "properties": {"data": {"type": "array", "items": {"type": "array",
                                                           "items": {"type": "integer", "format": "int64"}},
                                "example": sample}},
        "example": {"data": sample}}
    assert definitions["ServiceOutput"] == {"type": "array", "items": {"type": "number", "format": "double"},
                                            "example": [3726.995]}
    assert service.run({"data": [[1, 2], [3, 4]]}) == [3.0, 7.0]


def test_a_script_without_decorators_keeps_the_generic_schemas(aks, tmp_path):
    ws, target = aks
    service = deploy(ws, target, script_dir(tmp_path, "def init():\n    pass\ndef run(raw):\n    return raw\n"),
                     name="plain-schema-svc")
    service.wait_for_deployment()
    definitions = json.loads(get(service.swagger_uri, service.get_keys()[0])[1])["definitions"]
    assert definitions["ServiceInput"] == {"type": "object"} and definitions["ServiceOutput"] == {"type": "object"}


def test_standard_and_pandas_samples(inference_schema):
    from inference_schema.schema_decorators import input_schema, output_schema
    from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
    from inference_schema.parameter_types.pandas_parameter_type import PandasParameterType
    from inference_schema.schema_util import get_input_schema, get_output_schema

    frame = pd.DataFrame({"age": [31], "income": [52.5], "city": ["Oslo"]})

    @input_schema("rows", PandasParameterType(frame))
    @input_schema("beam_size", StandardPythonParameterType(3))
    @output_schema(StandardPythonParameterType({"label": "yes", "scores": [0.25, 0.75]}))
    def run(rows, beam_size=5):
        return {"rows": type(rows).__name__, "beam_size": beam_size}

    schema = get_input_schema(run)
    assert schema["properties"]["rows"] == {
        "type": "array",
        "items": {"type": "object", "properties": {"age": {"type": "integer", "format": "int64"},
                                                   "income": {"type": "number", "format": "double"},
                                                   "city": {"type": "string"}}},
        "example": [{"age": 31, "income": 52.5, "city": "Oslo"}]}
    assert schema["properties"]["beam_size"] == {"type": "integer", "format": "int64", "example": 3}
    assert schema["example"] == {"rows": [{"age": 31, "income": 52.5, "city": "Oslo"}], "beam_size": 3}
    assert get_output_schema(run) == {
        "type": "object",
        "properties": {"label": {"type": "string"},
                       "scores": {"type": "array", "items": {"type": "number", "format": "double"}}},
        "example": {"label": "yes", "scores": [0.25, 0.75]}}
    assert get_input_schema(lambda raw: raw) == {} and get_output_schema(lambda raw: raw) == {}
    # The body carries every declared parameter; each is converted by its own decorator, absent ones default.
    assert run('{"rows": [{"age": 40, "income": 1.5, "city": "Rome"}], "beam_size": 7}') == {
        "rows": "DataFrame", "beam_size": 7}
    assert run('{"rows": []}') == {"rows": "DataFrame", "beam_size": 5}


def test_structured_numpy_samples(inference_schema):
    from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
    sample = np.array([("Sarah", (8.0, 7.0))], dtype=np.dtype([("name", np.str_, 16), ("grades", np.float32, (2,))]))
    schema = NumpyParameterType(sample).input_to_swagger()
    assert schema["items"] == {"type": "object", "properties": {
        "name": {"type": "string"},
        "grades": {"type": "array", "items": {"type": "number", "format": "float"}}}}
