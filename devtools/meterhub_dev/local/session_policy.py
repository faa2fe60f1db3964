"""The part of IAM policy evaluation the local SFTP server needs to enforce a login's session policy.

On AWS, Transfer Family hands the identity provider's session policy to STS and S3 enforces it; locally nothing
would, so `SessionPolicy` evaluates it before every S3 call the SFTP server makes: an explicit Deny wins, else
some Allow must match the action, the resource and its conditions. Wildcards (`*`, `?`) in actions and
resources, and the `StringEquals` / `StringLike` condition operators on keys the caller supplies (`s3:prefix`)
are understood; any other operator raises, so a policy this cannot read fails loudly instead of being allowed.
The role's own policy (template.yaml's SftpUserRole), which AWS intersects with this one, is not evaluated: the
session policy is the narrower of the two by design (meterhub.intervals.rules.sftp_home).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

_OPERATORS = {"StringEquals", "StringLike"}


class UnsupportedPolicy(ValueError):
    """The policy uses something this evaluator does not understand."""


@cache
def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.DOTALL)


def _as_list(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else [str(value)]


class SessionPolicy:
    def __init__(self, document: Mapping[str, Any]) -> None:
        statements = document.get("Statement")
        self._statements: list[Mapping[str, Any]] = (
            [statements] if isinstance(statements, Mapping) else list(statements or [])
        )
        for statement in self._statements:
            for operator in statement.get("Condition") or {}:
                if operator not in _OPERATORS:
                    raise UnsupportedPolicy(f"condition operator {operator} is not evaluated locally")
            if "NotAction" in statement or "NotResource" in statement:
                raise UnsupportedPolicy("NotAction / NotResource are not evaluated locally")

    def allows(self, action: str, resource: str, context: Mapping[str, str] | None = None) -> bool:
        allowed = False
        for statement in self._statements:
            if not self._applies(statement, action, resource, context or {}):
                continue
            if statement.get("Effect") == "Deny":
                return False
            allowed = allowed or statement.get("Effect") == "Allow"
        return allowed

    @staticmethod
    def _applies(statement: Mapping[str, Any], action: str, resource: str, context: Mapping[str, str]) -> bool:
        actions = _as_list(statement.get("Action", []))
        if not any(_wildcard(pattern.lower()).fullmatch(action.lower()) for pattern in actions):
            return False
        if not any(_wildcard(pattern).fullmatch(resource) for pattern in _as_list(statement.get("Resource", []))):
            return False
        for operator, conditions in (statement.get("Condition") or {}).items():
            for key, expected in conditions.items():
                value = context.get(key)
                if value is None:
                    return False
                if operator == "StringEquals" and value not in _as_list(expected):
                    return False
                if operator == "StringLike" and not any(_wildcard(p).fullmatch(value) for p in _as_list(expected)):
                    return False
        return True
