"""A failed interval file's errors CSV (line, column, code, message): its one row format, and the CSV as a
stream generated while it is read.

Partners open it in a spreadsheet, so it is written like every CSV for people
(meterhub.platform.spreadsheet_csv). It is a report, never read back by us or meant to be uploaded again.

Two producers share `ErrorsCsvWriter`, so their bytes are the same for the same errors: a file ingested in one
invocation writes its errors as the validator finds them (`pipeline.RejectFile`, a spooled file: its CSV is
bounded by the fan-out threshold), and a fanned-out file's settle, whose CSV can be as large as the file (about
0.9x its size when every row is bad) and so must not be held in memory or on the function's disk (512 MB of
/tmp), hands the upload `errors_csv_stream`: a readable file-like object whose bytes are generated only as the
upload reads them.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import IO, Any, TextIO

from meterhub.intervals.rules.model import RowError
from meterhub.platform.spreadsheet_csv import SpreadsheetCsvWriter

HEADER = ("line", "column", "code", "message")
STREAM_CHUNK_BYTES = 64 * 1024
"""The stream's rows are encoded and handed on once this many characters have gathered: what it holds besides
the upload's own read (a chunk, plus the row that crossed this)."""


class ErrorsCsvWriter:
    """The header row, then one row per error, to a text stream."""

    def __init__(self, text: TextIO) -> None:
        self._writer = SpreadsheetCsvWriter(text)
        self._writer.writerow(HEADER)

    def write(self, error: RowError) -> None:
        self._writer.writerow([error.line, error.column or "", str(error.code), error.message])


def errors_csv_chunks(errors: Iterable[RowError]) -> Iterator[bytes]:
    """The errors CSV of `errors` as UTF-8 chunks of about `STREAM_CHUNK_BYTES`, each made only when asked for
    (so `errors` is pulled one error at a time, as the chunks are)."""
    text = io.StringIO(newline="")  # the writer's CRLF line ends kept as they are, as in `RejectFile`
    writer = ErrorsCsvWriter(text)
    for error in errors:
        writer.write(error)
        if text.tell() >= STREAM_CHUNK_BYTES:
            yield text.getvalue().encode("utf-8")
            text.seek(0)
            text.truncate()
    if text.tell():
        yield text.getvalue().encode("utf-8")


def errors_csv_stream(errors: Iterable[RowError]) -> IO[bytes]:
    """The errors CSV of `errors` as a readable, non-seekable binary stream (what `ObjectStore.put_file` takes):
    each read generates just the rows it returns, so nothing but a chunk is ever held, whatever the CSV's size.
    Read twice from the start by building it again: the errors' source is then read again."""
    return io.BufferedReader(_ChunksReader(errors_csv_chunks(errors)), STREAM_CHUNK_BYTES)


class _ChunksReader(io.RawIOBase):
    """Bytes chunks as a raw stream: `readinto` copies from the current chunk and pulls the next when it is
    used up; the end of the chunks is the end of the stream."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._left = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._left:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._left = memoryview(chunk)
        size = min(len(buffer), len(self._left))
        buffer[:size] = self._left[:size]
        self._left = self._left[size:]
        return size

    def close(self) -> None:
        """Also ends the generator (its `finally` blocks run now, not when it is collected)."""
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
        super().close()
