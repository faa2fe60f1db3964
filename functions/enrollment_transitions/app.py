"""Scheduled: move every due meter's enrollment on with time (meterhub.meters.use_cases.transitions), then
publish a snapshot of each market group whose membership changed (meterhub.meters.use_cases.group_snapshots).

The run evaluates at the event's `time` (EventBridge's scheduled time, also what `make run`'s on-demand trigger
sets): a retried invocation of one scheduled event evaluates at the same instant, so it writes nothing new. It
stops a safety margin before the function's timeout; meters it did not reach stay due for the next run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from meterhub import wiring
from meterhub.meters.use_cases.group_snapshots import publish_group_snapshots
from meterhub.meters.use_cases.transitions import run_transitions
from meterhub.platform.observability import ENROLLMENT_TRANSITIONS, log_metrics, logger, record_metric
from meterhub.platform.settings import MetersTableSettings, WebhookEventsQueueSettings

STOP_BEFORE_TIMEOUT_MS = 5_000  # a meter takes milliseconds: ample to finish the one in hand


class Settings(MetersTableSettings, WebhookEventsQueueSettings):
    """What this function reads from its environment: template.yaml gives it exactly these variables."""


def scheduled_time(event: dict[str, Any]) -> datetime:
    """The event's `time` (ISO 8601, UTC `Z`), else now: an invocation by hand may carry no time."""
    value = event.get("time")
    if not isinstance(value, str):
        return datetime.now(UTC)
    moment = datetime.fromisoformat(value)
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


@logger.inject_lambda_context(clear_state=True)
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = scheduled_time(event)
    settings = Settings.load()
    meters = wiring.meter_repository(settings, clock=lambda: now)

    def keep_going() -> bool:
        return context.get_remaining_time_in_millis() > STOP_BEFORE_TIMEOUT_MS

    report = run_transitions(meters, now, keep_going=keep_going)
    logger.info("Enrollment transitions applied", extra={"at": now.isoformat(), **report.as_dict()})
    for outcome in ("changed", "unchanged", "skipped"):
        record_metric(ENROLLMENT_TRANSITIONS, getattr(report, outcome), Outcome=outcome)
    groups = publish_group_snapshots(
        wiring.group_membership(settings), wiring.webhook_events_queue(settings), keep_going=keep_going
    )
    if groups.groups or groups.stopped:
        logger.info("Market group snapshots published", extra=groups.as_dict())
    return {**report.as_dict(), "group_snapshots": groups.as_dict()}
