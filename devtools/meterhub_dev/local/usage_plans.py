"""API Gateway usage plans, locally: which API key a request is metered against, and its throttle.

As on API Gateway, only routes that require an API key are metered. The key is the authorizer's
`usageIdentifierKey` when the API's `ApiKeySourceType` is AUTHORIZER (else the `x-api-key` header); a
request without one, or whose key is in none of the API's usage plans, is refused with INVALID_API_KEY (403),
which is what a partner missing from the plan gets on AWS. Keys and plan membership are read from moto
(where the runner created the template's plans and the admin CLI adds partners' keys); the throttle is the
plan's `Throttle` in template.yaml: a token bucket per key, `BurstLimit` tokens, refilled at `RateLimit` per
second, one token per request; an empty bucket is THROTTLED (429, with the template's Retry-After).

Not applied locally: quotas, per-stage or per-method throttles inside a plan, and the stage's own
MethodSettings throttle (all partners together).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from meterhub_dev.local.rest_apis import ApiSpec, UsagePlanSpec

KEY_CACHE_SECONDS = 10.0
"""A key found in a plan is trusted this long before moto is asked again (API Gateway caches keys too)."""


@dataclass
class TokenBucket:
    """`capacity` tokens at most, `rate` more per second; a request takes one."""

    rate: float
    capacity: int
    clock: Callable[[], float] = time.monotonic
    tokens: float = field(init=False)
    updated: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = float(self.capacity)
        self.updated = self.clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(float(self.capacity), self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class LocalUsagePlans:
    """The template's usage plans, as created on moto (`plan_ids`: logical id -> moto's plan id)."""

    def __init__(self, plans: Mapping[str, UsagePlanSpec], plan_ids: Mapping[str, str], apigateway: Any) -> None:
        self._plans = plans
        self._plan_ids = plan_ids
        self._apigateway = apigateway
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._known: dict[tuple[str, str], float] = {}  # (plan, key value) -> when it was last found

    def refusal(self, api: ApiSpec, key_value: str | None) -> str | None:
        """None when the request may go on, else the gateway response type that ends it."""
        if not key_value:
            return "INVALID_API_KEY"
        plan = self._plan_of(api, key_value)
        if plan is None:
            return "INVALID_API_KEY"
        if plan.rate_limit is None or plan.burst_limit is None:
            return None
        with self._lock:
            bucket = self._buckets.get((plan.logical_id, key_value))
            if bucket is None:
                bucket = TokenBucket(rate=plan.rate_limit, capacity=plan.burst_limit)
                self._buckets[(plan.logical_id, key_value)] = bucket
            return None if bucket.take() else "THROTTLED"

    def _plan_of(self, api: ApiSpec, key_value: str) -> UsagePlanSpec | None:
        for plan in self._plans.values():
            if api.logical_id in plan.api_ids and self._in_plan(plan.logical_id, key_value):
                return plan
        return None

    def _in_plan(self, plan_id: str, key_value: str) -> bool:
        found = self._known.get((plan_id, key_value))
        if found is not None and time.monotonic() - found < KEY_CACHE_SECONDS:
            return True
        moto_plan_id = self._plan_ids.get(plan_id)
        if moto_plan_id is None:
            return False
        pages = self._apigateway.get_paginator("get_usage_plan_keys").paginate(usagePlanId=moto_plan_id)
        values = {item.get("value") for page in pages for item in page.get("items", [])}
        if key_value not in values:
            return False
        self._known[(plan_id, key_value)] = time.monotonic()
        return True
