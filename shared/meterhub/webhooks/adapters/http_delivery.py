"""The real HTTP poster of webhook deliveries (the `HttpPost` port).

It connects to the address the SSRF check approved (no second DNS lookup) while keeping the host name for TLS
verification (SNI and certificate) and the Host header. The timeout bounds the whole post, not each socket read:
a receiver that trickles its answer a byte at a time, each read inside the socket timeout, would otherwise hold
a dispatcher thread (and the invocation's other deliveries) for as long as it likes. At the deadline a watchdog
shuts the socket down, which wakes the read blocked on it.
"""

from __future__ import annotations

import heapq
import http.client
import itertools
import socket
import ssl
import threading
import time
from urllib.parse import urlsplit

from meterhub.webhooks.ports import PostRequest


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
