"""`meter.enrollment.group.updated`: each changed market group's whole list of meters, once per change set.

Leap's event says a group's dates or membership changed and carries its `meter_ids`: the group's meters. A
meter joins or leaves a group by its own write (at an enrollment deadline a whole fleet joins in one scheduled
run), so an event per meter's write listing the group would cost the group's size per member, quadratic in the
group. Instead each write records the membership and marks the group (`meter_events.record_memberships`), and
the scheduled run publishes one snapshot per marked group (`publish_group_snapshots`): a fleet joining a group
at its deadline is one event, sent by the run after the writes (the marks come from the table's stream, so
within one schedule period, 15 minutes on AWS).

A snapshot lists at most `METER_IDS_PER_EVENT` ids per event (an event is one queue message, as is each of its
delivery tasks, and a queue message is bounded); a larger group is sent as several events, each with
`meter_ids_part` and `meter_ids_parts` (1 of 1 for a group that fits one), which are ours: Leap's event has
neither. An empty list says the group has no meters
left (the last one left it, or its period ended).

Each event's id is a uuid5 of the group, the mark's version and the part: a run killed after publishing and
before clearing the mark publishes the same ids again, and receivers (and our dispatcher) dedupe on them. The
mark is cleared only if it still holds the version read, so a meter that joins while the snapshot is published
is in the next run's snapshot.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from meterhub.meters.ports import GroupMembership
from meterhub.meters.records import GroupChange
from meterhub.platform.event_publisher import publish
from meterhub.platform.events import WebhookEventType
from meterhub.platform.work_queue import WorkQueue

METER_IDS_PER_EVENT = 2_500
"""About 100 KB of ids: an event message (and each delivery task carrying it) stays well inside SQS's 256 KB."""

SNAPSHOT_NAMESPACE = uuid.UUID("2f7d9c1e-52a4-4b8e-9e0b-6c1d3a5f8e27")


@dataclass
class SnapshotReport:
    groups: int = 0
    """Groups whose snapshot was published."""
    events: int = 0
    remarked: int = 0
    """Groups that changed again while their snapshot was published: the next run publishes them again."""
    stopped: bool = False

    def as_dict(self) -> dict[str, int | bool]:
        return {"groups": self.groups, "events": self.events, "remarked": self.remarked, "stopped": self.stopped}


def snapshot_event_id(change: GroupChange, part: int) -> str:
    group = change.group
    name = f"{group.partner_id}#{group.market_group_id}#{group.delivery_period}#{change.version}#{part}"
    return str(uuid.uuid5(SNAPSHOT_NAMESPACE, name))


def snapshot_payloads(change: GroupChange, meter_ids: list[str]) -> list[dict[str, object]]:
    """The events of one snapshot: the group and its meters, in parts of at most `METER_IDS_PER_EVENT`."""
    group = change.group
    base = {
        "webhook_event_type": WebhookEventType.ENROLLMENT_GROUP_UPDATED.value,
        "market_group_id": group.market_group_id,
        "market_group_name": group.market_group_name,
        "start_date_time": group.start.isoformat().replace("+00:00", "Z"),
        "end_date_time": group.end.isoformat().replace("+00:00", "Z"),
    }
    parts = [meter_ids[at : at + METER_IDS_PER_EVENT] for at in range(0, len(meter_ids), METER_IDS_PER_EVENT)] or [[]]
    return [
        {**base, "meter_ids": part, "meter_ids_part": number, "meter_ids_parts": len(parts)}
        for number, part in enumerate(parts, start=1)
    ]


def publish_group_snapshots(
    groups: GroupMembership, queue: WorkQueue, keep_going: Callable[[], bool] = lambda: True
) -> SnapshotReport:
    """Publish a snapshot of every marked group and clear its mark; stops (marks kept) when `keep_going` says so.
    Holds one group's ids at a time (a 100,000-meter group: about 9 MB)."""
    report = SnapshotReport()
    for change in groups.changed():
        if not keep_going():
            report.stopped = True
            break
        meter_ids = list(groups.members(change.group))
        payloads = snapshot_payloads(change, meter_ids)
        for number, payload in enumerate(payloads, start=1):
            publish(queue, change.group.partner_id, payload, webhook_event_id=snapshot_event_id(change, number))
        report.groups += 1
        report.events += len(payloads)
        if not groups.clear(change):
            report.remarked += 1
    return report
