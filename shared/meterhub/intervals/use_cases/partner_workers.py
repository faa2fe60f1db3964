"""Fair use of ingestion: at most `workers` interval workers of one partner run at once, and at most
`file_workers` of them on any one fanned-out file. The bounds keep one partner's back-fill from taking the whole
capacity the interval functions have (and so the intervals table's writes) from other partners, and from that
partner's own other files.

Why a bound per partner: each function's reserved concurrency bounds all partners together (template.yaml's
IntervalIngestConcurrency, 10, and IntervalPiecesConcurrency, 20). A monthly back-fill of 30 GB is ~500 pieces
queued at once, 1,000 files of 40 MB are 1,000 one-invocation ingests; without a per-partner bound either would take
every one of those invocations, and another partner's daily file would wait behind the whole back-fill. A partner's
files ingested in one invocation (each file's S3 notification is its task: functions/interval_ingest) and the tasks
of its fanned-out files hold slots of one pool: together they run at most `workers` at once.

Why a bound per file as well: within its partner's pool, one back-fill's ~500 pieces would still take every slot,
and the partner's own daily file would wait behind them. A fanned-out file's task holds one of its file's
`file_workers` slots besides its partner's, so with `file_workers` below `workers` the partner keeps slots for its
other files. The file's slot is taken first: a task whose file is at its bound never takes a partner slot it cannot
use, and one that got its file's slot but no partner slot frees the file's slot before it waits.

How: a task runs only while holding its slots (`ports.WorkerSlots`: a lease per slot, taken atomically, in the jobs
table; a file's slots are the same mechanism scoped to the file). A task finding every slot held is queued again as
a fresh copy, delayed `wait_seconds` plus jitter, and its delivery is acknowledged: the copy is queued before the
delivery is acknowledged, so the task is never dropped (a crash between the two runs it twice: harmless, every
task is idempotent). Not returned to the queue instead (a batch item failure with a visibility change): every
receive counts toward the queue's maxReceiveCount, so a task that had to wait three times would be dead-lettered
and its file FAILED though nothing failed; a fresh copy starts its count again. That never hides a failure: a
task waits only before it does any work, and a task that fails raises, so its queue retries the same message with
its receive count up, and its last attempt still ends the file FAILED with the reason.

The lease lasts as long as the invocation may still run (its remaining time) plus `LEASE_MARGIN_SECONDS`, so the
slot of a worker that crashed or timed out is free again once that invocation cannot be running any more.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from meterhub.intervals.ports import WorkerSlots
from meterhub.platform.observability import logger
from meterhub.platform.work_queue import WorkQueue

LEASE_MARGIN_SECONDS = 30
MAX_DELAY_SECONDS = 900
"""SQS's longest message delay."""

T = TypeVar("T")


@dataclass(frozen=True)
class PartnerWorkers:
    slots: WorkerSlots
    tasks: WorkQueue
    """Where a task that has to wait is queued again: the queue it was delivered from."""
    workers: int
    """Workers of one partner running at once (INTERVAL_PARTNER_WORKERS)."""
    wait_seconds: int
    """How long a task that found no free slot waits before it is delivered again (INTERVAL_PARTNER_WAIT_SECONDS),
    plus up to as much again at random, so waiting tasks do not all come back at the same moment."""
    file_workers: int | None = None
    """Tasks of one fanned-out file running at once (INTERVAL_FILE_WORKERS, at most `workers`); None where a file
    is never more than one task (the ingest function's files)."""
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def run(
        self,
        task: dict[str, Any],
        work: Callable[[], T],
        *,
        partner_id: str,
        holder: str,
        seconds_left: float,
        file_id: str | None = None,
    ) -> T | None:
        """Run `work` (the task) holding one of the partner's slots and, for a task of the fanned-out file
        `file_id`, one of that file's: `work`'s result, or None when every slot was held and `task` was queued again
        to wait. `holder`: unique to this delivery; `seconds_left`: how long the invocation may still run."""
        now = self.now()
        lease_until = now + timedelta(seconds=seconds_left + LEASE_MARGIN_SECONDS)
        file_slot: int | None = None
        if file_id is not None:
            if self.file_workers is None:
                raise ValueError("a task of one file is bounded by file_workers, which this PartnerWorkers lacks")
            file_slot = self.slots.acquire(partner_id, self.file_workers, holder, now, lease_until, file_id)
            if file_slot is None:
                self._wait(task, "Every worker slot of the file is held; the task waits")
                return None
        try:
            slot = self.slots.acquire(partner_id, self.workers, holder, now, lease_until)
            if slot is None:
                self._wait(task, "Every worker slot of the partner is held; the task waits")
                return None
            try:
                return work()
            finally:
                self.slots.release(partner_id, slot, holder)
        finally:
            if file_slot is not None:
                self.slots.release(partner_id, file_slot, holder, file_id)

    def _wait(self, task: dict[str, Any], why: str) -> None:
        delay = min(MAX_DELAY_SECONDS, self.wait_seconds + random.randint(0, self.wait_seconds))  # noqa: S311
        self.tasks.send(task, delay)
        logger.info(why, extra={"delay_seconds": delay})
