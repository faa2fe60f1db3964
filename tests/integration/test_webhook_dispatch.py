"""The dispatcher's use cases on the in-memory fakes, delivering to a real threaded HTTP receiver on 127.0.0.1.

The retry delays are injected (all zero, or a recorded schedule) so nothing sleeps; the queue is the in-memory
fake, drained by `run` as the SQS trigger would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from meterhub.platform.event_publisher import publish
from meterhub.platform.events import WebhookEventType
from meterhub.webhooks.adapters.http_delivery import http_client_post
from meterhub.webhooks.api_models import SIGNATURE_HEADER
from meterhub.webhooks.ports import PostRequest
from meterhub.webhooks.records import DeliveryStatus, Subscription, WebhookHeader
from meterhub.webhooks.rules.schedule import DEFAULT_TIMEOUT_SECONDS, MAX_ATTEMPTS, RETRY_DELAYS_SECONDS
from meterhub.webhooks.rules.signing import verify
from meterhub.webhooks.use_cases.dispatch import (
    LEASE_SECONDS,
    POST_CONCURRENCY,
    RECORDING_SECONDS,
    DeliveryBusy,
    Dispatcher,
    Outcome,
)

from tests.emf import EmfCapture, point, totals
from tests.fakes.queues import InMemoryWorkQueue
from tests.fakes.webhooks import InMemoryDeliveryLog, InMemoryWebhookRepository

SECRET = "whsec_dispatch-test"
NO_WAIT = (0,) * MAX_ATTEMPTS
PAYLOAD = {"webhook_event_type": "meter.created", "meter_id": "m-1", "partner_reference": "ref-1"}


@dataclass
class Receiver:
    url: str = ""
    statuses: list[int] = field(default_factory=list)  # answered in turn; the last one repeats
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    before_answer: Callable[[], None] | None = None  # runs in the request's thread before it answers


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            n = len(state.received) - 1
            if state.before_answer is not None:
                state.before_answer()
            status = state.statuses[min(n, len(state.statuses) - 1)] if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def subscription(url: str, webhook_id: str = "w1", partner_id: str = "p1", **changes: Any) -> Subscription:
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "webhook_id": webhook_id,
        "partner_id": partner_id,
        "event_types": [WebhookEventType.METER_CREATED],
        "receiver_url": url,
        "headers": [WebhookHeader(name="x-api-key", value="k-123")],
        "signing_secret": SECRET,
        "created_at": now,
        "updated_at": now,
    }
    return Subscription(**{**values, **changes})


@dataclass
class World:
    repo: InMemoryWebhookRepository = field(default_factory=InMemoryWebhookRepository)
    log: InMemoryDeliveryLog = field(default_factory=InMemoryDeliveryLog)
    queue: InMemoryWorkQueue = field(default_factory=InMemoryWorkQueue)
    clock: float = 1_750_000_000.0
    delays: tuple[int, ...] = NO_WAIT

    def dispatcher(self) -> Dispatcher:
        return Dispatcher(
            self.repo,
            self.log,
            self.queue,
            "local",
            delays=self.delays,
            http_post=http_client_post,
            now=lambda: self.clock,
        )

    def run(self, max_messages: int = 100) -> list[tuple[dict[str, Any], int, Outcome]]:
        """Handle queued messages in order (advancing the clock by each message's delay) until none is left."""
        handled: list[tuple[dict[str, Any], int, Outcome]] = []
        dispatcher = self.dispatcher()
        while self.queue.messages:
            assert len(handled) < max_messages, "the queue did not drain"
            message, delay = self.queue.messages.pop(0), self.queue.delays.pop(0)
            self.clock += delay
            handled.append((message, delay, dispatcher.handle(message)))
        return handled


@pytest.fixture
def world() -> World:
    return World()


def test_an_event_fans_out_to_each_matching_subscription_of_its_partner_only(world: World, receiver: Receiver) -> None:
    # Given two subscriptions of p1 wanting meter.created, one of p1 wanting another type, one of p2
    world.repo.create(subscription(receiver.url, "w1"))
    world.repo.create(subscription(receiver.url, "w2"))
    world.repo.create(subscription(receiver.url, "w3", event_types=[WebhookEventType.METER_JOB_COMPLETED]))
    world.repo.create(subscription(receiver.url, "w4", partner_id="p2"))
    # When p1 publishes a meter.created event and the dispatcher handles it
    event_id = publish(world.queue, "p1", PAYLOAD)
    outcome = world.run()[0][2]
    # Then there was one task per matching subscription and each delivered once, with the same event id
    assert outcome is Outcome.FANNED_OUT
    assert len(receiver.received) == 2
    assert {h["meterhub-event-id"] for h, _ in receiver.received} == {event_id}
    assert {k[1] for k in world.log.items} == {"w1", "w2"}
    assert all(r.status is DeliveryStatus.DELIVERED and r.attempt_count == 1 for r in world.log.items.values())


def test_a_delivery_is_signed_with_the_partner_headers(world: World, receiver: Receiver) -> None:
    world.repo.create(subscription(receiver.url))
    publish(world.queue, "p1", PAYLOAD)
    world.run()
    [(headers, body)] = receiver.received
    assert headers["x-api-key"] == "k-123"
    assert verify(SECRET, headers[SIGNATURE_HEADER.lower()], body, now=world.clock)
    [record] = world.log.items.values()
    assert record.attempts[0].status_code == 200 and record.attempts[0].latency_ms is not None


def test_a_500_is_retried_after_the_schedule_delay_and_then_succeeds(world: World, receiver: Receiver) -> None:
    # Given a receiver answering 500 twice, then 200, and the real schedule (the fake queue carries the delays)
    receiver.statuses = [500, 500, 200]
    world.delays = RETRY_DELAYS_SECONDS
    world.repo.create(subscription(receiver.url))
    publish(world.queue, "p1", PAYLOAD)
    # When the queue is drained
    handled = world.run()
    # Then attempts 2 and 3 were queued 60 s and 120 s after the previous ones, and the third delivered
    tasks = [(m["attempt"], delay, outcome) for m, delay, outcome in handled if "webhook_id" in m]
    assert tasks == [
        (1, 0, Outcome.RETRY_SCHEDULED),
        (2, 60, Outcome.RETRY_SCHEDULED),
        (3, 120, Outcome.DELIVERED),
    ]
    [record] = world.log.items.values()
    assert record.status is DeliveryStatus.DELIVERED and record.next_attempt_at is None
    assert [(a.n, a.status_code) for a in record.attempts] == [(1, 500), (2, 500), (3, 200)]
    assert len({h["meterhub-event-id"] for h, _ in receiver.received}) == 1


def test_a_receiver_that_never_answers_2xx_ends_failed_after_10_attempts(world: World, receiver: Receiver) -> None:
    receiver.statuses = [503]
    world.repo.create(subscription(receiver.url))
    publish(world.queue, "p1", PAYLOAD)
    handled = world.run()
    assert len(receiver.received) == MAX_ATTEMPTS == 10
    assert handled[-1][2] is Outcome.FAILED
    [record] = world.log.items.values()
    assert record.status is DeliveryStatus.FAILED and record.attempt_count == 10 and record.next_attempt_at is None
    assert [a.n for a in record.attempts] == list(range(1, 11))
    assert all(a.status_code == 503 for a in record.attempts)


def test_waits_longer_than_15_minutes_are_requeued_with_not_before_until_due(world: World, receiver: Receiver) -> None:
    # Given a schedule whose second attempt waits 2,000 s (more than SQS's 900 s maximum delay)
    receiver.statuses = [500, 200]
    world.delays = (0, 2000, 0)
    world.repo.create(subscription(receiver.url))
    publish(world.queue, "p1", PAYLOAD)
    handled = world.run()
    # Then attempt 2 hopped 900 + 900 + 200 s, posting only once due
    attempt_two = [(delay, outcome) for m, delay, outcome in handled if m.get("attempt") == 2]
    assert attempt_two == [(900, Outcome.DEFERRED), (900, Outcome.DEFERRED), (200, Outcome.DELIVERED)]
    assert len(receiver.received) == 2
    [record] = world.log.items.values()
    assert record.attempts[1].at.timestamp() - record.attempts[0].at.timestamp() == pytest.approx(2000, abs=1)


def test_a_redelivered_task_does_not_post_again(world: World, receiver: Receiver) -> None:
    # Given an event delivered once
    world.repo.create(subscription(receiver.url))
    publish(world.queue, "p1", PAYLOAD)
    world.run()
    assert len(receiver.received) == 1
    [record] = world.log.items.values()
    task = {"partner_id": "p1", "webhook_id": "w1", "event": record.event, "attempt": 1, "round": 1}
    # When the queue hands the same task (and the same event) over again
    outcome = world.dispatcher().handle(task)
    world.queue.send({"partner_id": "p1", "webhook_event_id": record.webhook_event_id, "payload": PAYLOAD})
    world.run()
    # Then nothing is posted again
    assert outcome is Outcome.DUPLICATE
    assert len(receiver.received) == 1
    assert world.log.items[("p1", "w1", record.webhook_event_id)].attempt_count == 1


def test_a_duplicate_of_a_failed_attempt_queues_its_lost_follow_up_again(world: World, receiver: Receiver) -> None:
    # Given attempt 1 failed and recorded, but its follow-up never reached the queue (a crash)
    receiver.statuses = [500, 200]
    world.repo.create(subscription(receiver.url))
    publish(world.queue, "p1", PAYLOAD)
    dispatcher = world.dispatcher()
    dispatcher.handle(world.queue.messages.pop(0))
    world.queue.delays.pop(0)
    task = world.queue.messages.pop(0)
    world.queue.delays.pop(0)
    assert dispatcher.handle(task) is Outcome.RETRY_SCHEDULED
    world.queue.messages.clear()
    world.queue.delays.clear()
    # When the queue redelivers attempt 1
    assert dispatcher.handle(task) is Outcome.DUPLICATE
    # Then attempt 2 is queued again and delivers
    world.run()
    assert [s for s in (r.status for r in world.log.items.values())] == [DeliveryStatus.DELIVERED]
    assert len(receiver.received) == 2


def test_a_task_for_a_deleted_webhook_is_dropped(world: World, receiver: Receiver) -> None:
    world.repo.create(subscription(receiver.url))
    publish(world.queue, "p1", PAYLOAD)
    dispatcher = world.dispatcher()
    dispatcher.handle(world.queue.messages.pop(0))
    world.repo.delete("p1", "w1")
    assert dispatcher.handle(world.queue.messages.pop(0)) is Outcome.SUBSCRIPTION_GONE
    assert receiver.received == []


def test_an_event_of_a_partner_without_subscriptions_sends_nothing(world: World) -> None:
    publish(world.queue, "p1", PAYLOAD)
    assert [outcome for _, _, outcome in world.run()] == [Outcome.FANNED_OUT]
    assert world.log.items == {}


def test_publish_refuses_an_unknown_event_type(world: World) -> None:
    with pytest.raises(ValueError, match=r"not\.a\.type"):
        publish(world.queue, "p1", {"webhook_event_type": "not.a.type"})
    assert world.queue.messages == []


# ----- attempt 1 posted inline by the fan-out (the Lambda handler grants its remaining time) -----------------------
BUDGET = 120.0  # seconds: the dispatcher function's timeout


def fan_out_inline(world: World, budget: float = BUDGET) -> Outcome:
    """Hand the first queued message (an event) to the dispatcher with a time budget, as the handler does."""
    message = world.queue.messages.pop(0)
    world.queue.delays.pop(0)
    return world.dispatcher().handle(message, budget_seconds=budget)


def test_with_a_budget_the_fan_out_posts_attempt_1_itself_and_queues_nothing(world: World, receiver: Receiver) -> None:
    for webhook_id in ("w1", "w2", "w3"):
        world.repo.create(subscription(receiver.url, webhook_id))
    event_id = publish(world.queue, "p1", PAYLOAD)
    assert fan_out_inline(world) is Outcome.FANNED_OUT
    assert world.queue.messages == []
    assert len(receiver.received) == 3 and {h["meterhub-event-id"] for h, _ in receiver.received} == {event_id}
    for record in world.log.items.values():
        assert (record.status, record.attempt_count, record.next_attempt_at) == (DeliveryStatus.DELIVERED, 1, None)
        assert [(a.n, a.round, a.status_code) for a in record.attempts] == [(1, 1, 200)]
    assert world.log.leases == {}  # recording the attempt released the lease it was started with


def test_an_inline_failure_queues_attempt_2_after_the_schedule_delay(world: World, receiver: Receiver) -> None:
    receiver.statuses = [500, 200]
    world.delays = RETRY_DELAYS_SECONDS
    world.repo.create(subscription(receiver.url))
    publish(world.queue, "p1", PAYLOAD)
    fan_out_inline(world)
    assert [(m["attempt"], d) for m, d in zip(world.queue.messages, world.queue.delays, strict=True)] == [(2, 60)]
    [(_, delay, outcome)] = world.run()
    assert (delay, outcome) == (60, Outcome.DELIVERED)
    [record] = world.log.items.values()
    assert [(a.n, a.status_code) for a in record.attempts] == [(1, 500), (2, 200)]


def test_inline_posts_run_concurrently(world: World, receiver: Receiver) -> None:
    # Given a receiver that answers only once all five posts are in flight at the same time
    in_flight = threading.Barrier(5, timeout=5)
    statuses: list[int] = []

    def together() -> None:
        try:
            in_flight.wait()
            statuses.append(200)
        except threading.BrokenBarrierError:
            statuses.append(503)

    receiver.before_answer = together
    for n in range(5):
        world.repo.create(subscription(receiver.url, f"w{n}"))
    publish(world.queue, "p1", PAYLOAD)
    fan_out_inline(world)
    # Then every post met the others at the barrier (posted one by one, the first would wait alone and give up)
    assert statuses == [200] * 5
    assert all(r.status is DeliveryStatus.DELIVERED for r in world.log.items.values())


def test_subscriptions_beyond_the_budget_get_queued_tasks(world: World, receiver: Receiver) -> None:
    # Given 12 subscriptions and a budget of one round of posts (10 at once, each up to the 10 s timeout)
    for n in range(12):
        world.repo.create(subscription(receiver.url, f"w{n:02}"))
    publish(world.queue, "p1", PAYLOAD)
    one_round = RECORDING_SECONDS + DEFAULT_TIMEOUT_SECONDS + 1
    assert world.dispatcher().inline_capacity(one_round) == POST_CONCURRENCY == 10
    fan_out_inline(world, one_round)
    # Then ten were posted inline and two were queued as attempt 1 tasks, which deliver when run
    assert len(receiver.received) == 10
    assert sorted(m["webhook_id"] for m in world.queue.messages) == ["w10", "w11"]
    world.run()
    assert len(receiver.received) == 12
    assert all(r.status is DeliveryStatus.DELIVERED for r in world.log.items.values())


def test_no_budget_or_a_delayed_first_attempt_means_queued_tasks(world: World, receiver: Receiver) -> None:
    assert world.dispatcher().inline_capacity(RECORDING_SECONDS + DEFAULT_TIMEOUT_SECONDS) == 0
    world.delays = (30, *NO_WAIT[1:])
    assert world.dispatcher().inline_capacity(BUDGET) == 0
    world.repo.create(subscription(receiver.url))
    publish(world.queue, "p1", PAYLOAD)
    fan_out_inline(world)
    assert receiver.received == [] and [m["attempt"] for m in world.queue.messages] == [1]
    assert world.queue.delays == [30]


def test_an_event_handed_over_again_after_an_inline_delivery_posts_nothing(world: World, receiver: Receiver) -> None:
    world.repo.create(subscription(receiver.url))
    publish(world.queue, "p1", PAYLOAD)
    event = dict(world.queue.messages[0])
    fan_out_inline(world)
    world.queue.send(event)
    fan_out_inline(world)
    assert len(receiver.received) == 1 and world.queue.messages == []


def test_an_inline_attempt_that_died_is_posted_once_its_lease_has_run_out(world: World, receiver: Receiver) -> None:
    # Given an invocation that started the entry for its inline attempt and died before posting
    world.repo.create(subscription(receiver.url))
    publish(world.queue, "p1", PAYLOAD)
    event = dict(world.queue.messages[0])

    def crash(request: PostRequest) -> int:
        raise SystemExit(f"the invocation ran out of time posting to {request.url}")

    dispatcher = Dispatcher(
        world.repo, world.log, world.queue, "local", delays=world.delays, http_post=crash, now=lambda: world.clock
    )
    with pytest.raises(SystemExit):
        dispatcher.handle(world.queue.messages.pop(0), budget_seconds=BUDGET)
    world.queue.delays.pop(0)
    [record] = world.log.items.values()
    assert (record.status, record.attempt_count) == (DeliveryStatus.PENDING, 0)
    # When the queue hands the event over again: its attempt 1 is queued as a task, which waits out the lease
    world.queue.send(event)
    fan_out_inline(world)
    [task] = world.queue.messages
    assert task["attempt"] == 1
    with pytest.raises(DeliveryBusy):
        world.dispatcher().handle(task)
    world.clock += DEFAULT_TIMEOUT_SECONDS + 1 + LEASE_SECONDS + 1  # past the lease of one round of posts
    world.run()
    # Then it was posted exactly once
    assert len(receiver.received) == 1
    assert world.log.items[("p1", "w1", record.webhook_event_id)].status is DeliveryStatus.DELIVERED


class LosesRetries(InMemoryWorkQueue):
    """A queue whose sends of retries (attempt 2 onwards) fail while `down`: the invocation dies between
    recording a failed inline attempt and queueing its retry."""

    def __init__(self) -> None:
        super().__init__()
        self.down = True

    def send(self, message: dict[str, Any], delay_seconds: int = 0) -> None:
        if self.down and message.get("attempt", 1) > 1:
            raise ConnectionError("the queue could not be reached")
        super().send(message, delay_seconds)


def test_a_retry_lost_after_a_failed_inline_attempt_is_queued_when_the_event_comes_back(receiver: Receiver) -> None:
    # Given an inline attempt 1 that failed and was recorded, and an invocation that died before queueing attempt 2
    queue = LosesRetries()
    world = World(queue=queue, delays=RETRY_DELAYS_SECONDS)
    receiver.statuses = [500, 200]
    world.repo.create(subscription(receiver.url))
    publish(world.queue, "p1", PAYLOAD)
    event = dict(world.queue.messages[0])
    with pytest.raises(ConnectionError):
        fan_out_inline(world)
    [record] = world.log.items.values()
    assert (record.status, record.attempt_count) == (DeliveryStatus.PENDING, 1) and world.queue.messages == []
    # When the queue hands the event over again
    queue.down = False
    world.queue.send(event)
    fan_out_inline(world)
    # Then attempt 2 is queued for when the schedule says (60 s after attempt 1), posts nothing more now, and
    # delivers when run
    assert [(m["attempt"], d) for m, d in zip(world.queue.messages, world.queue.delays, strict=True)] == [(2, 60)]
    assert len(receiver.received) == 1
    world.run()
    assert world.log.items[("p1", "w1", record.webhook_event_id)].status is DeliveryStatus.DELIVERED
    assert len(receiver.received) == 2


# ----- metrics ----------------------------------------------------------------------------------------------


def test_deliveries_count_by_outcome_and_attempt_and_a_final_failure_once(receiver: Receiver, emf: EmfCapture) -> None:
    # Given a receiver that answers 500 and then 200
    first = World()
    first.repo.create(subscription(receiver.url))
    receiver.statuses = [500, 200]
    publish(first.queue, "p1", PAYLOAD)
    first.run()
    # Then attempt 1 counts as retry_scheduled and attempt 2 as delivered, and nothing failed for good
    assert totals(emf()) == {
        point("WebhookDeliveries", Outcome="retry_scheduled", Attempt="1"): 1,
        point("WebhookDeliveries", Outcome="delivered", Attempt="2"): 1,
    }

    # Given a receiver that never answers 2xx
    second = World()
    second.repo.create(subscription(receiver.url))
    receiver.statuses = [503]
    publish(second.queue, "p1", PAYLOAD)
    second.run()
    # Then attempts 1-9 count as retry_scheduled, the last as failed, and one final failure
    assert totals(emf()) == {
        **{point("WebhookDeliveries", Outcome="retry_scheduled", Attempt=str(n)): 1 for n in range(1, MAX_ATTEMPTS)},
        point("WebhookDeliveries", Outcome="failed", Attempt=str(MAX_ATTEMPTS)): 1,
        point("WebhookFinalFailures"): 1,
    }
