"""Local invocations run as on Lambda: each in an execution environment of its own, concurrently."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from meterhub_dev.local.lambda_runtime import InvocationFailed, LocalLambda
from meterhub_dev.local.stack import load_template

TEMPLATE = """
Globals:
  Function:
    Environment: {Variables: {SHARED: from-globals}}
Resources:
  First:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      Environment: {Variables: {SETTING: first}}
  Second:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      Environment: {Variables: {SETTING: second}}
"""

CODE = """
import os, time

CALLS = []  # module state: one invocation's on Lambda, whatever runs beside it

def handler(event, context):
    if event.get("fail"):
        raise ValueError("bad input")
    CALLS.append(event["n"])
    seen = []
    for _ in range(event.get("reads", 1)):
        seen.append((os.environ["SETTING"], os.environ["AWS_LAMBDA_FUNCTION_NAME"], os.environ["SHARED"]))
        time.sleep(event.get("pause", 0))
    met = None
    if "rendezvous" in event:  # wait for the others: only invocations running at the same time all meet
        folder = event["rendezvous"]
        open(os.path.join(folder, str(event["n"])), "w").close()
        deadline = time.monotonic() + 30
        while len(os.listdir(folder)) < event["expected"] and time.monotonic() < deadline:
            time.sleep(0.01)
        met = len(os.listdir(folder))
    return {"seen": sorted(set(seen)), "calls": list(CALLS), "pid": os.getpid(), "met": met,
            "request_id": context.aws_request_id, "function_name": context.function_name}
"""


@pytest.fixture
def lambdas(tmp_path: Path) -> Iterator[LocalLambda]:
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text(CODE, encoding="utf-8")
    (tmp_path / "template.yaml").write_text(TEMPLATE, encoding="utf-8")
    runtime = LocalLambda(load_template(tmp_path / "template.yaml"))
    yield runtime
    runtime.close()


def together(calls: list[tuple[str, dict[str, Any]]], lambdas: LocalLambda) -> list[Any]:
    barrier = threading.Barrier(len(calls))

    def call(item: tuple[str, dict[str, Any]]) -> Any:
        barrier.wait(timeout=30)
        return lambdas.invoke(*item)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(call, calls))


def test_functions_running_at_once_each_read_their_own_variables(lambdas: LocalLambda) -> None:
    # Given two functions that set one variable name to different values, invoked at the same time
    calls = [("First" if n % 2 else "Second", {"n": n, "reads": 20, "pause": 0.01}) for n in range(8)]
    # When they run side by side, each reading its variables over and over
    results = together(calls, lambdas)
    # Then every invocation only ever saw its own function's values (and Lambda's AWS_LAMBDA_FUNCTION_NAME)
    for (function_id, _), result in zip(calls, results, strict=True):
        assert result["seen"] == [[function_id.lower(), function_id, "from-globals"]], result
        assert result["function_name"] == function_id
    # And none of it was applied to the runner's own environment
    assert "SETTING" not in os.environ


def test_overlapping_invocations_of_one_function_run_concurrently_in_separate_environments(
    lambdas: LocalLambda, tmp_path: Path
) -> None:
    # Given four invocations of one function that each wait (up to 30 s) until all four have arrived
    (meeting := tmp_path / "rendezvous").mkdir()
    event = {"rendezvous": str(meeting), "expected": 4}
    results = together([("First", {**event, "n": n}) for n in range(4)], lambdas)
    # Then they ran at the same time (one after another, the first would have waited alone and seen only
    # itself), each in an environment (process) of its own with its own module state
    assert [r["met"] for r in results] == [4, 4, 4, 4]
    assert len({r["pid"] for r in results}) == 4
    assert sorted(r["calls"] for r in results) == [[0], [1], [2], [3]]
    # And a later invocation reuses a warm environment: its module state holds the earlier call
    again = lambdas.invoke("First", {"n": 9})
    assert again["pid"] in {r["pid"] for r in results}
    assert len(again["calls"]) == 2


def test_a_handler_exception_is_reported_with_its_type_message_and_trace(lambdas: LocalLambda) -> None:
    with pytest.raises(InvocationFailed) as failure:
        lambdas.invoke("First", {"fail": True})
    assert failure.value.error.error_type == "ValueError"
    assert str(failure.value.error) == "bad input"
    assert "Traceback" in failure.value.details and "bad input" in failure.value.details
    assert lambdas.invoke("First", {"n": 1})["calls"][-1] == 1  # the environment survives, as on Lambda
