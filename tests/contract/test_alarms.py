"""Nothing in template.yaml can fail silently: every dead-letter queue, every function (queue- and stream-driven
ones included), the API and every table has an alarm, and every alarm notifies AlarmTopic.

The queues that need an alarm are found from the template's wiring (a RedrivePolicy's target, an event source's
OnFailure destination), not from their names, so a new dead-letter queue without an alarm fails here. The
checker runs on mutated copies too, so it is known to catch what it is for.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from meterhub.platform import observability
from meterhub.platform.observability import Metric
from meterhub_dev.local.template_yaml import load_yaml

from tests.conftest import ROOT, TEMPLATE

Template = dict[str, Any]
TOPIC = {"Ref": "AlarmTopic"}


def _resources(template: Template, kind: str) -> dict[str, Mapping[str, Any]]:
    return {name: resource for name, resource in template["Resources"].items() if resource["Type"] == kind}


def _watched(alarm: Mapping[str, Any]) -> Iterator[tuple[Any, str, dict[str, Any]]]:
    """(namespace, metric name, dimensions) of every metric the alarm reads, plain or in metric math."""
    properties = alarm["Properties"]
    if "MetricName" in properties:
        dimensions = {d["Name"]: d["Value"] for d in properties.get("Dimensions", [])}
        yield properties["Namespace"], properties["MetricName"], dimensions
    for query in properties.get("Metrics", []):
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            yield metric["Namespace"], metric["MetricName"], {d["Name"]: d["Value"] for d in metric["Dimensions"]}


def _alarmed(template: Template) -> set[tuple[str, str, str]]:
    """(namespace, metric name, dimensions), each as canonical JSON, of every alarm that notifies AlarmTopic."""
    found: set[tuple[str, str, str]] = set()
    for alarm in _resources(template, "AWS::CloudWatch::Alarm").values():
        if TOPIC in alarm["Properties"].get("AlarmActions", []):
            for namespace, metric, dimensions in _watched(alarm):
                found.add((json.dumps(namespace), metric, json.dumps(dimensions, sort_keys=True)))
    return found


def _dead_letter_queues(template: Template) -> set[str]:
    queues: set[str] = set()
    for queue in _resources(template, "AWS::SQS::Queue").values():
        target = queue["Properties"].get("RedrivePolicy", {}).get("deadLetterTargetArn")
        if target:
            queues.add(target["Fn::GetAtt"][0])
    for function in _resources(template, "AWS::Serverless::Function").values():
        for event in function["Properties"].get("Events", {}).values():
            destination = event["Properties"].get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            if destination:
                queues.add(destination["Fn::GetAtt"][0])
    return queues


def _metrics_namespace(template: Template) -> Any:
    return template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]


def missing_alarms(template: Template) -> list[str]:
    """What has no alarm notifying AlarmTopic, and alarms that notify nobody (empty when all is watched)."""
    alarmed = _alarmed(template)

    def has(namespace: Any, metric: str, **dimensions: Any) -> bool:
        return (json.dumps(namespace), metric, json.dumps(dimensions, sort_keys=True)) in alarmed

    missing = [
        f"{name}: an alarm without AlarmActions to AlarmTopic"
        for name, alarm in _resources(template, "AWS::CloudWatch::Alarm").items()
        if TOPIC not in alarm["Properties"].get("AlarmActions", [])
    ]
    for queue in sorted(_dead_letter_queues(template)):
        if not has("AWS/SQS", "ApproximateNumberOfMessagesVisible", QueueName={"Fn::GetAtt": [queue, "QueueName"]}):
            missing.append(f"dead-letter queue {queue}: no alarm on its depth")
    for name in sorted(_resources(template, "AWS::Serverless::Function")):
        for metric in ("Errors", "Throttles"):
            if not has("AWS/Lambda", metric, FunctionName={"Ref": name}):
                missing.append(f"function {name}: no {metric} alarm")
    for name, api in sorted(_resources(template, "AWS::Serverless::Api").items()):
        dimensions = {"ApiName": api["Properties"]["Name"], "Stage": api["Properties"]["StageName"]}
        for metric in ("5XXError", "Latency"):
            if not has("AWS/ApiGateway", metric, **dimensions):
                missing.append(f"API {name}: no {metric} alarm")
    for name in sorted(_resources(template, "AWS::DynamoDB::Table")):
        if not all(
            has("AWS/DynamoDB", m, TableName={"Ref": name}) for m in ("ReadThrottleEvents", "WriteThrottleEvents")
        ):
            missing.append(f"table {name}: no throttle alarm")
    namespace = _metrics_namespace(template)
    for family in (observability.INTERVAL_INGEST_LAG, observability.WEBHOOK_FINAL_FAILURES):
        if not has(namespace, family.name):
            missing.append(f"metric {family.name}: no alarm")
    return missing


TEMPLATE_DOCUMENT: Template = load_yaml(TEMPLATE)


def test_everything_that_can_fail_has_an_alarm_that_notifies_the_topic() -> None:
    assert missing_alarms(TEMPLATE_DOCUMENT) == []


def test_the_checker_finds_each_kind_of_gap() -> None:
    broken = copy.deepcopy(TEMPLATE_DOCUMENT)
    resources = broken["Resources"]
    del resources["UtilitySyncDeadLetterQueueAlarm"]
    del resources["MeterJobWorkerErrorsAlarm"]
    del resources["ApiLatencyP99Alarm"]
    del resources["IntervalIngestLagAlarm"]
    resources["ConnectTableThrottlesAlarm"]["Properties"]["AlarmActions"] = []
    resources["ExtraDeadLetterQueue"] = {"Type": "AWS::SQS::Queue", "Properties": {}}
    resources["MeterJobsQueue"]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"] = {
        "Fn::GetAtt": ["ExtraDeadLetterQueue", "Arn"]
    }
    assert missing_alarms(broken) == [
        "ConnectTableThrottlesAlarm: an alarm without AlarmActions to AlarmTopic",
        "dead-letter queue ExtraDeadLetterQueue: no alarm on its depth",
        "dead-letter queue UtilitySyncDeadLetterQueue: no alarm on its depth",
        "function MeterJobWorkerFunction: no Errors alarm",
        "API PartnerApi: no Latency alarm",
        "table ConnectTable: no throttle alarm",
        "metric IntervalIngestLag: no alarm",
    ]


def test_the_template_has_the_eight_dead_letter_queues_the_readme_lists() -> None:
    queues = _dead_letter_queues(TEMPLATE_DOCUMENT)
    assert queues == {name for name in TEMPLATE_DOCUMENT["Resources"] if name.endswith("DeadLetterQueue")}
    assert len(queues) == 8


def test_an_alarm_on_a_conditional_resource_has_its_condition() -> None:
    """DemoUtilityFunction exists only outside prod: its alarms must not name a function that is not there."""
    resources = TEMPLATE_DOCUMENT["Resources"]
    for name, alarm in _resources(TEMPLATE_DOCUMENT, "AWS::CloudWatch::Alarm").items():
        for _, _, dimensions in _watched(alarm):
            for value in dimensions.values():
                target = value.get("Ref") or value.get("Fn::GetAtt", [None])[0] if isinstance(value, dict) else None
                if target in resources:
                    assert alarm.get("Condition") == resources[target].get("Condition"), name


def test_the_topic_is_encrypted_and_the_email_subscription_is_optional() -> None:
    resources = TEMPLATE_DOCUMENT["Resources"]
    assert resources["AlarmTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
    key_policy = resources["AlarmTopicKey"]["Properties"]["KeyPolicy"]["Statement"]
    assert any(s["Principal"].get("Service") == "cloudwatch.amazonaws.com" for s in key_policy)
    subscription = resources["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert TEMPLATE_DOCUMENT["Parameters"]["AlarmEmail"]["Default"] == ""
    assert TEMPLATE_DOCUMENT["Conditions"]["HasAlarmEmail"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]
    }


FAMILIES = sorted(value.name for value in vars(observability).values() if isinstance(value, Metric))


@pytest.mark.parametrize("metric", FAMILIES)
def test_every_metric_is_on_the_dashboard_and_in_the_readme(metric: str) -> None:
    [dashboard] = _resources(TEMPLATE_DOCUMENT, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    assert f'\\"{metric}\\"' in body or f'"{metric}"' in body, f"{metric} is not on the dashboard"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    operating = readme.split("## Operating it", 1)[1].split("\n## ", 1)[0]
    assert f"`{metric}`" in operating, f"README's Operating it section does not list {metric}"


@pytest.mark.parametrize("name", sorted(_resources(TEMPLATE_DOCUMENT, "AWS::CloudWatch::Alarm")))
def test_every_alarm_has_its_runbook_line_in_the_readme(name: str) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    operating = readme.split("## Operating it", 1)[1].split("\n## ", 1)[0]
    subject = name.removesuffix("Alarm")
    for family in ("ErrorsAlarm", "ThrottlesAlarm"):
        if name.endswith(family) and not name.endswith("TableThrottlesAlarm"):
            subject = f"<Function>{family.removesuffix('Alarm')}"
    if name.endswith("TableThrottlesAlarm"):
        subject = "<Table>Throttles"
    assert f"`{subject}`" in operating, f"README's Operating it section has no line for {name}"


def _queue_consumers(template: Template) -> dict[str, str]:
    """Each function fed by an SQS queue -> that queue's name."""
    consumers: dict[str, str] = {}
    for name, function in _resources(template, "AWS::Serverless::Function").items():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] == "SQS":
                consumers[name] = event["Properties"]["Queue"]["Fn::GetAtt"][0]
    return consumers


@pytest.mark.parametrize("function", sorted(_queue_consumers(TEMPLATE_DOCUMENT)))
def test_every_queue_fed_function_shows_its_errors_and_its_dead_letters_on_the_dashboard(function: str) -> None:
    [dashboard] = _resources(TEMPLATE_DOCUMENT, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    assert f'"Errors", "FunctionName", "${{{function}}}"' in body, f"{function}'s errors are not on the dashboard"
    queue = TEMPLATE_DOCUMENT["Resources"][_queue_consumers(TEMPLATE_DOCUMENT)[function]]
    dead = queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    assert f'"QueueName", "${{{dead}.QueueName}}"' in body, f"{dead} is not on the dashboard"
    alarms = _resources(TEMPLATE_DOCUMENT, "AWS::CloudWatch::Alarm")
    for family in ("Errors", "Throttles"):
        assert f"{function.removesuffix('Function')}{family}Alarm" in alarms
