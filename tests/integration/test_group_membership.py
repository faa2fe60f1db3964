"""The market-group membership adapter on moto, and the in-memory fake held to the same contract: members in id
order, a mark renewed by every change, cleared only while it holds the version read."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from meterhub import wiring
from meterhub.meters.ports import GroupMembership
from meterhub.meters.records import MarketGroupPeriod
from meterhub.platform.settings import MetersTableSettings

from tests.fakes.meters import InMemoryGroupMembership

NOW = datetime(2027, 5, 11, tzinfo=UTC)
PARTNER_PREFIX = "group-membership-test-"


@pytest.fixture(params=["dynamodb", "in-memory"])
def groups(request: pytest.FixtureRequest) -> Iterator[GroupMembership]:
    if request.param == "in-memory":
        yield InMemoryGroupMembership()
        return
    request.getfixturevalue("aws")
    groups = wiring.group_membership(MetersTableSettings.load())
    yield groups
    for change in groups.changed():  # the worker's stack is shared: leave no mark for a scheduled run to find
        if change.group.partner_id.startswith(PARTNER_PREFIX):
            groups.clear(change)


def group(partner_id: str, period: str = "ERCOT-ERS_2027_JUN_SEP") -> MarketGroupPeriod:
    return MarketGroupPeriod(
        partner_id=partner_id,
        market_group_id="6a1b5a0e-0f56-5d0e-9c1f-1f0b8f2c9a10",
        market_group_name="ERCOT-ERS_ONCOR_LZ_NORTH",
        delivery_period=period,
        start=datetime(2027, 6, 1, 5, tzinfo=UTC),
        end=datetime(2027, 10, 1, 5, tzinfo=UTC),
    )


def mine(groups: GroupMembership, partner_id: str) -> list[Any]:
    """The marks of this test's partner (the moto stack is shared by the tests of a worker)."""
    return sorted(
        (change for change in groups.changed() if change.group.partner_id == partner_id),
        key=lambda change: change.group.delivery_period,
    )


def test_members_are_kept_per_partner_group_and_period_in_id_order(groups: GroupMembership) -> None:
    partner_id = f"{PARTNER_PREFIX}{uuid.uuid4()}"
    other = f"{partner_id}-other"
    for meter_id in ("m-3", "m-1", "m-2"):
        groups.record(group(partner_id), meter_id, True, NOW)
    groups.record(group(partner_id, "ERCOT-ERS_2027_OCT_NOV"), "m-9", True, NOW)
    groups.record(group(other), "m-x", True, NOW)
    groups.record(group(partner_id), "m-2", False, NOW)
    groups.record(group(partner_id), "m-1", True, NOW)  # again: still once

    assert list(groups.members(group(partner_id))) == ["m-1", "m-3"]
    assert list(groups.members(group(partner_id, "ERCOT-ERS_2027_OCT_NOV"))) == ["m-9"]
    assert list(groups.members(group(other))) == ["m-x"]
    marks = mine(groups, partner_id)
    assert [change.group for change in marks] == [group(partner_id), group(partner_id, "ERCOT-ERS_2027_OCT_NOV")]
    assert marks[0].changed_at == NOW


def test_a_mark_is_cleared_only_while_it_holds_the_version_read(groups: GroupMembership) -> None:
    partner_id = f"{PARTNER_PREFIX}{uuid.uuid4()}"
    groups.record(group(partner_id), "m-1", True, NOW)
    [read] = mine(groups, partner_id)
    groups.record(group(partner_id), "m-2", True, NOW)  # a change after the read renews the mark

    assert groups.clear(read) is False
    [renewed] = mine(groups, partner_id)
    assert renewed.version != read.version
    assert groups.clear(renewed) is True
    assert mine(groups, partner_id) == []
    assert groups.clear(renewed) is False  # already gone
