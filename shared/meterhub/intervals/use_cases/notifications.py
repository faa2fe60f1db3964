"""S3 event notifications (one per SQS message) -> the interval drops to ingest, with the queue's retry policy.

The body is read with Powertools' `S3Object` model for the part we use (the object's key and version), inside an
envelope of just the fields this function reads. Not Powertools' whole `S3Model`: it requires fields we never
read (userIdentity, requestParameters, responseElements, the bucket's ownerIdentity) that moto's notifications,
and so the local runner and the test stack, leave out, and a field it types too narrowly would turn a partner's
upload into a refused message.

S3 URL-encodes the key in a notification ('+' for a space, UTF-8 percent escapes); it is decoded here once.
A body that is not a notification raises `NotANotification` (its problems logged, never its values): the queue
retries it and then keeps it in the dead-letter queue, where an operator can read it, instead of it being
acknowledged and gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.parser.models.s3 import S3Object
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from meterhub.intervals.rules.paths import parse_drop
from meterhub.intervals.use_cases.pipeline import Ingestion, Within
from meterhub.platform.observability import logger

MAX_LOGGED_PROBLEMS = 5
"""A malformed body's log line names this many of its problems (locations and messages, never the values)."""


class _TestEvent(BaseModel):
    """What S3 sends once when a bucket notification is configured."""

    Event: Literal["s3:TestEvent"]


class _Entity(BaseModel):
    object: S3Object


class _Record(BaseModel):
    event_name: str = Field(alias="eventName")
    event_time: str | None = Field(default=None, alias="eventTime")
    """Read as text and parsed leniently (`_when`): it only feeds a metric, so it never refuses a message."""
    s3: _Entity


class _Notification(BaseModel):
    Records: list[_Record]


_BODY: TypeAdapter[_TestEvent | _Notification] = TypeAdapter(_TestEvent | _Notification)


class NotANotification(ValueError):
    """The message body is not an S3 event notification (nor S3's test event)."""


@dataclass(frozen=True)
class CreatedObject:
    key: str
    """Decoded: the object's real name."""
    version: str | None
    created_at: datetime | None = None
    """The notification's event time: when S3 had the object."""


def created_objects(body: str) -> list[CreatedObject]:
    """The objects an SQS message body says were created; the test event and other events give none (each is
    logged). A malformed body raises NotANotification."""
    try:
        notification = _BODY.validate_json(body)
    except ValidationError as error:
        problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors(include_url=False)]
        logger.error(
            "Not an S3 event notification; left to the queue's retries and dead-letter queue",
            extra={"problems": problems[:MAX_LOGGED_PROBLEMS], "problem_count": len(problems)},
        )
        raise NotANotification(f"not an S3 event notification ({len(problems)} problems)") from None
    if isinstance(notification, _TestEvent):
        logger.info("S3 test event acknowledged")
        return []
    created: list[CreatedObject] = []
    for record in notification.Records:
        if not record.event_name.startswith("ObjectCreated"):
            logger.info("Not an ObjectCreated event; acknowledged", extra={"event_name": record.event_name})
            continue
        created.append(
            CreatedObject(unquote_plus(record.s3.object.key), record.s3.object.versionId, _when(record.event_time))
        )
    return created


def _when(event_time: str | None) -> datetime | None:
    """S3's event time (ISO 8601, `Z` for UTC), or None when absent or unreadable."""
    try:
        moment = datetime.fromisoformat(event_time) if event_time else None
    except ValueError:
        return None
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=UTC)


def ingest_notification(
    ingestion: Ingestion, body: str, *, attempt: int, max_attempts: int, within: Within | None = None
) -> None:
    """Ingest every drop the notification names. A failure raises while `attempt` < `max_attempts` (the queue
    retries the message); on the last attempt it ends the file's job FAILED, filed under failed/ with the reason,
    so nothing cycles to the dead-letter queue without a job saying why.

    `within`: the partner's bound of workers (use_cases.partner_workers). A file that has to wait for a slot is
    queued again as a fresh copy of this notification and this delivery is acknowledged: the copy's receive count
    starts again at 1, as it should, since waiting is not failing (a wait returned to the queue instead would count
    toward `max_attempts` and end a file FAILED that never failed). A delivery that fails still raises, so the
    queue's retries and this last-attempt policy see every failure."""
    for created in created_objects(body):
        key, version = created.key, created.version
        if parse_drop(key) is None:
            logger.info("Not an interval drop (our own output or another prefix); acknowledged", extra={"key": key})
            continue
        try:
            job = ingestion.ingest(key, version, created.created_at, within)
        except Exception:
            if attempt < max_attempts:
                logger.exception("Ingestion attempt failed; the queue will retry", extra={"attempt": attempt})
                raise
            logger.exception("Ingestion failed on its last attempt; ending the job FAILED")
            reason = f"processing failed {attempt} times; upload the file again"
            ingestion.give_up(key, version, reason, created.created_at)
            continue
        if job is None:
            logger.info("Already filed by an earlier delivery; nothing to do", extra={"key": key})
        else:
            logger.info("Interval file processed", extra={"job_id": job.job_id, "status": job.status})
