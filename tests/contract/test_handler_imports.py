"""Handlers are transport only: they reach adapters through `meterhub.wiring`, never boto3 or an adapters module.

Why: the wiring module is the one place that knows which adapter implements a port, so a handler that imported
an adapter (or built a boto3 client) would be a second place, and the next change of adapter would miss it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

HANDLERS = sorted((ROOT / "functions").glob("*/app.py"))
_FORBIDDEN = re.compile(r"^(boto3|botocore)(\.|$)|^meterhub\.\w+\.adapters(\.|$)")


def forbidden_imports(source: str) -> list[str]:
    """The modules `source` imports that a handler must not (boto3, botocore, any meterhub.<feature>.adapters)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if _FORBIDDEN.search(alias.name)]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if _FORBIDDEN.search(node.module):
                found.append(node.module)
            else:  # `from meterhub.webhooks import adapters` names the package through the alias
                found += [
                    f"{node.module}.{alias.name}"
                    for alias in node.names
                    if _FORBIDDEN.search(f"{node.module}.{alias.name}")
                ]
    return found


def test_there_are_handlers_to_check() -> None:
    assert len(HANDLERS) >= 21  # the glob found the handlers (a wrong path would find none)


@pytest.mark.parametrize("handler", HANDLERS, ids=lambda path: path.parent.name)
def test_a_handler_imports_no_adapter_and_no_aws_sdk(handler: Path) -> None:
    assert forbidden_imports(handler.read_text(encoding="utf-8")) == []


def test_the_check_finds_every_form_of_a_forbidden_import() -> None:
    source = """
import boto3
import botocore.exceptions
from botocore.config import Config
from meterhub.meters.adapters.dynamodb import dynamo_meter_repository
from meterhub.platform.adapters import clients
from meterhub.webhooks import adapters
from meterhub import wiring
from meterhub.meters.use_cases import read_meters
from meterhub.platform.settings import MetersTableSettings
"""
    assert forbidden_imports(source) == [
        "boto3",
        "botocore.exceptions",
        "botocore.config",
        "meterhub.meters.adapters.dynamodb",
        "meterhub.platform.adapters",
        "meterhub.webhooks.adapters",
    ]
