"""Smoke test of a running stage: the README tour end to end over HTTP, against any base URL.

    METERHUB_API_KEY=mh_... python -m meterhub_dev.smoke --api https://<id>.execute-api.<region>.amazonaws.com/dev
    make smoke API=<base url> KEY=<api key> [RECEIVER=https://your-receiver.example/hooks]

It creates a meter and sends it again (a duplicate), reads, searches and reads its enrollment, runs a batch job
to its final status, uploads an interval file that ends COMPLETED and a bad one that ends FAILED, has a webhook
delivered, and walks a Connect link through the demo utility (stages without it, prod, are told and skipped).
It then archives every meter it made, revokes the Connect authorization and deletes its webhook, also after a
failure. Every reference carries the run's id, so it can run again and again against a shared stage.

Webhooks: against a loopback API (the local runner) it starts the development receiver
(`meterhub_dev.local.receiver`) in this process and checks the signed delivery of the meter it created. A
deployed stage cannot reach this machine and accepts only https receivers: give one with --receiver-url (any
https endpoint answering 2xx; the check is then the webhook's delivery log), or the step is skipped.

Each step is printed as it passes; the first failure prints the step, the request and the response, cleans up
and exits 1. The key is read from METERHUB_API_KEY, never from the command line (which other users can see).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from http.server import ThreadingHTTPServer
from typing import Any, TextIO
from urllib.parse import urljoin, urlsplit

import requests

from meterhub_dev.demo_asset import demo_asset
from meterhub_dev.local.receiver import make_handler

KEY_VARIABLE = "METERHUB_API_KEY"
REQUEST_TIMEOUT_SECONDS = 30
POLL_INTERVAL_SECONDS = 0.25
SHOWN_BODY_CHARACTERS = 2000
TERMINAL_JOB_STATUSES = frozenset({"COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED"})
TERMINAL_UPLOAD_STATUSES = frozenset({"COMPLETED", "FAILED"})
DEMO_UTILITY_ID = "demo"


class StepFailed(Exception):
    """What a step expected and did not get, with the exchange that showed it."""

    def __init__(self, message: str, response: requests.Response | None = None) -> None:
        super().__init__(message)
        self.response = response


class StepSkipped(Exception):
    """The stage does not offer what the step needs (said in the report, not a failure)."""


# ----- what the Connect pages and the demo utility send: their forms --------------------------------------------


@dataclass
class Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)
    choices: dict[str, list[str]] = field(default_factory=dict)  # radio name -> values offered


class _Forms(HTMLParser):
    """The forms of a page: their action, hidden fields and radio choices (what a browser would submit)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(Form(action=attributes.get("action", "")))
        elif tag == "input" and self.forms:
            name, kind = attributes.get("name", ""), attributes.get("type", "text")
            if kind == "hidden":
                self.forms[-1].fields[name] = attributes.get("value", "")
            elif kind == "radio":
                self.forms[-1].choices.setdefault(name, []).append(attributes.get("value", ""))


def forms_of(page: str) -> list[Form]:
    parser = _Forms()
    parser.feed(page)
    return parser.forms


# ----- the receiver this process starts -------------------------------------------------------------------------


class _Printed:
    """Where the development receiver prints its deliveries: kept here, one line per delivery."""

    def __init__(self) -> None:
        self._text = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self._text += text
        return len(text)

    def flush(self) -> None:
        return None

    def lines(self) -> list[str]:
        with self._lock:
            return self._text.splitlines()


@contextmanager
def local_receiver() -> Iterator[tuple[ThreadingHTTPServer, _Printed]]:
    """The development receiver on a free loopback port; its secret is set once the webhook exists
    (`server.RequestHandlerClass = make_handler(secret, printed)`)."""
    printed = _Printed()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(None, printed))
    thread = threading.Thread(target=server.serve_forever, name="smoke-receiver", daemon=True)
    thread.start()
    try:
        yield server, printed
    finally:
        server.shutdown()
        server.server_close()


