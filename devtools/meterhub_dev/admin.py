"""Operator commands: create partners and manage their API keys, against AWS or the local runner.

    meterhub-admin create-partner --name "Acme Solar"
    meterhub-admin issue-key --partner-id <id>
    meterhub-admin list-keys --partner-id <id>
    meterhub-admin revoke-key --partner-id <id> --key-id <key_id>
    meterhub-admin set-connect-redirect --partner-id <id> --url https://partner.example/done
    meterhub-admin enable-usage --partner-id <id>
    meterhub-admin record-program-step --partner-id <id> --meter-id <id> --program DRAM
    meterhub-admin run-enrollment-transitions [--at 2027-06-01T00:00:00Z]
    meterhub-admin backfill-enrollment
    meterhub-admin sftp-login --partner-id <id> --sftp-host <SftpHost output> [--sftp-port 22]

(`python -m meterhub_dev.admin ...` is the same command.) Against a stage, the partners table comes from
--partners-table or PARTNERS_TABLE_NAME, the meters table (for the enrollment commands) from --meters-table or
METERS_TABLE_NAME, and AWS from the usual AWS_* settings. Given neither table, the command works on the local
runner: it reads the runner's state file (`.meterhub/local.env` in this folder or a parent, or the file
$MH_LOCAL_ENV_FILE names; see meterhub_dev.local.env_file) for its moto endpoint, tables, usage plan and SFTP
port, and refuses a file whose runner has stopped. Keys are printed once and never stored in clear.

Fair use: create-partner and issue-key also put the partner's API Gateway key in the partners' usage plan
(--usage-plan-id or USAGE_PLAN_ID, the stack's UsagePlanId output), without which API Gateway answers 403 to
the partner's every request; `enable-usage` does only that (partners created before fair use existed).

SFTP drop: `sftp-login` prints what to tell a partner (host, port, username = its account; the password is one of
its API keys, which it already holds: only their prefixes are shown, never a key).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from meterhub import wiring
from meterhub.catalog.enums import ActionType, ProgramIdentifier
from meterhub.meters.use_cases.program_steps import record_program_step
from meterhub.meters.use_cases.transitions import backfill_enrollment, run_transitions
from meterhub.partners import use_cases as partners
from meterhub.partners.adapters.dynamodb import dynamo_partner_repository
from meterhub.partners.adapters.usage_plans import enable_usage
from meterhub.partners.ports import PartnerRepository
from meterhub.partners.records import KeyStatus
from meterhub.platform.errors import DomainError, NotFound
from meterhub.platform.settings import MetersTableSettings

from meterhub_dev.local import env_file


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="meterhub-admin", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--partners-table",
        default=os.environ.get("PARTNERS_TABLE_NAME"),
        help="DynamoDB partners table (default: $PARTNERS_TABLE_NAME)",
    )
    parser.add_argument(
        "--usage-plan-id",
        default=os.environ.get("USAGE_PLAN_ID"),
        help="API Gateway usage plan of the partners (default: $USAGE_PLAN_ID; the stack output UsagePlanId)",
    )
    parser.add_argument(
        "--meters-table",
        default=os.environ.get("METERS_TABLE_NAME"),
        help="DynamoDB meters table, for the enrollment commands (default: $METERS_TABLE_NAME)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-partner", help="create a partner and issue its first API key")
    create.add_argument("--name", required=True)
    create.add_argument("--account", help="URL-safe account name (default: derived from the name)")
    issue = commands.add_parser("issue-key", help="issue another API key for a partner")
    issue.add_argument("--partner-id", required=True)
    listing = commands.add_parser("list-keys", help="list a partner's keys (ids, prefixes, status)")
    listing.add_argument("--partner-id", required=True)
    revoke = commands.add_parser("revoke-key", help="revoke one of a partner's keys")
    revoke.add_argument("--partner-id", required=True)
    revoke.add_argument("--key-id", required=True)
    redirect = commands.add_parser(
        "set-connect-redirect", help="set (or with --url '' clear) where Connect sends the customer when done"
    )
    redirect.add_argument("--partner-id", required=True)
    redirect.add_argument("--url", required=True)
    redirect.add_argument(
        "--allow-loopback-http", action="store_true", help="accept http://127.0.0.1/... (local runner only)"
    )
    sftp = commands.add_parser("sftp-login", help="show a partner its SFTP login (host, port, username)")
    sftp.add_argument("--partner-id", required=True)
    sftp.add_argument(
        "--sftp-host",
        default=os.environ.get("SFTP_HOST"),
        help="the SFTP server's host name (default: $SFTP_HOST; the stack output SftpHost)",
    )
    sftp.add_argument("--sftp-port", type=int, help="the SFTP server's port (default: $SFTP_PORT, else 22)")
    usage = commands.add_parser("enable-usage", help="put a partner's API Gateway key in the usage plan")
    usage.add_argument("--partner-id", required=True)
    step = commands.add_parser(
        "record-program-step", help="record a program-side step done for a meter (e.g. its market registration)"
    )
    step.add_argument("--partner-id", required=True)
    step.add_argument("--meter-id", required=True)
    step.add_argument("--program", required=True, choices=[p.value for p in ProgramIdentifier])
    step.add_argument("--step", default=ActionType.HAS_MARKET_REGISTRATION.value, choices=[a.value for a in ActionType])
    step.add_argument("--note", help="what was done (e.g. the market's registration id)")
    run = commands.add_parser(
        "run-enrollment-transitions", help="apply the due enrollment transitions now (the scheduled function's work)"
    )
    run.add_argument("--at", help="the time to run at, ISO 8601 with an offset (default: now)")
    commands.add_parser(
        "backfill-enrollment",
        help="store the enrollment of meters written before it was kept (once, after upgrading a stack; scans)",
    )
    return parser


ENROLLMENT_COMMANDS = frozenset({"record-program-step", "run-enrollment-transitions", "backfill-enrollment"})


def _enrollment_command(args: argparse.Namespace) -> int:
    """The operator's enrollment commands, on the meters table (the same use cases the functions run)."""
    if not args.meters_table:
        print("error: set --meters-table or METERS_TABLE_NAME", file=sys.stderr)
        return 2
    at = datetime.fromisoformat(args.at) if getattr(args, "at", None) else datetime.now(UTC)
    if at.tzinfo is None:
        print("error: --at needs a UTC offset, e.g. 2027-06-01T00:00:00Z", file=sys.stderr)
        return 2
    meters = wiring.meter_repository(MetersTableSettings(meters_table_name=args.meters_table), clock=lambda: at)
    try:
        if args.command == "record-program-step":
            meter = record_program_step(
                meters,
                args.partner_id,
                args.meter_id,
                ProgramIdentifier(args.program),
                ActionType(args.step),
                args.note,
                now=lambda: at,
            )
            state = meter.enrollment
            output: object = {
                "meter_id": meter.meter_id,
                "program_steps": [s.model_dump(mode="json") for s in meter.program_steps],
                "global_enrollment_status": state.global_status if state else None,
            }
        elif args.command == "backfill-enrollment":
            output = backfill_enrollment(meters, at).as_dict()
        else:
            output = run_transitions(meters, at).as_dict()
    except DomainError as error:
        print(f"error: {error.title} {json.dumps(error.details)}", file=sys.stderr)
        return 1
    print(json.dumps(output, indent=2))
    return 0


