"""group_snapshots: one `meter.enrollment.group.updated` per changed group, listing the group's meters (Leap's
meaning of `meter_ids`), split into bounded parts, republished with the same ids after a crash, and never missing
a change made while it publishes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from meterhub.meters.records import GroupChange, MarketGroupPeriod
from meterhub.meters.use_cases import group_snapshots
from meterhub.meters.use_cases.group_snapshots import publish_group_snapshots

from tests.fakes.meters import InMemoryGroupMembership
from tests.fakes.queues import InMemoryWorkQueue

pytestmark = pytest.mark.usefixtures("no_network")

NOW = datetime(2027, 5, 11, tzinfo=UTC)
GROUP_ID = "6a1b5a0e-0f56-5d0e-9c1f-1f0b8f2c9a10"


def group(partner_id: str = "partner-1") -> MarketGroupPeriod:
    return MarketGroupPeriod(
        partner_id=partner_id,
        market_group_id=GROUP_ID,
        market_group_name="ERCOT-ERS_ONCOR_LZ_NORTH",
        delivery_period="ERCOT-ERS_2027_JUN_SEP",
        start=datetime(2027, 6, 1, 5, tzinfo=UTC),
        end=datetime(2027, 10, 1, 5, tzinfo=UTC),
    )


def meter_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def events(queue: InMemoryWorkQueue) -> list[dict[str, Any]]:
    return list(queue.messages)


def test_a_fleet_joining_a_group_is_one_event_listing_every_meter_of_the_group() -> None:
    groups, queue = InMemoryGroupMembership(), InMemoryWorkQueue()
    for n in (3, 1, 2):
        groups.record(group(), meter_id(n), True, NOW)

    report = publish_group_snapshots(groups, queue)

    assert (report.groups, report.events, report.remarked) == (1, 1, 0)
    [event] = events(queue)
    assert event["partner_id"] == "partner-1"
    assert event["payload"] == {
        "webhook_event_type": "meter.enrollment.group.updated",
        "market_group_id": GROUP_ID,
        "market_group_name": "ERCOT-ERS_ONCOR_LZ_NORTH",
        "start_date_time": "2027-06-01T05:00:00Z",
        "end_date_time": "2027-10-01T05:00:00Z",
        "meter_ids": [meter_id(1), meter_id(2), meter_id(3)],
        "meter_ids_part": 1,
        "meter_ids_parts": 1,
    }
    # Published once: the mark is cleared, so the next run sends nothing until the group changes again
    assert publish_group_snapshots(groups, queue).groups == 0
    groups.record(group(), meter_id(2), False, NOW)
    publish_group_snapshots(groups, queue)
    assert events(queue)[-1]["payload"]["meter_ids"] == [meter_id(1), meter_id(3)]


def test_the_last_meter_leaving_sends_an_empty_list() -> None:
    groups, queue = InMemoryGroupMembership(), InMemoryWorkQueue()
    groups.record(group(), meter_id(1), True, NOW)
    groups.record(group(), meter_id(1), False, NOW)
    publish_group_snapshots(groups, queue)
    [event] = events(queue)
    assert (event["payload"]["meter_ids"], event["payload"]["meter_ids_parts"]) == ([], 1)


def test_a_large_group_is_sent_in_parts_that_together_list_it_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(group_snapshots, "METER_IDS_PER_EVENT", 3)
    groups, queue = InMemoryGroupMembership(), InMemoryWorkQueue()
    for n in range(8):
        groups.record(group(), meter_id(n), True, NOW)

    report = publish_group_snapshots(groups, queue)

    payloads = [event["payload"] for event in events(queue)]
    assert report.events == 3
    assert [(p["meter_ids_part"], p["meter_ids_parts"], len(p["meter_ids"])) for p in payloads] == [
        (1, 3, 3),
        (2, 3, 3),
        (3, 3, 2),
    ]
    assert [mid for p in payloads for mid in p["meter_ids"]] == [meter_id(n) for n in range(8)]
    assert len({event["webhook_event_id"] for event in events(queue)}) == 3


class CrashOnClear(InMemoryGroupMembership):
    """A run killed after publishing a snapshot and before clearing its mark."""

    crash = True

    def clear(self, change: GroupChange) -> bool:
        if self.crash:
            self.crash = False
            raise RuntimeError("killed")
        return super().clear(change)


def test_a_run_killed_before_clearing_publishes_the_same_event_ids_again() -> None:
    groups, queue = CrashOnClear(), InMemoryWorkQueue()
    groups.record(group(), meter_id(1), True, NOW)
    with pytest.raises(RuntimeError):
        publish_group_snapshots(groups, queue)
    first = events(queue)

    report = publish_group_snapshots(groups, queue)  # the next run

    again = events(queue)[len(first) :]
    assert report.groups == 1
    assert [e["webhook_event_id"] for e in again] == [e["webhook_event_id"] for e in first]  # receivers dedupe
    assert again[0]["payload"] == first[0]["payload"]
    assert publish_group_snapshots(groups, queue).groups == 0


class JoinWhilePublishing(InMemoryGroupMembership):
    """A meter joins the group after the run listed its members and before it clears the mark."""

    def members(self, group_: MarketGroupPeriod) -> Iterator[str]:
        listed = list(super().members(group_))
        if meter_id(9) not in listed:
            self.record(group_, meter_id(9), True, NOW)
        yield from listed


def test_a_meter_joining_while_the_snapshot_is_published_is_in_the_next_runs_snapshot() -> None:
    groups, queue = JoinWhilePublishing(), InMemoryWorkQueue()
    groups.record(group(), meter_id(1), True, NOW)

    first = publish_group_snapshots(groups, queue)
    second = publish_group_snapshots(groups, queue)

    assert (first.groups, first.remarked) == (1, 1)  # the mark was renewed: not cleared
    assert second.remarked == 0
    assert [e["payload"]["meter_ids"] for e in events(queue)] == [[meter_id(1)], [meter_id(1), meter_id(9)]]
    assert events(queue)[0]["webhook_event_id"] != events(queue)[1]["webhook_event_id"]


def test_each_partners_group_is_its_own_and_lists_only_its_meters() -> None:
    groups, queue = InMemoryGroupMembership(), InMemoryWorkQueue()
    groups.record(group("partner-a"), meter_id(1), True, NOW)
    groups.record(group("partner-b"), meter_id(2), True, NOW)  # same program and zone, another partner

    publish_group_snapshots(groups, queue)

    assert sorted((e["partner_id"], e["payload"]["meter_ids"]) for e in events(queue)) == [
        ("partner-a", [meter_id(1)]),
        ("partner-b", [meter_id(2)]),
    ]


def test_a_run_out_of_time_keeps_the_marks_for_the_next_run() -> None:
    groups, queue = InMemoryGroupMembership(), InMemoryWorkQueue()
    groups.record(group(), meter_id(1), True, NOW)

    report = publish_group_snapshots(groups, queue, keep_going=lambda: False)

    assert (report.stopped, report.groups, events(queue)) == (True, 0, [])
    assert publish_group_snapshots(groups, queue).groups == 1
