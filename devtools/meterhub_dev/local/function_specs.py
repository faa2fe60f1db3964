"""A function as the template declares it: its code, handler, environment, limits and event sources.

Its own module so that `rest_apis` (routes point at functions) and `stack` (which collects everything) import
one way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class EventSource:
    """One entry of a function's `Events`; `properties` are raw (resolve them with `LocalTemplate.resolve`)."""

    name: str
    type: str
    properties: Mapping[str, Any]


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    physical_name: str
    code_dir: Path
    handler: str
    environment: Mapping[str, str]
    timeout_seconds: int
    memory_mb: int
    events: tuple[EventSource, ...]

    @property
    def module_name(self) -> str:
        return self.handler.rpartition(".")[0]

    @property
    def function_name(self) -> str:
        return self.handler.rpartition(".")[2]

    @property
    def module_path(self) -> Path:
        return self.code_dir.joinpath(*self.module_name.split(".")).with_suffix(".py")