def _usage_key_id(usage_plan_id: str | None, partner_id: str) -> str | None:
    """The partner's API Gateway key, in the plan; without a plan id, a warning (the partner gets 403s)."""
    if not usage_plan_id:
        print(
            "warning: no --usage-plan-id / USAGE_PLAN_ID: the partner is not in the usage plan, so API Gateway "
            f"answers 403 to its requests until `enable-usage --partner-id {partner_id}` is run with it",
            file=sys.stderr,
        )
        return None
    return enable_usage(_apigateway(), usage_plan_id, partner_id)


def _apigateway() -> Any:
    import boto3

    return boto3.client("apigateway")


def _sftp_login(repo: PartnerRepository, partner_id: str, host: str, port: int) -> dict[str, object]:
    partner = repo.get_partner(partner_id)
    if partner is None:
        raise NotFound("Partner not found", {"partner_id": partner_id})
    active = [record.prefix for record in repo.list_api_keys(partner_id) if record.status is KeyStatus.ACTIVE]
    port_option = f"-P {port} " if port != 22 else ""
    return {
        "partner_id": partner_id,
        "host": host,
        "port": port,
        "username": partner.account,
        "password": "one of the partner's active API keys (the same keys the API accepts)",
        "active_key_prefixes": active,
        "upload_folder": "/interval-data/",
        "command": f"sftp {port_option}{partner.account}@{host}",
    }


LOCAL_HOST = "127.0.0.1"


