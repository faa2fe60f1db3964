"""Command line of the local runner.

    python -m meterhub_dev.local run [--port N] [--sftp-port N] [--receiver-port N] [--env-file PATH]
                                     [--state-file PATH] [--template PATH] [--parameter K=V ...]
    python -m meterhub_dev.local invoke <FunctionLogicalId> <event.json | -> [--template PATH] [--parameter K=V]

`run` is `sam local start-api` without Docker: moto plus the template's resources, a seeded demo partner,
the API on 127.0.0.1:PORT (--port, else $PORT, else 3000), the template's SFTP drop on 127.0.0.1:SFTP_PORT
(--sftp-port, else $SFTP_PORT, else 2222; 0 picks a free port); Ctrl-C or SIGTERM stops it cleanly.
Once ready it writes the shell state file (--env-file, else $MH_LOCAL_ENV_FILE, else .meterhub/local.env beside
the template; see meterhub_dev.local.env_file) and deletes it when it stops. Everything lives in the embedded
moto's memory: a restart starts from an empty stack (a new demo partner and key), so nothing survives it.
The port for the development webhook receiver it exports (RECEIVER_PORT) is --receiver-port, else
$RECEIVER_PORT, else 8765 (0: a port free now, so parallel runs do not share one).
`EnableSftp` is "true" locally (unless --parameter EnableSftp=false): locally the SFTP server costs nothing.
`invoke` is `sam local invoke`: the function's result is the only thing on stdout (its logs go to stderr,
as with SAM), so the output can be piped into `jq`; a handler exception exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import socket
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any, Literal, TextIO

from meterhub.partners.adapters.dynamodb import dynamo_partner_repository
from meterhub.partners.adapters.usage_plans import enable_usage
from meterhub.partners.use_cases import create_partner, issue_api_key

from meterhub_dev.demo_asset import demo_asset
from meterhub_dev.local import env_file
from meterhub_dev.local.api import ApiServer, LocalApiGateway
from meterhub_dev.local.aws import LocalAws
from meterhub_dev.local.event_sources import RelayContext, Relays
from meterhub_dev.local.intrinsics import LocalContext
from meterhub_dev.local.lambda_runtime import InvocationFailed, LocalLambda, LocalLambdaError
from meterhub_dev.local.provisioning import Provisioned
from meterhub_dev.local.sftp import LocalSftpServer, identity_provider
from meterhub_dev.local.stack import LocalTemplate, load_template
from meterhub_dev.local.template_yaml import TemplateError, find_template
from meterhub_dev.local.usage_plans import LocalUsagePlans

DEFAULT_PORT = 3000
DEFAULT_SFTP_PORT = 2222
DEFAULT_RECEIVER_PORT = 8765
DATA_BUCKET = "DataBucket"
DEMO_PARTNER_NAME = "Demo Partner"
PARTNERS_TABLE = "PartnersTable"
METERS_TABLE = "MetersTable"
DEMO_METER = {"provisional_asset": demo_asset()}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m meterhub_dev.local", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    def common(command: argparse.ArgumentParser) -> None:
        command.add_argument("--template", type=Path, help="SAM template (default: nearest template.yaml)")
        command.add_argument(
            "--parameter",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="override a template parameter (StageName is 'local' and EnableSftp 'true' unless overridden)",
        )

    run = commands.add_parser("run", help="serve the API locally on an embedded moto")
    run.add_argument("--port", type=int, default=int(os.environ.get("PORT") or DEFAULT_PORT))
    run.add_argument("--sftp-port", type=int, default=int(os.environ.get("SFTP_PORT") or DEFAULT_SFTP_PORT))
    run.add_argument(
        "--receiver-port",
        type=int,
        default=int(os.environ.get("RECEIVER_PORT") or DEFAULT_RECEIVER_PORT),
        help="the webhook receiver port exported as RECEIVER_PORT (0: one free now)",
    )
    run.add_argument(
        "--env-file",
        type=Path,
        help=f"the shell exports file (default: ${env_file.ENV_FILE_VARIABLE}, else .meterhub/local.env)",
    )
    run.add_argument("--state-file", type=Path, help="write URLs and the demo partner as JSON once ready")
    common(run)
    invoke = commands.add_parser("invoke", help="invoke one function with an event file, like sam local invoke")
    invoke.add_argument("function", help="logical id of the function in the template")
    invoke.add_argument("event", help="event JSON file, or - for stdin")
    common(invoke)
    return parser


def _context(args: argparse.Namespace, endpoint_url: str) -> LocalContext:
    overrides = {"StageName": "local", "EnableSftp": "true"}
    for item in args.parameter:
        name, separator, value = item.partition("=")
        if not separator:
            raise TemplateError(f"--parameter {item!r} must look like NAME=VALUE")
        overrides[name] = value
    region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    return LocalContext(region=region, aws_endpoint_url=endpoint_url, parameter_overrides=overrides)


def _start_aws(args: argparse.Namespace) -> tuple[LocalAws, LocalTemplate, Provisioned]:
    """moto first: the template's queue URLs contain its endpoint, and clients need its address."""
    template_path = args.template or find_template()
    aws = LocalAws()
    endpoint_url = aws.start()
    try:
        template = load_template(template_path, _context(args, endpoint_url))
        provisioned = aws.provision(template)
    except BaseException:
        aws.stop()
        raise
    return aws, template, provisioned


