"""azureml names amlcore does not provide: each imports under its ported path, and using it raises
UnsupportedFeatureError with the message the README's table documents; the table is the registry's; names amlcore
never heard of get an error that says so; the authentication classes notebooks pass to Workspace are accepted."""

import importlib
import inspect
import os
import pickle
import pydoc
import re
import subprocess
import sys
import textwrap

import pytest

import amlcore
from amlcore import _azureml_names
from amlcore.exceptions import AzureMLException, UnsupportedFeatureError, UserErrorException

README = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")
ENTRIES = _azureml_names.UNSUPPORTED


def readme_table_lines():
    with open(README) as f:
        text = f.read()
    section = text.split("\n## " + _azureml_names.README_SECTION + "\n", 1)[1]
    lines = section.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| azureml name |"))
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("|"))
    return lines[start:end]


def documented_messages():
    """azureml name -> the message the README says using it gives."""
    messages = {}
    for row in readme_table_lines()[2:]:
        names, gets, instead = [cell.strip() for cell in row.strip("|").split(" | ")]
        prefix = "`UnsupportedFeatureError`: "
        assert gets.startswith(prefix) and gets.endswith("."), row
        why = gets[len(prefix):-1]
        for name in re.findall(r"`([^`]+)`", names):
            name = name[:-2] if name.endswith("()") else name
            messages[name] = "{} is not provided by amlcore {}: {}. {}".format(name, amlcore.__version__, why, instead)
    return messages


def ported(azureml_name):
    """azureml.core.compute.AmlCompute -> ("amlcore.compute", "AmlCompute"), as a notebook's port names it."""
    module, _, name = azureml_name.rpartition(".")
    if module == "azureml.core":
        return "amlcore", name
    return module.replace("azureml.core.", "amlcore.").replace("azureml.", "amlcore."), name


def test_the_readme_table_is_the_registry():
    assert readme_table_lines() == _azureml_names.readme_table().splitlines()
    listed = documented_messages()
    registered = {e.azureml_name for e in ENTRIES} | {a for e in ENTRIES for a in e.azureml_aliases}
    assert set(listed) == registered
    assert len(ENTRIES) == len({(e.module, e.name) for e in ENTRIES})


@pytest.mark.parametrize("entry", [e for e in ENTRIES if "." not in e.name], ids=lambda e: e.azureml_name)
def test_every_listed_name_imports_under_its_ported_path_and_raises_when_used(entry):
    documented = documented_messages()
    module_name, name = ported(entry.azureml_name)
    namespace = {}
    exec("from {} import {}".format(module_name, name), namespace)
    thing = namespace[name]
    # Still a placeholder: once amlcore implements the name, its row has to go.
    assert thing is _azureml_names.placeholder(entry)
    assert name in importlib.import_module(module_name).__all__
    for alias in entry.azureml_aliases:
        alias_module, _ = ported(alias)
        assert getattr(importlib.import_module(alias_module), name) is thing

    with pytest.raises(UnsupportedFeatureError) as used:
        thing("workspace", name="x")
    assert str(used.value) == documented[entry.azureml_name]
    assert used.value.azureml_name == entry.azureml_name
    assert isinstance(used.value, UserErrorException) and isinstance(used.value, NotImplementedError)
    assert used.value.error_code == "UnsupportedFeature"

    assert (thing.__name__, thing.__module__) == (name, module_name)
    assert documented[entry.azureml_name] in pydoc.render_doc(thing, renderer=pydoc.plaintext)
    if entry.kind == "class":
        assert not isinstance(object(), thing) and not issubclass(int, thing)
        with pytest.raises(UnsupportedFeatureError) as attribute:
            thing.list
        assert str(attribute.value).startswith(entry.azureml_name + ".list is not provided by amlcore")


@pytest.mark.parametrize("entry", [e for e in ENTRIES if "." in e.name], ids=lambda e: e.azureml_name)
def test_listed_members_of_amlcore_classes_raise_when_called(entry):
    module_name, member = ported(entry.azureml_name)
    owner = getattr(importlib.import_module(module_name.rpartition(".")[0]), module_name.rpartition(".")[2])
    assert vars(owner)[member] is _azureml_names.placeholder(entry)
    with pytest.raises(UnsupportedFeatureError) as used:
        getattr(owner, member)("workspace", name="x")
    assert str(used.value) == documented_messages()[entry.azureml_name]


