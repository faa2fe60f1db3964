"""The SFTP drop of `make run`, driven with a real SFTP client (asyncssh's) like a partner's script would.

A login is checked by the runner invoking functions/sftp_identity (as Transfer Family would), and an upload lands
in the embedded S3, whose notification runs the same ingestion as any S3 drop: the job is read back through the
partner API. Files are a few rows, so each test takes a few seconds.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Protocol, TypeVar

import asyncssh
import pytest
import requests

from tests.conftest import build_asset

UPLOADS = "/v1.1/jobs/interval-data-uploads"
TERMINAL = {"COMPLETED", "FAILED"}
T = TypeVar("T")


class LocalStack(Protocol):
    """The `local_stack` fixture (tests/e2e/conftest.py)."""

    url: str
    sftp_port: int | None

    def admin(self, *args: str, usage_plan: bool = True) -> Any: ...

    def printed(self) -> str: ...


@dataclass(frozen=True)
class SftpPartner:
    partner_id: str
    account: str
    api_key: str
    key_id: str
    meter_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def _partner(stack: LocalStack, name: str) -> SftpPartner:
    created = stack.admin("create-partner", "--name", f"{name} {uuid.uuid4().hex[:8]}")
    headers = {"Authorization": f"Bearer {created['api_key']}"}
    battery = {"device_type": "BATTERY", "battery_power_capacity_kw": 5, "battery_energy_capacity_kwh": 13.5}
    asset = build_asset(f"sftp-{uuid.uuid4().hex[:8]}", device=battery)
    meter = requests.post(f"{stack.url}/v1.1/meters", json={"provisional_asset": asset}, headers=headers, timeout=60)
    assert meter.status_code == 200, meter.text
    return SftpPartner(
        partner_id=created["partner_id"],
        account=created["account"],
        api_key=created["api_key"],
        key_id=created["key_id"],
        meter_id=meter.json()["meter_id"],
    )


@pytest.fixture(scope="module")
def acme(local_stack: LocalStack) -> SftpPartner:
    return _partner(local_stack, "Sftp Acme")


@pytest.fixture(scope="module")
def borealis(local_stack: LocalStack) -> SftpPartner:
    return _partner(local_stack, "Sftp Borealis")


def readings(meter_id: str, slots: int = 4) -> bytes:
    """A small valid load file: `slots` 15-minute readings of one meter."""
    first = datetime(2025, 1, 1, tzinfo=UTC)
    lines = ["meter_id,interval_start_time_utc,interval_end_time_utc,energy_net_kwh,final"]
    for slot in range(slots):
        start, end = (first + timedelta(minutes=15 * n) for n in (slot, slot + 1))
        lines.append(f"{meter_id},{start:%Y-%m-%dT%H:%M:%SZ},{end:%Y-%m-%dT%H:%M:%SZ},1.{slot}5,true")
    return ("\n".join(lines) + "\n").encode()


def run(coroutine: Awaitable[T]) -> T:
    async def wrapped() -> T:
        return await asyncio.wait_for(coroutine, timeout=60)

    return asyncio.run(wrapped())


@asynccontextmanager
async def sftp_session(stack: LocalStack, username: str, password: str) -> AsyncIterator[asyncssh.SFTPClient]:
    assert stack.sftp_port is not None, "the runner serves SFTP (EnableSftp is true locally)"
    async with (
        asyncssh.connect(
            "127.0.0.1", stack.sftp_port, username=username, password=password, known_hosts=None, client_keys=None
        ) as connection,
        connection.start_sftp_client() as sftp,
    ):
        yield sftp


async def put(sftp: asyncssh.SFTPClient, path: str, body: bytes) -> None:
    async with sftp.open(path, "wb") as remote:
        await remote.write(body)


def uploads_of(stack: LocalStack, partner: SftpPartner, name: str) -> list[dict[str, Any]]:
    response = requests.get(f"{stack.url}{UPLOADS}", headers=partner.headers, timeout=30)
    assert response.status_code == 200, response.text
    return [u for u in response.json()["uploads"] if u["uploaded_file_path"] == f"/interval-data/{name}"]


def finished_upload(stack: LocalStack, partner: SftpPartner, name: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = uploads_of(stack, partner, name)
        if found and found[0]["status"] in TERMINAL:
            assert len(found) == 1, found
            return found[0]
        assert time.monotonic() < deadline, f"no finished job for {name}: {found}\n{stack.printed()[-3000:]}"
        time.sleep(0.3)


def denied(call: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[bool]]:
    async def attempt() -> bool:
        try:
            await call()
        except asyncssh.SFTPPermissionDenied:
            return True
        return False

    return attempt


def test_an_sftp_upload_runs_the_pipeline_to_completed_and_the_partner_lists_and_reads_it_back(
    local_stack: LocalStack, acme: SftpPartner
) -> None:
    name = f"sftp-{uuid.uuid4().hex[:8]}.csv"
    body = readings(acme.meter_id)

    # When the partner logs in with its account and API key and puts a valid file into interval-data/
    async def upload() -> list[str]:
        async with sftp_session(local_stack, acme.account, acme.api_key) as sftp:
            root = list(await sftp.listdir("/"))
            await put(sftp, f"interval-data/{name}", body)
            return root

    assert "interval-data" in run(upload())

    # Then the same pipeline as an S3 drop ingests it: its job reaches COMPLETED with every row stored
    job = finished_upload(local_stack, acme, name)
    assert job["status"] == "COMPLETED", job
    assert job["rows_valid"] == 4
    assert job["current_file_path"] == f"/interval-data/accepted/{name}/{name}"

    # And the partner sees it filed under accepted/ and can read it back, byte for byte
    async def read_back() -> tuple[list[str], bytes]:
        async with sftp_session(local_stack, acme.account, acme.api_key) as sftp:
            listed = list(await sftp.listdir(f"interval-data/accepted/{name}"))
            async with sftp.open(f"/interval-data/accepted/{name}/{name}", "rb") as remote:
                return listed, await remote.read()

    listed, copy = run(read_back())
    assert name in listed and f"{job['last_job_id']}.feedback" in listed
    assert copy == body


def test_a_wrong_password_an_unknown_account_and_a_revoked_key_are_refused(
    local_stack: LocalStack, acme: SftpPartner, borealis: SftpPartner
) -> None:
    async def login(username: str, password: str) -> bool:
        try:
            async with sftp_session(local_stack, username, password):
                return True
        except asyncssh.PermissionDenied:
            return False

    assert run(login(acme.account, acme.api_key)) is True
    assert run(login(acme.account, acme.api_key + "x")) is False
    assert run(login(acme.account, borealis.api_key)) is False, "another partner's key does not open this account"
    assert run(login(f"nobody-{uuid.uuid4().hex[:6]}", acme.api_key)) is False

    # A revoked key stops working over SFTP as it does over the API
    issued = local_stack.admin("issue-key", "--partner-id", acme.partner_id)
    assert run(login(acme.account, issued["api_key"])) is True
    local_stack.admin("revoke-key", "--partner-id", acme.partner_id, "--key-id", issued["key_id"])
    assert run(login(acme.account, issued["api_key"])) is False


def test_delete_rename_and_mkdir_are_refused_and_the_file_stays(local_stack: LocalStack, acme: SftpPartner) -> None:
    name = f"keep-{uuid.uuid4().hex[:8]}.csv"
    run(sftp_put(local_stack, acme, f"interval-data/{name}", readings(acme.meter_id)))
    filed = finished_upload(local_stack, acme, name)["current_file_path"]

    async def attempts() -> dict[str, bool]:
        async with sftp_session(local_stack, acme.account, acme.api_key) as sftp:
            refused = {
                "remove": await denied(lambda: sftp.remove(filed))(),
                "rename": await denied(lambda: sftp.rename(filed, f"/interval-data/{name}"))(),
                "mkdir": await denied(lambda: sftp.mkdir("/interval-data/mine"))(),
                "mkdir outside": await denied(lambda: sftp.mkdir("/elsewhere"))(),
                "rmdir": await denied(lambda: sftp.rmdir(f"/interval-data/accepted/{name}"))(),
            }
            refused["still there"] = await sftp.exists(filed)
            return refused

    assert run(attempts()) == dict.fromkeys(
        ["remove", "rename", "mkdir", "mkdir outside", "rmdir", "still there"], True
    )


async def sftp_put(stack: LocalStack, partner: SftpPartner, path: str, body: bytes) -> None:
    async with sftp_session(stack, partner.account, partner.api_key) as sftp:
        await put(sftp, path, body)


def test_paths_outside_the_home_and_other_partners_folders_are_unreachable(
    local_stack: LocalStack, acme: SftpPartner, borealis: SftpPartner
) -> None:
    # Given a file of Acme's filed under accepted/
    name = f"private-{uuid.uuid4().hex[:8]}.csv"
    run(sftp_put(local_stack, acme, f"interval-data/{name}", readings(acme.meter_id)))
    filed = finished_upload(local_stack, acme, name)["current_file_path"]
    escapes = [
        "../x.csv",
        "interval-data/../../x.csv",
        f"../partners/{borealis.partner_id}/interval-data/x.csv",
        f"/interval-data/../../partners/{borealis.partner_id}/interval-data/x.csv",
        "/interval-data/accepted/forged.csv",  # our own outputs are read-only
    ]

    async def as_acme() -> list[bool]:
        async with sftp_session(local_stack, acme.account, acme.api_key) as sftp:
            return [await denied(partial(put, sftp, path, b"x"))() for path in escapes]

    # Then uploads that climb out of /interval-data (or into its outputs) are refused
    assert run(as_acme()) == [True] * len(escapes)

    async def as_borealis() -> tuple[list[str], list[str], bool]:
        async with sftp_session(local_stack, borealis.account, borealis.api_key) as sftp:
            root = list(await sftp.listdir("/"))
            has_accepted = await sftp.exists("/interval-data/accepted")
            accepted = list(await sftp.listdir("/interval-data/accepted")) if has_accepted else []
            return root, accepted, await sftp.exists(filed)

    # And Borealis sees only its own folder: nothing of Acme's, by any path
    root, accepted, sees_acme_file = run(as_borealis())
    assert sorted(root) == [".", "..", "interval-data"]
    assert name not in accepted
    assert sees_acme_file is False
    assert uploads_of(local_stack, borealis, name) == []


def test_an_interrupted_upload_creates_no_object_and_no_job(local_stack: LocalStack, acme: SftpPartner) -> None:
    cut_short, complete = f"cut_short-{uuid.uuid4().hex[:8]}.csv", f"after-{uuid.uuid4().hex[:8]}.csv"
    body = readings(acme.meter_id)
    assert local_stack.sftp_port is not None

    # When a client writes half a file and its connection drops
    async def interrupted() -> None:
        connection = await asyncssh.connect(
            "127.0.0.1",
            local_stack.sftp_port,
            username=acme.account,
            password=acme.api_key,
            known_hosts=None,
            client_keys=None,
        )
        sftp = await connection.start_sftp_client()
        remote = await sftp.open(f"interval-data/{cut_short}", "wb")
        await remote.write(body[: len(body) // 2])
        connection.abort()
        await connection.wait_closed()

    run(interrupted())
    # And a complete file is uploaded after it (its job finishing means the queue has moved past the first)
    run(sftp_put(local_stack, acme, f"interval-data/{complete}", body))
    assert finished_upload(local_stack, acme, complete)["status"] == "COMPLETED"

    # Then the cut-short file never became an object, so it has no job
    async def listing() -> list[str]:
        async with sftp_session(local_stack, acme.account, acme.api_key) as sftp:
            return [*await sftp.listdir("/interval-data"), *await sftp.listdir("/interval-data/accepted")]

    assert cut_short not in run(listing())
    assert uploads_of(local_stack, acme, cut_short) == []
    assert "interrupted; nothing stored" in local_stack.printed()