def _use_local_runner(args: argparse.Namespace) -> str | None:
    """Given no table at all, the local runner's stack: its state file names the tables, the usage plan and the
    SFTP port, and AWS becomes its moto (endpoint, placeholder credentials, region) for this process. Answers
    the problem, when there is no running runner to use."""
    path = env_file.locate(os.environ, Path.cwd())
    if path is None:
        return (
            "no table given (--partners-table / PARTNERS_TABLE_NAME, --meters-table / METERS_TABLE_NAME) and no "
            f"local runner state file ({env_file.RELATIVE_PATH} here or above, or ${env_file.ENV_FILE_VARIABLE}): "
            "start `make run`, or name a stage's tables"
        )
    try:
        local = env_file.read_running(path)
    except FileNotFoundError:
        return f"{path} does not exist: is the local runner (`make run`) running?"
    except env_file.StaleEnvFile as stale:
        return f"{stale}: start `make run` again (its stack was in memory and is gone)"
    args.partners_table = local["MH_LOCAL_PARTNERS_TABLE"]
    args.meters_table = local["MH_LOCAL_METERS_TABLE"]
    args.usage_plan_id = args.usage_plan_id or local.get("MH_LOCAL_USAGE_PLAN_ID")
    if args.command == "sftp-login":
        args.sftp_host = args.sftp_host or LOCAL_HOST
        args.sftp_port = args.sftp_port or int(local.get("SFTP_PORT") or 22)
    from meterhub_dev.local.aws import configure_environment  # moto's modules: only for the local runner

    os.environ["AWS_DEFAULT_REGION"] = local["MH_LOCAL_REGION"]
    configure_environment(local["MOTO_URL"])
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.partners_table and not args.meters_table:
        problem = _use_local_runner(args)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
    if args.command in ENROLLMENT_COMMANDS:
        return _enrollment_command(args)
    if not args.partners_table:
        print("error: set --partners-table or PARTNERS_TABLE_NAME", file=sys.stderr)
        return 2
    repo = dynamo_partner_repository(args.partners_table)
    try:
        if args.command == "create-partner":
            partner = partners.create_partner(repo, args.name, args.account)
            issued = partners.issue_api_key(repo, partner.partner_id)
            output: object = {
                "partner_id": partner.partner_id,
                "name": partner.name,
                "account": partner.account,
                "key_id": issued.key_id,
                "api_key": issued.api_key,
                "usage_key_id": _usage_key_id(args.usage_plan_id, partner.partner_id),
                "note": "store the api_key now: it is shown only once",
            }
        elif args.command == "issue-key":
            issued = partners.issue_api_key(repo, args.partner_id)
            output = {
                "partner_id": issued.partner_id,
                "key_id": issued.key_id,
                "api_key": issued.api_key,
                "usage_key_id": _usage_key_id(args.usage_plan_id, issued.partner_id),
            }
        elif args.command == "enable-usage":
            if not args.usage_plan_id:
                print("error: set --usage-plan-id or USAGE_PLAN_ID (the stack output UsagePlanId)", file=sys.stderr)
                return 2
            if repo.get_partner(args.partner_id) is None:
                raise NotFound("Partner not found", {"partner_id": args.partner_id})
            key_id = enable_usage(_apigateway(), args.usage_plan_id, args.partner_id)
            output = {"partner_id": args.partner_id, "usage_plan_id": args.usage_plan_id, "usage_key_id": key_id}
        elif args.command == "sftp-login":
            if not args.sftp_host:
                print("error: set --sftp-host or SFTP_HOST (the stack output SftpHost)", file=sys.stderr)
                return 2
            port = args.sftp_port or int(os.environ.get("SFTP_PORT") or 22)
            output = _sftp_login(repo, args.partner_id, args.sftp_host, port)
        elif args.command == "list-keys":
            output = [
                record.model_dump(mode="json", exclude={"key_hash"}) for record in repo.list_api_keys(args.partner_id)
            ]
        elif args.command == "set-connect-redirect":
            partners.set_connect_redirect_url(
                repo, args.partner_id, args.url, allow_loopback_http=args.allow_loopback_http
            )
            output = {"partner_id": args.partner_id, "connect_redirect_url": args.url or None}
        else:
            partners.revoke_api_key(repo, args.partner_id, args.key_id)
            output = {"partner_id": args.partner_id, "key_id": args.key_id, "status": "REVOKED"}
    except DomainError as error:
        print(f"error: {error.title} {json.dumps(error.details)}", file=sys.stderr)
        return 1
    print(json.dumps(output, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
