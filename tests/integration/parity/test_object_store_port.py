"""ObjectStore: the in-memory fakes and S3ObjectStore (the data bucket, versioned as template.yaml has it) keep
one contract. `objects` runs the plain fake (an unversioned bucket, for the tests that want one) against S3
where versions do not show; `versioned` runs VersionedObjectStore against S3 where they do."""

from __future__ import annotations

import hashlib
import io
import tempfile
import uuid
from typing import Any
from urllib.parse import unquote

import pytest
from botocore.exceptions import ClientError
from meterhub.platform.adapters import clients
from meterhub.platform.adapters.s3_object_store import MULTIPART_BYTES, S3ObjectStore
from meterhub.platform.errors import NotFound
from meterhub.platform.object_store import CHUNK_BYTES, ObjectStore, partner_key

from tests.fakes.objects import InMemoryObjectStore, VersionedObjectStore


@pytest.fixture
def objects(implementation: str, env: dict[str, str]) -> ObjectStore:
    if implementation == "fake":
        return InMemoryObjectStore()
    return S3ObjectStore(env["DATA_BUCKET_NAME"])


@pytest.fixture
def versioned(implementation: str, env: dict[str, str]) -> ObjectStore:
    if implementation == "fake":
        return VersionedObjectStore()
    return S3ObjectStore(env["DATA_BUCKET_NAME"])


def _key(partner_id: str, name: str = "file.csv") -> str:
    return partner_key(partner_id, "interval-data", f"{uuid.uuid4().hex[:8]}-{name}")


def test_a_put_object_reads_back_whole_in_chunks_and_by_line(
    objects: ObjectStore, partner_ids: tuple[str, str]
) -> None:
    key = _key(partner_ids[0])
    body = b"a,b\r\n1,2\n\nlast" + b"x" * (CHUNK_BYTES + 10)
    objects.put(key, body, "text/csv")
    chunks = list(objects.chunks(key))
    assert b"".join(chunks) == body
    assert [len(chunk) for chunk in chunks] == [CHUNK_BYTES, len(body) - CHUNK_BYTES]
    assert list(objects.lines(key)) == [b"a,b", b"1,2", b"", b"last" + b"x" * (CHUNK_BYTES + 10)]


def test_a_streamed_put_stores_the_file_from_its_position_as_a_put_of_those_bytes_would(
    objects: ObjectStore, partner_ids: tuple[str, str]
) -> None:
    # Given a spooled file larger than one multipart part, read from past its first bytes
    key = _key(partner_ids[0], "errors.csv")
    body = b"line,column,code,message\r\n" + b"".join(b"%d,meter_id,MTR_0002,bad\r\n" % n for n in range(400_000))
    assert len(body) > MULTIPART_BYTES
    with tempfile.SpooledTemporaryFile(max_size=1024) as spooled:
        spooled.write(b"skipped" + body)
        spooled.seek(len(b"skipped"))

        # When it is put as a stream
        objects.put_file(key, spooled, "text/csv", {"Job-Id": "job-1"})

    # Then the object is those bytes, with the metadata as a put gives it
    assert b"".join(objects.chunks(key)) == body
    info = objects.info(key)
    assert (info.size, dict(info.metadata)) == (len(body), {"job-id": "job-1"})


class _Generated(io.RawIOBase):
    """`size` bytes made as they are read (not seekable, as a fan-out's errors CSV stream); with `fail_at`, the
    read that passes that many bytes raises instead."""

    def __init__(self, size: int, fail_at: int | None = None) -> None:
        super().__init__()
        self.size, self.fail_at, self.made = size, fail_at, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = min(len(buffer), self.size - self.made, CHUNK_BYTES)
        if self.fail_at is not None and self.made + count > self.fail_at:
            raise ConnectionError("the stream broke")
        buffer[:count] = _pattern(self.made, count)
        self.made += count
        return count