# ----- run ---------------------------------------------------------------------------------------------------


def _seed_demo_partner(template: LocalTemplate, aws: LocalAws, created: Provisioned) -> dict[str, str]:
    """The demo partner, with its API key and its usage-plan key (as the admin CLI makes partners)."""
    repo = dynamo_partner_repository(template.physical_name(PARTNERS_TABLE))
    partner = create_partner(repo, DEMO_PARTNER_NAME)
    issued = issue_api_key(repo, partner.partner_id)
    for usage_plan_id in created.usage_plans.values():
        enable_usage(aws.apigateway(), usage_plan_id, partner.partner_id)
    return {"partner_id": partner.partner_id, "account": partner.account, "api_key": issued.api_key}


def _usage_plan_id(created: Provisioned) -> str | None:
    """The plan the admin CLI adds partners to (USAGE_PLAN_ID): the template's only one, if it has one."""
    return next(iter(created.usage_plans.values())) if len(created.usage_plans) == 1 else None


def _banner(
    template: LocalTemplate,
    url: str,
    endpoint: str,
    created: Provisioned,
    demo: dict[str, str],
    env_path: Path,
    sftp: LocalSftpServer | None = None,
) -> str:
    auth = f"Authorization: Bearer {demo['api_key']}"
    body = json.dumps(DEMO_METER, separators=(",", ":"))
    throttles = "\n".join(
        f"  {plan.logical_id:<17} {plan.rate_limit:g} requests/s per partner, bursts of {plan.burst_limit}"
        for plan in template.usage_plans.values()
        if plan.rate_limit is not None
    )
    admin = _admin_command()
    sftp_lines = ""
    if sftp is not None:
        sftp_lines = f"""SFTP drop (username = partner account, password = its API key; a new host key every start):
  host key          {sftp.fingerprint}
  sftp -P {sftp.port} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null {demo["account"]}@127.0.0.1
  sftp> put readings.csv interval-data/

"""
    routes = "\n".join(
        f"  {route.method:<6} {route.path:<40} -> {route.function_id}"
        + (f"  [{route.authorizer}]" if route.authorizer else "  [no auth]")
        for route in sorted(template.routes, key=lambda r: (r.path, r.method))
    )
    # The API reference exists only where the template deploys it (PublicApiDocs).
    has_docs = any(route.method == "GET" and route.path == "/docs" for route in template.routes)
    docs = f"  API reference     {url}/docs (open in a browser; the document: {url}/openapi.json)\n" if has_docs else ""
    return f"""
meterhub local runner - {template.path}
  API               {url}
  SFTP              {f"127.0.0.1:{sftp.port}" if sftp is not None else "- (no AWS::Transfer::Server in the template)"}
{docs}  AWS (moto)        {endpoint}
  tables            {", ".join(created.tables) or "-"}
  buckets           {", ".join(created.buckets) or "-"}
  queues            {", ".join(created.queues) or "-"}
{throttles}

Routes:
{routes}

Demo partner "{DEMO_PARTNER_NAME}"
  partner id        {demo["partner_id"]}
  API key           {demo["api_key"]}

Create a meter:
  curl -s -X POST {url}/v1.1/meters -H {shlex.quote(auth)} -H 'Content-Type: application/json' -d {shlex.quote(body)}
Read it back (meter_id from the response above):
  curl -s {url}/v2/meters/<meter_id> -H {shlex.quote(auth)}

{sftp_lines}Connect a customer's utility (open in a browser; the Demo Utility takes any credentials):
  {url}/connect?account={demo.get("account", "demo-partner")}&transmissionRegion=CAISO&refId=customer-site-123

The README's snippets take this runner's API, KEY, PARTNER_ID, ports and names from its state file (deleted
at exit; everything is in moto's memory, so nothing survives a restart):
  source {_display(env_path)}

Admin CLI (it reads that file by itself to find this runner):
  {admin} create-partner --name "Acme Solar"
  {admin} record-program-step --partner-id {demo["partner_id"]} --meter-id <meter_id> --program DRAM
  {admin} sftp-login --partner-id {demo["partner_id"]}

Run the scheduled enrollment transitions now (time= optional, to see what a later run does):
  curl -s -X POST '{url}/_local/schedules/EnrollmentTransitionsFunction?time=2027-06-01T00:00:00Z'
"""


