"""At most `workers` fan-out tasks of one partner run at once: the bound that keeps one partner's back-fill from
taking the whole capacity the pieces' function has (and so the intervals table's writes) from other partners.

Why a bound per partner: the pieces' function's reserved concurrency bounds all partners together. A monthly
back-fill of 30 GB is ~500 pieces queued at once; without a per-partner bound they would take every one of those
invocations, and another partner's daily file would wait behind the whole back-fill.

How: a task runs only while holding one of its partner's slots (`ports.WorkerSlots`: a lease per slot, taken
atomically, in the jobs table). A task finding every slot held is queued again as a fresh copy, delayed
`wait_seconds` plus jitter, and its delivery is acknowledged: the copy is queued before the delivery is
acknowledged, so the task is never dropped (a crash between the two runs it twice: harmless, every task is
idempotent). Not returned to the queue instead (a batch item failure with a visibility change): every receive
counts toward the queue's maxReceiveCount, so a task that had to wait three times would be dead-lettered and its
file FAILED; a fresh copy starts its count again.

The lease lasts as long as the invocation may still run (its remaining time) plus `LEASE_MARGIN_SECONDS`, so the
slot of a worker that crashed or timed out is free again once that invocation cannot be running any more.

Per file: a file is one partner's, so its workers are bounded by the same slots (and by its pieces and buckets).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from meterhub.intervals.ports import WorkerSlots
from meterhub.platform.observability import logger
from meterhub.platform.work_queue import WorkQueue

LEASE_MARGIN_SECONDS = 30
MAX_DELAY_SECONDS = 900
"""SQS's longest message delay."""


@dataclass(frozen=True)
class PartnerWorkers:
    slots: WorkerSlots
    tasks: WorkQueue
    workers: int
    """Tasks of one partner running at once (INTERVAL_PARTNER_WORKERS)."""
    wait_seconds: int
    """How long a task that found no free slot waits before it is delivered again (INTERVAL_PARTNER_WAIT_SECONDS),
    plus up to as much again at random, so waiting tasks do not all come back at the same moment."""
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def run(self, task: dict[str, Any], holder: str, seconds_left: float, work: Callable[[], None]) -> bool:
        """Run `work` (the task) holding one of its partner's slots: True when it ran, False when every slot was
        held and the task was queued again. `holder`: unique to this delivery; `seconds_left`: how long the
        invocation may still run."""
        partner_id = str(task["partner_id"])
        now = self.now()
        lease_until = now + timedelta(seconds=seconds_left + LEASE_MARGIN_SECONDS)
        slot = self.slots.acquire(partner_id, self.workers, holder, now, lease_until)
        if slot is None:
            delay = min(MAX_DELAY_SECONDS, self.wait_seconds + random.randint(0, self.wait_seconds))  # noqa: S311
            self.tasks.send(task, delay)
            logger.info("Every worker slot of the partner is held; the task waits", extra={"delay_seconds": delay})
            return False
        try:
            work()
        finally:
            self.slots.release(partner_id, slot, holder)
        return True
