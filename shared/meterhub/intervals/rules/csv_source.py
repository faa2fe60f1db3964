"""The file as CSV rows: any source of bytes or text turned into csv.reader rows, read in chunks, stopped at
the first line that is not UTF-8 text and at the first line that is too long.

Why it is shaped this way: the source is pulled in 64 KiB chunks and never held whole, lines are capped
before csv sees them (`FIL_0003`), and a bad byte or a NUL stops the stream at its line, with everything
before that line handed on, so the errors found so far stay exact (`FIL_0002`). Reading failures of the
source itself are the infrastructure's (`SourceReadError`), never the file's.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, cast

from meterhub.intervals.rules.model import SourceReadError

CHUNK_BYTES = 1 << 16

Source = bytes | str | IO[bytes] | IO[str] | Iterable[bytes] | Iterable[str]
"""A whole (small) file, a binary or text stream (anything with `read`), or an iterable of bytes or text chunks.

Chunks need not be lines: text is encoded and everything goes through the same byte-level checks."""

_MAGIC = (
    (b"\x1f\x8b", "is gzip-compressed; upload the uncompressed CSV"),
    (b"PK\x03\x04", "is a ZIP archive (or an Excel workbook); export it as a UTF-8 CSV"),
    (b"\x00\x00\xfe\xff", "is UTF-32 text; save it as UTF-8"),
    (b"\xff\xfe", "is UTF-16 text; save it as UTF-8"),
    (b"\xfe\xff", "is UTF-16 text; save it as UTF-8"),
)
_BOM = codecs.BOM_UTF8


def line_of(row: list[str], line_num: int) -> int:
    """The physical line a row starts on: csv's count after the row, less the line breaks inside its fields."""
    breaks = sum(value.count("\n") + value.count("\r") - value.count("\r\n") for value in row if len(value) > 0)
    return line_num - breaks


class CheckedBytes(io.RawIOBase):
    """The caller's bytes as a raw stream, stopped before the first line that is not UTF-8 text.

    It drops a UTF-8 BOM, refuses compressed/UTF-16 files from their first bytes, and validates each chunk
    as UTF-8 (pure-ASCII chunks cost one `isascii()`). Only complete lines are handed on, so when a bad
    byte or a NUL is found, everything before its line has been handed on and nothing of it: `problem`
    then holds the exact (physical) line and the reason, and the stream ends.
    """

    def __init__(self, pull: Callable[[], bytes], carry_limit: int) -> None:
        super().__init__()
        self._pull = pull
        self._carry_limit = carry_limit
        self._carry = b""
        self._out = memoryview(b"")
        self._later: memoryview | None = None
        self._started = False
        self._eof = False
        self._lines_before = 0
        self.problem: tuple[int, str] | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._out:
            if self._later is not None:
                self._out, self._later = self._later, None
            elif self._eof:
                return 0
            else:
                self._fill()
        size = min(len(buffer), len(self._out))
        buffer[:size] = self._out[:size]
        self._out = self._out[size:]
        return size

    def _fill(self) -> None:
        chunk = self._pull()
        if not self._started:
            while chunk and len(chunk) < 4:
                more = self._pull()
                if not more:
                    break
                chunk += more
            self._started = True
            for magic, reason in _MAGIC:
                if chunk.startswith(magic):
                    self._stop(1, f"The file {reason}.")
                    return
            if chunk.startswith(_BOM):
                chunk = chunk[len(_BOM) :]
        if not chunk:
            self._eof = True
            data, self._carry = self._carry, b""
            self._check(data, final=True)
            return
        carry = self._carry
        if chunk.isascii() and b"\x00" not in chunk and carry.isascii():
            cut = chunk.rfind(b"\n") + 1
            if cut:  # the common case: hand on the carried line start and the chunk's whole lines, no copy
                self._lines_before += chunk.count(b"\n", 0, cut)
                self._out, self._later = memoryview(carry), memoryview(chunk)[:cut]
                self._carry = chunk[cut:]
                return
        data = carry + chunk if carry else chunk
        end = self._check(data, final=False)
        if end is None:
            return
        cut = data.rfind(b"\n", 0, end) + 1
        if end - cut > self._carry_limit:
            cut = end  # a line this long fails FIL_0003 downstream; don't hold it here
        self._lines_before += data.count(b"\n", 0, cut)
        self._carry = data[cut:]
        self._out = memoryview(data[:cut])

    def _check(self, data: bytes, *, final: bool) -> int | None:
        """Validate `data`; return how many bytes are whole characters, or None after stopping the stream."""
        bad = data.find(b"\x00")
        reason = "contains a NUL byte (a binary file?)" if bad >= 0 else ""
        end = len(data)
        if not data.isascii():
            limit = data[:bad] if bad >= 0 else data
            try:
                _, end = codecs.utf_8_decode(limit, "strict", final)
                end = end if bad < 0 else len(data)
            except UnicodeDecodeError as exc:
                bad, reason = exc.start, f"is not valid UTF-8 (byte 0x{limit[exc.start]:02x}); save it as UTF-8"
        if bad >= 0:
            line = self._lines_before + data.count(b"\n", 0, bad) + 1
            self._out = memoryview(data[: data.rfind(b"\n", 0, bad) + 1])
            self._stop(line, f"Line {line} {reason}.")
            return None
        if final:
            self._out = memoryview(data)
        return end

    def _stop(self, line: int, message: str) -> None:
        self.problem = (line, message)
        self._eof = True


def puller(source: Source) -> Callable[[], bytes]:
    """One function returning the next bytes chunk (b"" at the end), whatever the source type."""
    if isinstance(source, bytes | bytearray | str):
        whole: list[bytes | str] = [bytes(source) if isinstance(source, bytearray) else source]
        source = cast(Iterable[bytes], whole)
    read = getattr(source, "read", None)
    if read is not None:

        def pull_stream() -> bytes:
            try:
                data = read(CHUNK_BYTES)
            except Exception as exc:
                raise SourceReadError(f"could not read the file: {exc}") from exc
            if isinstance(data, str):
                return data.encode("utf-8", "surrogatepass")
            return bytes(data or b"")

        return pull_stream
    chunks = iter(cast(Iterable[bytes | str], source))

    def pull_chunks() -> bytes:
        while True:
            try:
                data = next(chunks, None)
            except Exception as exc:
                raise SourceReadError(f"could not read the file: {exc}") from exc
            if data is None:
                return b""
            if isinstance(data, str):
                data = data.encode("utf-8", "surrogatepass")
            if data:
                return bytes(data)

    return pull_chunks


class Lines:
    """Lines of the text stream for csv.reader, each at most `limit` characters (else `too_long`, end)."""

    def __init__(self, readline: Callable[[int], str], limit: int) -> None:
        self._readline = readline
        self._limit = limit
        self.too_long = False

    def __iter__(self) -> Iterator[str]:
        readline, limit = self._readline, self._limit
        while True:
            line = readline(limit + 1)
            if not line:
                return
            if len(line) > limit:
                self.too_long = True
                return
            yield line


def csv_rows(source: Source, max_line: int) -> tuple[Any, CheckedBytes, Lines]:
    """csv.reader rows of `source`, with the byte stream and the lines under it: once the rows end, those
    two say whether they ended early (`problem`, `too_long`) and why."""
    raw = CheckedBytes(puller(source), carry_limit=4 * max_line + 4)
    text = io.TextIOWrapper(io.BufferedReader(raw, CHUNK_BYTES), encoding="utf-8", newline="")
    lines = Lines(text.readline, max_line)
    return csv.reader(lines), raw, lines
