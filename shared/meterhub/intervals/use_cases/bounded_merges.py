"""Pass 2's day merges, run `concurrency` at a time: the bounded pool that keeps one invocation's writes fast
without letting it take the intervals table's whole capacity.

Why threads: a merge is two DynamoDB round trips (a consistent GetItem, a conditional PutItem) and almost no
CPU, so one invocation waits on the network ~99 % of the time; 16 merges in flight make ~16x the requests per
second in the same invocation, and the boto3 client the adapters share is thread-safe (its connection pool is
sized for `MAX_WRITE_CONCURRENCY`, platform/adapters/clients.py). Batching does not fit: a merge is a
read-modify-conditional-write of one item, and BatchWriteItem takes no condition.

Why bounded, and why a barrier per batch:
* at most `concurrency` merges run and at most twice that are queued, so a batch of 10,000 meter-days is never
  10,000 futures at once, and one file's burst is bounded per invocation (the function's reserved concurrency
  bounds the invocations: template.yaml);
* a batch holds each meter-day at most once, but the same meter-day may come back in a later batch (a batch is
  cut at 10,000 meter-days); the pool drains between batches, so two merges of one item never race (on
  DynamoDB they would only retry on the version condition; the in-memory fakes have no condition at all).

Failure keeps the file the unit: the first merge that raises stops new submissions, the ones in flight finish,
and the error propagates, so the job is never COMPLETED; the queue retries the file (merges are idempotent) and
its last attempt ends it FAILED (`notifications.ingest_notification`). Throttling is retried inside each merge,
with jittered backoff, by the store (intervals/adapters/dynamodb.py), so a throttled write costs its own
retries, not the file's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import date

from meterhub.intervals.rules.slots import DayKey, DaySlots

DEFAULT_WRITE_CONCURRENCY = 16
"""Merges in flight per invocation. At ~4 ms per DynamoDB round trip a merge takes ~8 ms, so 16 make ~2,000
merges/s (~180,000 rows/s of a 1,000-meter file) against ~125 serially; on the on-demand table that is a few
thousand WCU/s per invocation, times the function's reserved concurrency at most."""
MAX_WRITE_CONCURRENCY = 64
"""The setting's ceiling, and the size of the shared client's connection pool."""

Merge = Callable[[str, date, DaySlots], None]


def merge_batches(batches: Iterable[dict[DayKey, DaySlots]], merge: Merge, concurrency: int) -> int:
    """Apply `merge(meter_id, day, slots)` to every meter-day of every batch, `concurrency` at a time, a batch
    fully written before the next starts. Returns the number of merges; raises the first merge's error."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if concurrency == 1:
        count = 0
        for batch in batches:
            for (meter_id, day), slots in batch.items():
                merge(meter_id, day, slots)
                count += 1
        return count
    count = 0
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="merge") as pool:
        for batch in batches:
            count += _merge_batch(pool, batch, merge, concurrency)
    return count


def _merge_batch(pool: ThreadPoolExecutor, batch: dict[DayKey, DaySlots], merge: Merge, concurrency: int) -> int:
    pending: set[Future[None]] = set()
    failure: BaseException | None = None
    count = 0
    try:
        for (meter_id, day), slots in batch.items():
            if len(pending) >= 2 * concurrency:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                failure = _first_failure(done)
                if failure is not None:
                    break
            pending.add(pool.submit(merge, meter_id, day, slots))
            count += 1
    finally:
        done, _ = wait(pending)  # never leave a merge running behind the caller's back
    failure = failure or _first_failure(done)
    if failure is not None:
        raise failure
    return count


def _first_failure(done: Iterable[Future[None]]) -> BaseException | None:
    return next((error for error in (future.exception() for future in done) if error is not None), None)
