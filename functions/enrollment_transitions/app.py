"""Scheduled: move every due meter's enrollment on with time (meterhub.meters.use_cases.transitions).

The run evaluates at the event's `time` (EventBridge's scheduled time, also what `make run`'s on-demand trigger
sets): a retried invocation of one scheduled event evaluates at the same instant, so it writes nothing new. It
stops a safety margin before the function's timeout; meters it did not reach stay due for the next run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from meterhub import wiring
from meterhub.meters.use_cases.transitions import run_transitions
from meterhub.platform.observability import ENROLLMENT_TRANSITIONS, log_metrics, logger, record_metric
from meterhub.platform.settings import MetersTableSettings

STOP_BEFORE_TIMEOUT_MS = 5_000  # a meter takes milliseconds: ample to finish the one in hand


class Settings(MetersTableSettings):
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
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int | bool]:
    now = scheduled_time(event)
    meters = wiring.meter_repository(Settings.load(), clock=lambda: now)
    report = run_transitions(
        meters, now, keep_going=lambda: context.get_remaining_time_in_millis() > STOP_BEFORE_TIMEOUT_MS
    )
    logger.info("Enrollment transitions applied", extra={"at": now.isoformat(), **report.as_dict()})
    for outcome in ("changed", "unchanged", "skipped"):
        record_metric(ENROLLMENT_TRANSITIONS, getattr(report, outcome), Outcome=outcome)
    return report.as_dict()
