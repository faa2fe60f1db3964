"""A webhook receiver for development: prints every delivery and checks its signature.

    python -m meterhub_dev.local.receiver --port 8765 --secret whsec_...

Subscribe it with `"receiver_url": "http://127.0.0.1:8765/hooks"` (plain http to loopback is allowed only in
the local runner). It answers 204 to a correctly signed delivery (or to any delivery when no secret is
given) and 401 to a bad signature, so the dispatcher's retries can be watched too. Each line says whether the
delivery is a TEST (`POST /v1.1/webhooks/{id}/test`: our sample payload, `"test": true` in the signed body and
`Meterhub-Test: true`) or a real EVENT, as a receiver must tell them apart before acting on one.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

from meterhub.platform.events import TEST_FIELD
from meterhub.webhooks.api_models import SIGNATURE_HEADER, TEST_HEADER
from meterhub.webhooks.rules.signing import verify


def make_handler(secret: str | None, out: Any = sys.stdout) -> type[BaseHTTPRequestHandler]:
    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            signature = self.headers.get(SIGNATURE_HEADER) or ""
            valid = verify(secret, signature, body) if secret else None
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m meterhub_dev.local.receiver", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--secret", help="the webhook's signing_secret, to verify Meterhub-Signature")
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args.secret))
    # Ctrl-C, and `kill` of a background receiver, stop it cleanly. Set explicitly: a job a script starts in the
    # background (`... &`, as the README does) inherits SIGINT ignored, and Python then installs no handler.
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    print(f"Receiving webhooks on http://127.0.0.1:{args.port}/ (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("Stopped", flush=True)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
