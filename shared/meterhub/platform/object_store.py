"""The object-store port: what use cases ask of S3, with keys always under a partner's prefix."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Protocol

CHUNK_BYTES = 256 * 1024


def partner_key(partner_id: str, *parts: str) -> str:
    return "/".join(("partners", partner_id, *parts))


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    version: str | None
    etag: str
    size: int
    metadata: Mapping[str, str] = field(default_factory=dict)


class ObjectStore(Protocol):
    def put(self, key: str, body: bytes, content_type: str, metadata: Mapping[str, str] | None = None) -> None: ...

    def put_file(self, key: str, body: IO[bytes], content_type: str, metadata: Mapping[str, str] | None = None) -> None:
        """`put` of what `body` holds from its current position to its end, read once front to back and sent a
        part at a time (a multipart upload when large), so an object of any size is stored without being held
        in memory: a failed file's errors CSV can be larger than a function's memory. `body` need not be
        seekable (a fan-out's errors CSV is generated as it is read). All or nothing: when reading `body` or
        sending a part fails, the error is raised and no object is stored (an unfinished multipart upload is
        aborted)."""

    def lines(self, key: str) -> Iterator[bytes]:
        """The object's lines, streamed (never the whole object in memory)."""

    def chunks(self, key: str, version: str | None = None) -> Iterator[bytes]:
        """The object's bytes in chunks, streamed; NotFound when it does not exist (any more)."""

    def chunks_from(self, key: str, version: str | None, offset: int) -> Iterator[bytes]:
        """The object's bytes from `offset` to its end (a ranged GET), streamed; NotFound as `chunks`."""

    def info(self, key: str, version: str | None = None) -> ObjectInfo: ...

    def move(self, source: str, target: str, version: str | None = None) -> None:
        """Copy to `target`, then delete `source` (idempotent: a missing source after a copy is fine)."""

    def presigned_get(self, key: str, seconds: int, file_name: str) -> str: ...

    def presigned_put(self, key: str, seconds: int, content_type: str, metadata: Mapping[str, str]) -> str: ...
