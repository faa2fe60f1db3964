"""The enrollment lifecycle through the real parts on moto: the meters API, the operator's admin command, the
scheduled function (functions/enrollment_transitions) and the meter stream's webhook events.

Each change of the stored enrollment is one MODIFY on the MetersTable stream, so the events a partner receives
are those of the writes: a run repeated at the same scheduled time writes no meter. A market group's event is
the run's snapshot of the groups whose membership changed since their last one (meters.use_cases.group_snapshots).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest
from meterhub.platform.settings import MetersTableSettings
from meterhub_dev import admin

from tests.integration.test_meter_events_stream import events_on_queue, stream_records
from tests.integration.test_meters_api import post_meter

if TYPE_CHECKING:
    from meterhub.partners.use_cases import IssuedKey

pytestmark = pytest.mark.pristine_aws  # the table's whole stream

Invoke = Callable[..., tuple[int, Any]]
MakeAsset = Callable[..., dict[str, Any]]


def scheduled(at: datetime) -> dict[str, Any]:
    """EventBridge's Scheduled Event for `at`, as the schedule rule sends it."""
    return {
        "version": "0",
        "id": "7b1f0e2a-4c1d-4b8e-9f3a-2d5c6e7f8a91",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/EnrollmentTransitionsFunctionEvery15Minutes"],
        "detail": {},
    }


def event_types(records: list[dict[str, Any]], publish: Callable[[list[dict[str, Any]]], Any]) -> list[str]:
    assert publish(records) == {"batchItemFailures": []}
    return sorted(event["payload"]["webhook_event_type"] for event in events_on_queue())


