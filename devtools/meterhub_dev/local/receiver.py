"""A webhook receiver for development: prints every delivery and checks its signature.

    python -m meterhub_dev.local.receiver --port 8765 --secret whsec_...

The same receiver as `meterhub webhooks listen` (meterhub_client.receiver, the one implementation), kept under
this name for the runner's users. See that module for what it prints and answers.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from meterhub_client.receiver import make_handler, serve

__all__ = ["main", "make_handler"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m meterhub_dev.local.receiver", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--secret", help="the webhook's signing_secret, to verify Meterhub-Signature")
    args = parser.parse_args(argv)
    return serve(args.port, args.secret)


if __name__ == "__main__":
    raise SystemExit(main())
