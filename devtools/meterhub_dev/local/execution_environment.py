"""One Lambda execution environment: a process that imports one function's handler and runs its invocations.

Why a process per environment, as on Lambda: a handler module is written for one invocation at a time in a
process of its own. Its globals (Powertools' resolver holding `current_event`, a `BatchProcessor`, the
`Logger`'s keys, cached settings and clients) and `os.environ` belong to that invocation while it runs. Running
two invocations on threads of one process would share all of that: a partner's request could read another's
event, log lines would carry whichever function's name was appended last, and environment variables would be
one process-wide set (the authorizer's AWS_LAMBDA_FUNCTION_NAME, read by Powertools' idempotency to build its
keys, leaked into the meters function). A process has its own `os.environ`, set before the handler module is
imported, exactly as Lambda sets it before the init phase, and nothing else to keep apart.

This module runs in the child, so it imports nothing from the project beyond the standard library: the
function's variables must be in `os.environ` before the first project module (e.g. the Powertools `Logger`,
which reads its service name when created) is imported. The parent side is `meterhub_dev.local.lambda_runtime`.

Protocol on the pipe (pickled tuples): the child sends ("ready",) or ("init_error", message) once; then for each
("invoke", event, context) it answers ("ok", json_text) or ("error", error_type, message, stack_trace).
The result goes through JSON as Lambda marshals it, so a result Lambda could not return fails here too.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sys
import time
import traceback
import uuid
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

PRELOAD = (
    "boto3",
    "botocore.session",
    "pydantic",
    "requests",
    "aws_lambda_powertools",
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.idempotency",
)
"""Imported once by the fork server every environment is forked from, so a cold start costs the handler's
own import (~0.15 s) rather than a fresh interpreter's (~1 s). Third-party packages only: they read no
function variable when imported; the project's modules are imported by each environment, after its
variables are set."""


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: Any = None
    client_context: Any = None
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self.log_stream_name = self.log_stream_name or time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self._deadline = self._deadline or time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        # CLOCK_MONOTONIC is system-wide, so a deadline set by the runner holds in the environment's process.
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class EnvironmentSpec:
    """What an environment needs to start: plain values, so the fork server can pass them over."""

    function_id: str
    code_dir: str
    module_path: str
    module_name: str
    handler_name: str
    variables: dict[str, str]


def serve(connection: Connection, spec: EnvironmentSpec) -> None:
    """The environment's life: set the variables, import the handler (init), then invoke until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the runner stops us
    os.environ.clear()
    os.environ.update(spec.variables)
    sys.path.insert(0, spec.code_dir)  # the CodeUri is the import root on Lambda: sibling modules import too
    try:
        handler = _import_handler(spec)
    except Exception as error:  # anything a module raises at import is an init error on Lambda
        traceback.print_exc()  # into the runner's output, as Lambda logs an init error
        sys.stderr.flush()
        connection.send(("init_error", f"{type(error).__name__}: {error}"))
        return
    connection.send(("ready",))
    while True:
        try:
            message = connection.recv()
        except EOFError:
            return
        _, event, context = message
        connection.send(_invoke(handler, event, context))
        sys.stdout.flush()
        sys.stderr.flush()


def _import_handler(spec: EnvironmentSpec) -> Any:
    import_spec = importlib.util.spec_from_file_location(spec.module_name, spec.module_path)
    if import_spec is None or import_spec.loader is None:
        raise ImportError(f"cannot import {spec.module_path}")
    module = importlib.util.module_from_spec(import_spec)
    sys.modules[spec.module_name] = module
    import_spec.loader.exec_module(module)
    handler = getattr(module, spec.handler_name, None)
    if not callable(handler):
        raise AttributeError(f"{spec.module_path} has no function {spec.handler_name!r}")
    return handler


def _invoke(handler: Any, event: Any, context: LambdaContext) -> tuple[Any, ...]:
    try:
        result = handler(event, context)
    except Exception as error:
        return ("error", type(error).__name__, str(error), traceback.format_exc())
    try:
        return ("ok", json.dumps(result))
    except (TypeError, ValueError) as error:
        return ("error", "Runtime.MarshalError", f"Unable to marshal response: {error}", traceback.format_exc())
