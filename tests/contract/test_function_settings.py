"""Each function's template environment is exactly what its settings model declares, in both directions.

A variable in the template that no model reads is dead configuration (and one more thing a function can see);
a declared variable the template does not give fails the function at its first request. Globals carries only
what Powertools itself reads. The SQS redrive counts the handlers act on come from the same template value
as the queues' RedrivePolicy. No module of the layer or of a handler reads the environment but the settings
module.
"""

from __future__ import annotations

import ast
from typing import Any

import pytest
from meterhub.platform.settings import EnvironmentSettings
from meterhub.utility_providers.records.registry import utility_variable_names
from meterhub_dev.local.intrinsics import ref_target
from meterhub_dev.local.template_yaml import load_yaml

from tests.conftest import ROOT, TEMPLATE, load_function_module

LIBRARY_PREFIX = "POWERTOOLS_"  # read by aws-lambda-powertools, not by our settings


def _functions() -> dict[str, dict[str, Any]]:
    resources = load_yaml(TEMPLATE)["Resources"]
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def _settings_model(code_uri: str) -> type[EnvironmentSettings]:
    module = load_function_module(f"{code_uri.rstrip('/')}/app.py")
    model = getattr(module, "Settings", None)
    assert isinstance(model, type) and issubclass(model, EnvironmentSettings), f"{code_uri}app.py has no Settings"
    return model


def environment_differences(
    model: type[EnvironmentSettings], variables: set[str], known_family: frozenset[str]
) -> tuple[set[str], set[str]]:
    """(declared but not given, given but not declared) for one function."""
    prefixes = model.variable_prefixes()
    given = {name for name in variables if not name.startswith(LIBRARY_PREFIX)}
    in_family = {name for name in given if any(name.startswith(prefix) for prefix in prefixes)}
    exact = given - (in_family & known_family)
    return set(model.variable_names()) - exact, exact - set(model.variable_names())


FUNCTIONS = _functions()


def test_every_function_directory_is_a_template_function() -> None:
    in_template = {properties["CodeUri"].rstrip("/") for properties in FUNCTIONS.values()}
    on_disk = {f"functions/{path.parent.name}" for path in (ROOT / "functions").glob("*/app.py")}
    assert in_template == on_disk
    assert len(on_disk) >= 21  # the glob found the functions (a wrong path would find none)


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_the_template_environment_is_what_the_settings_model_declares(logical_id: str) -> None:
    properties = FUNCTIONS[logical_id]
    model = _settings_model(properties["CodeUri"])
    variables = set(((properties.get("Environment") or {}).get("Variables") or {}).keys())
    missing, unread = environment_differences(model, variables, utility_variable_names())
    assert not missing, f"{logical_id}: its settings declare {sorted(missing)}, which the template does not give"
    assert not unread, f"{logical_id}: the template gives {sorted(unread)}, which its settings do not declare"


def test_the_comparison_fails_in_either_direction() -> None:
    from meterhub.platform.settings import MetersTableSettings, UtilityProviderSettings

    class Model(MetersTableSettings, UtilityProviderSettings):
        pass

    known = utility_variable_names()
    assert environment_differences(Model, {"METERS_TABLE_NAME", "POWERTOOLS_LOG_LEVEL"}, known) == (set(), set())
    assert environment_differences(Model, set(), known) == ({"METERS_TABLE_NAME"}, set())
    assert environment_differences(Model, {"METERS_TABLE_NAME", "STAGE"}, known) == (set(), {"STAGE"})
    # a utility variable is read only by a model that declares the family, and only if the registry knows it
    given = {"METERS_TABLE_NAME", "UTILITY_PGE_CLIENT_SECRET_ARN", "UTILITY_PGE_TYPO"}
    assert environment_differences(Model, given, known) == (set(), {"UTILITY_PGE_TYPO"})
    assert environment_differences(MetersTableSettings, given, known)[1] == {
        "UTILITY_PGE_CLIENT_SECRET_ARN",
        "UTILITY_PGE_TYPO",
    }


def test_globals_carry_only_what_powertools_reads() -> None:
    variables = load_yaml(TEMPLATE)["Globals"]["Function"]["Environment"]["Variables"]
    assert variables and all(name.startswith(LIBRARY_PREFIX) for name in variables)


@pytest.mark.parametrize(
    ("function", "queue", "variable"),
    [
        ("MeterJobWorkerFunction", "MeterJobsQueue", "METER_JOBS_MAX_RECEIVE_COUNT"),
        ("IntervalIngestFunction", "IntervalFilesQueue", "INTERVAL_FILES_MAX_RECEIVE_COUNT"),
    ],
)
def test_the_redrive_count_a_handler_acts_on_is_its_queues_own(function: str, queue: str, variable: str) -> None:
    document = load_yaml(TEMPLATE)
    resources = document["Resources"]
    redrive = resources[queue]["Properties"]["RedrivePolicy"]["maxReceiveCount"]
    given = resources[function]["Properties"]["Environment"]["Variables"][variable]
    assert redrive == given == {"Fn::FindInMap": ["QueueRedrive", queue, "MaxReceiveCount"]}
    events = resources[function]["Properties"]["Events"].values()
    assert [ref_target(event["Properties"]["Queue"]) for event in events] == [queue], "the function reads that queue"
    assert isinstance(document["Mappings"]["QueueRedrive"][queue]["MaxReceiveCount"], int)


def environment_reads(source: str) -> list[int]:
    """Lines that read the process environment (os.environ, os.getenv, or importing them from os)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
            and node.attr in {"environ", "getenv", "environb", "getenvb"}
        ) or (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and any(alias.name in {"environ", "getenv", "environb", "getenvb"} for alias in node.names)
        ):
            lines.append(node.lineno)
    return lines


def test_only_the_settings_module_reads_the_environment() -> None:
    settings = ROOT / "shared" / "meterhub" / "platform" / "settings.py"
    assert environment_reads(settings.read_text(encoding="utf-8")), "the settings module reads os.environ"
    offenders = {
        str(path.relative_to(ROOT)): lines
        for path in [*(ROOT / "shared").rglob("*.py"), *(ROOT / "functions").rglob("*.py")]
        if path != settings and (lines := environment_reads(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}
    assert environment_reads("from os import getenv\nimport os\nx = os.environ.get('A')\n") == [1, 3]
