"""The `meterhub` command line over httpx.MockTransport: exit codes, --json, and the API key never printed (not
in errors, not with --verbose). Against the real API: tests/e2e/test_cli_flow.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from meterhub_client import client as client_module
from meterhub_client.cli import main as cli

KEY = "mh_never-print-this-key"
JOB = "11111111-1111-1111-1111-111111111111"


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[httpx.Request], httpx.Response]], None]:
    """Point the CLI at a MockTransport answering with the given handler, the key in MH_API_KEY."""
    monkeypatch.setenv("MH_API_KEY", KEY)
    monkeypatch.setenv("MH_API_URL", "http://api.test")
    monkeypatch.setattr(cli, "POLL_SECONDS", 0)

    def install(handler: Callable[[httpx.Request], httpx.Response]) -> None:
        def client(api_key: str, base_url: str, **options: Any) -> client_module.Client:
            return client_module.Client(api_key, base_url, transport=httpx.MockTransport(handler), **options)

        monkeypatch.setattr(cli, "Client", client)

    return install


def _job(status: str) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        counts = {"assets_count": 1, "assets_created_count": 0, "assets_updated_count": 0, "assets_failed_count": 1}
        return httpx.Response(200, json={"job_id": JOB, "status": status, "assets": [], **counts})

    return answer


def test_without_a_key_it_is_a_usage_error_naming_where_keys_come_from(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MH_API_KEY", raising=False)
    monkeypatch.setenv("MH_CONFIG", str(tmp_path / "absent.toml"))
    assert cli.main(["meters", "get", JOB]) == cli.EXIT_USAGE
    assert "MH_API_KEY" in capsys.readouterr().err


def test_a_refusal_exits_1_with_the_apis_message_and_never_the_key(
    api: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    api(lambda request: httpx.Response(404, json={"title": "Meter not found", "status": 404}))
    assert cli.main(["--json", "--verbose", "meters", "get", JOB]) == cli.EXIT_API_REFUSED
    out, err = capsys.readouterr()
    assert json.loads(out)["error"]["status"] == 404
    assert json.loads(out)["error"]["body"] == {"title": "Meter not found", "status": 404}
    assert "Meter not found" in err and f"/v2/meters/{JOB}" in err  # --verbose logged the request
    assert KEY not in out + err


def test_a_server_failure_or_an_unreachable_api_exits_5(api: Any, capsys: pytest.CaptureFixture[str]) -> None:
    api(lambda request: httpx.Response(503, json={"message": "Service Unavailable"}))
    assert cli.main(["webhooks", "list"]) == cli.EXIT_UNAVAILABLE

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    api(refuse)
    assert cli.main(["-v", "webhooks", "list"]) == cli.EXIT_UNAVAILABLE
    out, err = capsys.readouterr()
    assert "cannot reach the API" in err and KEY not in out + err


@pytest.mark.parametrize(
    ("status", "code"),
    [("COMPLETED", cli.EXIT_OK), ("COMPLETED_WITH_ERRORS", cli.EXIT_PARTIAL), ("FAILED", cli.EXIT_JOB_FAILED)],
)
def test_a_waited_jobs_final_status_is_the_exit_code(
    api: Any, capsys: pytest.CaptureFixture[str], status: str, code: int
) -> None:
    api(_job(status))
    assert cli.main(["jobs", "wait", JOB, "-q"]) == code
    assert status in capsys.readouterr().out


def test_json_given_before_or_after_the_command_prints_json(api: Any, capsys: pytest.CaptureFixture[str]) -> None:
    api(lambda request: httpx.Response(200, json={"webhooks": [{"webhook_id": "w", "receiver_url": "u"}]}))
    for argv in (["--json", "webhooks", "list"], ["webhooks", "list", "--json"]):
        assert cli.main(argv) == cli.EXIT_OK
        assert json.loads(capsys.readouterr().out) == [{"webhook_id": "w", "receiver_url": "u"}]
    assert cli.main(["webhooks", "list"]) == cli.EXIT_OK
    assert capsys.readouterr().out.splitlines()[0].split() == ["WEBHOOK_ID", "RECEIVER_URL", "EVENT_TYPES"]


def test_a_wait_past_its_timeout_exits_6(api: Any) -> None:
    api(_job("PROCESSING"))
    assert cli.main(["jobs", "wait", JOB, "--timeout", "0", "-q"]) == cli.EXIT_TIMEOUT


def test_bad_usage_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        cli.main(["meters", "explode"])
    assert raised.value.code == cli.EXIT_USAGE
    assert cli.main([]) == cli.EXIT_USAGE


def test_meters_create_with_one_json_object_creates_one_meter_and_a_duplicate_exits_4(
    api: Any, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    sent: list[Any] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append((request.method, request.url.path, json.loads(request.content)))
        status = "DUPLICATE" if len(sent) > 1 else "COMPLETED"
        return httpx.Response(200, json={"partner_reference": "r1", "status": status, "status_detail": {}})

    api(answer)
    meter = tmp_path / "meter.json"
    meter.write_text(json.dumps({"provisional_asset": {"partner_reference": "r1"}}), encoding="utf-8")
    assert cli.main(["meters", "create", str(meter)]) == cli.EXIT_OK
    meter.write_text(json.dumps({"partner_reference": "r1"}), encoding="utf-8")  # the wrapper is optional
    assert cli.main(["meters", "create", str(meter)]) == cli.EXIT_PARTIAL
    assert sent == [("POST", "/v1.1/meters", {"provisional_asset": {"partner_reference": "r1"}})] * 2
    assert "DUPLICATE" in capsys.readouterr().out