def _admin_command() -> str:
    """The admin CLI to copy-paste: `.venv/bin/meterhub-admin` when running from the project's venv."""
    script = Path(sys.executable).parent / "meterhub-admin"
    return _display(script) if script.exists() else "meterhub-admin"


def _display(path: Path) -> str:
    """`path` relative to the working directory when under it (what a developer types), else absolute."""
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _receiver_port(requested: int) -> int:
    """The receiver port to export; 0 asks for one that is free now (the receiver binds it later)."""
    if requested:
        return requested
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def _stop_signals(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C and SIGTERM both mean a clean shutdown (exit 0, no KeyboardInterrupt traceback)."""

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(args: argparse.Namespace) -> int:
    stop = threading.Event()
    with _stop_signals(stop):
        aws, template, created = _start_aws(args)
        relays: Relays | None = None
        server: ApiServer | None = None
        sftp: LocalSftpServer | Literal[False] | None = None
        shell_state: env_file.LocalStackEnv | None = None
        env_path = args.env_file or env_file.default_path(template.path)
        lambdas = LocalLambda(template)
        try:
            demo = _seed_demo_partner(template, aws, created)
            relays = Relays(RelayContext(template=template, lambdas=lambdas, aws=aws))
            relays.start()
            try:
                usage_plans = LocalUsagePlans(template.usage_plans, created.usage_plans, aws.apigateway())
                gateway = LocalApiGateway(template, lambdas, usage_plans, schedules=relays.schedules())
                server = ApiServer(gateway, port=args.port)
            except OSError as error:
                print(f"error: cannot listen on 127.0.0.1:{args.port}: {error} (try --port)", file=sys.stderr)
                return 1
            serving = threading.Thread(target=server.serve_forever, name="local-api", daemon=True)
            serving.start()
            sftp = _start_sftp(template, lambdas, aws, args.sftp_port)
            if sftp is False:
                return 1
            print(_banner(template, server.url, aws.endpoint_url, created, demo, env_path, sftp or None))
            for relay in relays.relays:
                print(f"Relaying {relay.description}")
            for skipped in relays.skipped:
                print(f"Not relayed locally (no relay registered): {skipped}")
            sftp_port = sftp.port if sftp else None
            shell_state = _shell_state(template, server.url, aws.endpoint_url, created, demo, sftp_port, args)
            env_file.write(env_path, shell_state)
            if args.state_file:
                _write_state(
                    args.state_file, server.url, aws.endpoint_url, template, demo, _usage_plan_id(created), sftp_port
                )
            print(f"Ready: {server.url}", flush=True)
            while not stop.wait(0.5):
                continue
            print("Stopping...", file=sys.stderr, flush=True)
        finally:
            if shell_state is not None:
                env_file.remove(env_path, shell_state.runner_pid)
            if sftp:
                sftp.stop()
            if server is not None:
                server.shutdown()
                server.server_close()
            if relays is not None:
                relays.stop()
            lambdas.close()
            aws.stop()
    return 0


def _start_sftp(
    template: LocalTemplate, lambdas: LocalLambda, aws: LocalAws, port: int
) -> LocalSftpServer | Literal[False] | None:
    """The template's SFTP server (its identity provider invoked per login, files into moto's S3); None when the
    template has none (EnableSftp=false), False when the port cannot be had (the error is printed)."""
    if not template.sftp_servers:
        return None
    function_id = next(iter(template.sftp_servers.values()))
    sftp = LocalSftpServer(identity_provider(lambdas, function_id), aws.s3(), port=port)
    try:
        sftp.start()
    except OSError as error:
        print(f"error: cannot listen on 127.0.0.1:{port} for SFTP: {error} (try --sftp-port)", file=sys.stderr)
        return False
    return sftp


def _shell_state(
    template: LocalTemplate,
    url: str,
    endpoint: str,
    created: Provisioned,
    demo: dict[str, str],
    sftp_port: int | None,
    args: argparse.Namespace,
) -> env_file.LocalStackEnv:
    return env_file.LocalStackEnv(
        api_url=url,
        api_key=demo["api_key"],
        partner_id=demo["partner_id"],
        partner_account=demo["account"],
        aws_endpoint_url=endpoint,
        region=template.context.region,
        partners_table=template.physical_name(PARTNERS_TABLE),
        meters_table=template.physical_name(METERS_TABLE),
        data_bucket=template.physical_name(DATA_BUCKET) if DATA_BUCKET in template.buckets else None,
        usage_plan_id=_usage_plan_id(created),
        sftp_port=sftp_port,
        receiver_port=_receiver_port(args.receiver_port),
        runner_pid=os.getpid(),
    )


def _write_state(
    path: Path,
    url: str,
    endpoint: str,
    template: LocalTemplate,
    demo: dict[str, str],
    usage_plan_id: str | None,
    sftp_port: int | None = None,
) -> None:
    """Written atomically (temp file + rename) so a reader polling for it never sees half a document."""
    state = {
        "api_url": url,
        "aws_endpoint_url": endpoint,
        "partners_table": template.physical_name(PARTNERS_TABLE),
        "meters_table": template.physical_name(METERS_TABLE),
        "usage_plan_id": usage_plan_id,
        "sftp_port": sftp_port,
        "demo_partner": demo,
    }
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(state, indent=2), encoding="utf-8")
    temporary.replace(path)


# ----- invoke ------------------------------------------------------------------------------------------------


@contextmanager
def _stdout_to_stderr() -> Iterator[TextIO]:
    """Everything written to fd 1 (handler prints, Powertools logs) goes to stderr; yields the real stdout."""
    sys.stdout.flush()
    real_stdout = os.fdopen(os.dup(1), "w", encoding="utf-8")
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield real_stdout
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        real_stdout.close()


def _read_event(source: str) -> Any:
    text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    return json.loads(text)


def invoke(args: argparse.Namespace) -> int:
    try:
        event = _read_event(args.event)
    except (OSError, json.JSONDecodeError) as error:
        print(f"error: cannot read event {args.event}: {error}", file=sys.stderr)
        return 2
    try:  # before moto starts: a mistyped name is answered at once, not after the stack is made
        LocalLambda(load_template(args.template or find_template(), _context(args, "http://127.0.0.1"))).spec(
            args.function
        )
    except LocalLambdaError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    with _stdout_to_stderr() as stdout:
        aws, template, _ = _start_aws(args)
        lambdas = LocalLambda(template)
        try:
            try:
                result = lambdas.invoke(args.function, event)
            except InvocationFailed as error:
                print(error.details, file=sys.stderr)
                failure = {"errorType": error.error.error_type, "errorMessage": str(error.error)}
                stdout.write(json.dumps(failure) + "\n")  # what sam local invoke prints for a failed invocation
                return 1
            except LocalLambdaError as error:
                print(f"error: {error}", file=sys.stderr)
                return 2
            stdout.write(json.dumps(result, indent=2, default=str) + "\n")
            stdout.flush()
            return 0
        finally:
            lambdas.close()
            aws.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return run(args) if args.command == "run" else invoke(args)
    except TemplateError as error:
        print(f"error: template: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
