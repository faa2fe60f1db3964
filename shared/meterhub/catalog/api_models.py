"""The programs listing the API returns."""

from __future__ import annotations

from pydantic import BaseModel

from meterhub.catalog import programs as catalog


class ProgramsResponse(BaseModel):
    programs: list[catalog.Program]
