"""A large file cut into pieces of about `piece_bytes` for validation in separate invocations: byte ranges, each
piece owning the lines that start inside its range.

Why byte ranges and line ownership: a piece worker reads only its range (an S3 ranged GET), never the file
before it, so no invocation's work grows with the file. A line belongs to the piece its first byte falls in:
a worker starting at `start` > the header reads from `start - 1` and skips through the first line break (the
tail of a line the previous piece owns), and reads past `end` to the end of the line that crosses it. Every
line is so read by exactly one piece, with no coordination.

Line numbers: a piece does not know how many lines came before it (that would mean reading them). It reports
its own lines' count (`LineCounter`, counting breaks as the csv reader does: LF, CRLF, and a lone CR) and its
errors on piece-relative lines; the join adds the counts of the pieces before it (`piece_checks.assemble`).

Not split: a quoted field holding a line break, cut at that break, is read as two short lines (both then
`LIN_0001`): such a field only fits an ignored extra column, and large machine-written files have none. A file
without a line break after its header is one piece.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

ReadFrom = Callable[[int], Iterable[bytes]]
"""The object's bytes from an offset to its end, in chunks (an S3 GET with `Range: bytes=<offset>-`); the
iterator is abandoned once a piece has what it owns."""

MAX_HEADER_BYTES = 65_536


@dataclass(frozen=True)
class Piece:
    """Piece `index` owns the lines whose first byte is in [start, end); piece 0 also holds the header."""

    index: int
    start: int
    end: int


def header_of(read_from: ReadFrom) -> bytes:
    """The header line with its line break (or the first `MAX_HEADER_BYTES`, if no break comes before)."""
    taken = bytearray()
    for chunk in read_from(0):
        cut = chunk.find(b"\n")
        if cut >= 0:
            taken += chunk[: cut + 1]
            break
        taken += chunk
        if len(taken) >= MAX_HEADER_BYTES:
            break
    return bytes(taken[:MAX_HEADER_BYTES])


def plan(size: int, header: bytes, piece_bytes: int) -> list[Piece]:
    """Pieces of about `piece_bytes` covering the data after the header; one piece when the header has no line
    break (the file cannot be cut) or the data is no larger than one piece."""
    if piece_bytes < 1:
        raise ValueError("piece_bytes must be at least 1")
    first = len(header)
    if not header.endswith(b"\n") or size - first <= piece_bytes:
        return [Piece(0, first, max(first, size))]
    starts = range(first, size, piece_bytes)
    return [Piece(index, start, min(start + piece_bytes, size)) for index, start in enumerate(starts)]


def owned(read_from: ReadFrom, piece: Piece, header: bytes) -> Iterator[bytes]:
    """The bytes of the lines `piece` owns (piece 0: from the file's first byte, header included)."""
    first = piece.start == len(header)
    position = 0 if first else piece.start - 1
    skipping = not first
    for chunk in read_from(position):
        view = memoryview(chunk)
        if skipping:
            cut = chunk.find(b"\n")
            if cut < 0:
                position += len(chunk)
                if position >= piece.end:
                    return  # one line runs through the whole range: the piece it started in owns it
                continue
            skipping = False
            position += cut + 1
            view = view[cut + 1 :]
            if position >= piece.end:
                return  # the first line starting after start - 1 starts at or after end: the next piece's
        if not view:
            continue
        # Hand on through the first line break at or after end - 1: that ends the last line starting before end.
        last = max(piece.end - 1 - position, 0)
        cut = bytes(view[last:]).find(b"\n") if last < len(view) else -1
        if cut >= 0:
            yield bytes(view[: last + cut + 1])
            return
        yield bytes(view)
        position += len(view)


class LineCounter:
    """Counts the physical lines of the bytes passed through it, as csv's line numbers count them: a line per
    LF, CRLF or lone CR, plus a last line without a break."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = chunks
        self.lines = 0
        self._pending_cr = False
        self._open = False

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            if not chunk:
                continue
            crs = chunk.count(b"\r") - chunk.count(b"\r\n")
            if self._pending_cr and chunk.startswith(b"\n"):
                crs -= 1  # the CR that ended the previous chunk was half of a CRLF: its LF counts it
            if chunk.endswith(b"\r"):
                crs -= 1  # decided by the next chunk's first byte
                self.lines += 1
            self.lines += chunk.count(b"\n") + crs
            self._pending_cr = chunk.endswith(b"\r")
            self._open = not chunk.endswith((b"\n", b"\r"))
            yield chunk
        if self._open:
            self.lines += 1
            self._open = False