def test_a_meter_is_registered_committed_and_activated_with_one_event_per_change(
    invoke: Invoke,
    make_asset: MakeAsset,
    load_function: Callable[[str], ModuleType],
    lambda_context: Any,
    partner: IssuedKey,
    capsys: pytest.CaptureFixture[str],
) -> None:
    transitions = load_function("functions/enrollment_transitions/app.py")
    meter_events = load_function("functions/meter_events/app.py")

    def run(at: datetime) -> dict[str, Any]:
        return transitions.lambda_handler(scheduled(at), lambda_context)  # type: ignore[no-any-return]

    def publish(records: list[dict[str, Any]]) -> Any:
        return meter_events.lambda_handler({"Records": records}, lambda_context)

    # Given an ERCOT meter created through the API with every field: PENDING on the operator's registration
    asset = make_asset(
        "tx-1",
        region="ERCOT",
        meter_type="UTILITY_METER",
        customer={
            "street_1": "1 Congress Ave",
            "postal_code": "78701",
            "city": "Austin",
            "state_or_province_code": "TX",
        },
        utility={"utility_name": "ONCOR", "electric_service_account_number": "10443720000000001"},
        site={"load_zone": "LZ_NORTH"},
    )
    status, created = post_meter(invoke, asset)
    assert status == 200, created
    meter_id = created["meter_id"]
    _, enrollment = invoke("GET", f"/v2/meters/{meter_id}/enrollments")
    assert enrollment["global_enrollment_status"] == "PENDING"
    assert [a["action_type"] for a in enrollment["required_actions"]["leap"]] == ["HAS_MARKET_REGISTRATION"]
    [period] = enrollment["program_enrollment"]
    [deadlines] = period["enrollment_deadlines"]
    deadline = datetime.fromisoformat(deadlines["enrollment_deadline_date_time"])
    activation = datetime.fromisoformat(deadlines["activation_date_time"])
    records, last = stream_records()
    assert "meter.created" in event_types(records, publish)

    # When the operator records the market registration
    table = MetersTableSettings.load().meters_table_name
    capsys.readouterr()  # (what the functions printed so far: their metrics)
    code = admin.main(
        [
            "--meters-table",
            table,
            "record-program-step",
            "--partner-id",
            partner.partner_id,
            "--meter-id",
            meter_id,
            "--program",
            "ERCOT-ERS",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["global_enrollment_status"] == "ELIGIBLE"
    records, last = stream_records(after=last)
    assert event_types(records, publish) == ["meter.enrollment.global-status.updated"]

    # When the scheduled run comes at the deadline: the meter is committed and joins its market group
    report = run(deadline)
    assert {k: report[k] for k in ("due", "changed", "unchanged", "skipped", "finished")} == {
        "due": 1,
        "changed": 1,
        "unchanged": 0,
        "skipped": 0,
        "finished": True,
    }
    records, last = stream_records(after=last)
    assert [r["eventName"] for r in records] == ["MODIFY"]
    assert event_types(records, publish) == []  # its membership is recorded; the group's snapshot is a run's
    _, enrollment = invoke("GET", f"/v2/meters/{meter_id}/enrollments")
    committed = enrollment["program_enrollment"][0]
    assert (committed["enrollment_status"], committed["market_group_name"]) == ("ELIGIBLE", "ERCOT-ERS_ONCOR_LZ_NORTH")

    # When the same scheduled event is delivered again: nothing is due and no meter is written; the run publishes
    # the snapshot of the group that changed since the last one: the group's meters, Leap's meter_ids
    again = run(deadline)
    assert (again["due"], again["group_snapshots"]["groups"]) == (0, 1)
    [snapshot] = events_on_queue()
    assert snapshot["partner_id"] == partner.partner_id
    assert {k: snapshot["payload"][k] for k in ("webhook_event_type", "market_group_id", "meter_ids")} == {
        "webhook_event_type": "meter.enrollment.group.updated",
        "market_group_id": committed["market_group_id"],
        "meter_ids": [meter_id],
    }
    assert snapshot["payload"]["start_date_time"] == period["delivery_period_start_date_time"]
    records, last = stream_records(after=last)
    assert not [r for r in records if r["dynamodb"]["Keys"]["sk"]["S"].startswith("METER#")]
    assert run(deadline)["group_snapshots"]["groups"] == 0  # and once only
    assert events_on_queue() == []

    # When the activation time comes: ACTIVE, one event
    assert run(activation)["changed"] == 1
    records, last = stream_records(after=last)
    assert event_types(records, publish) == ["meter.enrollment.global-status.updated"]
    _, enrollment = invoke("GET", f"/v2/meters/{meter_id}/enrollments")
    assert enrollment["global_enrollment_status"] == "ACTIVE"
    status, found = invoke("POST", "/v2/meters/enrollments/search", {"global_enrollment_statuses": ["ACTIVE"]})
    assert status == 200 and [m["meter_id"] for m in found["meters"]] == [meter_id]

    # And the operator's own run at that time finds nothing more to do
    capsys.readouterr()
    assert admin.main(["--meters-table", table, "run-enrollment-transitions", "--at", activation.isoformat()]) == 0
    assert json.loads(capsys.readouterr().out)["due"] == 0


def test_meters_stored_before_enrollment_was_kept_are_backfilled_once(
    invoke: Invoke, make_asset: MakeAsset, partner: IssuedKey, capsys: pytest.CaptureFixture[str]
) -> None:
    from meterhub.meters.adapters.dynamodb import dynamo_meter_repository
    from meterhub.meters.api_models.meter import CreateMeter
    from meterhub.meters.records import MeterRecord

    # Given two meters written as before this change (no stored enrollment, so no index keys)
    table = MetersTableSettings.load().meters_table_name
    legacy = dynamo_meter_repository(table)  # the bare adapter: nothing evaluates the enrollment
    at = datetime.fromisoformat("2026-01-05T00:00:00+00:00")
    for n in range(2):
        data = CreateMeter.model_validate(make_asset(f"old-{n}")).model_dump(mode="json", exclude_none=True)
        meter_id = f"00000000-0000-4000-8000-00000000000{n}"
        legacy.create(
            MeterRecord(
                meter_id=meter_id,
                partner_id=partner.partner_id,
                partner_reference=f"old-{n}",
                data=data,
                created_at=at,
                updated_at=at,
            )
        )
    status, found = invoke("POST", "/v2/meters/enrollments/search", {"global_enrollment_statuses": ["PENDING"]})
    assert status == 200 and found["meters"] == []  # read on the fly, but in no index
    # When the operator backfills (twice)
    capsys.readouterr()
    assert admin.main(["--meters-table", table, "backfill-enrollment"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert admin.main(["--meters-table", table, "backfill-enrollment"]) == 0
    second = json.loads(capsys.readouterr().out)
    # Then both are stored with their enrollment and found by status; the second run had nothing to do
    assert (first["changed"], second["due"]) == (2, 0)
    status, found = invoke("POST", "/v2/meters/enrollments/search", {"global_enrollment_statuses": ["PENDING"]})
    assert sorted(m["partner_reference"] for m in found["meters"]) == ["old-0", "old-1"]
