"""What validating one file found: the report (row counts, the first errors, a summary per column and code)
and the error log every error goes through, which also hands each error on as it is found (to stream the
reject file) so a file full of errors never has to be held in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from meterhub.intervals.rules.codes import ErrorCode
from meterhub.intervals.rules.model import ErrorSinkError, ErrorSummary, RowError

MAX_ERRORS = 1_000
"""Errors kept in `report.errors`; all are counted and summarised, and all go to `on_error`."""


@dataclass
class ValidationReport:
    """Counters, errors and columns of one file; complete once `finished` (the rows were exhausted)."""

    max_errors: int = MAX_ERRORS
    rows_total: int = 0
    rows_valid: int = 0
    rows_invalid: int = 0
    errors_total: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_counts: dict[tuple[str | None, ErrorCode], int] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    """The known columns found, in header order (lower-case)."""
    unknown_columns: list[str] = field(default_factory=list)
    """Header names that are not load-schema columns (ignored; for the feedback file)."""
    fatal: RowError | None = None
    """The file-level error that stopped validation, if any (it is also in `errors`)."""
    finished: bool = False

    @property
    def ok(self) -> bool:
        """The whole file was read and not one error found: it may be ingested."""
        return self.finished and self.errors_total == 0

    @property
    def errors_truncated(self) -> bool:
        return self.errors_total > len(self.errors)

    def error_summary(self) -> list[ErrorSummary]:
        """Errors per column and code, most frequent first: Leap's `error_summary`."""
        items = [ErrorSummary(column, code, count) for (column, code), count in self.error_counts.items()]
        return sorted(items, key=lambda item: (-item.count, item.code, item.column or ""))

    def count_rows(self, valid: int, invalid: int) -> None:
        """The row counters so far (a day batch is handed on with the counts of the rows it holds)."""
        self.rows_total, self.rows_valid, self.rows_invalid = valid + invalid, valid, invalid


class ErrorLog:
    """Records each error on the report (counted, summarised, the first `max_errors` kept) and hands it to
    `on_error` at once; a failing `on_error` is the infrastructure's failure (`ErrorSinkError`), not the file's."""

    def __init__(self, report: ValidationReport, on_error: Callable[[RowError], None] | None) -> None:
        self._report = report
        self._on_error = on_error

    def emit(self, line: int, column: str | None, code: ErrorCode, message: str, *, fatal: bool = False) -> None:
        report = self._report
        report.errors_total += 1
        key = (column, code)
        report.error_counts[key] = report.error_counts.get(key, 0) + 1
        error = RowError(line, column, code, message)
        if len(report.errors) < report.max_errors:
            report.errors.append(error)
        if fatal and report.fatal is None:
            report.fatal = error
        if self._on_error is not None:
            try:
                self._on_error(error)
            except Exception as exc:
                raise ErrorSinkError(f"on_error failed: {exc}") from exc
