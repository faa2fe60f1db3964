"""Objects in the data bucket. Keys always start with `partners/<partner_id>/`, so no key built here can reach
another partner's data."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Protocol

from meterhub.dal import clients


def partner_key(partner_id: str, *parts: str) -> str:
    return "/".join(("partners", partner_id, *parts))


class ObjectStore(Protocol):
    def put(self, key: str, body: bytes, content_type: str) -> None: ...

    def lines(self, key: str) -> Iterator[bytes]:
        """The object's lines, streamed (never the whole object in memory)."""


class S3ObjectStore:
    def __init__(self, bucket: str) -> None:
        self._bucket = bucket

    def put(self, key: str, body: bytes, content_type: str) -> None:
        clients.s3().put_object(
            Bucket=self._bucket, Key=key, Body=body, ContentType=content_type, ServerSideEncryption="AES256"
        )

    def lines(self, key: str) -> Iterator[bytes]:
        body = clients.s3().get_object(Bucket=self._bucket, Key=key)["Body"]
        try:
            yield from body.iter_lines(chunk_size=64 * 1024)
        finally:
            body.close()


class InMemoryObjectStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.objects[key] = body

    def lines(self, key: str) -> Iterator[bytes]:
        yield from self.objects[key].splitlines()


@lru_cache(maxsize=4)
def s3_object_store(bucket: str) -> S3ObjectStore:
    return S3ObjectStore(bucket)
