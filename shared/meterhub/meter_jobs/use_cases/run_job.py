"""One delivery of a batch job's queue message: run the worker, ask for a continuation when time runs short, and
on the queue's last attempt end a job that keeps failing.

Why here and not in the handler: whether to retry, give up or continue is the job's policy, the same whatever
queue carries the message; the handler only reads the message and its receive count.
"""

from __future__ import annotations

from collections.abc import Callable

from meterhub.meter_jobs.records import JobStatus
from meterhub.meter_jobs.use_cases.worker import Progress, Worker
from meterhub.platform.observability import logger
from meterhub.platform.work_queue import WorkQueue


def run_job(
    worker: Worker,
    queue: WorkQueue,
    partner_id: str,
    job_id: str,
    *,
    attempt: int,
    max_attempts: int,
    time_is_short: Callable[[], bool],
) -> None:
    """Process the job from its cursor. Raises while `attempt` < `max_attempts` (the queue retries the message);
    on the last attempt a failure ends the job FAILED with the reason instead, so no job stays PROCESSING when
    its message is gone. When time is nearly up, queues the same message again to go on from the cursor."""
    try:
        progress = worker.process(partner_id, job_id, time_is_short)
    except Exception:
        if attempt < max_attempts:
            logger.exception("Job attempt failed; the queue will retry", extra={"attempt": attempt})
            raise
        logger.exception("Job failed on its last attempt; ending it FAILED")
        job = worker.jobs.get(partner_id, job_id)
        if job is not None:
            worker.end(job, JobStatus.FAILED, f"processing failed {attempt} times; see the logs")
        return
    if progress is Progress.MORE:
        queue.send({"partner_id": partner_id, "job_id": job_id})  # the message submit_job queued
        logger.info("Time nearly up: queued a continuation")
