"""The deployed-stage smoke test (`make smoke`, `python -m meterhub_dev.smoke`) run as a subprocess against the
local runner with the demo partner's key, exactly as an operator runs it against a stage, so it cannot rot: every
step passes, what it made is cleaned up, and a failure names the step, the request and the response."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Protocol

import pytest
import requests

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SMOKE_TIMEOUT_SECONDS = 90


class LocalStack(Protocol):
    """The `local_stack` fixture (tests/e2e/conftest.py)."""

    url: str
    demo_api_key: str

    def auth(self, api_key: str) -> dict[str, str]: ...


def smoke(api: str, key: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    return subprocess.run(
        [sys.executable, "-m", "meterhub_dev.smoke", "--api", api, "--wait", "60"],
        cwd=ROOT,
        env=env | {"METERHUB_API_KEY": key},
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT_SECONDS,
        check=False,
    )


def test_every_step_passes_against_the_local_runner_and_what_it_made_is_cleaned_up(local_stack: LocalStack) -> None:
    result = smoke(local_stack.url, local_stack.demo_api_key)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert "PASSED: 11 steps, 0 skipped" in report, report
    assert [line.split()[0] for line in report.splitlines()[1:-1]] == ["ok"] * 14, report
    for step in ("DUPLICATE_REF_ID", "COMPLETED_WITH_ERRORS", "received signed by this process", "demo utility"):
        assert step in report, report

    # The run's meters are archived and its webhook is gone
    run_id = re.search(r"\(run (smoke-[0-9a-f]+)\)", report).group(1)  # type: ignore[union-attr]
    headers = local_stack.auth(local_stack.demo_api_key)
    references = [f"{run_id}-meter", f"{run_id}-bulk-good"]
    found = requests.post(
        f"{local_stack.url}/v2/meters/search", json={"partner_references": references}, headers=headers, timeout=30
    ).json()["meters"]
    assert sorted(m["partner_reference"] for m in found) == sorted(references), found
    assert all(m["is_archived"] for m in found), found
    webhooks = requests.get(f"{local_stack.url}/v1.1/webhooks", headers=headers, timeout=30).json()
    assert run_id not in str(webhooks), webhooks


def test_a_failure_names_the_step_the_request_and_the_response_and_exits_non_zero(local_stack: LocalStack) -> None:
    result = smoke(local_stack.url, "mh_not-a-key")
    report = result.stdout
    assert result.returncode == 1, report
    assert "FAIL subscribe a webhook and send it a test: expected HTTP 200, got 403" in report, report
    assert f"request:  POST {local_stack.url}/v1.1/webhooks" in report, report
    assert "response: 403" in report and "necessary permissions" in report, report
    assert "mh_not-a-key" not in report, report  # the key is masked
    assert report.splitlines()[-1].startswith("FAILED at step: subscribe a webhook"), report
