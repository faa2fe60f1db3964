"""`meterhub`: the partner API from a shell.

    meterhub meters create meters.csv          meterhub intervals upload big.csv
    meterhub meters get <meter_id>             meterhub intervals errors <job_id> --output errors.csv
    meterhub --json meters search --region ISONE

The API key comes from MH_API_KEY or ~/.config/meterhub/config.toml (`meterhub_client.config`), never from an
argument, and is never printed. Human output by default, `--json` for scripts. Exit codes:
0 done; 1 the API refused the request (4xx); 2 usage or configuration error; 3 a job or upload ended FAILED;
4 a job finished with some assets not created (COMPLETED_WITH_ERRORS, DUPLICATE); 5 the API failed or could not
be reached (5xx, network); 6 a wait timed out; 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from meterhub_client import receiver
from meterhub_client.cli.output import (
    JobWatcher,
    ProgressBar,
    field,
    print_fields,
    print_json,
    print_table,
)
from meterhub_client.client import JSON, Client
from meterhub_client.config import ConfigError, load_config
from meterhub_client.errors import ApiError, ClientError, JobTimeout

EXIT_OK = 0
EXIT_API_REFUSED = 1
EXIT_USAGE = 2
EXIT_JOB_FAILED = 3
EXIT_PARTIAL = 4
EXIT_UNAVAILABLE = 5
EXIT_TIMEOUT = 6
EXIT_INTERRUPTED = 130

ERRORS_SHOWN = 20
POLL_SECONDS = 1.0
METER_JOB_COLUMNS = [
    ("partner_reference", field("partner_reference")),
    ("status", field("status")),
    ("meter_id", field("meter_id")),
    ("detail", field("status_detail", "name")),
    ("failed_fields", field("status_detail", "failed_fields")),
]
ERROR_COLUMNS = [
    ("line", field("line")),
    ("column", field("column")),
    ("code", field("code")),
    ("message", field("message")),
]


class UsageError(Exception):
    """A command given something it cannot use (exit 2)."""


Handler = Callable[[argparse.Namespace, Client], int]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    for name, default in (("json", False), ("quiet", False), ("verbose", False), ("api_url", None)):
        if not hasattr(args, name):  # given neither before nor after the subcommand
            setattr(args, name, default)
    if not args.handler:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    logged = _log_requests() if args.verbose else None
    handler: Handler = args.handler
    try:
        if handler is _listen:  # the receiver needs no API key
            return _listen(args, None)
        config = load_config(api_url=args.api_url)
        with Client(config.api_key, config.api_url, poll_interval=POLL_SECONDS) as client:
            return handler(args, client)
    except (ConfigError, UsageError) as error:
        return _fail(args, EXIT_USAGE, str(error))
    except ApiError as error:
        code = EXIT_API_REFUSED if isinstance(error, ClientError) else EXIT_UNAVAILABLE
        return _fail(args, code, str(error), {"status": error.status, "body": error.body})
    except JobTimeout as error:
        return _fail(args, EXIT_TIMEOUT, f"{error}; `meterhub jobs wait` / `intervals status` to look again")
    except httpx.HTTPError as error:
        return _fail(args, EXIT_UNAVAILABLE, f"cannot reach the API: {type(error).__name__}: {error}")
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if logged:
            logging.getLogger("httpx").removeHandler(logged)


def _fail(args: argparse.Namespace, code: int, message: str, detail: Mapping[str, Any] | None = None) -> int:
    print(f"meterhub: error: {message}", file=sys.stderr)
    if args.json:
        print_json({"error": {"message": message, **(detail or {})}})
    return code


def _log_requests() -> logging.Handler:
    """--verbose: one stderr line per HTTP request (method, URL without its query, status). httpx logs no
    headers, so the key never shows; the query is cut because a presigned URL's signature is a credential."""

    class NoQuery(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            if isinstance(record.args, tuple):
                record.args = tuple(
                    arg.copy_with(query=None) if isinstance(arg, httpx.URL) else arg for arg in record.args
                )
            return True

    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(NoQuery())
    logger = logging.getLogger("httpx")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return handler


# ----- meters -------------------------------------------------------------------------------------------


def _meters_create(args: argparse.Namespace, client: Client) -> int:
    """A CSV, or a JSON list (or {"assets": [...]}): one batch job, waited for. A JSON object: one meter."""
    path = Path(args.file)
    if path.suffix.lower() == ".csv":
        return _run_meter_job(args, client, path)
    document = _read_json(path)
    if isinstance(document, dict) and "assets" not in document:
        asset = document.get("provisional_asset", document)
        answer = client.create_single_meter(asset, update_existing=args.update_existing)
        if args.json:
            print_json(answer)
        else:
            print_table([answer], METER_JOB_COLUMNS)
        return EXIT_OK if answer.get("status") == "COMPLETED" else EXIT_PARTIAL
    return _run_meter_job(args, client, path)


def _meters_get(args: argparse.Namespace, client: Client) -> int:
    meter = client.get_meter_details(args.meter_id)
    if args.json:
        print_json(meter)
    else:
        print_fields(
            meter,
            [
                "meter_id",
                "partner_reference",
                "transmission_region",
                "meter_type",
                "customer_classification",
                "load_types",
                "tags",
                "is_archived",
                "audit",
            ],
        )
    return EXIT_OK


def _meters_search(args: argparse.Namespace, client: Client) -> int:
    filters: dict[str, Any] = json.loads(args.filter_json) if args.filter_json else {}
    if not isinstance(filters, dict):
        raise UsageError("--filter-json must be a JSON object (MeterFilterRequest)")
    for name, value in (
        ("transmission_region", args.region),
        ("partner_references", args.reference),
        ("tags", args.tag),
        ("meter_ids", args.meter_id),
    ):
        if value:
            filters[name] = value
    if args.exclude_archived:
        filters["exclude_archived"] = True
    meters = _first(client.iter_meters(filters), args.limit)
    if args.json:
        print_json(meters)
    else:
        print_table(
            meters,
            [
                ("meter_id", field("meter_id")),
                ("partner_reference", field("partner_reference")),
                ("region", field("transmission_region")),
                ("type", field("meter_type")),
                ("tags", field("tags")),
                ("archived", field("is_archived")),
            ],
        )
    return EXIT_OK


# ----- meter jobs ---------------------------------------------------------------------------------------


def _jobs_submit(args: argparse.Namespace, client: Client) -> int:
    return _run_meter_job(args, client, Path(args.file))


def _run_meter_job(args: argparse.Namespace, client: Client, path: Path) -> int:
    if path.suffix.lower() == ".csv":
        submitted = client.create_meter_batch_job(
            csv_text=_read_bytes(path), update_existing=args.update_existing, file_name=path.name
        )
    else:
        document = _read_json(path)
        assets = document.get("assets") if isinstance(document, dict) else document
        if not isinstance(assets, list):
            raise UsageError(f'{path}: expected a JSON list of assets or {{"assets": [...]}}')
        submitted = client.create_meter_batch_job(assets, update_existing=args.update_existing, file_name=path.name)
    job_id = str(submitted["job_id"])
    if not getattr(args, "wait", True):
        if args.json:
            print_json(submitted)
        else:
            print(job_id)
        return EXIT_OK
    if not args.json:
        print(f"job {job_id} submitted", file=sys.stderr)
    return _wait_meter_job(args, client, job_id)


def _jobs_wait(args: argparse.Namespace, client: Client) -> int:
    return _wait_meter_job(args, client, args.job_id)


def _wait_meter_job(args: argparse.Namespace, client: Client, job_id: str) -> int:
    watcher = JobWatcher(f"job {job_id}", _meter_job_line, enabled=not args.quiet)
    result = client.wait_meter_job(job_id, timeout=args.timeout, on_poll=watcher)
    watcher.done()
    if args.json:
        print_json({**result.job, "assets": result.assets})
    else:
        print_table(result.assets, METER_JOB_COLUMNS)
        _print_meter_job_summary(result.job)
    return _meter_job_exit(result.status)


def _jobs_show(args: argparse.Namespace, client: Client) -> int:
    job = client.get_meter_batch_job(args.job_id)
    assets = list(client.iter_meter_job_assets(args.job_id))
    if args.json:
        print_json({**job, "assets": assets, "next_page_token": None})
    else:
        print_table(assets, METER_JOB_COLUMNS)
        _print_meter_job_summary(job)
    return EXIT_OK


def _meter_job_line(job: Mapping[str, Any]) -> str:
    return (
        f"{job['status']}  {job.get('assets_created_count', 0)} created, {job.get('assets_updated_count', 0)} "
        f"updated, {job.get('assets_failed_count', 0)} failed of {job.get('assets_count', 0)}"
    )


def _print_meter_job_summary(job: Mapping[str, Any]) -> None:
    print(f"\njob {job['job_id']}: {_meter_job_line(job)}")
    if job.get("failure_reason"):
        print(f"failure reason: {job['failure_reason']}")


def _meter_job_exit(status: str) -> int:
    return {"COMPLETED": EXIT_OK, "COMPLETED_WITH_ERRORS": EXIT_PARTIAL, "FAILED": EXIT_JOB_FAILED}.get(status, EXIT_OK)


# ----- interval data ------------------------------------------------------------------------------------


def _intervals_upload(args: argparse.Namespace, client: Client) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    human = not args.json and not args.quiet
    bar = ProgressBar(f"uploading {path.name}", enabled=human)
    watcher = JobWatcher("ingesting", _upload_line, enabled=human)
    result = client.upload_intervals(
        path,
        file_name=args.file_name,
        progress=bar,
        wait=not args.no_wait,
        timeout=args.timeout,
        on_poll=watcher,
        fetch_errors=False,  # the first errors are in the job; `intervals errors` reads the full report
    )
    watcher.done()
    if args.no_wait:
        if args.json:
            print_json({"job_id": result.job_id})
        else:
            print(result.job_id)
        return EXIT_OK
    return _show_upload(args, result.job)


def _intervals_status(args: argparse.Namespace, client: Client) -> int:
    job = client.get_interval_upload(args.job_id)
    return _show_upload(args, job, exit_on_failure=False)


def _show_upload(args: argparse.Namespace, job: Mapping[str, Any], exit_on_failure: bool = True) -> int:
    if args.json:
        print_json(job)
    else:
        print_fields(
            job,
            [
                "job_id",
                "status",
                "uploaded_file_path",
                "current_file_path",
                "rows_total",
                "rows_valid",
                "rows_invalid",
                "errors_total",
                "failure_reason",
            ],
        )
        errors = job.get("errors") or []
        if errors:
            print()
            print_table(errors[:ERRORS_SHOWN], ERROR_COLUMNS)
            total = int(job.get("errors_total") or len(errors))
            if total > ERRORS_SHOWN:
                print(f"... {total - ERRORS_SHOWN} more")
            if job.get("error_csv_file_path"):
                print(f"\nEvery error: meterhub intervals errors {job['job_id']} --output errors.csv")
    failed = job.get("status") == "FAILED"
    return EXIT_JOB_FAILED if failed and exit_on_failure else EXIT_OK


def _upload_line(job: Mapping[str, Any]) -> str:
    return f"{job['status']}  {job.get('rows_total', 0):,} rows read, {job.get('errors_total', 0):,} errors"


def _intervals_errors(args: argparse.Namespace, client: Client) -> int:
    """The full error report (`<job_id>.errors.csv`), not only the first 100 errors the job lists."""
    if args.output:
        with Path(args.output).open("wb") as out:
            written = client.download_interval_file(args.job_id, out, "errors")
        if args.json:
            print_json({"job_id": args.job_id, "output": args.output, "bytes": written})
        else:
            print(f"{args.output}: {written:,} bytes", file=sys.stderr)
        return EXIT_OK
    errors = client.interval_upload_errors(args.job_id)
    if args.json:
        print_json(errors)
    else:
        print_table(errors if args.limit is None else errors[: args.limit], ERROR_COLUMNS)
        if args.limit is not None and len(errors) > args.limit:
            print(f"... {len(errors) - args.limit:,} more (--limit, or --output FILE for the CSV)")
    return EXIT_OK


def _intervals_gaps(args: argparse.Namespace, client: Client) -> int:
    filters: dict[str, Any] = {}
    for name, value in (
        ("meter_ids", args.meter_id),
        ("missing_interval_window_start_date_time_utc", args.start),
        ("missing_interval_window_end_date_time_utc", args.end),
        ("state", args.state),
    ):
        if value:
            filters[name] = value
    gaps = _first(client.iter_missing_intervals(filters), args.limit)
    if args.json:
        print_json(gaps)
    else:
        print_table(
            gaps,
            [
                ("meter_id", field("meter_id")),
                ("start", field("start_date_time_utc")),
                ("end", field("end_date_time_utc")),
                ("status", field("status")),
                ("deadline", field("submission_deadline_date_time_utc")),
            ],
        )
    return EXIT_OK


# ----- webhooks -----------------------------------------------------------------------------------------


def _webhooks_list(args: argparse.Namespace, client: Client) -> int:
    webhooks = client.list_webhooks()["webhooks"]
    if args.json:
        print_json(webhooks)
    else:
        print_table(
            webhooks,
            [
                ("webhook_id", field("webhook_id")),
                ("receiver_url", field("receiver_url")),
                ("event_types", field("event_types")),
            ],
        )
    return EXIT_OK


def _webhooks_deliveries(args: argparse.Namespace, client: Client) -> int:
    deliveries = _first(client.iter_webhook_deliveries(args.webhook_id), args.limit)
    if args.json:
        print_json(deliveries)
    else:
        print_table(
            deliveries,
            [
                ("webhook_event_id", field("webhook_event_id")),
                ("type", field("webhook_event_type")),
                ("status", field("status")),
                ("attempts", lambda d: len(d.get("attempts") or [])),
                ("last_status_code", lambda d: (d.get("attempts") or [{}])[-1].get("status_code")),
                ("next_attempt_at", field("next_attempt_at")),
                ("created_at", field("created_at")),
            ],
        )
    return EXIT_OK


def _webhooks_redeliver(args: argparse.Namespace, client: Client) -> int:
    delivery = client.redeliver_webhook_event(args.webhook_id, args.event_id)
    if args.json:
        print_json(delivery)
    else:
        print_fields(delivery, ["webhook_event_id", "webhook_event_type", "status", "next_attempt_at"])
    return EXIT_OK


def _listen(args: argparse.Namespace, _client: Client | None) -> int:
    return receiver.serve(args.port, args.secret or os.environ.get("MH_WEBHOOK_SECRET") or None)


# ----- Connect ------------------------------------------------------------------------------------------


def _connect_link(args: argparse.Namespace, client: Client) -> int:
    link = client.create_connect_link(args.ref_id, args.region, variant=args.variant, utility_id=args.utility)
    if args.json:
        print_json(link)
    else:
        print_fields(link, ["url", "link_id", "ref_id", "transmission_region", "variant", "utility_id", "expires_at"])
    return EXIT_OK


# ----- plumbing -----------------------------------------------------------------------------------------


def _first(items: Iterable[JSON], limit: int | None) -> list[JSON]:
    found: list[JSON] = []
    for item in items:
        if limit is not None and len(found) >= limit:
            break
        found.append(item)
    return found


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise UsageError(f"{path}: {error.strerror}") from None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(_read_bytes(path))
    except ValueError as error:
        raise UsageError(f"{path}: not JSON ({error}); meters come as .csv or .json") from None


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="JSON on stdout, for scripts")
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress on stderr")
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log each HTTP request (never the key) on stderr",
    )
    common.add_argument("--api-url", default=argparse.SUPPRESS, help="overrides MH_API_URL and the config file")

    parser = argparse.ArgumentParser(
        prog="meterhub",
        parents=[common],
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # Not set_defaults(json=False, ...): the options' actions are shared with every subcommand (parents=), and
    # set_defaults would give each a default that overrides the value given before the subcommand.
    parser.set_defaults(handler=None)
    groups = parser.add_subparsers(title="commands", metavar="{meters,jobs,intervals,webhooks,connect}")

    def command(group: Any, name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = group.add_parser(name, parents=[common], help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    def waits(sub: argparse.ArgumentParser, seconds: float) -> None:
        sub.add_argument("--timeout", type=float, default=seconds, help=f"seconds to wait (default {seconds:g})")

    meters = groups.add_parser("meters", help="create, read and search meters").add_subparsers(metavar="COMMAND")
    create = command(
        meters,
        "create",
        _meters_create,
        "create meters: a .csv or a JSON list makes a batch job (waited for), a JSON object one meter",
    )
    create.add_argument("file")
    create.add_argument("--update-existing", action="store_true")
    waits(create, 600)
    get = command(meters, "get", _meters_get, "one meter")
    get.add_argument("meter_id")
    search = command(meters, "search", _meters_search, "search meters (every page)")
    search.add_argument("--region")
    search.add_argument("--reference", action="extend", nargs="+", help="partner_reference(s)")
    search.add_argument("--tag", action="extend", nargs="+")
    search.add_argument("--meter-id", action="extend", nargs="+")
    search.add_argument("--exclude-archived", action="store_true")
    search.add_argument("--filter-json", help="any MeterFilterRequest fields, as a JSON object")
    search.add_argument("--limit", type=int)

    jobs = groups.add_parser("jobs", help="batch meter jobs").add_subparsers(metavar="COMMAND")
    submit = command(jobs, "submit", _jobs_submit, "submit a batch meter job (.csv, or .json assets); prints its id")
    submit.add_argument("file")
    submit.add_argument("--update-existing", action="store_true")
    submit.add_argument("--wait", action="store_true", help="wait for its final status")
    waits(submit, 600)
    wait = command(jobs, "wait", _jobs_wait, "wait for a job's final status")
    wait.add_argument("job_id")
    waits(wait, 600)
    show = command(jobs, "show", _jobs_show, "a job and its assets")
    show.add_argument("job_id")

    intervals = groups.add_parser("intervals", help="interval-data uploads and gaps").add_subparsers(metavar="COMMAND")
    upload = command(
        intervals,
        "upload",
        _intervals_upload,
        "upload an interval CSV of any size and wait for its job (exit 3 when it FAILED)",
    )
    upload.add_argument("file")
    upload.add_argument("--file-name", help="its name in /interval-data/ (default: the file's own name)")
    upload.add_argument("--no-wait", action="store_true", help="print the job id and return")
    waits(upload, 1800)
    status = command(intervals, "status", _intervals_status, "an upload job: status, counters, first errors")
    status.add_argument("job_id")
    errors = command(intervals, "errors", _intervals_errors, "every error of a FAILED upload (its errors.csv)")
    errors.add_argument("job_id")
    errors.add_argument("--output", help="save the CSV report to this file")
    errors.add_argument("--limit", type=int, help="show at most this many")
    gaps = command(intervals, "gaps", _intervals_gaps, "missing interval ranges and their submission deadlines")
    gaps.add_argument("--meter-id", action="extend", nargs="+")
    gaps.add_argument("--start", help="window start (RFC 3339, inclusive)")
    gaps.add_argument("--end", help="window end (RFC 3339, exclusive)")
    gaps.add_argument("--state", choices=["OPEN", "PENDING"])
    gaps.add_argument("--limit", type=int)

    webhooks = groups.add_parser("webhooks", help="subscriptions, deliveries, a local receiver").add_subparsers(
        metavar="COMMAND"
    )
    command(webhooks, "list", _webhooks_list, "this partner's webhooks")
    deliveries = command(webhooks, "deliveries", _webhooks_deliveries, "a webhook's delivery log, newest first")
    deliveries.add_argument("webhook_id")
    deliveries.add_argument("--limit", type=int, default=25)
    redeliver = command(webhooks, "redeliver", _webhooks_redeliver, "deliver a DELIVERED or FAILED event again")
    redeliver.add_argument("webhook_id")
    redeliver.add_argument("event_id")
    listen = command(webhooks, "listen", _listen, "the development receiver: print and verify each delivery")
    listen.add_argument("--port", type=int, default=8765)
    listen.add_argument("--secret", help="the signing_secret (or MH_WEBHOOK_SECRET)")

    connect = groups.add_parser("connect", help="customer-authorized meters").add_subparsers(metavar="COMMAND")
    link = command(connect, "link", _connect_link, "issue a Connect link for a refId")
    link.add_argument("ref_id")
    link.add_argument("--region", required=True, help="CAISO or NYISO")
    link.add_argument("--variant", choices=["RESIDENTIAL", "COMMERCIAL"])
    link.add_argument("--utility", help="direct-to-utility link (e.g. pge)")
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
