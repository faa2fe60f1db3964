"""In-memory object store."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from meterhub.platform.errors import NotFound

if TYPE_CHECKING:
    pass
from meterhub.platform.object_store import CHUNK_BYTES, ObjectInfo


class InMemoryObjectStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.metadata: dict[str, dict[str, str]] = {}

    def put(self, key: str, body: bytes, content_type: str, metadata: Mapping[str, str] | None = None) -> None:
        self.objects[key] = body
        self.metadata[key] = dict(metadata or {})

    def lines(self, key: str) -> Iterator[bytes]:
        yield from self.objects[key].splitlines()

    def chunks(self, key: str, version: str | None = None) -> Iterator[bytes]:
        if key not in self.objects:
            raise NotFound("File not found", {"key": key})
        body = self.objects[key]
        for start in range(0, len(body), CHUNK_BYTES):
            yield body[start : start + CHUNK_BYTES]

    def info(self, key: str, version: str | None = None) -> ObjectInfo:
        if key not in self.objects:
            raise NotFound("File not found", {"key": key})
        return ObjectInfo(
            key,
            version,
            etag=str(hash(self.objects[key])),
            size=len(self.objects[key]),
            metadata=self.metadata.get(key, {}),
        )

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
