"""Work queues (SQS)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from meterhub.platform.adapters import clients

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef
from meterhub.platform.work_queue import QueueSendError

BATCH_ENTRIES = 10  # SendMessageBatch takes at most 10 messages...


BATCH_BYTES = 200 * 1024  # ...and 256 KiB of bodies in all: a margin for attributes


def _body(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


def _batches(bodies: Sequence[tuple[str, int]]) -> Iterator[list[tuple[str, int]]]:
    """The (body, delay) pairs in order, in groups SendMessageBatch accepts."""
    batch: list[tuple[str, int]] = []
    size = 0
    for body, delay in bodies:
        if batch and (len(batch) == BATCH_ENTRIES or size + len(body.encode()) > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append((body, delay))
        size += len(body.encode())
    if batch:
        yield batch


class SqsWorkQueue:
    def __init__(self, queue_url: str) -> None:
        self._url = queue_url

    def send(self, message: dict[str, Any], delay_seconds: int = 0) -> None:
        self._send(_body(message), delay_seconds)

    def _send(self, body: str, delay_seconds: int) -> None:
        if delay_seconds:
            clients.sqs().send_message(QueueUrl=self._url, MessageBody=body, DelaySeconds=delay_seconds)
        else:
            clients.sqs().send_message(QueueUrl=self._url, MessageBody=body)

    def send_all(self, messages: Sequence[tuple[dict[str, Any], int]]) -> None:
        for batch in _batches([(_body(message), delay) for message, delay in messages]):
            if len(batch) == 1:
                self._send(*batch[0])
                continue
            entries: list[SendMessageBatchRequestEntryTypeDef] = []
            for n, (body, delay) in enumerate(batch):
                entry: SendMessageBatchRequestEntryTypeDef = {"Id": str(n), "MessageBody": body}
                if delay:
                    entry["DelaySeconds"] = delay
                entries.append(entry)
            failed = clients.sqs().send_message_batch(QueueUrl=self._url, Entries=entries).get("Failed", [])
            if failed:
                codes = sorted({str(entry.get("Code")) for entry in failed})
                raise QueueSendError(f"{len(failed)} of {len(batch)} messages were not queued ({', '.join(codes)})")


@lru_cache(maxsize=4)
def sqs_work_queue(queue_url: str) -> SqsWorkQueue:
    return SqsWorkQueue(queue_url)
