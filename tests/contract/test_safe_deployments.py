"""A deploy never replaces an API function for every request at once: each function with API routes publishes a
version behind its `live` alias and CodeDeploy shifts traffic to it gradually, rolled back by the function's own
Errors alarm and the API's 5XX alarm. The event-driven functions are deployed all at once, a choice the template
and the README state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from meterhub_dev.local.template_yaml import load_yaml

ROOT = Path(__file__).resolve().parents[2]
GRADUAL = {"Canary10Percent10Minutes", "Canary10Percent5Minutes", "Linear10PercentEvery1Minute"}


def _template() -> dict[str, Any]:
    return load_yaml(ROOT / "template.yaml")


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def _serves_api(properties: dict[str, Any]) -> bool:
    return any(event.get("Type") == "Api" for event in (properties.get("Events") or {}).values())


def test_every_api_function_shifts_traffic_gradually_and_is_rolled_back_by_its_alarms() -> None:
    template = _template()
    resources = template["Resources"]
    api_functions = {k: p for k, p in _functions(template).items() if _serves_api(p)}
    assert len(api_functions) >= 10, sorted(api_functions)
    for logical_id, properties in api_functions.items():
        assert properties.get("AutoPublishAlias") == "live", logical_id
        preference = properties.get("DeploymentPreference") or {}
        assert preference.get("Type") == {"Ref": "ApiDeploymentType"}, (logical_id, preference)
        alarms = [alarm["Ref"] for alarm in preference.get("Alarms", [])]
        # The function's own Errors alarm (watching this function), and the API's 5XX rate
        own = [a for a in alarms if resources[a]["Properties"].get("MetricName") == "Errors"]
        assert len(own) == 1, (logical_id, alarms)
        assert resources[own[0]]["Properties"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": logical_id}}]
        assert "Api5XXErrorRateAlarm" in alarms, (logical_id, alarms)
        assert resources[own[0]].get("Condition") == resources[logical_id].get("Condition"), logical_id


def test_the_deployment_type_parameter_is_gradual_by_default() -> None:
    parameter = _template()["Parameters"]["ApiDeploymentType"]
    assert parameter["Default"] in GRADUAL
    assert set(parameter["AllowedValues"]) <= GRADUAL | {"AllAtOnce"}


def test_event_driven_functions_deploy_all_at_once_as_documented() -> None:
    functions = _functions(_template())
    event_driven = [k for k, p in functions.items() if not _serves_api(p)]
    assert event_driven
    for logical_id in event_driven:
        assert "DeploymentPreference" not in functions[logical_id], logical_id
    template_text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "event-driven functions (queues, streams, schedules) are deployed all at once" in template_text
    assert "deployed all at once" in readme
