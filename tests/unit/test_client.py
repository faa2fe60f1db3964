"""meterhub_client.Client over httpx.MockTransport: what it sends, how it reads the API's answers and error shapes,
and the multi-call helpers (paging, bulk meters, uploads of any size, waits).
Against the real API: tests/e2e/test_cli_flow.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from meterhub_client import ApiError, Client, ClientError, JobTimeout, ServerError
from meterhub_client import client as client_module
from meterhub_client.config import ConfigError, load_config

KEY = "mh_secret-key-value"
API = "http://api.test"
S3 = "http://s3.test"
JOB = "11111111-1111-1111-1111-111111111111"

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport that answers with `handler` and keeps every request (its body read)."""

    def __init__(self, handler: Handler) -> None:
        self.requests: list[httpx.Request] = []
        self.bodies: list[bytes] = []
        self.handler = handler

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(request.read())
        self.requests.append(request)
        return self.handler(request)

    def client(self) -> Client:
        return Client(KEY, API, poll_interval=0, transport=httpx.MockTransport(self))


def test_requests_carry_the_key_and_path_ids_are_escaped() -> None:
    recorder = Recorder(lambda request: httpx.Response(200, json={"meter_id": "m"}))
    with recorder.client() as client:
        client.get_meter_details("../tags")
    [request] = recorder.requests
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.url.raw_path == b"/v2/meters/..%2Ftags"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"title": "Meter id is not a UUID", "status": 400, "details": {"meter_id": "x"}},
            "Meter id is not a UUID (meter_id: x)",
        ),
        (
            {"title": "Too many", "status": 400, "details": [{"message": "split", "problem_field": "assets"}]},
            "Too many (assets: split)",
        ),
        (
            {"errors": [{"field": "customer.city", "description": "is required"}, {"description": "bad"}]},
            "customer.city: is required; bad",
        ),
        (
            {"error": "Not Found", "message": "The specified resource was not found"},
            "Not Found: The specified resource was not found",
        ),
        ({"message": "Invalid filter", "problem_field": "filter"}, "filter: Invalid filter"),
    ],
)
def test_every_error_shape_of_the_api_reads_as_one_line(body: dict[str, Any], message: str) -> None:
    recorder = Recorder(lambda request: httpx.Response(400, json=body))
    with recorder.client() as client, pytest.raises(ClientError) as raised:
        client.list_webhooks()
    assert raised.value.status == 400
    assert raised.value.body == body
    assert raised.value.message == message
    assert KEY not in str(raised.value) and KEY not in repr(client)


def test_a_5xx_is_a_server_error_and_a_text_body_is_kept_as_text() -> None:
    recorder = Recorder(lambda request: httpx.Response(502, text="Bad Gateway"))
    with recorder.client() as client, pytest.raises(ServerError) as raised:
        client.list_programs()
    assert (raised.value.status, raised.value.body, raised.value.message) == (502, "Bad Gateway", "Bad Gateway")
    assert isinstance(raised.value, ApiError) and not isinstance(raised.value, ClientError)


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (500, "An error happened whilst processing your request", "An error happened whilst processing your request"),
        (500, {"error": "Internal Server Error", "message": "An unexpected error occurred"}, None),
        (502, {"message": "Internal server error"}, "Internal server error"),
    ],
    ids=["leaps-bare-500-string", "webhooks-500", "api-gateways-own-502"],
)
def test_every_5xx_shape_reads_as_one_line(status: int, body: Any, message: str | None) -> None:
    recorder = Recorder(lambda request: httpx.Response(status, json=body))
    with recorder.client() as client, pytest.raises(ServerError) as raised:
        client.list_programs()
    assert (raised.value.status, raised.value.body) == (status, body)
    assert raised.value.message == (message or "Internal Server Error: An unexpected error occurred")


def test_iterating_a_get_listing_follows_next_page_token_in_the_query() -> None:
    pages = {None: {"jobs": [{"job_id": "a"}], "next_page_token": "t1"}, "t1": {"jobs": [{"job_id": "b"}]}}
    recorder = Recorder(lambda request: httpx.Response(200, json=pages[request.url.params.get("page_token")]))
    with recorder.client() as client:
        jobs = list(client.iter_meter_batch_jobs(filters=["status:COMPLETED", "file_name:a.csv"]))
    assert [job["job_id"] for job in jobs] == ["a", "b"]
    assert recorder.requests[0].url.params.get_list("filter") == ["status:COMPLETED", "file_name:a.csv"]


