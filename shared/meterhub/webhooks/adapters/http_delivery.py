"""One delivery attempt of one event to one subscription, and Leap's retry schedule.

`deliver` re-checks the receiver URL (the subscription was checked when saved, but DNS can change since),
signs the exact body it sends, posts it with the partner's headers through an injectable poster and reports
`{is_successful, status_code, response_time_ms, error}`. Success is any 2xx within the timeout (10 s, Leap's
rule: a 2xx after 10 s counts as a failure). Redirects are never followed: a 3xx is a failure, so a receiver
cannot bounce a delivery to an internal address.

The default poster connects to the address the SSRF check approved (no second DNS lookup) while keeping the
host name for TLS verification (SNI and certificate) and the Host header. The timeout bounds the whole post, not
each socket read: a receiver that trickles its answer a byte at a time, each read inside the socket timeout,
would otherwise hold a dispatcher thread (and the invocation's other deliveries) for as long as it likes. At the
deadline a watchdog shuts the socket down, which wakes the read blocked on it.
"""

from __future__ import annotations

import heapq
import http.client
import itertools
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from meterhub.platform.events import TEST_FIELD
from meterhub.webhooks.api_models import RESERVED_HEADERS, SIGNATURE_HEADER, TEST_HEADER
from meterhub.webhooks.records import Subscription
from meterhub.webhooks.rules.signing import signature_header
from meterhub.webhooks.rules.urls import Resolver, UnsafeReceiver, check_receiver, system_resolver

DEFAULT_TIMEOUT_SECONDS = 10.0


USER_AGENT = "meterhub-webhooks/1.0"


# Leap's schedule: 10 attempts over ~8 h. Entry n is the wait before attempt n+1, counted from the previous
# attempt: attempts at 00:00, 00:01, 00:03, 00:07, 00:15, 00:31, 01:00, 02:00, 04:00, 08:00; then give up.
RETRY_DELAYS_SECONDS: tuple[int, ...] = (0, 60, 120, 240, 480, 960, 1740, 3600, 7200, 14400)


MAX_ATTEMPTS = len(RETRY_DELAYS_SECONDS)


def delay_before_attempt(attempt: int) -> int | None:
    """Seconds to wait after attempt `attempt - 1` before attempt `attempt` (1-based); None past the last."""
    if attempt < 1 or attempt > MAX_ATTEMPTS:
        return None
    return RETRY_DELAYS_SECONDS[attempt - 1]


def attempt_offsets() -> list[int]:
    """When each attempt happens, in seconds after the first."""
    offsets, total = [], 0
    for delay in RETRY_DELAYS_SECONDS:
        total += delay
        offsets.append(total)
    return offsets


@dataclass(frozen=True)
class PostRequest:
    url: str
    address: str | None  # the vetted IP to connect to; None lets the poster resolve the host itself
    headers: Mapping[str, str]
    body: bytes
    timeout: float


class HttpPost(Protocol):
    def __call__(self, request: PostRequest) -> int:
        """Send the request; return the HTTP status. Raise OSError (incl. timeouts) when no answer came."""


@dataclass(frozen=True)
class DeliveryResult:
    is_successful: bool
    status_code: int | None = None
    response_time_ms: int | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "is_successful": self.is_successful,
            "status_code": self.status_code,
            "response_time_ms": self.response_time_ms,
            "error": self.error,
        }


class _Deadline:
    """Cuts a connection's socket when the post's time is up (see the module docstring).

    `cut` sets the flag before it reads the socket and `pinned` stores the socket before it reads the flag, so
    a cut that lands while the connection is being opened is seen by one side or the other."""

    def __init__(self, at: float) -> None:
        self.at = at  # time.monotonic() when the post's time is up
        self.finished = False
        self.passed = False
        self.sock: socket.socket | None = None

    def cut(self) -> None:
        self.passed = True
        _shut(self.sock)

    def pinned(self, sock: socket.socket) -> socket.socket:
        self.sock = sock
        if self.passed:
            _shut(sock)
        return sock


