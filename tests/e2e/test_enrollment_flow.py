"""The README's enrollment walk-through over real HTTP against the local runner: a meter from creation through
the operator's registration (admin CLI), the scheduled run on demand at its deadline and its activation
(`POST /_local/schedules/...?time=`), to ACTIVE; then an idle period and a disenrollment; and the webhook events
each step sends, received signed by the development receiver."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

import pytest
import requests

from tests.e2e.test_webhooks_flow import Receiver, _free_port

pytestmark = pytest.mark.e2e

AUSTIN = timezone(timedelta(hours=-6))  # the meter's local time in winter (Central Standard Time)

EVENTS = [
    "meter.created",
    "meter.enrollment.global-status.updated",
    "meter.enrollment.required-actions.updated",
    "meter.enrollment.participation-status.updated",
    "meter.enrollment.group.updated",
]


class LocalStack(Protocol):
    url: str

    def new_partner(self, name: str) -> tuple[str, str]: ...

    def auth(self, api_key: str) -> dict[str, str]: ...

    def admin(self, *args: str, usage_plan: bool = True) -> Any: ...


@pytest.fixture
def walk(local_stack: LocalStack, tmp_path: Path) -> Iterator[tuple[str, str, dict[str, str], Receiver]]:
    partner_id, api_key = local_stack.new_partner(f"E2E Enrollment {uuid.uuid4().hex[:6]}")
    headers = local_stack.auth(api_key)
    port = _free_port()
    body = {"event_types": EVENTS, "receiver_url": f"http://127.0.0.1:{port}/hooks"}
    created = requests.post(f"{local_stack.url}/v1.1/webhooks", json=body, headers=headers, timeout=30)
    assert created.status_code == 200, created.text
    receiver = Receiver(port, created.json()["signing_secret"], tmp_path / "receiver.out")
    try:
        yield local_stack.url, partner_id, headers, receiver
    finally:
        receiver.stop()


def test_a_meter_walks_from_creation_to_active_then_idles_and_leaves(
    local_stack: LocalStack, walk: tuple[str, str, dict[str, str], Receiver]
) -> None:
    url, partner_id, headers, receiver = walk

    def enrollment(meter_id: str) -> dict[str, Any]:
        answer = requests.get(f"{url}/v2/meters/{meter_id}/enrollments", headers=headers, timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    def run_schedule(at: str) -> dict[str, Any]:
        answer = requests.post(f"{url}/_local/schedules/EnrollmentTransitionsFunction", params={"time": at}, timeout=60)
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    # 1. Create an ERCOT meter with every field: PENDING on the operator's market registration
    meter = {
        "partner_reference": f"walk-{uuid.uuid4().hex[:8]}",
        "transmission_region": "ERCOT",
        "customer_classification": "RESIDENTIAL",
        "load_types": ["BATTERY_STORAGE"],
        "meter_type": "UTILITY_METER",
        "customer": {
            "street_1": "1 Congress Ave",
            "city": "Austin",
            "state_or_province_code": "TX",
            "postal_code": "78701",
            "country_code": "US",
        },
        "utility": {"utility_name": "ONCOR", "electric_service_account_number": "10443720000000001"},
        "site": {"load_zone": "LZ_NORTH"},
    }
    created = requests.post(f"{url}/v1.1/meters", json={"provisional_asset": meter}, headers=headers, timeout=30)
    assert created.status_code == 200, created.text
    meter_id = created.json()["meter_id"]
    first = enrollment(meter_id)
    assert first["global_enrollment_status"] == "PENDING"
    assert [a["action_type"] for a in first["required_actions"]["leap"]] == ["HAS_MARKET_REGISTRATION"]
    [deadlines] = first["program_enrollment"][0]["enrollment_deadlines"]
    receiver.delivery("meter.created", meter_id)
    _, _, pending = receiver.delivery("meter.enrollment.global-status.updated", '"PENDING"')
    assert pending["payload"]["meter_id"] == meter_id

    # 2. The operator records the registration: ELIGIBLE
    recorded = local_stack.admin(
        "record-program-step", "--partner-id", partner_id, "--meter-id", meter_id, "--program", "ERCOT-ERS"
    )
    assert recorded["global_enrollment_status"] == "ELIGIBLE"
    receiver.delivery("meter.enrollment.global-status.updated", '"ELIGIBLE"')

    # 3. The scheduled run at the enrollment deadline commits it and puts it in its market group
    assert run_schedule(deadlines["enrollment_deadline_date_time"])["changed"] >= 1
    committed = enrollment(meter_id)["program_enrollment"][0]
    assert (committed["enrollment_status"], committed["market_group_name"]) == ("ELIGIBLE", "ERCOT-ERS_ONCOR_LZ_NORTH")
    # Its group's snapshot (the group's meters: Leap's meter_ids) is a run's once the meter stream recorded the
    # membership: on AWS the next run, within 15 minutes; here the run is asked again until it has sent it
    for _ in range(40):
        if run_schedule(deadlines["enrollment_deadline_date_time"])["group_snapshots"]["groups"]:
            break
        time.sleep(0.25)
    _, _, group = receiver.delivery("meter.enrollment.group.updated", meter_id)
    assert group["payload"]["market_group_id"] == committed["market_group_id"]
    assert (group["payload"]["meter_ids"], group["payload"]["meter_ids_parts"]) == ([meter_id], 1)

    # 4. The scheduled run at the activation time: ACTIVE
    run_schedule(deadlines["activation_date_time"])
    assert enrollment(meter_id)["global_enrollment_status"] == "ACTIVE"
    receiver.delivery("meter.enrollment.global-status.updated", '"ACTIVE"')

    # 5. An idle week a week after activation, asked in the meter's local time (Austin, UTC-6): announced at
    #    once; the run at its start makes the meter NOT_PARTICIPATING, the run at its end ACTIVE again
    activation = datetime.fromisoformat(deadlines["activation_date_time"])
    start, end = activation + timedelta(days=7), activation + timedelta(days=14)
    idle = requests.post(
        f"{url}/v1.1/enrollment/meters/{meter_id}/idle",
        json={"start_time": start.astimezone(AUSTIN).isoformat(), "end_time": end.astimezone(AUSTIN).isoformat()},
        headers=headers,
        timeout=30,
    )
    assert idle.status_code == 200, idle.text
    assert idle.json()["global_enrollment_status"] == "ACTIVE"  # not idle yet
    _, _, idled = receiver.delivery("meter.enrollment.participation-status.updated", '"IDLE"')
    assert idled["payload"]["meter_id"] == meter_id
    run_schedule(start.isoformat())
    assert enrollment(meter_id)["global_enrollment_status"] == "NOT_PARTICIPATING"
    receiver.delivery("meter.enrollment.global-status.updated", '"NOT_PARTICIPATING"')
    run_schedule(end.isoformat())
    assert enrollment(meter_id)["global_enrollment_status"] == "ACTIVE"

    # 6. A disenrollment from a month after activation: announced at once, in effect when the run reaches it
    leave = activation + timedelta(days=30)
    left = requests.post(
        f"{url}/v1.1/enrollment/meters/{meter_id}/disenroll",
        json={"start_time": leave.astimezone(AUSTIN).isoformat(), "reason": "Moving"},
        headers=headers,
        timeout=30,
    )
    assert left.status_code == 200, left.text
    receiver.delivery("meter.enrollment.participation-status.updated", '"DISENROLL"')
    run_schedule(leave.isoformat())
    final = enrollment(meter_id)
    assert final["global_enrollment_status"] == "NOT_PARTICIPATING"
    assert [p["participation_preference"] for p in final["participation_preferences"]] == [
        "PARTICIPATE",
        "IDLE",
        "DISENROLL",
    ]
