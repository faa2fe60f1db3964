"""A webhook receiver for development (`meterhub webhooks listen`): prints every delivery and checks its signature.

Subscribe it with `"receiver_url": "http://127.0.0.1:8765/hooks"` (plain http to loopback is allowed only in the
local runner). It answers 204 to a correctly signed delivery (or to any delivery when no secret is given) and
401 to a bad signature, so the dispatcher's retries can be watched too. Each line says whether the delivery is a
TEST (`POST /v1.1/webhooks/{id}/test`: our sample payload, `"test": true` in the signed body and
`Meterhub-Test: true`) or a real EVENT, as a receiver must tell them apart before acting on one.
`python -m meterhub_dev.local.receiver` is this receiver too.
"""

from __future__ import annotations

import json
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any, Protocol

from meterhub_client.signatures import SIGNATURE_HEADER, TEST_FIELD, TEST_HEADER, verify_signature


class Output(Protocol):
    """Where deliveries are printed: a text stream, or anything that writes and flushes text."""

    def write(self, text: str, /) -> object: ...

    def flush(self) -> object: ...


def make_handler(secret: str | None, out: Output = sys.stdout) -> type[BaseHTTPRequestHandler]:
    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            signature = self.headers.get(SIGNATURE_HEADER) or ""
            valid = verify_signature(secret, signature, body) if secret else None
            event = _object(body)
            payload = _object(event.get("payload"))
            # The signed body decides; the header (not signed) is only shown when it disagrees with the body
            test = event.get(TEST_FIELD) is True
            kind = "TEST" if test else "EVENT"
            if (self.headers.get(TEST_HEADER) == "true") != test:
                kind += f" ({TEST_HEADER} header disagrees)"
            verdict = {True: "signature OK", False: "BAD SIGNATURE", None: "signature not checked"}[valid]
            print(
                f"{payload.get('webhook_event_type', '?'):<45} {verdict:<22} {kind:<5} {body.decode(errors='replace')}",
                file=out,
                flush=True,
            )
            self.send_response(401 if valid is False else 204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None  # the line above says everything

    return Receiver


def _object(value: Any) -> dict[str, Any]:
    """`value` (or the JSON in it) when that is an object, else {}: a broken delivery is printed, not a crash."""
    if isinstance(value, bytes):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def _stop(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def serve(port: int, secret: str | None, out: Output = sys.stdout) -> int:
    """Receive on 127.0.0.1:`port` until Ctrl-C or SIGTERM."""
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(secret, out))
    # Ctrl-C, and `kill` of a background receiver, stop it cleanly. Set explicitly: a job a script starts in the
    # background (`... &`, as the README does) inherits SIGINT ignored, and Python then installs no handler.
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    print(f"Receiving webhooks on http://127.0.0.1:{server.server_port}/ (Ctrl-C to stop)", file=out, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("Stopped", file=out, flush=True)
    finally:
        server.server_close()
    return 0