class _Watchdog:
    """One daemon thread that cuts every post still running at its deadline.

    A `threading.Timer` per post would start (and end) a thread per delivery, about 0.1 ms of CPU each. Here a
    post only pushes its deadline on a heap; finished posts are dropped from the top lazily. The thread sleeps
    until the earliest deadline, but at least GRANULARITY seconds, so a steady stream of posts does not wake it
    per post: a post is cut between its timeout and GRANULARITY later.
    """

    GRANULARITY = 0.25

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._heap: list[tuple[float, int, _Deadline]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: _Deadline) -> None:
        with self._changed:
            heapq.heappush(self._heap, (deadline.at, next(self._order), deadline))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="webhook-post-deadlines", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is deadline:
                self._changed.notify()  # earlier than what the thread sleeps until

    def _run(self) -> None:
        with self._changed:
            while True:
                now = time.monotonic()
                while self._heap and (self._heap[0][2].finished or self._heap[0][0] <= now):
                    deadline = heapq.heappop(self._heap)[2]
                    if not deadline.finished:
                        deadline.cut()
                self._changed.wait(max(self._heap[0][0] - now, self.GRANULARITY) if self._heap else None)


_watchdog = _Watchdog()


def _shut(sock: socket.socket | None) -> None:
    """Shut the TCP socket down (for TLS, the socket under it, as TLS's own shutdown would try to talk)."""
    if sock is None:
        return
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        return  # already closed or never connected: nothing is blocked on it


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str | None, timeout: float, deadline: _Deadline) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address
        self._deadline = deadline

    def connect(self) -> None:
        self.sock = self._deadline.pinned(
            socket.create_connection((self._address or self.host, self.port), self.timeout)
        )


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str | None, timeout: float, deadline: _Deadline) -> None:
        context = ssl.create_default_context()
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._tls = context
        self._deadline = deadline

    def connect(self) -> None:
        raw = self._deadline.pinned(socket.create_connection((self._address or self.host, self.port), self.timeout))
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def http_client_post(request: PostRequest) -> int:
    """The default poster: http.client (never follows redirects), connected to the vetted address, cut off at
    the timeout (raising OSError)."""
    parts = urlsplit(request.url)
    host = parts.hostname or ""
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    factory = _PinnedHTTPSConnection if https else _PinnedHTTPConnection
    deadline = _Deadline(time.monotonic() + request.timeout)
    connection = factory(host, port, request.address, request.timeout, deadline)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    _watchdog.watch(deadline)
    try:
        connection.request("POST", path, body=request.body, headers=dict(request.headers))
        response = connection.getresponse()
        response.read(64 * 1024)  # drain a little so the connection closes cleanly; the body is ignored
        return int(response.status)
    finally:
        deadline.finished = True
        connection.close()


def encode_event(event: Mapping[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def build_headers(subscription: Subscription, event: Mapping[str, Any], body: bytes, timestamp: int) -> dict[str, str]:
    headers = {h.name.lower(): h.value for h in subscription.headers if h.name.lower() not in RESERVED_HEADERS}
    headers.update(
        {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            SIGNATURE_HEADER: signature_header(subscription.signing_secret, body, timestamp),
            "meterhub-event-id": str(event.get("webhook_event_id", "")),
        }
    )
    if event.get(TEST_FIELD) is True:
        headers[TEST_HEADER] = "true"
    return headers


def deliver(
    subscription: Subscription,
    event: Mapping[str, Any],
    http_post: HttpPost = http_client_post,
    now: Callable[[], float] = time.time,
    *,
    stage: str,
    resolve: Resolver = system_resolver,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> DeliveryResult:
    """One attempt. Never raises for receiver-side problems: they come back as an unsuccessful result."""
    try:
        receiver = check_receiver(subscription.receiver_url, stage, resolve)
    except UnsafeReceiver as error:
        return DeliveryResult(is_successful=False, error=f"Refused: receiver_url {error.reason}")
    body = encode_event(event)
    request = PostRequest(
        url=subscription.receiver_url,
        address=receiver.addresses[0],
        headers=build_headers(subscription, event, body, int(now())),
        body=body,
        timeout=timeout,
    )
    started = time.monotonic()
    try:
        status = http_post(request)
    except (OSError, http.client.HTTPException) as error:
        if isinstance(error, TimeoutError) or time.monotonic() - started >= timeout:  # a read cut at the deadline
            return DeliveryResult(is_successful=False, error=f"Timed out after {timeout:g} s")
        return DeliveryResult(is_successful=False, error=f"Connection failed: {type(error).__name__}")
    elapsed = time.monotonic() - started
    elapsed_ms = int(elapsed * 1000)
    if elapsed > timeout:
        return DeliveryResult(False, status, elapsed_ms, f"Answered after the {timeout:g} s timeout")
    return DeliveryResult(is_successful=200 <= status < 300, status_code=status, response_time_ms=elapsed_ms)