def test_iterating_a_search_sends_the_page_token_in_the_body_with_the_filters() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        token = json.loads(request.content).get("page_token")
        return httpx.Response(200, json={"meters": [{"n": token}], "next_page_token": None if token else "p2"})

    recorder = Recorder(answer)
    with recorder.client() as client:
        meters = list(client.iter_meters({"transmission_region": "ISONE"}, page_size=1))
    assert meters == [{"n": None}, {"n": "p2"}]
    assert [json.loads(body) for body in recorder.bodies] == [
        {"transmission_region": "ISONE", "page_size": 1},
        {"transmission_region": "ISONE", "page_size": 1, "page_token": "p2"},
    ]


class FakeApi:
    """Just enough of the API for the helpers: meter jobs, uploads (direct and presigned), and S3 behind it."""

    def __init__(self, final_status: str = "COMPLETED", polls_before_final: int = 1) -> None:
        self.final_status = final_status
        self.polls_left = polls_before_final
        self.stored: bytes = b""
        self.errors_csv = b"line,column,code,message\r\n2,meter_id,MTR_0002,bad\r\n3,meter_id,MTR_0002,bad\r\n"

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        if request.url.host == "s3.test":
            assert "authorization" not in request.headers, "the API key must never reach S3"
            if method == "PUT":
                self.stored = request.content
                return httpx.Response(200)
            return httpx.Response(200, content=self.errors_csv)
        if (method, path) == ("POST", "/v1.1/interval-data"):
            self.stored = request.content
            return httpx.Response(200, json={"job_id": JOB})
        if (method, path) == ("POST", "/v1.1/interval-data/upload-url"):
            headers = {"Content-Type": "text/csv", "x-amz-meta-job-id": JOB}
            return httpx.Response(
                201,
                json={
                    "job_id": JOB,
                    "uploaded_file_path": "/interval-data/x.csv",
                    "upload_url": f"{S3}/put?sig=1",
                    "headers": headers,
                    "method": "PUT",
                    "expires_in_seconds": 900,
                },
            )
        if path == f"/v1.1/jobs/interval-data-uploads/{JOB}":
            status = self._status("PROCESSING")
            return httpx.Response(200, json={"job_id": JOB, "status": status, "error_csv_file_path": "/x.errors.csv"})
        if path == f"/v1.1/jobs/interval-data-uploads/presigned-url/{JOB}":
            assert request.url.params["file"] == "errors"
            return httpx.Response(302, headers={"Location": f"{S3}/errors.csv?sig=2"}, json="")
        if (method, path) == ("POST", "/v1.1/jobs/meters"):
            self.stored = request.content
            return httpx.Response(201, json={"job_id": JOB})
        if path == f"/v1.1/jobs/meters/{JOB}":
            status = self._status("PROCESSING")
            if request.url.params.get("page_token") == "next":
                return httpx.Response(200, json={"job_id": JOB, "status": status, "assets": [{"status": "FAILED"}]})
            page = {"job_id": JOB, "status": status, "assets": [{"status": "COMPLETED"}], "next_page_token": "next"}
            return httpx.Response(200, json=page)
        return httpx.Response(404, json={"title": "Not Found", "status": 404})

    def _status(self, running: str) -> str:
        if self.polls_left > 0:
            self.polls_left -= 1
            return running
        return self.final_status


def test_a_small_file_goes_in_the_api_body_and_the_wait_returns_the_finished_job(tmp_path: Path) -> None:
    api = FakeApi()
    file = tmp_path / "day 1.csv"
    file.write_bytes(b"meter_id,interval_start_time_utc\n" * 10)
    seen: list[tuple[int, int]] = []
    polls: list[str] = []
    recorder = Recorder(api)
    with recorder.client() as client:
        result = client.upload_intervals(
            file,
            progress=lambda done, total: seen.append((done, total)),
            on_poll=lambda job: polls.append(job["status"]),
        )
    assert (result.job_id, result.status, result.errors) == (JOB, "COMPLETED", [])
    assert api.stored == file.read_bytes()
    upload = recorder.requests[0]
    assert (upload.url.path, dict(upload.url.params)) == (
        "/v1.1/interval-data",
        {"schema": "load", "file_name": "day 1.csv"},
    )
    assert upload.headers["content-type"] == "text/csv"
    assert seen == [(len(api.stored), len(api.stored))]
    assert polls == ["PROCESSING", "COMPLETED"]


