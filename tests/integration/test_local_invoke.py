"""`python -m meterhub_dev.local invoke` (the no-Docker `sam local invoke`) and the in-process SQS relay."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from meterhub.platform.adapters import clients
from meterhub_dev.local.aws import LocalAws
from meterhub_dev.local.event_sources import RelayContext, Relays
from meterhub_dev.local.intrinsics import LocalContext
from meterhub_dev.local.lambda_runtime import HandlerUnavailable, LocalLambda
from meterhub_dev.local.stack import load_template

ROOT = Path(__file__).resolve().parents[2]
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/local/GET/v1.1/programs"


def _invoke(function: str, event: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps(event), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        [sys.executable, "-m", "meterhub_dev.local", "invoke", function, str(event_file)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_invoke_authorizer_with_unknown_key_returns_deny(tmp_path: Path) -> None:
    event = {"type": "TOKEN", "authorizationToken": "Bearer mh_not-a-real-key", "methodArn": METHOD_ARN}
    result = _invoke("AuthorizerFunction", event, tmp_path)
    assert result.returncode == 0, result.stderr
    policy = json.loads(result.stdout)  # stdout holds the result only: handler logs went to stderr
    statements = policy["policyDocument"]["Statement"]
    assert statements and all(statement["Effect"] == "Deny" for statement in statements)
    assert "Denied a request" in result.stderr


def test_invoke_reports_a_handler_exception_with_a_non_zero_exit(tmp_path: Path) -> None:
    event = {"type": "TOKEN", "authorizationToken": "Basic x", "methodArn": METHOD_ARN}
    result = _invoke("AuthorizerFunction", event, tmp_path)
    assert result.returncode == 1
    assert json.loads(result.stdout) == {"errorType": "Exception", "errorMessage": "Unauthorized"}
    assert "Traceback" in result.stderr


def test_invoke_unknown_function(tmp_path: Path) -> None:
    result = _invoke("NoSuchFunction", {}, tmp_path)
    assert result.returncode == 2
    assert "AuthorizerFunction" in result.stderr  # lists the functions that do exist


# ----- in-process: missing handlers and the SQS relay ----------------------------------------------------------

WORKER_TEMPLATE = """
Resources:
  JobsQueue:
    Type: AWS::SQS::Queue
    Properties: {VisibilityTimeout: 4}  # AWS wants at least the function's timeout
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: worker/
      Handler: app.handler
      Timeout: 4
      Environment: {Variables: {OUT: "%(out)s"}}
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt JobsQueue.Arn
            BatchSize: 10
            FunctionResponseTypes: [ReportBatchItemFailures]
  Missing:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: missing/, Handler: app.handler}
"""

WORKER_CODE = """
import json, os

def handler(event, context):
    failures = []
    with open(os.environ["OUT"], "a") as out:
        for record in event["Records"]:
            out.write(json.dumps({"body": record["body"], "source": record["eventSource"]}) + "\\n")
            if record["body"] == "fail":
                failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
"""


@pytest.fixture
def local_aws(monkeypatch: pytest.MonkeyPatch, empty_moto: None) -> Iterator[LocalAws]:
    """A moto server in this process: it serves the backends `aws` provisions, so they start empty."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.setenv(name, "restored-after-the-test")  # LocalAws.start() overwrites them
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    aws = LocalAws()
    aws.start()
    yield aws
    aws.stop()
    clients.reset()


