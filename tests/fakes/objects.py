"""In-memory object stores: the data bucket for unit tests.

Why they exist: ingestion, interval uploads and the batch-job payloads read and write S3 through the
ObjectStore port, and their unit tests run without moto. tests/integration/parity/test_object_store_port.py
holds both fakes to S3ObjectStore's contract: bodies back whole, in CHUNK_BYTES chunks and by line; a
streamed `put_file` stores what a `put` of the same bytes stores (a non-seekable body too), and nothing when its
body fails midway; an empty object has no chunks and no lines;
`info` gives the size, the content-MD5 ETag and the user metadata with lower-cased names (as S3 stores them); a
missing object is NotFound for `info` and `chunks` and S3's own NoSuchKey ClientError for `lines` (the adapter
does not translate it; the batch worker's queue retries); a move files the object and is idempotent; presigned
URLs name the object.

`InMemoryObjectStore` is an unversioned bucket: the tests of what happens without versions use it (`info`
gives version None; an object is gone once moved). `VersionedObjectStore` is the bucket as template.yaml
has it: every put is a new version, and the delete that ends a move only hides the current version.

What they deliberately do not model: content types, encryption, multipart ETags, presigned URLs that work
(theirs are `memory://` strings), S3 event notifications, lifecycle rules, and S3's answer to a malformed
version id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import IO

from botocore.exceptions import ClientError
from meterhub.platform.errors import NotFound
from meterhub.platform.object_store import CHUNK_BYTES, ObjectInfo


def _etag(body: bytes) -> str:
    """S3's ETag of an object put in one request: the hex MD5 of its bytes."""
    return hashlib.md5(body, usedforsecurity=False).hexdigest()


def _user_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """User metadata as S3 gives it back: x-amz-meta-* header names, lower-cased."""
    return {name.lower(): value for name, value in (metadata or {}).items()}


class InMemoryObjectStore:
    """Current objects and their metadata by key (tests read and change `objects` directly); `streamed`: the
    keys put by `put_file`, in order (a test's proof that a body went up as a stream)."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.metadata: dict[str, dict[str, str]] = {}
        self.streamed: list[str] = []

    def put(self, key: str, body: bytes, content_type: str, metadata: Mapping[str, str] | None = None) -> None:
        self.objects[key] = body
        self.metadata[key] = _user_metadata(metadata)

    def put_file(self, key: str, body: IO[bytes], content_type: str, metadata: Mapping[str, str] | None = None) -> None:
        """Read in CHUNK_BYTES parts, as the adapter's multipart upload reads it, then kept as `put` keeps it."""
        parts: list[bytes] = []
        while part := body.read(CHUNK_BYTES):
            parts.append(part)
        self.put(key, b"".join(parts), content_type, metadata)
        self.streamed.append(key)

    def lines(self, key: str) -> Iterator[bytes]:
        if key not in self.objects:
            raise ClientError(
                {"Error": {"Code": "NoSuchKey", "Message": "The specified key does not exist."}}, "GetObject"
            )
        yield from self.objects[key].splitlines()

    def chunks(self, key: str, version: str | None = None) -> Iterator[bytes]:
        if key not in self.objects:
            raise NotFound("File not found", {"key": key})
        body = self.objects[key]
        for start in range(0, len(body), CHUNK_BYTES):
            yield body[start : start + CHUNK_BYTES]

    def chunks_from(self, key: str, version: str | None, offset: int) -> Iterator[bytes]:
        """`chunks` from `offset` (what a ranged GET answers), by the subclass's own `chunks`."""
        skipped = 0
        for chunk in self.chunks(key, version):
            if skipped + len(chunk) <= offset:
                skipped += len(chunk)
                continue
            yield chunk[max(0, offset - skipped) :]
            skipped = offset

    def info(self, key: str, version: str | None = None) -> ObjectInfo:
        if key not in self.objects:
            raise NotFound("File not found", {"key": key})
        body = self.objects[key]
        return ObjectInfo(key, version, etag=_etag(body), size=len(body), metadata=dict(self.metadata.get(key, {})))

    def move(self, source: str, target: str, version: str | None = None) -> None:
        if source in self.objects:
            self.objects[target] = self.objects.pop(source)
            self.metadata[target] = self.metadata.pop(source, {})
        elif target not in self.objects:
            raise NotFound("File not found", {"key": source})

    def presigned_get(self, key: str, seconds: int, file_name: str) -> str:
        return f"memory://{key}?expires={seconds}"

    def presigned_put(self, key: str, seconds: int, content_type: str, metadata: Mapping[str, str]) -> str:
        return f"memory://{key}?put&expires={seconds}"


class VersionedObjectStore(InMemoryObjectStore):
    """The data bucket with versioning on: every put is a new version (`latest` names each key's), and the
    delete at the end of a move only hides the current version (an old version can still be read by its id)."""

    def __init__(self) -> None:
        super().__init__()
        self.versions: dict[tuple[str, str], tuple[bytes, dict[str, str]]] = {}
        self.latest: dict[str, str] = {}
        self._count = 0

    def put(self, key: str, body: bytes, content_type: str, metadata: Mapping[str, str] | None = None) -> None:
        super().put(key, body, content_type, metadata)
        self._count += 1
        version = f"v{self._count}"
        self.versions[(key, version)] = (body, _user_metadata(metadata))
        self.latest[key] = version

    def info(self, key: str, version: str | None = None) -> ObjectInfo:
        if version is None:
            return replace(super().info(key), version=self.latest.get(key))
        if (key, version) not in self.versions:
            raise NotFound("File not found", {"key": key})
        body, metadata = self.versions[(key, version)]
        return ObjectInfo(key, version, etag=_etag(body), size=len(body), metadata=dict(metadata))

    def chunks(self, key: str, version: str | None = None) -> Iterator[bytes]:
        if version is None:
            yield from super().chunks(key)
            return
        if (key, version) not in self.versions:
            raise NotFound("File not found", {"key": key})
        body = self.versions[(key, version)][0]
        for start in range(0, len(body), CHUNK_BYTES):
            yield body[start : start + CHUNK_BYTES]

    def move(self, source: str, target: str, version: str | None = None) -> None:
        if version is None and source in self.objects:
            version = self.latest.get(source)
        if version is not None and (source, version) in self.versions:
            body, metadata = self.versions[(source, version)]
            self.put(target, body, "application/octet-stream", metadata)
            self.objects.pop(source, None)
            self.metadata.pop(source, None)
            return
        super().move(source, target, version)
