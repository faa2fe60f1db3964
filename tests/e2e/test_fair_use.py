"""Fair use over real HTTP: each partner is throttled on its own by the usage plan in template.yaml, which the
local runner applies as API Gateway does (a token bucket per partner's usage key). A runner started with a
small plan (`--parameter PartnerRateLimit=2 --parameter PartnerBurstLimit=5`, as `make run` takes them) makes
the limit quick to reach."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import LocalStack, running_stack

pytestmark = pytest.mark.e2e

RATE, BURST = 2, 5
PROGRAMS = "/v1.1/programs"


@pytest.fixture(scope="module")
def small_plan(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    directory: Path = tmp_path_factory.mktemp("fair_use_runner")
    with running_stack(directory, f"PartnerRateLimit={RATE}", f"PartnerBurstLimit={BURST}") as stack:
        yield stack


def get(stack: LocalStack, api_key: str) -> requests.Response:
    return requests.get(f"{stack.url}{PROGRAMS}", headers=stack.auth(api_key), timeout=30)


def test_a_partner_over_its_rate_gets_429_while_another_is_served(small_plan: LocalStack) -> None:
    # Given two partners
    _, greedy = small_plan.new_partner(f"E2E Greedy {uuid.uuid4().hex[:6]}")
    _, polite = small_plan.new_partner(f"E2E Polite {uuid.uuid4().hex[:6]}")
    # When one sends far more than its burst, as fast as it can
    statuses = [get(small_plan, greedy).status_code for _ in range(BURST * 3)]
    # Then its burst is served and then it is throttled
    assert statuses[:BURST] == [200] * BURST, statuses
    assert 429 in statuses, statuses
    throttled = get(small_plan, greedy)
    assert throttled.status_code == 429
    # with our error envelope naming the limits, and Retry-After
    assert throttled.json() == {
        "title": "Too many requests",
        "status": 429,
        "details": {"rate_limit_per_second": RATE, "burst_limit": BURST, "retry_after_seconds": 1},
    }
    assert throttled.headers["Retry-After"] == "1"
    # And the other partner is served all the while: its allowance is its own
    assert [get(small_plan, polite).status_code for _ in range(BURST)] == [200] * BURST
    # And after Retry-After the greedy partner is served again
    time.sleep(int(throttled.headers["Retry-After"]))
    assert get(small_plan, greedy).status_code == 200


def test_a_partner_missing_from_the_usage_plan_is_refused_until_enabled(small_plan: LocalStack) -> None:
    # Given a partner created by an operator who did not give the admin CLI the usage plan
    created = small_plan.admin("create-partner", "--name", f"E2E Forgotten {uuid.uuid4().hex[:6]}", usage_plan=False)
    assert created["usage_key_id"] is None
    # When it calls the API
    refused = get(small_plan, created["api_key"])
    # Then API Gateway refuses it (its key is in no usage plan), in our envelope
    assert refused.status_code == 403
    assert refused.json()["status"] == 403 and "not enabled" in refused.json()["title"]
    # And once the operator runs enable-usage, it is served
    enabled = small_plan.admin("enable-usage", "--partner-id", created["partner_id"])
    assert enabled["usage_key_id"]
    assert get(small_plan, created["api_key"]).status_code == 200


def test_the_default_plan_is_read_from_the_template(local_stack: LocalStack) -> None:
    # The runner `make run` starts prints the plan it applies: the template's defaults
    assert "PartnerUsagePlan  25 requests/s per partner, bursts of 50" in local_stack.printed()