def test_sqs_relay_invokes_and_keeps_reported_failures(tmp_path: Path, local_aws: LocalAws) -> None:
    out = tmp_path / "received.jsonl"
    (tmp_path / "worker").mkdir()
    (tmp_path / "worker" / "app.py").write_text(WORKER_CODE, encoding="utf-8")
    (tmp_path / "template.yaml").write_text(WORKER_TEMPLATE % {"out": out}, encoding="utf-8")
    template = load_template(tmp_path / "template.yaml", LocalContext(aws_endpoint_url=local_aws.endpoint_url))
    created = local_aws.provision(template)
    lambdas = LocalLambda(template)

    with pytest.raises(HandlerUnavailable, match="does not exist"):
        lambdas.invoke("Missing", {})

    relays = Relays(RelayContext(template=template, lambdas=lambdas, aws=local_aws))
    relays.start()
    try:
        sqs = local_aws.sqs()
        queue_url = created.queues["JobsQueue"]
        sqs.send_message(QueueUrl=queue_url, MessageBody="ok")
        sqs.send_message(QueueUrl=queue_url, MessageBody="fail")
        deadline = time.monotonic() + 20
        bodies: list[str] = []
        while time.monotonic() < deadline:
            lines = out.read_text(encoding="utf-8").splitlines() if out.exists() else []
            bodies = [json.loads(line)["body"] for line in lines]
            if bodies.count("fail") >= 2:  # the reported failure came back after the visibility timeout
                break
            time.sleep(0.2)
    finally:
        relays.stop()
    assert bodies.count("ok") == 1, bodies  # deleted after success, never redelivered
    assert bodies.count("fail") >= 2, bodies
    assert json.loads(out.read_text(encoding="utf-8").splitlines()[0])["source"] == "aws:sqs"
    assert "OUT" not in os.environ  # the function's environment is applied only during the call


RENDEZVOUS_TEMPLATE = """
Resources:
  TasksQueue:
    Type: AWS::SQS::Queue
    Properties: {VisibilityTimeout: 60}
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: worker/
      Handler: app.handler
      Environment: {Variables: {MEETING: "%(meeting)s"}}
      Events:
        Tasks:
          Type: SQS
          Properties: {Queue: !GetAtt TasksQueue.Arn, BatchSize: 1}
  Capped:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: worker/
      Handler: app.handler
      ReservedConcurrentExecutions: 3
      Events:
        Tasks:
          Type: SQS
          Properties: {Queue: !GetAtt TasksQueue.Arn, ScalingConfig: {MaximumConcurrency: 2}, Enabled: false}
"""

RENDEZVOUS_CODE = """
import os, time

def handler(event, context):
    # Wait (up to 30 s) until three batches have arrived: only batches handled at the same time all meet.
    folder = os.environ["MEETING"]
    open(os.path.join(folder, event["Records"][0]["body"]), "w").close()
    deadline = time.monotonic() + 30
    while len(os.listdir(folder)) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    with open(os.path.join(folder, "..", "met.txt"), "a") as out:
        out.write(f"{len(os.listdir(folder))}\\n")
    return {}
"""


def test_sqs_relay_runs_batches_at_once_as_lambdas_pollers_do(tmp_path: Path, local_aws: LocalAws) -> None:
    # Given a queue whose consumer takes one message a batch and waits until three batches are running
    meeting = tmp_path / "meeting"
    meeting.mkdir()
    (tmp_path / "worker").mkdir()
    (tmp_path / "worker" / "app.py").write_text(RENDEZVOUS_CODE, encoding="utf-8")
    (tmp_path / "template.yaml").write_text(RENDEZVOUS_TEMPLATE % {"meeting": meeting}, encoding="utf-8")
    template = load_template(tmp_path / "template.yaml", LocalContext(aws_endpoint_url=local_aws.endpoint_url))
    created = local_aws.provision(template)
    relays = Relays(RelayContext(template=template, lambdas=LocalLambda(template), aws=local_aws))
    relays.start()
    try:
        # When three messages arrive
        for body in ("a", "b", "c"):
            local_aws.sqs().send_message(QueueUrl=created.queues["TasksQueue"], MessageBody=body)
        met = tmp_path / "met.txt"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(met.read_text().split() if met.exists() else []) < 3:
            time.sleep(0.1)
    finally:
        relays.stop()
    # Then the three batches ran at the same time (one after another, the first would have met no one)
    assert met.read_text().split() == ["3", "3", "3"]
    # And the template's caps bound the pollers: the mapping's MaximumConcurrency, the function's reservation
    pollers = {relay.description: getattr(relay, "concurrency", None) for relay in relays.relays}
    assert pollers == {
        "SQS TasksQueue -> Worker (5 batches at once)": 5,
        "SQS TasksQueue -> Capped (2 batches at once)": 2,
    }
