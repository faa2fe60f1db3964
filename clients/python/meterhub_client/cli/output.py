"""What the CLI prints: aligned tables and JSON on stdout; progress on stderr, drawn in place on a terminal and
as a few plain lines otherwise (a log or a CI job gets every 10 %, not a carriage-return storm).

Plain standard library: the client's only dependency stays httpx.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TextIO

Column = tuple[str, Callable[[Mapping[str, Any]], Any]]
MAX_CELL = 80


def field(*path: str) -> Callable[[Mapping[str, Any]], Any]:
    """A column reading a (nested) key, '' when absent."""

    def read(row: Mapping[str, Any]) -> Any:
        value: Any = row
        for name in path:
            value = value.get(name) if isinstance(value, Mapping) else None
        return value

    return read


def print_json(value: Any, out: TextIO | None = None) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, default=str), file=out or sys.stdout)


def print_table(rows: Iterable[Mapping[str, Any]], columns: Sequence[Column], out: TextIO | None = None) -> int:
    """Rows under a header, columns as wide as their widest cell (cut at MAX_CELL); returns the row count."""
    out = out or sys.stdout
    cells = [[_cell(read(row)) for _, read in columns] for row in rows]
    headers = [name for name, _ in columns]
    widths = [max([len(header)] + [len(line[i]) for line in cells]) for i, header in enumerate(headers)]
    print(
        "  ".join(header.upper().ljust(width) for header, width in zip(headers, widths, strict=True)).rstrip(), file=out
    )
    for line in cells:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip(), file=out)
    return len(cells)


def print_fields(record: Mapping[str, Any], names: Sequence[str], out: TextIO | None = None) -> None:
    """`name: value` lines for the fields of one record that are present."""
    out = out or sys.stdout
    width = max(len(name) for name in names)
    for name in names:
        if record.get(name) is not None:
            print(f"{name.ljust(width)}  {_cell(record[name], limit=None)}", file=out)


def _cell(value: Any, limit: int | None = MAX_CELL) -> str:
    if value is None:
        text = ""
    elif isinstance(value, dict | list):
        text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    else:
        text = str(value)
    text = text.replace("\n", " ")
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


class ProgressBar:
    """Bytes sent of a file: `[#####-----]  48%  24.0/50.0 MB`."""

    WIDTH = 30

    def __init__(self, label: str, out: TextIO | None = None, enabled: bool = True) -> None:
        self.label = label
        self.out = out or sys.stderr
        self.enabled = enabled
        self.tty = self.out.isatty()
        self._last_step = -1
        self._last_draw = 0.0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        fraction = min(done / total, 1.0)
        text = (
            f"{self.label} [{'#' * int(fraction * self.WIDTH):-<{self.WIDTH}}] {fraction:4.0%}"
            f"  {done / 1e6:.1f}/{total / 1e6:.1f} MB"
        )
        if self.tty:
            now = time.monotonic()
            if done >= total or now - self._last_draw >= 0.1:
                self._last_draw = now
                print(f"\r{text}", end="\n" if done >= total else "", file=self.out, flush=True)
        elif (step := int(fraction * 10)) > self._last_step:
            self._last_step = step
            print(text, file=self.out, flush=True)


class JobWatcher:
    """A wait's progress: the job's status (and counters) each time they change; a spinner on a terminal."""

    SPIN = "|/-\\"

    def __init__(
        self, label: str, describe: Callable[[Mapping[str, Any]], str], out: TextIO | None = None, enabled: bool = True
    ) -> None:
        self.label = label
        self.describe = describe
        self.out = out or sys.stderr
        self.enabled = enabled
        self.tty = self.out.isatty()
        self._last = ""
        self._turn = 0

    def __call__(self, job: Mapping[str, Any]) -> None:
        if not self.enabled:
            return
        text = f"{self.label}: {self.describe(job)}"
        if self.tty:
            self._turn += 1
            print(f"\r\033[K{self.SPIN[self._turn % 4]} {text}", end="", file=self.out, flush=True)
        elif text != self._last:
            print(text, file=self.out, flush=True)
        self._last = text

    def done(self) -> None:
        if self.enabled and self.tty and self._last:
            print(f"\r\033[K  {self._last}", file=self.out, flush=True)
