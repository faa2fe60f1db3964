"""Leap's retry schedule for webhook deliveries, and how long one attempt may take.

A rule, not an adapter setting: the dispatcher plans retries from it, the delivery log's retention is derived
from it, and the README documents it to partners.
"""

from __future__ import annotations

DEFAULT_TIMEOUT_SECONDS = 10.0


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
