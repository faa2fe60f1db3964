"""The client against openapi.json: every operation is wrapped by a `Client` method or listed as not wrapped, and
every wrapped route is the document's. A route added to the API fails here until the client knows of it."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

from meterhub_client.client import Client
from meterhub_client.operations import NOT_WRAPPED, ROUTES

OPENAPI = Path(__file__).resolve().parents[2] / "openapi.json"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def _operations() -> dict[str, tuple[str, str]]:
    document = json.loads(OPENAPI.read_text(encoding="utf-8"))
    return {
        operation["operationId"]: (method.upper(), path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def test_every_operation_is_wrapped_or_listed_as_not_wrapped() -> None:
    missing = sorted(set(_operations()) - set(ROUTES) - set(NOT_WRAPPED))
    assert not missing, f"operations the client neither wraps nor lists in NOT_WRAPPED: {missing}"


def test_wrapped_routes_are_the_documents_and_none_is_also_listed_as_not_wrapped() -> None:
    operations = _operations()
    wrong = {op: route for op, route in ROUTES.items() if operations.get(op) != route}
    assert not wrong, f"ROUTES entries that openapi.json does not declare so: {wrong}"
    assert not set(ROUTES) & set(NOT_WRAPPED)
    assert set(NOT_WRAPPED) <= set(operations), "NOT_WRAPPED names operations openapi.json no longer has"


def test_a_client_method_calls_each_wrapped_operation() -> None:
    sources = [inspect.getsource(member) for _, member in inspect.getmembers(Client, inspect.isfunction)]
    unused = [op for op in ROUTES if not any(f'"{op}"' in source for source in sources)]
    assert not unused, f"ROUTES entries no Client method calls: {unused}"
