"""One delivery of a UtilitySyncQueue message: run the sync, and when it stopped with history still to fetch
(its window budget, or the Lambda's time running short) queue the same message again so the next run goes on
from the first window not yet stored.

Why here and not in the handler: continuing is the sync's policy whatever queue carries the message; the
handler only reads the message and its remaining time (the same split as meter_jobs.use_cases.run_job).
"""

from __future__ import annotations

from collections.abc import Callable

from meterhub.connect.use_cases.sync import SyncResult, UtilitySync
from meterhub.platform.observability import UTILITY_SYNC_READINGS, UTILITY_SYNCS, logger, record_metric
from meterhub.platform.work_queue import WorkQueue


def sync_and_continue(
    sync: UtilitySync,
    queue: WorkQueue,
    partner_id: str,
    authorization_id: str,
    *,
    time_is_short: Callable[[], bool],
) -> SyncResult:
    """Run the sync once; a retryable utility error still propagates (the queue retries the message)."""
    result = sync.run(partner_id, authorization_id, time_is_short=time_is_short)
    record_metric(UTILITY_SYNCS, Status=result.status)
    record_metric(UTILITY_SYNC_READINGS, result.readings_stored)
    if result.more_history:
        queue.send({"partner_id": partner_id, "authorization_id": authorization_id})  # the message the sync came in
        logger.info("History still to fetch: queued a continuation", extra={"windows": result.windows_fetched})
    return result
