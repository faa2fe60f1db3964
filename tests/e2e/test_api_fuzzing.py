"""schemathesis against the committed openapi.json, through the local runner: no generated request gets a 5xx.

A bounded run (a few examples per operation, fixed seed) so that a new route that can answer 500 fails CI within
seconds; the README's testing section has the full command (`--max-examples 100`, every phase).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Protocol

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
EXAMPLES_PER_OPERATION = 5
SEED = 20261205


class LocalStack(Protocol):
    url: str

    def new_partner(self, name: str) -> tuple[str, str]: ...


def test_no_operation_answers_a_server_error_to_generated_requests(local_stack: LocalStack, tmp_path: Path) -> None:
    # A partner of its own, so the generated meters, jobs and webhooks never show up in another test's listings.
    _, api_key = local_stack.new_partner("Fuzzing Partner")
    command = [
        str(SCHEMATHESIS),
        "run",
        str(ROOT / "openapi.json"),
        "--url",
        local_stack.url,
        "--header",
        f"Authorization: Bearer {api_key}",
        "--checks",
        "not_a_server_error",
        "--phases",
        "examples,fuzzing",
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--seed",
        str(SEED),
        "--workers",
        "2",
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        "--no-color",
    ]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
    summary = result.stdout[-6000:]
    assert result.returncode == 0, f"schemathesis found server errors:\n{summary}\n{result.stderr[-2000:]}"
    operations = sum(len(methods) for methods in json.loads((ROOT / "openapi.json").read_text())["paths"].values())
    assert f"Tested: {operations}" in result.stdout, summary
