"""Parity tests: each module here runs one port's contract, assertion for assertion, over the in-memory fake
in tests/fakes and over the adapter on moto, so a fake cannot quietly drift from what production does.

Fixtures:
    implementation -> "fake" | "adapter"   every test that asks for it runs twice; "adapter" brings up `aws`
                                           (tests/conftest.py: the template's tables, bucket, queues and KMS key
                                           on moto, one stack per xdist worker)
    partner_ids -> (str, str)              two fresh partner ids: the moto stack outlives a test, and every
                                           table but the partners one is keyed by partner, so fresh ids are
                                           this test's own rows (and the pair is what tenant isolation needs)
    env -> dict[str, str]                  the functions' environment: table, bucket, queue and key names
"""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import function_environment

IMPLEMENTATIONS = ("fake", "adapter")


@pytest.fixture(params=IMPLEMENTATIONS)
def implementation(request: pytest.FixtureRequest) -> str:
    if request.param == "adapter":
        request.getfixturevalue("aws")
    return str(request.param)


@pytest.fixture
def partner_ids() -> tuple[str, str]:
    return str(uuid.uuid4()), str(uuid.uuid4())


@pytest.fixture
def env() -> dict[str, str]:
    return function_environment()
