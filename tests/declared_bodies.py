"""An answer's body checked against the schema openapi.json declares for its operation and status.

Why JSON Schema and not the pydantic models: the document is what partners generate clients from, so a body must
be valid against the document itself (components, unions and all), whichever code built it.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs

ROOT = Path(__file__).resolve().parents[1]
ERROR_SCHEMAS = frozenset(
    {"ErrorResponse", "CreateMeterErrorResponse", "BatchValidationError", "WebhookErrorResponse", "InternalError"}
)
"""Every error shape the API answers in (README "Errors"), by its component name."""


@cache
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "openapi.json").read_text(encoding="utf-8"))
    return loaded


def declared(method: str, resource: str, status: int) -> dict[str, Any]:
    """The JSON schema `method resource` declares for `status` (KeyError when it declares none)."""
    response = document()["paths"][resource][method.lower()]["responses"][str(status)]
    schema: dict[str, Any] = response["content"]["application/json"]["schema"]
    return schema


def component_names(schema: dict[str, Any]) -> set[str]:
    """The components a response schema names: one `$ref`, or each member of an `anyOf`."""
    members = schema.get("anyOf", [schema])
    return {member["$ref"].rsplit("/", 1)[-1] for member in members if "$ref" in member}


def problems(schema: dict[str, Any], body: Any) -> list[str]:
    """Why `body` is not valid against `schema` (resolving the document's components); empty when it is."""
    validator = jsonschema_rs.validator_for({**schema, "components": document()["components"]})
    return [
        f"{'/'.join(map(str, error.instance_path)) or '<body>'}: {error.message}"
        for error in validator.iter_errors(body)
    ]


def assert_declared(method: str, resource: str, status: int, body: Any, shape: str | None = None) -> None:
    """`body` is valid against what the operation declares for `status`, and, given `shape`, that declaration
    names that component."""
    schema = declared(method, resource, status)
    if shape is not None:
        assert shape in component_names(schema), (method, resource, status, schema)
    assert not problems(schema, body), (method, resource, status, body, problems(schema, body))
    if shape is not None:
        assert not problems({"$ref": f"#/components/schemas/{shape}"}, body), (shape, body)
