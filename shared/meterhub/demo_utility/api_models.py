"""What the demo utility's sign-in page shows."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoAuthorizeView:
    """The demo sign-in form; ``scenarios`` are (value, label) pairs, the first one checked."""

    action_url: str
    hidden_fields: tuple[tuple[str, str], ...]
    client_name: str
    scopes_description: str
    scenarios: tuple[tuple[str, str], ...]
    tips: str | None = None  # how to steer the demo (shown with the test scenarios, not in the request)
