"""Every function has sample events in events/<function dir>/, and each handler accepts each of them.

The same files feed `sam local invoke -e` and `python -m meterhub_dev.local invoke`, so a stale event is caught
here before a developer trips over it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from meterhub_dev.local.function_specs import FunctionSpec
from meterhub_dev.local.stack import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
FUNCTIONS = sorted(TEMPLATE.functions.values(), key=lambda spec: spec.logical_id)


def _events(code_dir: Path) -> list[Path]:
    return sorted((ROOT / "events" / code_dir.name).glob("*.json"))


@pytest.mark.parametrize("function", FUNCTIONS, ids=[f.logical_id for f in FUNCTIONS])
def test_every_function_has_sample_events(function: FunctionSpec) -> None:
    assert _events(function.code_dir), f"add a sample event under events/{function.code_dir.name}/"


# A read event names a meter or a job: it is created first through the function (and event) that creates
# such things, so the read finds it. Keys: (function dir of the event under test, path parameter).
CREATORS: dict[tuple[str, str], tuple[str, str, str]] = {
    ("meters_api", "meter_id"): ("meters_api", "create_meter.json", "meter_id"),
    ("interval_uploads_api", "meter_id"): ("meters_api", "create_meter.json", "meter_id"),
    ("meter_jobs_api", "job_id"): ("meter_jobs_api", "create_meter_job_json.json", "job_id"),
    ("interval_uploads_api", "job_id"): ("interval_uploads_api", "upload_interval_data.json", "job_id"),
    ("webhooks_api", "webhook_id"): ("webhooks_api", "create_webhook.json", "webhook_id"),
}
CASES = [(spec, event) for spec in FUNCTIONS for event in _events(spec.code_dir)]
# Events whose right answer is not a 2xx: the callback refuses a state it never issued (an error page).
EXPECTED_STATUS = {("connect_callback", "unknown_state.json"): 400}


@pytest.mark.pristine_aws  # sample events name fixed ids and expect nothing else stored
@pytest.mark.parametrize(("function", "event_file"), CASES, ids=[f"{s.logical_id}-{e.stem}" for s, e in CASES])
def test_handler_accepts_its_sample_event(
    aws: Any,
    partner: Any,  # "Acme Solar", account acme-solar: the Connect link events name it
    lambda_context: Any,
    load_function: Callable[[str], ModuleType],
    function: FunctionSpec,
    event_file: Path,
) -> None:
    # Given the function's handler and one of its sample events
    module = load_function(str(function.module_path.relative_to(ROOT)))
    handler = getattr(module, function.function_name)
    event = json.loads(event_file.read_text(encoding="utf-8"))
    for (directory, name), (creator_dir, creator_event, answer_field) in CREATORS.items():
        if directory == function.code_dir.name and (event.get("pathParameters") or {}).get(name):
            creator = load_function(f"functions/{creator_dir}/app.py").lambda_handler
            create = json.loads((ROOT / "events" / creator_dir / creator_event).read_text(encoding="utf-8"))
            created_id = json.loads(creator(create, lambda_context)["body"])[answer_field]
            event["path"] = event["path"].replace(event["pathParameters"][name], created_id)
            event["pathParameters"][name] = created_id

    # When the handler is invoked with it
    result = handler(event, lambda_context)

    # Then it answers as its trigger expects
    if event.get("type") == "TOKEN":
        statement = result["policyDocument"]["Statement"][0]
        assert statement["Effect"] == "Deny"  # the sample key was never issued
    elif event.get("source") == "aws.events":
        # a scheduled run with nothing to do: no authorization to refresh, no enrollment due
        nothing_due = {"due": 0, "changed": 0, "unchanged": 0, "skipped": 0, "finished": True}
        no_snapshots = {"groups": 0, "events": 0, "remarked": 0, "stopped": False}
        assert result in ({"queued": 0}, {**nothing_due, "group_snapshots": no_snapshots})
    elif "Records" in event:
        assert result == {"batchItemFailures": []}  # an unknown job is acknowledged, not retried forever
    elif (function.code_dir.name, event_file.name) in EXPECTED_STATUS:
        assert result["statusCode"] == EXPECTED_STATUS[(function.code_dir.name, event_file.name)], result["body"]
        assert "<h1" in result["body"]  # a page, not a stack trace
    elif result["statusCode"] == 302:
        assert result["multiValueHeaders"]["Location"][0].startswith("http")  # a presigned download
    else:
        assert result["statusCode"] in {200, 201}, result["body"]
        assert result["body"]


def test_local_invoke_runs_a_sample_event_like_sam_local_invoke() -> None:
    # Given the no-Docker `sam local invoke` and the programs sample event
    command = [
        sys.executable,
        "-m",
        "meterhub_dev.local",
        "invoke",
        "ProgramsApiFunction",
        "events/programs_api/list_programs.json",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # When it runs
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    # Then stdout is the handler's result, the catalog
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)
    assert response["statusCode"] == 200
    assert len(json.loads(response["body"])["programs"]) >= 15