def test_placeholders_survive_introspection():
    from amlcore.compute import AmlCompute
    from amlcore.run import Run

    assert pickle.loads(pickle.dumps(AmlCompute)) is AmlCompute
    assert str(inspect.signature(AmlCompute)) == "(*args, **kwargs)"
    assert not hasattr(AmlCompute, "_repr_html_") and not hasattr(AmlCompute, "__wrapped__")
    assert repr(AmlCompute) == "<class 'amlcore.compute.AmlCompute'>"

    class MyRun(Run):
        pass

    with pytest.raises(UnsupportedFeatureError, match=r"^azureml\.core\.run\.Run is not provided"):
        MyRun()
    namespace = {}
    exec("from amlcore.compute import *", namespace)
    assert namespace["AmlCompute"] is AmlCompute and namespace["AksCompute"] is amlcore.compute.AksCompute


def test_azureml_module_paths_amlcore_keeps_elsewhere():
    from amlcore import compute, environment, webservice
    from amlcore.compute.aks import AksCompute, AksUpdateConfiguration, SslConfiguration
    from amlcore.compute import aks
    from amlcore.runconfig import DEFAULT_CPU_IMAGE, CondaDependencies, RunConfiguration
    from amlcore.webservice.aks import AksServiceDeploymentConfiguration, AksWebservice
    from amlcore.webservice.webservice import Webservice

    assert (AksCompute, AksUpdateConfiguration, SslConfiguration) == (
        compute.AksCompute, compute.AksUpdateConfiguration, compute.SslConfiguration)
    import amlcore.compute.compute
    assert aks.AksCompute is compute.AksCompute and compute.compute.ComputeTarget is compute.ComputeTarget
    assert (AksWebservice, Webservice, AksServiceDeploymentConfiguration) == (
        webservice.AksWebservice, webservice.Webservice, webservice.AksServiceDeploymentConfiguration)
    assert (DEFAULT_CPU_IMAGE, CondaDependencies) == (environment.DEFAULT_CPU_IMAGE, environment.CondaDependencies)
    with pytest.raises(UnsupportedFeatureError):
        RunConfiguration()


@pytest.mark.parametrize("statement", [
    "from amlcore import Foo",
    "from amlcore.compute import Foo",
    "from amlcore.compute.aks import Foo",
    "from amlcore.experiment import Foo",
    "import amlcore.foo",
    "from amlcore.compute.amlcompute import AmlComputeProvisioningConfiguration",
    "from amlcore.webservice.aci_unknown import X",
])
def test_a_name_amlcore_never_heard_of_raises_an_import_error_that_says_so(statement):
    with pytest.raises(ImportError) as raised:
        exec(statement, {})
    message = str(raised.value)
    assert message.startswith("amlcore has no module or name 'amlcore.") and _azureml_names.README_SECTION in message


def test_reading_a_name_amlcore_never_heard_of_raises_an_attribute_error_that_says_so():
    from amlcore import compute
    for module in (amlcore, compute, amlcore.exceptions, amlcore.authentication):
        with pytest.raises(AttributeError) as raised:
            module.Foo
        assert "amlcore has no name '{}.Foo'".format(module.__name__) in str(raised.value)
        assert _azureml_names.README_SECTION in str(raised.value)
        assert not hasattr(module, "Foo") and getattr(module, "Foo", None) is None
    with pytest.raises(AttributeError) as special:
        compute.__wrapped__
    assert str(special.value) == "module 'amlcore.compute' has no attribute '__wrapped__'"


def test_azureml_exceptions_names_exist_and_are_never_raised_by_amlcore():
    from amlcore import exceptions
    azureml_exceptions = [
        "ActivityFailedException", "AuthenticationException", "AzureMLException", "AzureMLAggregatedException",
        "ComputeTargetException", "DatasetTimestampMissingError", "DiscoveryUrlNotFoundException",
        "ExperimentExecutionException", "ModelNotFoundException", "ModelPathNotFoundException",
        "ParallelRunException", "ProjectSystemException", "RunConfigurationException", "RunEnvironmentException",
        "ServiceException", "SnapshotException", "TrainingException", "UserErrorException", "WebserviceException",
        "WorkspaceException", "WorkspacePrivateEndpointException"]
    for name in azureml_exceptions:
        cls = getattr(exceptions, name)
        assert name in exceptions.__all__ and issubclass(cls, AzureMLException)
        try:
            raise cls("handled")
        except cls as e:
            assert str(e) == "handled"
    assert issubclass(UnsupportedFeatureError, UserErrorException) and issubclass(UnsupportedFeatureError,
                                                                                   NotImplementedError)