def test_a_large_file_is_streamed_to_the_presigned_url_and_a_failed_jobs_full_error_report_is_returned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module, "UPLOAD_CHUNK_BYTES", 1000)
    api = FakeApi(final_status="FAILED")
    file = tmp_path / "big.csv"
    file.write_bytes(bytes(range(256)) * 20)  # 5,120 bytes: six chunks
    seen: list[tuple[int, int]] = []
    recorder = Recorder(api)
    with recorder.client() as client:
        result = client.upload_intervals(
            file, progress=lambda done, total: seen.append((done, total)), direct_limit=4096
        )
    assert api.stored == file.read_bytes()
    url_request = recorder.requests[0]
    assert json.loads(url_request.content) == {"schema": "load", "file_name": "big.csv"}
    put = next(request for request in recorder.requests if request.method == "PUT")
    assert put.headers["content-length"] == "5120" and "transfer-encoding" not in put.headers
    assert put.headers["x-amz-meta-job-id"] == JOB
    assert seen == [(min(n * 1000, 5120), 5120) for n in range(1, 7)]
    assert result.status == "FAILED"
    assert result.errors == [
        {"line": "2", "column": "meter_id", "code": "MTR_0002", "message": "bad"},
        {"line": "3", "column": "meter_id", "code": "MTR_0002", "message": "bad"},
    ]


def test_a_name_the_api_would_refuse_is_left_to_the_api_default(tmp_path: Path) -> None:
    api = FakeApi()
    file = tmp_path / "_hidden.csv"
    file.write_bytes(b"x\n")
    recorder = Recorder(api)
    with recorder.client() as client:
        client.upload_intervals(file, wait=False)
    assert "file_name" not in recorder.requests[0].url.params


def test_bulk_meters_from_a_list_wait_and_read_every_page_of_assets() -> None:
    api = FakeApi(final_status="COMPLETED_WITH_ERRORS")
    with Recorder(api).client() as client:
        result = client.create_meters([{"partner_reference": "a"}], file_name="crm.json")
    assert json.loads(api.stored) == {"assets": [{"partner_reference": "a"}]}
    assert result.status == "COMPLETED_WITH_ERRORS"
    assert [asset["status"] for asset in result.assets] == ["COMPLETED", "FAILED"]
    assert result.failed == [{"status": "FAILED"}]


def test_bulk_meters_from_a_csv_file_post_it_as_text_csv_named_after_the_file(tmp_path: Path) -> None:
    api = FakeApi()
    file = tmp_path / "meters.csv"
    file.write_text("partner_reference\nx\n", encoding="utf-8")
    recorder = Recorder(api)
    with recorder.client() as client:
        client.create_meters(file)
    submit = recorder.requests[0]
    assert submit.headers["content-type"] == "text/csv"
    assert submit.url.params["file_name"] == "meters.csv"
    assert api.stored == file.read_bytes()


def test_a_wait_that_outlives_its_timeout_raises_with_the_last_status() -> None:
    api = FakeApi(polls_before_final=10**6)
    with Recorder(api).client() as client, pytest.raises(JobTimeout) as raised:
        client.wait_meter_job(JOB, timeout=0)
    assert (raised.value.job_id, raised.value.status) == (JOB, "PROCESSING")


def test_the_key_comes_from_the_environment_before_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('api_key = "mh_from-file"\napi_url = "http://file.test"\n', encoding="utf-8")
    env = {"MH_CONFIG": str(config)}
    from_file = load_config(env)
    assert (from_file.api_key, from_file.api_url, from_file.source) == ("mh_from-file", "http://file.test", str(config))
    assert "mh_from-file" not in repr(from_file)
    from_env = load_config(env | {"MH_API_KEY": "mh_env", "MH_API_URL": "http://env.test"})
    assert (from_env.api_key, from_env.api_url, from_env.source) == ("mh_env", "http://env.test", "MH_API_KEY")
    assert load_config(env, api_url="http://option.test").api_url == "http://option.test"


def test_the_config_file_is_found_under_xdg_config_home_and_its_absence_is_explained(tmp_path: Path) -> None:
    (tmp_path / "meterhub").mkdir()
    (tmp_path / "meterhub" / "config.toml").write_text('api_key = "mh_xdg"\n', encoding="utf-8")
    assert load_config({"XDG_CONFIG_HOME": str(tmp_path)}).api_key == "mh_xdg"
    with pytest.raises(ConfigError, match="set MH_API_KEY"):
        load_config({"XDG_CONFIG_HOME": str(tmp_path / "nowhere")})