# ----- the run ------------------------------------------------------------------------------------------------


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _shown(text: str) -> str:
    return text if len(text) <= SHOWN_BODY_CHARACTERS else text[:SHOWN_BODY_CHARACTERS] + " …(truncated)"


def describe_exchange(response: requests.Response) -> str:
    """The request and the response, for a person reading a failure (the API key masked)."""
    request = response.request
    headers = {k: ("Bearer ***" if k.lower() == "authorization" else v) for k, v in request.headers.items()}
    body = request.body
    sent = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    return "\n".join(
        [
            f"  request:  {request.method} {request.url}",
            f"            headers {json.dumps(headers)}",
            *([f"            body {_shown(sent)}"] if sent else []),
            f"  response: {response.status_code} {response.reason}",
            f"            headers {json.dumps(dict(response.headers))}",
            f"            body {_shown(response.text)}",
        ]
    )


class Smoke:
    """One run: its steps, what they created (for the clean-up) and the report."""

    def __init__(self, api: str, key: str, receiver_url: str | None, wait_seconds: float, out: TextIO) -> None:
        self.api = api.rstrip("/")
        self.run_id = f"smoke-{uuid.uuid4().hex[:12]}"
        self.receiver_url = receiver_url
        self.wait_seconds = wait_seconds
        self.out = out
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {key}"
        self.meter_ids: list[str] = []
        self.webhook_id: str | None = None
        self.authorization_id: str | None = None
        self.receiver: tuple[ThreadingHTTPServer, _Printed] | None = None
        self.state: dict[str, Any] = {}
        self.last_response: requests.Response | None = None  # shown when an answer has an unexpected shape
        self._stack = ExitStack()  # what runs for the whole run: the receiver

    # ----- HTTP ----------------------------------------------------------------------------------------------

    def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", REQUEST_TIMEOUT_SECONDS)
        kwargs.setdefault("allow_redirects", False)
        response = self.http.request(method, path if "://" in path else f"{self.api}{path}", **kwargs)
        self.last_response = response
        if response.status_code != expect:
            raise StepFailed(f"expected HTTP {expect}, got {response.status_code}", response)
        return response

    def json(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = self.call(method, path, expect, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise StepFailed("the answer is not JSON", response) from None

    def until(self, what: str, fetch: Callable[[], tuple[bool, requests.Response]]) -> requests.Response:
        """Poll `fetch` until it says done, for at most --wait seconds."""
        deadline = time.monotonic() + self.wait_seconds
        while True:
            done, response = fetch()
            if done:
                return response
            if time.monotonic() > deadline:
                raise StepFailed(f"{what} not seen within {self.wait_seconds:g}s (last answer below)", response)
            time.sleep(POLL_INTERVAL_SECONDS)

    @staticmethod
    def expect(condition: bool, message: str, response: requests.Response) -> None:
        if not condition:
            raise StepFailed(message, response)

    # ----- the steps, in the README's order ------------------------------------------------------------------

    def asset(self, suffix: str, **overrides: Any) -> dict[str, Any]:
        return demo_asset(partner_reference=f"{self.run_id}-{suffix}", **overrides)

    def subscribe_webhook(self) -> str:
        if self.receiver_url is None and not _is_loopback(self.api):
            raise StepSkipped(
                "a deployed stage cannot reach a receiver on this machine and takes https only: "
                "give one with --receiver-url (make smoke ... RECEIVER=https://...)"
            )
        receiver_url = self.receiver_url
        if receiver_url is None:
            self.receiver = self._stack.enter_context(local_receiver())
            receiver_url = f"http://127.0.0.1:{self.receiver[0].server_address[1]}/hooks/{self.run_id}"
        body = {"event_types": ["meter.created"], "receiver_url": receiver_url}
        created = self.json("POST", "/v1.1/webhooks", json=body)
        self.webhook_id = str(created["webhook_id"])
        if self.receiver is not None:
            self.receiver[0].RequestHandlerClass = make_handler(created["signing_secret"], self.receiver[1])
        tested = self.call("POST", f"/v1.1/webhooks/{self.webhook_id}/test")
        self.expect(tested.json().get("is_successful") is True, "the test delivery did not succeed", tested)
        return f"webhook {self.webhook_id} -> {receiver_url}; test delivery answered {tested.json().get('status_code')}"

    def create_meter(self) -> str:
        response = self.call("POST", "/v1.1/meters", json={"provisional_asset": self.asset("meter")})
        created = response.json()
        if created.get("meter_id"):
            self.meter_ids.append(str(created["meter_id"]))
        outcome = (created.get("status"), (created.get("status_detail") or {}).get("name"))
        self.expect(
            outcome == ("COMPLETED", "METER_CREATED"), f"expected COMPLETED / METER_CREATED: {outcome}", response
        )
        self.state["meter"] = created
        return f"meter {created['meter_id']} ({created['data']['partner_reference']})"

    def duplicate(self) -> str:
        response = self.call("POST", "/v1.1/meters", json={"provisional_asset": self.state["meter"]["data"]})
        answer = response.json()
        self.expect(answer.get("status") == "DUPLICATE", "the same partner_reference is not a DUPLICATE", response)
        self.expect(answer.get("meter_id") in (None, self.meter_ids[0]), "a duplicate made another meter", response)
        return str(answer["status_detail"]["name"])

    def read(self) -> str:
        meter_id = self.meter_ids[0]
        response = self.call("GET", f"/v2/meters/{meter_id}")
        self.expect(response.json().get("meter_id") == meter_id, "the meter read is not the one created", response)
        return f"partner_reference {response.json().get('partner_reference')}"

    def search(self) -> str:
        reference = self.state["meter"]["data"]["partner_reference"]
        response = self.call("POST", "/v2/meters/search", json={"partner_references": [reference]})
        found = [m.get("meter_id") for m in response.json().get("meters", [])]
        self.expect(found == self.meter_ids[:1], "search by partner_reference did not find exactly the meter", response)
        return "found by partner_reference"

    def enrollment(self) -> str:
        meter_id = self.meter_ids[0]
        response = self.call("GET", f"/v2/meters/{meter_id}/enrollments")
        status = response.json().get("global_enrollment_status")
        programs = [p.get("program_identifier") for p in response.json().get("program_enrollment", [])]
        self.expect(bool(status) and bool(programs), "no enrollment status or no program", response)
        searched = self.call("POST", "/v2/meters/enrollments/search", json={"meter_ids": [meter_id]})
        found = [m.get("meter_id") for m in searched.json().get("meters", [])]
        self.expect(found == [meter_id], "the enrollment search did not find exactly the meter", searched)
        return f"{status}, programs {', '.join(map(str, programs))}; enrollment search finds it"

    def batch_job(self) -> str:
        bad = self.asset("bulk-bad")
        bad["customer"] = {**bad["customer"], "postal_code": "not-a-zip"}
        body = {"assets": [self.asset("bulk-good"), bad]}
        job_id = self.json("POST", "/v1.1/jobs/meters", 201, params={"file_name": f"{self.run_id}.json"}, json=body)[
            "job_id"
        ]

        def finished() -> tuple[bool, requests.Response]:
            response = self.call("GET", f"/v1.1/jobs/meters/{job_id}")
            return response.json().get("status") in TERMINAL_JOB_STATUSES, response

        response = self.until(f"job {job_id} in a final status", finished)
        job = response.json()
        self.meter_ids += [str(a["meter_id"]) for a in job.get("assets", []) if a.get("meter_id")]
        outcome = {a.get("partner_reference"): a.get("status") for a in job.get("assets", [])}
        expected = {f"{self.run_id}-bulk-good": "COMPLETED", f"{self.run_id}-bulk-bad": "FAILED"}
        self.expect(job.get("status") == "COMPLETED_WITH_ERRORS", "the job did not end COMPLETED_WITH_ERRORS", response)
        self.expect(outcome == expected, f"asset outcomes {outcome}, expected {expected}", response)
        return f"job {job_id} {job['status']} (1 created, 1 refused)"

    def upload(self, name: str, csv: str) -> tuple[str, requests.Response]:
        job_id = self.json(
            "POST",
            "/v1.1/interval-data",
            params={"schema": "load", "file_name": f"{self.run_id}-{name}.csv"},
            data=csv.encode(),
            headers={"Content-Type": "text/csv"},
        )["job_id"]

        def finished() -> tuple[bool, requests.Response]:
            response = self.call("GET", f"/v1.1/jobs/interval-data-uploads/{job_id}")
            return response.json().get("status") in TERMINAL_UPLOAD_STATUSES, response

        return str(job_id), self.until(f"upload {job_id} in a final status", finished)

    def interval_upload(self) -> str:
        meter_id = self.meter_ids[0]
        day = datetime(2025, 1, 1, tzinfo=UTC)
        quarter = timedelta(minutes=15)
        starts = [day + n * quarter for n in range(4)]
        rows = [f"{meter_id},{_utc(start)},{_utc(start + quarter)},1.25,true" for start in starts]
        header = "meter_id,interval_start_time_utc,interval_end_time_utc,energy_net_kwh,final"
        job_id, response = self.upload("day", "\n".join([header, *rows]) + "\n")
        job = response.json()
        self.expect(job.get("status") == "COMPLETED", "the upload did not end COMPLETED", response)
        self.expect(job.get("rows_valid") == len(rows), f"rows_valid is not {len(rows)}", response)
        return f"upload {job_id} COMPLETED, {job['rows_valid']} rows"

    def bad_interval_upload(self) -> str:
        csv = "meter_id,interval_start_time_utc,interval_end_time_utc,energy_net_kwh\n"
        csv += "not-a-meter,2025-01-01T00:07:00Z,2025-01-01T00:15:00Z,x\n"
        job_id, response = self.upload("bad", csv)
        job = response.json()
        self.expect(job.get("status") == "FAILED", "the bad upload did not end FAILED", response)
        self.expect(bool(job.get("errors")), "the FAILED upload lists no errors", response)
        codes = sorted({str(e.get("error_code", e.get("code", "?"))) for e in job["errors"]})
        return f"upload {job_id} FAILED, {job.get('errors_total')} errors ({', '.join(codes)})"

    def webhook_delivered(self) -> str:
        if self.webhook_id is None:
            raise StepSkipped("no webhook was subscribed (see above)")
        meter_id = self.meter_ids[0]
        if self.receiver is not None:
            printed = self.receiver[1]
            deadline = time.monotonic() + self.wait_seconds
            while not any(meter_id in line and line.startswith("meter.created ") for line in printed.lines()):
                if time.monotonic() > deadline:
                    lines = "\n".join(printed.lines()) or "(nothing)"
                    raise StepFailed(f"no meter.created for {meter_id} within {self.wait_seconds:g}s; got:\n{lines}")
                time.sleep(POLL_INTERVAL_SECONDS)
            [line] = [line for line in printed.lines() if meter_id in line and line.startswith("meter.created ")][:1]
            if "signature OK" not in line or " EVENT " not in line:
                raise StepFailed(f"the delivery was not a correctly signed EVENT:\n{line}")

        def logged() -> tuple[bool, requests.Response]:
            response = self.call("GET", f"/v1.1/webhooks/{self.webhook_id}/deliveries")
            delivered = [
                d
                for d in response.json().get("deliveries", [])
                if d.get("webhook_event_type") == "meter.created" and d.get("status") == "DELIVERED"
            ]
            return bool(delivered), response

        self.until("a DELIVERED meter.created in the delivery log", logged)
        where = "received signed by this process" if self.receiver is not None else "delivered to the given receiver"
        return f"meter.created of {meter_id} {where}; DELIVERED in the log"

    def connect(self) -> str:
        ref_id = f"{self.run_id}-connect"
        issued = self.json("POST", "/v1.1/connect/links", 201, json={"ref_id": ref_id, "transmission_region": "CAISO"})
        browser = requests.Session()  # the customer's browser: its own cookies, no API key
        page = browser.get(issued["url"], timeout=REQUEST_TIMEOUT_SECONDS)
        self.expect(page.status_code == 200, "the Connect link did not open", page)
        choose = next((f for f in forms_of(page.text) if "utility_id" in f.choices), None)
        if choose is None or DEMO_UTILITY_ID not in choose.choices["utility_id"]:
            raise StepSkipped("this stage offers no demo utility (StageName=prod): a real utility needs a customer")
        answer = browser.post(
            urljoin(page.url, choose.action),
            data={**choose.fields, "utility_id": DEMO_UTILITY_ID, "consent": "yes"},
            timeout=REQUEST_TIMEOUT_SECONDS,
        )  # follows the 303 to the demo utility's sign-in page
        self.expect(answer.status_code == 200 and "/demo-utility/" in answer.url, "no demo utility sign-in", answer)
        sign_in = next(iter(forms_of(answer.text)), None)
        if sign_in is None:
            raise StepFailed("the demo utility's page has no sign-in form", answer)
        fields = {**sign_in.fields, "username": self.run_id, "password": "smoke", "scenario": "success"}
        back = browser.post(
            urljoin(answer.url, sign_in.action),
            data={**fields, "submit": "approve"},
            timeout=REQUEST_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
        # The utility sends the browser to our callback; it ends on our page or the partner's redirect URL.
        hops = 0
        while back.is_redirect and urlsplit(back.headers["Location"]).netloc in ("", urlsplit(self.api).netloc):
            back = browser.get(urljoin(back.url, back.headers["Location"]), timeout=30, allow_redirects=False)
            hops += 1
            self.expect(hops < 5, "too many redirects", back)
        ended_off_site = back.is_redirect and "outcome=completed" in back.headers["Location"]
        self.expect(ended_off_site or "all set" in back.text, "the callback did not complete the connection", back)

        def synced() -> tuple[bool, requests.Response]:
            response = self.call("GET", "/v1.1/connect/connections", params={"ref_id": ref_id})
            connections = response.json().get("connections", [])
            authorizations = [a for c in connections for a in c.get("authorizations", [])]
            if authorizations and authorizations[0].get("authorization_id"):
                self.authorization_id = str(authorizations[0]["authorization_id"])
            meters = [m for c in connections for m in c.get("meter_ids", [])]
            for meter_id in meters:
                if meter_id not in self.meter_ids:
                    self.meter_ids.append(str(meter_id))
            completed = bool(connections) and connections[0].get("session_status") == "COMPLETED"
            return completed and bool(meters), response

        self.until("the connection COMPLETED with its utility meter", synced)
        return f"link {issued['link_id']} -> demo utility -> COMPLETED; utility meter {self.meter_ids[-1]}"

    # ----- the clean-up ---------------------------------------------------------------------------------------

    def clean_up(self) -> list[str]:
        """Undo what the run created, as far as the API allows; returns what could not be undone."""
        problems: list[str] = []

        def attempt(what: str, method: str, path: str, **kwargs: Any) -> None:
            try:
                self.call(method, path, **kwargs)
                self.say("ok", f"clean-up: {what}")
            except StepFailed as failure:
                problems.append(what)
                self.say("FAIL", f"clean-up: {what}: {failure}", failure.response)
            except requests.RequestException as error:
                problems.append(what)
                self.say("FAIL", f"clean-up: {what}: {error}")

        if self.authorization_id:
            attempt(
                f"revoke Connect authorization {self.authorization_id}",
                "POST",
                f"/v1.1/connect/authorizations/{self.authorization_id}/revoke",
            )
        if self.meter_ids:
            attempt(
                f"archive {len(self.meter_ids)} meter(s)",
                "POST",
                "/v1.1/meters/archive",
                json={"meter_ids": self.meter_ids},
            )
        if self.webhook_id:
            attempt(f"delete webhook {self.webhook_id}", "DELETE", f"/v1.1/webhooks/{self.webhook_id}")
        return problems

    # ----- the report ------------------------------------------------------------------------------------------

    def say(self, verdict: str, text: str, response: requests.Response | None = None) -> None:
        print(f"  {verdict:<4} {text}", file=self.out, flush=True)
        if response is not None:
            print(describe_exchange(response), file=self.out, flush=True)

    def steps(self) -> list[tuple[str, Callable[[], str]]]:
        return [
            ("subscribe a webhook and send it a test", self.subscribe_webhook),
            ("create a meter (POST /v1.1/meters)", self.create_meter),
            ("send it again: DUPLICATE", self.duplicate),
            ("read it (GET /v2/meters/{id})", self.read),
            ("search (POST /v2/meters/search)", self.search),
            ("its enrollment (GET .../enrollments, POST /v2/meters/enrollments/search)", self.enrollment),
            ("a batch job to its final status (/v1.1/jobs/meters)", self.batch_job),
            ("an interval upload to COMPLETED", self.interval_upload),
            ("a bad interval upload to FAILED", self.bad_interval_upload),
            ("the meter.created webhook delivered", self.webhook_delivered),
            ("a Connect link through the demo utility", self.connect),
        ]

    def run(self) -> int:
        print(f"meterhub smoke test of {self.api} (run {self.run_id})", file=self.out, flush=True)
        started = time.monotonic()
        failed: str | None = None
        skipped = 0
        with self._stack:
            try:
                for name, step in self.steps():
                    began = time.monotonic()
                    try:
                        detail = step()
                    except StepSkipped as skip:
                        skipped += 1
                        self.say("SKIP", f"{name}: {skip}")
                        continue
                    except StepFailed as failure:
                        failed = name
                        self.say("FAIL", f"{name}: {failure}", failure.response)
                        break
                    except requests.RequestException as error:  # no answer: the request is all there is to show
                        failed = name
                        self.say("FAIL", f"{name}: {type(error).__name__}: {error}")
                        if error.request is not None:
                            print(f"  request:  {error.request.method} {error.request.url}", file=self.out)
                        break
                    except (KeyError, TypeError, ValueError) as error:  # an answer of another shape
                        failed = name
                        self.say(
                            "FAIL", f"{name}: unexpected answer: {type(error).__name__}: {error}", self.last_response
                        )
                        break
                    self.say("ok", f"{name} ({time.monotonic() - began:.1f}s): {detail}")
            finally:
                problems = self.clean_up()
        elapsed = time.monotonic() - started
        if failed is not None:
            print(f"FAILED at step: {failed} ({elapsed:.1f}s)", file=self.out, flush=True)
            return 1
        if problems:
            print(f"FAILED to clean up: {'; '.join(problems)} ({elapsed:.1f}s)", file=self.out, flush=True)
            return 1
        passed = len(self.steps()) - skipped
        print(f"PASSED: {passed} steps, {skipped} skipped, in {elapsed:.1f}s", file=self.out, flush=True)
        return 0


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(prog="python -m meterhub_dev.smoke", description=__doc__.splitlines()[0])
    parser.add_argument("--api", required=True, help="the stage's base URL (the ApiUrl output, or make run's URL)")
    parser.add_argument("--receiver-url", help="an https webhook receiver the stage can reach (answering 2xx)")
    parser.add_argument("--wait", type=float, default=120.0, help="seconds to wait for each asynchronous outcome")
    args = parser.parse_args(argv)
    key = os.environ.get(KEY_VARIABLE, "")
    if not key:
        parser.error(f"set {KEY_VARIABLE} to a partner's API key")
    return Smoke(args.api, key, args.receiver_url, args.wait, out).run()


if __name__ == "__main__":
    raise SystemExit(main())