def test_the_authentication_classes_notebooks_pass_are_accepted_by_workspace(home, tmp_path):
    from amlcore import Workspace
    from amlcore.authentication import (AbstractAuthentication, AzureCliAuthentication,
                                        InteractiveLoginAuthentication, MsiAuthentication,
                                        ServicePrincipalAuthentication, TokenAuthentication)
    from amlcore.exceptions import AuthenticationException

    interactive = InteractiveLoginAuthentication(force=True, tenant_id="my-tenant")
    principal = ServicePrincipalAuthentication(tenant_id="my-tenant", service_principal_id="my-app",
                                               service_principal_password="s3cret-value")
    cli, msi = AzureCliAuthentication(), MsiAuthentication(identity_config={"client_id": "my-identity"})
    token = TokenAuthentication(lambda audience: "a-token")
    assert "s3cret-value" not in repr(vars(principal)) and principal.service_principal_id == "my-app"
    assert msi.identity_config == {"client_id": "my-identity"}
    assert all(isinstance(a, AbstractAuthentication) for a in (interactive, principal, cli, msi, token))
    with pytest.raises(AuthenticationException, match="get_token_for_audience cannot be null."):
        TokenAuthentication(None)

    ws = Workspace.create("auth-ws", auth=interactive)
    assert Workspace(ws.subscription_id, ws.resource_group, "auth-ws", auth=principal) == ws
    assert Workspace.get("auth-ws", auth=cli) == ws
    assert Workspace.list(auth=msi)["auth-ws"] == [ws]
    ws.write_config(path=str(tmp_path))
    assert Workspace.from_config(path=str(tmp_path), auth=token) == ws

    with pytest.raises(UnsupportedFeatureError, match=r"^azureml\.core\.authentication\.AbstractAuthentication\."
                                                      r"get_authentication_header is not provided by amlcore"):
        principal.get_authentication_header()
    with pytest.raises(UnsupportedFeatureError, match="service.get_keys()"):
        token.get_token()


def test_entry_scripts_import_azureml_names_inside_replicas():
    # A replica's Python finds amlcore's azureml stand-in on its path; a subprocess keeps it out of this one.
    script = textwrap.dedent("""
        import amlcore
        from amlcore.exceptions import UnsupportedFeatureError
        from azureml.core.model import Model, InferenceConfig
        from azureml.core import Workspace, Experiment
        from azureml.core.webservice import AksWebservice
        from azureml.core.compute.aks import SslConfiguration
        from azureml.core.run import Run
        from azureml.exceptions import WebserviceException
        from azureml.monitoring import ModelDataCollector
        import azureml.core
        assert (Model, InferenceConfig, Workspace) == (amlcore.Model, amlcore.InferenceConfig, amlcore.Workspace)
        assert Experiment is amlcore.Experiment and Run is amlcore.run.Run
        assert AksWebservice is amlcore.webservice.AksWebservice
        assert SslConfiguration is amlcore.compute.SslConfiguration
        assert WebserviceException is amlcore.exceptions.WebserviceException
        assert azureml.core.VERSION == amlcore.VERSION
        try:
            Run.get_context()
        except UnsupportedFeatureError as e:
            print("run:", e)
        collector = ModelDataCollector("model", designation="inputs", feature_names=["a", "b"])
        assert collector.collect([[1, 2]], user_correlation_id="id-1") == "id-1"
        assert collector.collect([[1, 2]]) and collector.add_correlations([[1, 2]], {}) == [[1, 2]]
        try:
            import azureml.pipeline.core
        except ImportError as e:
            print("pipeline:", e)
    """)
    shims = os.path.join(os.path.dirname(amlcore.__file__), "_shims")
    env = dict(os.environ, PYTHONPATH=shims)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("run: azureml.core.run.Run.get_context is not provided by amlcore"), lines
    assert lines[1].startswith("pipeline: azureml.pipeline is not available in amlcore's scoring replicas"), lines