_PERIOD = bytes(range(251)) * (CHUNK_BYTES // 251 + 2)


def _pattern(start: int, count: int) -> bytes:
    """Bytes `start` to `start + count` (at most CHUNK_BYTES) of a 251-byte cycle: a part out of place shows."""
    return _PERIOD[start % 251 : start % 251 + count]


def test_a_streamed_put_of_a_non_seekable_body_larger_than_a_part_stores_it_whole(
    objects: ObjectStore, partner_ids: tuple[str, str]
) -> None:
    key = _key(partner_ids[0], "errors.csv")
    size = MULTIPART_BYTES + MULTIPART_BYTES // 2
    body = io.BufferedReader(_Generated(size))
    assert not body.seekable()
    objects.put_file(key, body, "text/csv")
    expected = b"".join(_pattern(start, CHUNK_BYTES) for start in range(0, size, CHUNK_BYTES))
    assert b"".join(objects.chunks(key)) == expected


def test_a_streamed_put_whose_body_fails_midway_raises_and_stores_nothing(
    objects: ObjectStore, partner_ids: tuple[str, str], env: dict[str, str], implementation: str
) -> None:
    # Given a non-seekable body that breaks after more than one multipart part
    key = _key(partner_ids[0], "errors.csv")
    body = io.BufferedReader(_Generated(3 * MULTIPART_BYTES, fail_at=MULTIPART_BYTES + CHUNK_BYTES))

    # When it is put as a stream, the body's error is raised
    with pytest.raises(ConnectionError):
        objects.put_file(key, body, "text/csv")

    # Then there is no object, and no unfinished multipart upload is left behind
    with pytest.raises(NotFound):
        objects.info(key)
    if implementation != "fake":
        uploads = clients.s3().list_multipart_uploads(Bucket=env["DATA_BUCKET_NAME"], Prefix=key)
        assert uploads.get("Uploads", []) == []


def test_an_empty_object_has_no_chunks_and_no_lines(objects: ObjectStore, partner_ids: tuple[str, str]) -> None:
    key = _key(partner_ids[0])
    objects.put(key, b"", "text/csv")
    assert list(objects.chunks(key)) == []
    assert list(objects.lines(key)) == []
    assert objects.info(key).size == 0


def test_info_gives_size_content_md5_etag_and_lower_cased_metadata(
    objects: ObjectStore, partner_ids: tuple[str, str]
) -> None:
    key = _key(partner_ids[0])
    body = b"meter_id,start\n"
    objects.put(key, body, "text/csv", {"Job-Id": "job-1", "origin": "upload"})
    info = objects.info(key)
    assert (info.key, info.size, info.etag) == (key, len(body), hashlib.md5(body, usedforsecurity=False).hexdigest())
    assert dict(info.metadata) == {"job-id": "job-1", "origin": "upload"}
    objects.put(key, b"replaced", "text/csv")
    assert (objects.info(key).size, dict(objects.info(key).metadata)) == (8, {})


def test_a_missing_object_is_not_found(objects: ObjectStore, partner_ids: tuple[str, str]) -> None:
    key = _key(partner_ids[0])
    with pytest.raises(NotFound):
        objects.info(key)
    with pytest.raises(NotFound):
        list(objects.chunks(key))
    with pytest.raises(ClientError) as raised:  # not translated: the batch worker's queue retries it
        list(objects.lines(key))
    assert raised.value.response["Error"]["Code"] == "NoSuchKey"


def test_move_files_the_object_and_a_repeated_move_is_fine(objects: ObjectStore, partner_ids: tuple[str, str]) -> None:
    source, target = _key(partner_ids[0], "in.csv"), _key(partner_ids[0], "done.csv")
    objects.put(source, b"payload", "text/csv", {"job-id": "job-1"})
    objects.move(source, target)
    assert b"".join(objects.chunks(target)) == b"payload"
    assert dict(objects.info(target).metadata) == {"job-id": "job-1"}
    with pytest.raises(NotFound):
        objects.info(source)
    objects.move(source, target)  # a redelivered event: already moved
    assert b"".join(objects.chunks(target)) == b"payload"


def test_moving_a_missing_object_to_a_missing_target_is_not_found(
    objects: ObjectStore, partner_ids: tuple[str, str]
) -> None:
    source, target = _key(partner_ids[0], "in.csv"), _key(partner_ids[0], "done.csv")
    with pytest.raises(NotFound):
        objects.move(source, target)
    with pytest.raises(NotFound):
        objects.info(target)


def test_presigned_urls_name_the_object(objects: ObjectStore, partner_ids: tuple[str, str]) -> None:
    key = _key(partner_ids[0])
    assert key in unquote(objects.presigned_get(key, 300, "file.csv"))
    assert key in unquote(objects.presigned_put(key, 300, "text/csv", {"job-id": "job-1"}))


# ----- versions (the data bucket keeps every version) ------------------------------------------------------------
def test_every_put_is_a_new_version_read_by_its_id(versioned: ObjectStore, partner_ids: tuple[str, str]) -> None:
    key = _key(partner_ids[0])
    versioned.put(key, b"first", "text/csv", {"job-id": "job-1"})
    first = versioned.info(key)
    versioned.put(key, b"second!", "text/csv")
    second = versioned.info(key)
    assert first.version is not None and second.version is not None and first.version != second.version
    again = versioned.info(key, first.version)
    assert (again.version, again.size, dict(again.metadata)) == (first.version, 5, {"job-id": "job-1"})
    assert b"".join(versioned.chunks(key, first.version)) == b"first"
    assert b"".join(versioned.chunks(key)) == b"second!"


def test_a_moved_version_is_gone_by_key_but_still_read_by_its_id(
    versioned: ObjectStore, partner_ids: tuple[str, str]
) -> None:
    source, target = _key(partner_ids[0], "in.csv"), _key(partner_ids[0], "done.csv")
    versioned.put(source, b"first", "text/csv")
    first = versioned.info(source).version
    versioned.put(source, b"second", "text/csv")
    versioned.move(source, target, first)
    assert b"".join(versioned.chunks(target)) == b"first"
    with pytest.raises(NotFound):
        versioned.info(source)
    assert versioned.info(source, first).size == 5
    versioned.move(source, target, first)  # a redelivered event: the version is still there to copy
    assert b"".join(versioned.chunks(target)) == b"first"
