"""The webhook dispatcher's use cases: fan an event out to its subscriptions, then run each delivery task.

Both kinds of message travel on WebhookEventsQueue:
  event  `{partner_id, webhook_event_id, payload: {webhook_event_type, ...}}`   (from the publisher)
  task   `{partner_id, webhook_id, event: {webhook_event_id, payload}, attempt, round, not_before?}`
An event becomes one delivery-log entry (PENDING) and one task (attempt 1) per subscription of its partner
that wants its type. A task claims its attempt in the log (conditional on the attempts recorded so far), posts
once, records the outcome and, on failure, queues the next attempt after the schedule's next delay. SQS delays
a message by at most 15 minutes: a longer wait is queued with the maximum delay and a `not_before` time, and
the task is re-queued until it is due. After the last attempt the entry is FAILED.

A task whose webhook was deleted, or was changed (PUT) to no longer want the event's type, posts nothing: it
claims its attempt like any other (so it cannot race a worker posting the same attempt), ends the entry FAILED
with an `end_reason` and is acknowledged. Dropping it instead would leave the entry PENDING for good, and
posting it would send an event type the partner unsubscribed from. This is checked before a `not_before` hop,
so a task waiting hours for a late attempt ends at its next hop, not when it falls due.

Attempt 1 is due at once (Leap's schedule), so when the caller grants a time budget (the Lambda handler passes
what is left of its invocation) the fan-out posts it inline instead of queueing a task for it: the entries are
started holding the lease of attempt 1 (one TransactWriteItems for the event), the posts run concurrently, and
the outcomes are recorded together (one more transaction). A delivery that succeeds first time therefore costs
no queue message and no per-delivery read; only a failure queues a task (attempt 2). Subscriptions beyond what
the budget covers get queued tasks as before. If the invocation dies part way, the event message comes back:
its entries exist, and the fan-out queues the next attempt of each one still PENDING (attempt 1 of an entry
never recorded, which waits out the lease and then posts, or the retry of a failed attempt never queued).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from meterhub.platform.events import WebhookEventType
from meterhub.platform.observability import WEBHOOK_DELIVERIES, WEBHOOK_FINAL_FAILURES, logger, record_metric
from meterhub.platform.work_queue import WorkQueue
from meterhub.webhooks.ports import DeliveryLog, DeliveryResult, HttpPost, WebhookRepository
from meterhub.webhooks.records import DeliveryAttempt, DeliveryRecord, DeliveryStatus, Subscription
from meterhub.webhooks.rules.schedule import DEFAULT_TIMEOUT_SECONDS, RETRY_DELAYS_SECONDS
from meterhub.webhooks.rules.urls import Resolver, system_resolver
from meterhub.webhooks.use_cases.deliver import deliver

MAX_SQS_DELAY_SECONDS = 900
LEASE_SECONDS = 60  # longer than one attempt (10 s timeout); a crashed attempt can be retried after it
POST_CONCURRENCY = 10  # inline first attempts posted at once: one SQS batch's worth of subscriptions per round
RECORDING_SECONDS = 5.0  # kept back from an inline budget for starting and recording the entries

# Shared by every fan-out of this (warm) process: threads are started on first use and then reused.
_posters = ThreadPoolExecutor(max_workers=POST_CONCURRENCY, thread_name_prefix="webhook-post")


class Outcome(StrEnum):
    FANNED_OUT = "fanned_out"
    DELIVERED = "delivered"
    RETRY_SCHEDULED = "retry_scheduled"
    FAILED = "failed"
    DUPLICATE = "duplicate"
    DEFERRED = "deferred"
    SUBSCRIPTION_GONE = "subscription_gone"  # the webhook was deleted: its entry ended FAILED, nothing posted
    UNSUBSCRIBED = "unsubscribed"  # the webhook no longer wants the event's type: likewise


class DeliveryBusy(Exception):
    """Another worker holds the lease on this attempt: let the queue retry the task later."""


class Payload(BaseModel):
    model_config = ConfigDict(extra="allow")

    webhook_event_type: WebhookEventType


class EventMessage(BaseModel):
    partner_id: str = Field(min_length=1)
    webhook_event_id: str = Field(min_length=1)
    payload: Payload


class TaskEvent(BaseModel):
    webhook_event_id: str = Field(min_length=1)
    payload: Payload


class DeliveryTask(BaseModel):
    partner_id: str = Field(min_length=1)
    webhook_id: str = Field(min_length=1)
    event: TaskEvent
    attempt: int = Field(ge=1)
    round: int = Field(default=1, ge=1)
    not_before: float | None = None  # Unix seconds; absent when the queue's own delay covers the wait


def task_message(record: DeliveryRecord, attempt: int, not_before: float | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {
        "partner_id": record.partner_id,
        "webhook_id": record.webhook_id,
        "event": record.event,
        "attempt": attempt,
        "round": record.round,
    }
    if not_before is not None:
        message["not_before"] = not_before
    return message


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _end_reason(subscription: Subscription | None, event_type: str) -> str:
    """Why a task for `event_type` ends without posting (its subscription is gone, or no longer wants it)."""
    return "webhook deleted" if subscription is None else f"no longer subscribed to {event_type}"


def _end_outcome(subscription: Subscription | None) -> Outcome:
    return Outcome.SUBSCRIPTION_GONE if subscription is None else Outcome.UNSUBSCRIBED


def delayed(message: dict[str, Any], wait_seconds: float, now: float) -> tuple[dict[str, Any], int]:
    """`message` and the queue delay that make it run `wait_seconds` from `now`, in steps of at most 15 minutes
    (a longer wait carries `not_before`)."""
    wait = max(0, math.ceil(wait_seconds))
    if wait > MAX_SQS_DELAY_SECONDS:
        message = {**message, "not_before": now + wait}
    else:
        message = {k: v for k, v in message.items() if k != "not_before"}
    return message, min(wait, MAX_SQS_DELAY_SECONDS)


def queue_after(queue: WorkQueue, message: dict[str, Any], wait_seconds: float, now: float) -> None:
    queue.send(*delayed(message, wait_seconds, now))


@dataclass
class Dispatcher:
    subscriptions: WebhookRepository
    deliveries: DeliveryLog
    queue: WorkQueue
    stage: str
    http_post: HttpPost = field(kw_only=True)  # the real poster is adapters.http_delivery.http_client_post
    delays: Sequence[int] = RETRY_DELAYS_SECONDS  # entry n: the wait before attempt n+1
    resolve: Resolver = system_resolver
    now: Callable[[], float] = time.time
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    @property
    def max_attempts(self) -> int:
        return len(self.delays)

    def handle(self, message: dict[str, Any], budget_seconds: float = 0.0) -> Outcome:
        """One queue message of either kind; raises for a malformed message (it ends in the DLQ). An event's
        first attempts are posted inline within `budget_seconds` (0: each is queued as a task instead)."""
        if "webhook_id" in message:
            return self.attempt(DeliveryTask.model_validate(message))
        return self.fan_out(EventMessage.model_validate(message), budget_seconds)

    def inline_capacity(self, budget_seconds: float) -> int:
        """How many first attempts `budget_seconds` covers: whole rounds of POST_CONCURRENCY posts, each round
        as long as the slowest post may take, after RECORDING_SECONDS for the writes. Zero when the schedule
        does not make attempt 1 due at once."""
        if self.delays[0] > 0:
            return 0
        rounds = math.floor((budget_seconds - RECORDING_SECONDS) / (self.timeout + 1))
        return max(0, rounds) * POST_CONCURRENCY

    # ----- events -------------------------------------------------------------------------------------------
    def fan_out(self, message: EventMessage, budget_seconds: float = 0.0) -> Outcome:
        event_type = message.payload.webhook_event_type
        event = {"webhook_event_id": message.webhook_event_id, "payload": message.payload.model_dump(mode="json")}
        matching = [s for s in self.subscriptions.for_partner(message.partner_id) if s.wants(event_type)]
        now = self.now()
        records = [
            DeliveryRecord(
                partner_id=message.partner_id,
                webhook_id=subscription.webhook_id,
                webhook_event_id=message.webhook_event_id,
                webhook_event_type=event_type.value,
                event=event,
                next_attempt_at=_at(now + self.delays[0]),
                created_at=_at(now),
                updated_at=_at(now),
            )
            for subscription in matching
        ]
        inline = min(len(records), self.inline_capacity(budget_seconds))
        lease_until = now + math.ceil(inline / POST_CONCURRENCY) * (self.timeout + 1) + LEASE_SECONDS
        started = self.deliveries.start_all(records[:inline], lease_until) + self.deliveries.start_all(records[inline:])
        posts: list[tuple[Subscription, DeliveryRecord]] = []
        tasks: list[tuple[dict[str, Any], int]] = []
        for index, (subscription, record, is_new) in enumerate(zip(matching, records, started, strict=True)):
            if not is_new:
                tasks.extend(self._resume(record, now))
            elif index < inline:
                posts.append((subscription, record))
            else:
                tasks.append(delayed(task_message(record, 1), self.delays[0], now))
        self.queue.send_all(tasks)
        if posts:
            results = list(_posters.map(lambda post: self._deliver(post[0], post[1].event), posts))
            self._record_attempts([record for _, record in posts], results, 1, now)
        logger.info(
            "Webhook event fanned out",
            extra={
                "partner_id": message.partner_id,
                "webhook_event_id": message.webhook_event_id,
                "webhook_event_type": event_type.value,
                "subscriptions": len(matching),
                "posted_inline": len(posts),
            },
        )
        return Outcome.FANNED_OUT

    def _resume(self, record: DeliveryRecord, now: float) -> list[tuple[dict[str, Any], int]]:
        """The event already had this entry (the queue handed the event over again, so the invocation that
        fanned it out may have died part way). If the entry is still PENDING, the task for its next attempt may
        never have been queued: attempt 1's (its inline attempt died, or the task was not sent), or the retry
        after an inline attempt that failed (the invocation died between recording it and queueing the retry).
        Returns that task, due when the entry says, to queue again: a duplicate of it is harmless, since every
        attempt is claimed over the state it starts from, and it waits out any lease."""
        existing = self.deliveries.get(record.partner_id, record.webhook_id, record.webhook_event_id)
        if existing is None or existing.status is not DeliveryStatus.PENDING or existing.next_attempt_at is None:
            return []
        wait = existing.next_attempt_at.timestamp() - now
        return [delayed(task_message(existing, existing.attempt_count + 1), wait, now)]

    # ----- delivery tasks -----------------------------------------------------------------------------------
    def attempt(self, task: DeliveryTask) -> Outcome:
        now = self.now()
        keys = {"partner_id": task.partner_id, "webhook_id": task.webhook_id, "attempt": task.attempt}
        event_type = task.event.payload.webhook_event_type
        # Looked up before any deferral: a task waiting hours for its attempt ends as soon as its webhook is gone.
        subscription = self.subscriptions.get(task.partner_id, task.webhook_id)
        wanted = subscription is not None and subscription.wants(event_type)
        if wanted and task.not_before is not None and task.not_before > now:
            queue_after(self.queue, task.model_dump(mode="json", exclude_none=True), task.not_before - now, now)
            return Outcome.DEFERRED
        event_id = task.event.webhook_event_id
        expected = (task.round, task.attempt - 1)
        lease_until = now + LEASE_SECONDS
        record, taken = self.deliveries.claim(task.partner_id, task.webhook_id, event_id, expected, now, lease_until)
        if record is None:  # a task without a log entry (e.g. the entry was removed)
            if not wanted:
                logger.info(
                    "Delivery task dropped: no log entry to end",
                    extra={**keys, "reason": _end_reason(subscription, event_type)},
                )
                return _end_outcome(subscription)
            record = DeliveryRecord(  # start one, holding this attempt's lease
                partner_id=task.partner_id,
                webhook_id=task.webhook_id,
                webhook_event_id=event_id,
                webhook_event_type=event_type.value,
                event=task.event.model_dump(mode="json"),
                round=task.round,
                attempt_count=task.attempt - 1,
                created_at=_at(now),
                updated_at=_at(now),
            )
            [taken] = self.deliveries.start_all([record], lease_until)
            if not taken:
                raise DeliveryBusy("the delivery log entry appeared meanwhile")
        if (record.round, record.attempt_count) != expected or record.status is not DeliveryStatus.PENDING:
            # Recorded already, or ended (an ended entry keeps its count: a lease taken on it is dropped by the
            # next save, e.g. a redelivery's)
            return self._duplicate(record, task)
        if not taken:
            raise DeliveryBusy(f"attempt {task.attempt} of {event_id} is claimed elsewhere")
        if subscription is None or not subscription.wants(event_type):
            return self._end(record, subscription, now)
        return self._post(subscription, record, task, now)

    def _post(self, subscription: Subscription, record: DeliveryRecord, task: DeliveryTask, now: float) -> Outcome:
        """The claimed attempt: post once, record the outcome and queue the next attempt if one is due."""
        [outcome] = self._record_attempts([record], [self._deliver(subscription, record.event)], task.attempt, now)
        return outcome

    def _deliver(self, subscription: Subscription, event: dict[str, Any]) -> DeliveryResult:
        return deliver(
            subscription,
            event,
            self.http_post,
            self.now,
            stage=self.stage,
            resolve=self.resolve,
            timeout=self.timeout,
        )

    def _record_attempts(
        self, records: Sequence[DeliveryRecord], results: Sequence[DeliveryResult], n: int, now: float
    ) -> list[Outcome]:
        """Record attempt `n` (started at `now`) of each claimed entry over the state it was claimed in, and
        queue the next attempt of each failure that has one left."""
        finished = self.now()
        updates = [
            self._attempted(record, result, n, now, finished) for record, result in zip(records, results, strict=True)
        ]
        saved = self.deliveries.save_all(
            [(updated, record.round, record.attempt_count) for record, updated in zip(records, updates, strict=True)]
        )
        outcomes: list[Outcome] = []
        retries: list[tuple[dict[str, Any], int]] = []
        for result, updated, is_saved in zip(results, updates, saved, strict=True):
            keys = {"partner_id": updated.partner_id, "webhook_id": updated.webhook_id, "attempt": n}
            if not is_saved:
                logger.warning("Delivery attempt recorded elsewhere meanwhile", extra=keys)
                outcomes.append(Outcome.DUPLICATE)
                continue
            status = updated.status.value
            log_keys = {**keys, "status_code": result.status_code, "error": result.error, "status": status}
            if updated.status is DeliveryStatus.PENDING:
                wait = self.delays[n]
                retries.append(delayed(task_message(updated, n + 1), wait, finished))
                logger.info("Webhook delivery failed; retry scheduled", extra={**log_keys, "retry_in_seconds": wait})
                outcomes.append(Outcome.RETRY_SCHEDULED)
            else:
                logger.info("Webhook delivery finished", extra=log_keys)
                outcomes.append(Outcome.DELIVERED if result.is_successful else Outcome.FAILED)
                if not result.is_successful:
                    record_metric(WEBHOOK_FINAL_FAILURES)
            record_metric(WEBHOOK_DELIVERIES, Outcome=outcomes[-1].value, Attempt=str(n))
        # A send that fails raises: the message is handed over again and the lost retries are queued then (see
        # `_resume` and `_duplicate`).
        self.queue.send_all(retries)
        return outcomes

    def _attempted(
        self, record: DeliveryRecord, result: DeliveryResult, n: int, now: float, finished: float
    ) -> DeliveryRecord:
        """`record` with attempt `n` added: DELIVERED on success, FAILED after the last attempt, else PENDING
        with the next attempt's time."""
        last = n >= self.max_attempts
        wait = None if result.is_successful or last else self.delays[n]
        status = (
            DeliveryStatus.DELIVERED
            if result.is_successful
            else (DeliveryStatus.FAILED if last else DeliveryStatus.PENDING)
        )
        attempt = DeliveryAttempt(
            n=n,
            round=record.round,
            at=_at(now),
            status_code=result.status_code,
            latency_ms=result.response_time_ms,
            error=result.error,
        )
        return record.model_copy(
            update={
                "status": status,
                "attempt_count": n,
                "attempts": [*record.attempts, attempt],
                "next_attempt_at": _at(finished + wait) if wait is not None else None,
                "updated_at": _at(finished),
                "end_reason": None,
            }
        )

    def _end(self, record: DeliveryRecord, subscription: Subscription | None, now: float) -> Outcome:
        """The claimed attempt's webhook is gone or no longer wants the event: end the entry FAILED without
        posting (its remaining attempts would go to a receiver that asked for nothing, or be dropped and leave
        the entry PENDING for good), and let the queue forget the task."""
        reason = _end_reason(subscription, record.webhook_event_type)
        ended = record.model_copy(
            update={
                "status": DeliveryStatus.FAILED,
                "next_attempt_at": None,
                "updated_at": _at(now),
                "end_reason": reason,
            }
        )
        keys = {"partner_id": record.partner_id, "webhook_id": record.webhook_id, "attempt": record.attempt_count + 1}
        if not self.deliveries.save(ended, record.round, record.attempt_count):
            logger.warning("Delivery attempt recorded elsewhere meanwhile", extra=keys)
            return Outcome.DUPLICATE
        logger.info("Webhook delivery ended without posting", extra={**keys, "reason": reason})
        return _end_outcome(subscription)

    def _duplicate(self, record: DeliveryRecord, task: DeliveryTask) -> Outcome:
        """A task for an attempt already recorded, or for an entry that has ended (the queue redelivered it). If
        that attempt failed and its follow-up may have been lost (a crash between recording and queueing), queue
        the follow-up again: duplicates of it are harmless, the next attempt is guarded the same way."""
        if (
            record.status is DeliveryStatus.PENDING
            and (record.round, record.attempt_count) == (task.round, task.attempt)
            and record.next_attempt_at is not None
        ):
            now = self.now()
            wait = record.next_attempt_at.timestamp() - now
            queue_after(self.queue, task_message(record, task.attempt + 1), wait, now)
        logger.info(
            "Delivery attempt already recorded: not posting again",
            extra={"webhook_id": task.webhook_id, "attempt": task.attempt, "round": task.round},
        )
        return Outcome.DUPLICATE
