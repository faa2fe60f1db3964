"""Concurrent partners against the local runner, over real HTTP as `make run` serves it.

Lambda runs the invocations of one function side by side, each in its own execution environment, and API
Gateway accepts many connections at once; the runner must do the same, or the races these tests look for
stay hidden (or appear only locally). Every request of a burst waits on one barrier, so they all leave together.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

import pytest
import requests

from tests.conftest import build_asset

pytestmark = pytest.mark.e2e

T = TypeVar("T")
UPLOADS = "/v1.1/jobs/interval-data-uploads"
TERMINAL = {"COMPLETED", "FAILED"}


class LocalStack(Protocol):
    """The `local_stack` fixture (tests/e2e/conftest.py)."""

    url: str

    def new_partner(self, name: str) -> tuple[str, str]: ...

    def auth(self, api_key: str) -> dict[str, str]: ...

    def printed(self) -> str: ...


def asset(reference: str) -> dict[str, Any]:
    """The README's ISONE battery (conftest's minimal asset plus its device)."""
    return build_asset(
        reference,
        device={"device_type": "BATTERY", "battery_power_capacity_kw": 5, "battery_energy_capacity_kwh": 13.5},
    )


def environments(stack: LocalStack, function_id: str) -> set[int]:
    """The numbers of the execution environments the runner has started for a function (one log line each)."""
    pattern = re.compile(rf"\[local\] {function_id}: execution environment #(\d+) started")
    return {int(number) for number in pattern.findall(stack.printed())}


def log_records(stack: LocalStack) -> list[dict[str, Any]]:
    """The functions' structured (Powertools JSON) log lines the runner printed."""
    records = []
    for line in stack.printed().splitlines():
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # two processes' lines interleaved: not one of the lines looked for
    return records


def burst(count: int, request: Callable[[], T]) -> list[T]:
    """`count` calls of `request`, each on its own thread and connection, released at the same moment."""
    barrier = threading.Barrier(count)

    def together() -> T:
        barrier.wait(timeout=30)
        return request()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: together(), range(count)))


@pytest.fixture
def partner(local_stack: LocalStack) -> dict[str, str]:
    """A fresh partner per test, so each burst starts from nothing."""
    return local_stack.auth(local_stack.new_partner(f"E2E Concurrency {uuid.uuid4().hex[:8]}")[1])


def test_twenty_concurrent_creates_of_one_reference_make_one_meter(
    local_stack: LocalStack, partner: dict[str, str]
) -> None:
    # Given one partner_reference sent by 20 clients at once
    reference = f"e2e-race-{uuid.uuid4().hex[:8]}"
    body = {"provisional_asset": asset(reference)}
    # When they all POST it
    responses = burst(
        20, lambda: requests.post(f"{local_stack.url}/v1.1/meters", json=body, headers=partner, timeout=60)
    )
    # Then every request was answered, one created the meter and the 19 others were told it is a DUPLICATE of it
    assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses if r.status_code != 200]
    answers = [r.json() for r in responses]
    statuses = sorted(a["status"] for a in answers)
    assert statuses == ["COMPLETED"] + ["DUPLICATE"] * 19, statuses
    meter_id = next(a["meter_id"] for a in answers if a["status"] == "COMPLETED")
    # And exactly one meter with that reference exists
    search = requests.post(
        f"{local_stack.url}/v2/meters/search", json={"partner_references": [reference]}, headers=partner, timeout=30
    )
    assert search.status_code == 200, search.text
    assert [m["meter_id"] for m in search.json()["meters"]] == [meter_id]
    # And the creates ran side by side as on Lambda (more than one execution environment), not one at a time
    assert len(environments(local_stack, "MetersApiFunction")) > 1, local_stack.printed()[-3000:]


def test_twenty_concurrent_creates_with_one_onboarding_token_answer_one_meter(
    local_stack: LocalStack, partner: dict[str, str]
) -> None:
    # Given one request with an onboarding_token, sent by 20 clients at once (a client retrying impatiently)
    body = {"provisional_asset": asset(f"e2e-token-{uuid.uuid4().hex[:8]}"), "onboarding_token": uuid.uuid4().hex}
    # When they all POST it
    responses = burst(
        20, lambda: requests.post(f"{local_stack.url}/v1.1/meters", json=body, headers=partner, timeout=60)
    )
    # Then every one gets the first answer: the same meter, created once
    assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses if r.status_code != 200]
    answers = [r.json() for r in responses]
    assert len({a["meter_id"] for a in answers}) == 1, answers
    assert {a["status"] for a in answers} == {"COMPLETED"}, answers


def test_ten_concurrent_uploads_of_one_file_name_all_end(local_stack: LocalStack, partner: dict[str, str]) -> None:
    # Given a meter and ten versions of one day's file, uploaded under one file_name at once
    created = requests.post(
        f"{local_stack.url}/v1.1/meters",
        json={"provisional_asset": asset(f"e2e-upload-{uuid.uuid4().hex[:8]}")},
        headers=partner,
        timeout=30,
    )
    assert created.status_code == 200, created.text
    meter_id = created.json()["meter_id"]
    headers = {**partner, "Content-Type": "text/csv"}
    file_name = f"race-{uuid.uuid4().hex[:8]}.csv"
    counter = iter(range(10))
    lock = threading.Lock()

    def upload() -> requests.Response:
        with lock:
            n = next(counter)
        text = (
            "meter_id,interval_start_time_utc,interval_end_time_utc,energy_net_kwh,final\n"
            f"{meter_id},2025-01-01T00:00:00Z,2025-01-01T00:15:00Z,1.{n:02d},true\n"
        )
        return requests.post(
            f"{local_stack.url}/v1.1/interval-data",
            params={"schema": "load", "file_name": file_name},
            data=text.encode(),
            headers=headers,
            timeout=60,
        )

    # When they are all uploaded together
    responses = burst(10, upload)
    assert [r.status_code for r in responses] == [200] * 10, [r.text for r in responses]
    job_ids = {r.json()["job_id"] for r in responses}
    assert len(job_ids) == 10
    # Then every job ends (COMPLETED or FAILED) within a minute: none is left QUEUED
    statuses: dict[str, str] = {}
    deadline = time.monotonic() + 60
    while True:
        for job_id in job_ids - {j for j, s in statuses.items() if s in TERMINAL}:
            job = requests.get(f"{local_stack.url}{UPLOADS}/{job_id}", headers=partner, timeout=30)
            assert job.status_code == 200, job.text
            statuses[job_id] = job.json()["status"]
        if all(statuses.get(j) in TERMINAL for j in job_ids):
            break
        assert time.monotonic() < deadline, f"jobs not terminal after 60 s: {statuses}"
        time.sleep(0.5)
    assert set(statuses.values()) == {"COMPLETED"}, statuses
    # And each function's log lines about them carry its own name, not the name of one running beside it
    written_by = {
        "Interval file uploaded": "IntervalUploadsApiFunction",
        "Interval file processed": "IntervalIngestFunction",
    }
    # (a function logs "processed" after it wrote the job's status, so its line may trail the status we read)
    deadline = time.monotonic() + 15
    while True:
        logged = [r for r in log_records(local_stack) if r.get("job_id") in job_ids and r["message"] in written_by]
        seen = {message: {r["job_id"] for r in logged if r["message"] == message} for message in written_by}
        if all(jobs == job_ids for jobs in seen.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    for message, function_name in written_by.items():
        lines = [r for r in logged if r["message"] == message]
        assert {r["job_id"] for r in lines} == job_ids, message
        assert {r["function_name"] for r in lines} == {function_name}, lines
