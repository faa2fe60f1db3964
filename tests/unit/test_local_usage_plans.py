"""The local runner's usage plans: read from template.yaml, a token bucket per key."""

from __future__ import annotations

from pathlib import Path

from meterhub_dev.local.intrinsics import LocalContext
from meterhub_dev.local.stack import load_template
from meterhub_dev.local.usage_plans import TokenBucket

ROOT = Path(__file__).resolve().parents[2]


def test_a_bucket_serves_its_burst_then_its_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=2, capacity=5, clock=lambda: now[0])
    assert [bucket.take() for _ in range(6)] == [True] * 5 + [False]  # the burst, then empty
    now[0] += 0.5  # one token back at 2 per second
    assert [bucket.take(), bucket.take()] == [True, False]
    now[0] += 60  # refills to the burst size, never beyond
    assert [bucket.take() for _ in range(6)] == [True] * 5 + [False]


def test_the_template_plan_meters_the_partner_routes_with_the_parameters() -> None:
    context = LocalContext(
        parameter_overrides={"StageName": "local", "PartnerRateLimit": "7", "PartnerBurstLimit": "9"}
    )
    template = load_template(ROOT / "template.yaml", context)
    [plan] = template.usage_plans.values()
    assert (plan.api_ids, plan.rate_limit, plan.burst_limit) == (("PartnerApi",), 7.0, 9)
    api = template.apis["PartnerApi"]
    assert api.api_key_source == "AUTHORIZER"
    # Every route behind the partner authorizer is metered; the public ones (Connect pages, demo utility) are not
    for route in template.routes:
        assert route.api_key_required == (route.authorizer is not None), route
    throttled = api.gateway_responses["THROTTLED"]
    assert throttled.headers == {"Retry-After": "1", "Strict-Transport-Security": "max-age=31536000; includeSubDomains"}
    assert '"rate_limit_per_second":7,"burst_limit":9' in throttled.templates["application/json"]
