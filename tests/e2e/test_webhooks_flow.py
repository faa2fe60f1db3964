"""The README's webhook tour over real HTTP against the local runner: subscribe the development receiver
(`python -m meterhub_dev.local.receiver`, started as the README starts it), send it a test event, create a meter and
watch its `meter.created` arrive signed, then read the delivery log."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
import requests

from tests.e2e.test_meters_flow import asset

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ARRIVAL_TIMEOUT_SECONDS = 30


class LocalStack(Protocol):
    """The `local_stack` fixture (tests/e2e/conftest.py)."""

    url: str

    def new_partner(self, name: str) -> tuple[str, str]: ...

    def auth(self, api_key: str) -> dict[str, str]: ...


class Receiver:
    """`python -m meterhub_dev.local.receiver` in its own process; what it prints goes to a file."""

    def __init__(self, port: int, secret: str, output: Path) -> None:
        self.output = output
        with output.open("w", encoding="utf-8") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "meterhub_dev.local.receiver", "--port", str(port), "--secret", secret],
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self._wait_for("Receiving webhooks on")

    def lines(self) -> list[str]:
        return self.output.read_text(encoding="utf-8").splitlines()

    def _wait_for(self, text: str) -> str:
        deadline = time.monotonic() + ARRIVAL_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            found = [line for line in self.lines() if text in line]
            if found:
                return found[0]
            assert self.process.poll() is None, "\n".join(self.lines())
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not printed within {ARRIVAL_TIMEOUT_SECONDS}s:\n" + "\n".join(self.lines()))

    def delivery(self, event_type: str, needle: str) -> tuple[str, str, dict[str, Any]]:
        """The verdict, kind (TEST or EVENT) and body of the first printed delivery of `event_type` whose body
        contains `needle`. A line is `<event type, 45 wide> <verdict, 22 wide> <kind> <body>`."""
        deadline = time.monotonic() + ARRIVAL_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            for line in self.lines():
                if line.startswith(event_type + " ") and needle in line:
                    kind, body = line[69:].split(" {", 1)
                    return line[46:68].strip(), kind.strip(), json.loads("{" + body)
            time.sleep(0.1)
        raise AssertionError(f"no {event_type} with {needle} arrived:\n" + "\n".join(self.lines()))

    def stop(self) -> None:
        """`kill` it, as a script stops a background job (which has SIGINT ignored): it says so and exits 0."""
        self.process.send_signal(signal.SIGTERM)
        try:
            assert self.process.wait(timeout=10) == 0, "\n".join(self.lines())
        finally:
            if self.process.poll() is None:
                self.process.kill()
        assert self.lines()[-1] == "Stopped"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def partner(local_stack: LocalStack) -> tuple[str, dict[str, str]]:
    _, api_key = local_stack.new_partner(f"E2E Hooks {uuid.uuid4().hex[:6]}")
    return local_stack.url, local_stack.auth(api_key)


@pytest.fixture
def subscribed(partner: tuple[str, dict[str, str]], tmp_path: Path) -> Iterator[tuple[str, Receiver]]:
    url, headers = partner
    port = _free_port()
    body = {"event_types": ["meter.created"], "receiver_url": f"http://127.0.0.1:{port}/hooks"}
    created = requests.post(f"{url}/v1.1/webhooks", json=body, headers=headers, timeout=30)
    assert created.status_code == 200, created.text
    receiver = Receiver(port, created.json()["signing_secret"], tmp_path / "receiver.out")
    try:
        yield created.json()["webhook_id"], receiver
    finally:
        receiver.stop()


def test_a_created_meter_reaches_the_receiver_signed_and_is_logged(
    partner: tuple[str, dict[str, str]], subscribed: tuple[str, Receiver]
) -> None:
    url, headers = partner
    webhook_id, receiver = subscribed
    # The test event of the README tour reaches the receiver, which checks its signature and prints it as a TEST:
    # our sample meter.created, marked inside the signed body
    tested = requests.post(f"{url}/v1.1/webhooks/{webhook_id}/test", headers=headers, timeout=30)
    assert tested.status_code == 200 and tested.json()["is_successful"] is True, tested.text
    assert tested.json()["status_code"] == 204
    verdict, kind, sample = receiver.delivery("meter.created", '"test":true')
    assert (verdict, kind, sample["test"]) == ("signature OK", "TEST", True)
    assert sample["payload"]["meter_id"] == "00000000-0000-0000-0000-000000000001"
    # A meter created through the API is announced by the dispatcher, signed with the subscription's secret
    reference = f"hooks-{uuid.uuid4().hex[:8]}"
    created = requests.post(
        f"{url}/v1.1/meters", json={"provisional_asset": asset(reference)}, headers=headers, timeout=30
    )
    assert created.status_code == 200, created.text
    meter_id = created.json()["meter_id"]
    verdict, kind, delivered = receiver.delivery("meter.created", meter_id)
    assert (verdict, kind) == ("signature OK", "EVENT")
    assert "test" not in delivered
    assert delivered["payload"] == {
        "webhook_event_type": "meter.created",
        "meter_id": meter_id,
        "partner_reference": reference,
        "transmission_region": "ISONE",
        "meter_type": "DEVICE",
    }
    # The delivery log shows it delivered at the first attempt, with the receiver's status (recorded just after
    # the post returns, so a read may briefly see it PENDING)
    deadline = time.monotonic() + ARRIVAL_TIMEOUT_SECONDS
    while True:
        log = requests.get(f"{url}/v1.1/webhooks/{webhook_id}/deliveries", headers=headers, timeout=30)
        assert log.status_code == 200, log.text
        [entry] = [d for d in log.json()["deliveries"] if d["webhook_event_id"] == delivered["webhook_event_id"]]
        if entry["status"] != "PENDING" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert entry["status"] == "DELIVERED"
    assert [(a["n"], a["status_code"]) for a in entry["attempts"]] == [(1, 204)]
