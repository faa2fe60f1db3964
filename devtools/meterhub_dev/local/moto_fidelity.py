"""Where the embedded moto server must behave as AWS does for the product to work, and does not by itself.

* S3 event notifications: moto's records carry the key, size and eTag only. Real S3 also sends the object's
  `versionId` (when the bucket is versioned, as the data bucket is), a `sequencer` that orders the events of
  one key, and the requester fields (`userIdentity`, `requestParameters`, `responseElements`, the bucket's
  `ownerIdentity`). The ingest function needs `versionId`: without it, a delivery reads whatever version is
  newest, so of several uploads under one file name only the last one's job ever ran and the others stayed
  QUEUED. `s3_event_record` is moto's record completed with those fields; the tests' in-process moto uses the
  same function.
* DynamoDB applies each request atomically. moto does not when requests arrive on several threads (its HTTP
  server runs one per connection): a TransactWriteItems checks its conditions, writes, and on a failed
  condition rolls back by putting back a copy of the whole table taken when it began, which also discards
  what other requests wrote meanwhile (a concurrent create of one partner_reference could leave no meter at
  all). `serialized_dynamodb` makes moto serve DynamoDB and DynamoDB Streams requests one at a time; each is
  a few milliseconds, and S3 and SQS (whose long polls would wait behind it) are not affected.

Both are applied by `installed()` for the life of the local runner's moto server (`LocalAws.start/stop`).
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
from moto.s3 import notifications

_moto_s3_event: Callable[..., dict[str, list[dict[str, Any]]]] = notifications._get_s3_event
_sequence_lock = threading.Lock()
_last_sequencer = 0
_request_counter = itertools.count(1)
LOCAL_PRINCIPAL = "AWS:AIDALOCALRUNNER"
"""The requester and bucket owner the records name (a real account's are opaque ids like this one)."""


def _next_sequencer() -> str:
    """18 hex digits, increasing across every event of the process: S3 orders one key's events by it (compared
    as strings of equal length)."""
    global _last_sequencer
    with _sequence_lock:
        _last_sequencer = max(time.time_ns(), _last_sequencer + 1)
        return f"{_last_sequencer:018X}"


def s3_event_record(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, list[dict[str, Any]]]:
    """moto's `_get_s3_event` (same signature), with every field a real S3 event record carries."""
    event = _moto_s3_event(event_name, bucket, key, notification_id)
    for record in event["Records"]:
        record["userIdentity"] = {"principalId": LOCAL_PRINCIPAL}
        record["requestParameters"] = {"sourceIPAddress": "127.0.0.1"}
        record["responseElements"] = {
            "x-amz-request-id": f"{next(_request_counter):016X}",
            "x-amz-id-2": uuid.uuid4().hex,
        }
        s3 = record["s3"]
        s3["bucket"]["ownerIdentity"] = {"principalId": LOCAL_PRINCIPAL}
        if bucket.is_versioned:
            s3["object"]["versionId"] = key.version_id
        s3["object"]["sequencer"] = _next_sequencer()
    return event


@contextmanager
def _replaced(owner: Any, name: str, value: Any) -> Iterator[None]:
    own = name in vars(owner)  # else inherited: deleting ours restores it
    original = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        if own:
            setattr(owner, name, original)
        else:
            delattr(owner, name)


def serialized(call_action: Callable[[Any], Any], lock: threading.Lock) -> Callable[[Any], Any]:
    def one_at_a_time(handler: Any) -> Any:
        with lock:
            return call_action(handler)

    return one_at_a_time


@contextmanager
def installed() -> Iterator[None]:
    """Complete S3 event records and atomic DynamoDB requests until the block ends."""
    lock = threading.Lock()
    with ExitStack() as stack:
        stack.enter_context(_replaced(notifications, "_get_s3_event", s3_event_record))
        for handler in (DynamoHandler, DynamoDBStreamsHandler):
            stack.enter_context(_replaced(handler, "call_action", serialized(handler.call_action, lock)))
        yield
