"""The values that flow through ingestion: a valid row, an error, a meter verdict, and the failures that are
not the file's fault.

Rows and errors are NamedTuples, not pydantic models: the validator makes one per CSV row, a million per
file, and a tuple costs a fraction of a model. Nothing here imports AWS code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import NamedTuple

from meterhub.intervals.rules.codes import ErrorCode


class IntervalRow(NamedTuple):
    """One valid CSV row. `day` and `slot` are the UTC day of `start` and its 15-minute index in that day."""

    meter_id: str
    start: datetime
    day: date
    slot: int
    net_kwh: float | None
    consumed_kwh: float | None
    generated_kwh: float | None
    final: bool


class RowError(NamedTuple):
    """One problem: `line` is 1-based (header = 1); `column` is None for line- and file-level codes."""

    line: int
    column: str | None
    code: ErrorCode
    message: str

    def as_dict(self) -> dict[str, object]:
        """The API's `errors[]` item (Leap's `IntervalDataUploadIngestionError`)."""
        item: dict[str, object] = {"line": self.line, "code": str(self.code), "message": self.message}
        if self.column is not None:
            item["column"] = str(self.column)
        return item


@dataclass(frozen=True, slots=True)
class ErrorSummary:
    """How many errors of one code a column got (Leap's `error_summary[]` item)."""

    column: str | None
    code: ErrorCode
    count: int

    def as_dict(self) -> dict[str, object]:
        item: dict[str, object] = {"code": str(self.code), "count": self.count}
        if self.column is not None:
            item["column"] = str(self.column)
        return item


class MeterStatus(StrEnum):
    OK = "OK"
    UNKNOWN = "UNKNOWN"
    """No such meter for this partner (it may be another partner's: never say so)."""
    NO_PARTNER_DATA = "NO_PARTNER_DATA"
    """A meter of this partner whose programs take interval data from the ISO or the utility."""


@dataclass(frozen=True, slots=True)
class MeterVerdict:
    """What ingestion needs to know about a meter id.

    `supplier` names who supplies the data of a NO_PARTNER_DATA meter (for the message). `regions` are the
    `region` values that fit the meter (its state and transmission region, upper-case); empty means the
    lookup does not know them and the region column is checked only against the lists.
    """

    status: MeterStatus
    supplier: str | None = None
    regions: frozenset[str] = frozenset()


MeterLookup = Callable[[str], MeterVerdict]
"""Called with a canonical (lower-case) meter UUID; scoped to the uploading partner by the caller."""

UNKNOWN_METER = MeterVerdict(MeterStatus.UNKNOWN)


class IngestInfrastructureError(Exception):
    """Not the file's fault: the caller should retry the file, not fail it."""


class SourceReadError(IngestInfrastructureError):
    """Reading the uploaded object failed (e.g. a dropped S3 connection)."""


class MeterLookupError(IngestInfrastructureError):
    """The meter lookup raised (e.g. DynamoDB unavailable)."""


class ErrorSinkError(IngestInfrastructureError):
    """The `on_error` callback raised (e.g. the reject file could not be written)."""
