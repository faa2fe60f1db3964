"""The read-only program catalog as partners see it."""

from __future__ import annotations

from pydantic import BaseModel

from meterhub import catalog


class ProgramsResponse(BaseModel):
    programs: list[catalog.Program]


def list_programs() -> ProgramsResponse:
    return ProgramsResponse(programs=list(catalog.PROGRAMS))
