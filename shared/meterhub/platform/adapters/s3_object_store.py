"""Objects in the data bucket. Keys always start with `partners/<partner_id>/`, so no key built here can reach
another partner's data."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import IO, TYPE_CHECKING

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from meterhub.platform.adapters import clients
from meterhub.platform.errors import NotFound

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import CopySourceTypeDef
from meterhub.platform.object_store import CHUNK_BYTES, ObjectInfo

MULTIPART_BYTES = 8 * 1024 * 1024
"""`put_file` sends a body over this as a multipart upload of parts this size."""
PARTS_IN_MEMORY = 4
"""Parts of a `put_file` body s3transfer may hold read and not yet sent (and threads sending them). It reads
every part of a body into memory before sending it, seekable or not (a non-seekable stream, such as a fan-out's
errors CSV generated as it is read, can only be read so), so what one `put_file` holds is at most this many
parts plus the one its reading thread waits to hand on: 5 x 8 MiB = 40 MiB of a function's memory, whatever
the object's size. The classic transfer client, not the CRT one, so that this bound is the one that applies."""
_STREAMING = TransferConfig(
    multipart_threshold=MULTIPART_BYTES,
    multipart_chunksize=MULTIPART_BYTES,
    max_concurrency=PARTS_IN_MEMORY,
    preferred_transfer_client="classic",
)
_STREAMING.max_in_memory_upload_chunks = PARTS_IN_MEMORY


class S3ObjectStore:
    def __init__(self, bucket: str) -> None:
        self._bucket = bucket

    def put(self, key: str, body: bytes, content_type: str, metadata: Mapping[str, str] | None = None) -> None:
        clients.s3().put_object(
            Bucket=self._bucket,
            Key=key,
            Body=body,
            ContentType=content_type,
            ServerSideEncryption="AES256",
            Metadata=dict(metadata or {}),
        )

    def put_file(self, key: str, body: IO[bytes], content_type: str, metadata: Mapping[str, str] | None = None) -> None:
        extra = {"ContentType": content_type, "ServerSideEncryption": "AES256", "Metadata": dict(metadata or {})}
        clients.s3().upload_fileobj(body, self._bucket, key, ExtraArgs=extra, Config=_STREAMING)

    def lines(self, key: str) -> Iterator[bytes]:
        body = clients.s3().get_object(Bucket=self._bucket, Key=key)["Body"]
        try:
            yield from body.iter_lines(chunk_size=64 * 1024)
        finally:
            body.close()

    def chunks(self, key: str, version: str | None = None) -> Iterator[bytes]:
        return self.chunks_from(key, version, 0)

    def chunks_from(self, key: str, version: str | None, offset: int) -> Iterator[bytes]:
        try:
            extra: dict[str, str] = {"VersionId": version} if version else {}
            if offset:
                extra["Range"] = f"bytes={offset}-"
            body = clients.s3().get_object(Bucket=self._bucket, Key=key, **extra)["Body"]  # type: ignore[arg-type]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "NoSuchVersion", "404"}:
                raise NotFound("File not found", {"key": key}) from error
            raise
        try:
            yield from body.iter_chunks(chunk_size=CHUNK_BYTES)
        finally:
            body.close()

    def info(self, key: str, version: str | None = None) -> ObjectInfo:
        try:
            extra = {"VersionId": version} if version else {}
            head = clients.s3().head_object(Bucket=self._bucket, Key=key, **extra)  # type: ignore[arg-type]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "NoSuchVersion", "404"}:
                raise NotFound("File not found", {"key": key}) from error
            raise
        return ObjectInfo(
            key=key,
            version=head.get("VersionId"),
            etag=head.get("ETag", "").strip('"'),
            size=head.get("ContentLength", 0),
            metadata=head.get("Metadata", {}),
        )

    def move(self, source: str, target: str, version: str | None = None) -> None:
        copy_source: CopySourceTypeDef = {"Bucket": self._bucket, "Key": source}
        if version:
            copy_source["VersionId"] = version
        try:
            clients.s3().copy_object(
                Bucket=self._bucket, Key=target, CopySource=copy_source, ServerSideEncryption="AES256"
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in {"NoSuchKey", "404"}:
                raise
            self.info(target)  # moved by an earlier attempt: the target must exist, else NotFound
        clients.s3().delete_object(Bucket=self._bucket, Key=source)

    def presigned_get(self, key: str, seconds: int, file_name: str) -> str:
        return clients.s3().generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self._bucket,
                "Key": key,
                "ResponseContentDisposition": f'attachment; filename="{file_name}"',
            },
            ExpiresIn=seconds,
        )

    def presigned_put(self, key: str, seconds: int, content_type: str, metadata: Mapping[str, str]) -> str:
        return clients.s3().generate_presigned_url(
            "put_object",
            Params={"Bucket": self._bucket, "Key": key, "ContentType": content_type, "Metadata": dict(metadata)},
            ExpiresIn=seconds,
        )


@lru_cache(maxsize=4)
def s3_object_store(bucket: str) -> S3ObjectStore:
    return S3ObjectStore(bucket)
