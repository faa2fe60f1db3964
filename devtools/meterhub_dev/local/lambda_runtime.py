"""Run the template's functions as Lambda does: each invocation in an execution environment of its own.

An execution environment is a process (`meterhub_dev.local.execution_environment`) that sets the function's
`Environment.Variables` and the variables Lambda itself sets, imports the handler (the init phase), then runs
one invocation at a time, staying warm for the next. Invocations of one function that overlap each get an
environment, an idle one if there is one, else a new one (a cold start, logged), so a function runs
concurrently as it does on Lambda and the races Lambda would expose show up locally too. Nothing is shared
between environments but what Lambda shares: AWS (here the embedded moto server, over HTTP).

Why processes rather than threads with a per-thread view of `os.environ`: the environment is not the only
per-invocation state. Handler modules keep the current event, batch results and log keys in module globals,
which on Lambda belong to one invocation at a time; in one process, two invocations of a function would share
them, and every function would share one Powertools `Logger`. A process per environment isolates all of it
with no patching of `os` or of Powertools, and `os.environ` stays whatever the developer's shell set.

Environments are forked from a fork server that has already imported the heavy third-party packages
(`execution_environment.PRELOAD`), so a cold start costs about the handler module's import. Handlers are
imported on the first invocation, not at startup: a missing or broken handler file is reported when the
function is called. An environment whose handler file changed since it started is retired, so an edited
handler runs on the next call (code under shared/ needs a restart). Environments idle for
`IDLE_SECONDS` are shut down, as Lambda reclaims them.

Unlike Lambda, an invocation running past its Timeout is reported, not stopped, so a breakpoint or a slow
machine does not kill it; and at most `MAX_ENVIRONMENTS` run per function (more invocations wait for one).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from typing import Any

from meterhub_dev.local.execution_environment import PRELOAD, EnvironmentSpec, LambdaContext, serve
from meterhub_dev.local.function_specs import FunctionSpec
from meterhub_dev.local.stack import LocalTemplate

__all__ = [
    "FunctionNotFound",
    "HandlerError",
    "HandlerUnavailable",
    "InvocationFailed",
    "LambdaContext",
    "LocalLambda",
    "LocalLambdaError",
]

MAX_ENVIRONMENTS = 32
"""Per function: enough for any burst a developer or a test sends, few enough that a runaway loop cannot
fork hundreds of processes (Lambda's own limit is the account's concurrency, 1,000 by default)."""
IDLE_SECONDS = 300.0
START_TIMEOUT_SECONDS = 60.0


class LocalLambdaError(Exception):
    """Base for failures the caller maps to an API Gateway or CLI error."""

    @property
    def details(self) -> str:
        """What to print for a developer: the message, or the handler's stack trace."""
        return str(self)


class FunctionNotFound(LocalLambdaError):
    pass


class HandlerUnavailable(LocalLambdaError):
    """The handler file is missing, fails to import, or lacks the handler function."""


class HandlerError(Exception):
    """An exception raised by a handler in its environment, as Lambda reports one: `errorType` (the exception's
    class name), `errorMessage` (its str, which is what API Gateway reads from an authorizer) and the trace."""

    def __init__(self, error_type: str, message: str, stack_trace: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.stack_trace = stack_trace


class InvocationFailed(LocalLambdaError):
    """The handler raised (or its environment died); `error` says what, as Lambda reports it."""

    def __init__(self, function_id: str, error: HandlerError) -> None:
        super().__init__(f"{function_id} raised {error.error_type}: {error}")
        self.function_id = function_id
        self.error = error

    @property
    def details(self) -> str:
        return self.error.stack_trace or str(self)


_fork_server_lock = threading.Lock()


def _fork_server() -> ForkServerContext:
    """The one fork server of this process, preloading PRELOAD (configured before it first starts)."""
    with _fork_server_lock:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(PRELOAD))
        return context


@dataclass(eq=False)
class _Environment:
    """The runner's end of one execution environment."""

    number: int
    process: BaseProcess
    connection: Connection
    handler_mtime: float
    last_used: float = field(default_factory=time.monotonic)

    def invoke(self, function_id: str, event: Any, context: LambdaContext) -> Any:
        try:
            self.connection.send(("invoke", event, context))
            reply = self.connection.recv()
        except (EOFError, OSError) as error:
            self.close()
            code = self.process.exitcode
            raise InvocationFailed(
                function_id,
                HandlerError("Runtime.ExitError", f"the execution environment exited (code {code}): {error}", ""),
            ) from None
        if reply[0] == "ok":
            return json.loads(reply[1])
        _, error_type, message, stack_trace = reply
        raise InvocationFailed(function_id, HandlerError(error_type, message, stack_trace))

    @property
    def alive(self) -> bool:
        return self.process.is_alive() and not self.connection.closed

    def close(self) -> None:
        """Closing the pipe ends the environment's loop; a process that does not exit is terminated."""
        if not self.connection.closed:
            self.connection.close()
        self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=2)


class _Pool:
    """The execution environments of one function: idle ones are reused, the newest first (warm)."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.idle: list[_Environment] = []
        self.running = 0  # environments that exist, busy or idle
        self.started = 0  # environments ever started, for their numbers in the log

    def take_idle(self, handler_mtime: float) -> tuple[_Environment | None, list[_Environment]]:
        """An idle environment running the current handler, and those to shut down (stale, idle too long,
        dead). Call with the condition held."""
        retired: list[_Environment] = []
        now = time.monotonic()
        keep: list[_Environment] = []
        for environment in self.idle:
            stale = environment.handler_mtime != handler_mtime or now - environment.last_used > IDLE_SECONDS
            (retired if stale or not environment.alive else keep).append(environment)
        self.idle = keep
        self.running -= len(retired)
        return (self.idle.pop() if self.idle else None), retired


class LocalLambda:
    """The template's functions, invocable by logical id; `close()` shuts every environment down."""

    def __init__(self, template: LocalTemplate) -> None:
        self._template = template
        self._guard = threading.Lock()  # guards the pool table
        self._pools: dict[str, _Pool] = {}
        self._busy: set[_Environment] = set()

    @property
    def function_ids(self) -> list[str]:
        return sorted(self._template.functions)

    def spec(self, function_id: str) -> FunctionSpec:
        try:
            return self._template.functions[function_id]
        except KeyError:
            known = ", ".join(self.function_ids) or "none"
            raise FunctionNotFound(f"No function {function_id!r} in the template (functions: {known})") from None

    def context_for(self, spec: FunctionSpec) -> LambdaContext:
        region, account = self._template.context.region, self._template.context.account_id
        return LambdaContext(
            function_name=spec.physical_name,
            invoked_function_arn=f"arn:aws:lambda:{region}:{account}:function:{spec.physical_name}",
            memory_limit_in_mb=spec.memory_mb,
            timeout_seconds=spec.timeout_seconds,
        )

    def invoke(self, function_id: str, event: Any, context: LambdaContext | None = None) -> Any:
        spec = self.spec(function_id)
        pool = self._pool(function_id)
        environment = self._acquire(spec, pool)
        context = context or self.context_for(spec)
        started = time.monotonic()
        try:
            return environment.invoke(function_id, event, context)
        finally:
            elapsed = time.monotonic() - started
            if elapsed > spec.timeout_seconds:
                print(
                    f"[local] {function_id} ran {elapsed:.1f}s, over its {spec.timeout_seconds}s Timeout "
                    "(Lambda would have stopped it)",
                    file=sys.stderr,
                )
            self._release(pool, environment)

    def close(self) -> None:
        """Shut down every environment (idle ones at once; busy ones are terminated)."""
        with self._guard:
            pools = list(self._pools.values())
            busy = list(self._busy)
        for pool in pools:
            with pool.condition:
                idle, pool.idle = pool.idle, []
                pool.running -= len(idle)
            for environment in idle:
                environment.close()
        for environment in busy:
            environment.close()

    def _pool(self, function_id: str) -> _Pool:
        with self._guard:
            return self._pools.setdefault(function_id, _Pool())

    def _acquire(self, spec: FunctionSpec, pool: _Pool) -> _Environment:
        mtime = _handler_mtime(spec)
        retired: list[_Environment] = []
        number = 0
        with pool.condition:
            while True:
                environment, stale = pool.take_idle(mtime)
                retired += stale
                if environment is not None or pool.running < MAX_ENVIRONMENTS:
                    break
                pool.condition.wait(timeout=1)
            if environment is None:
                pool.running += 1
                pool.started += 1
                number = pool.started
        for old in retired:
            old.close()
        if environment is None:
            try:
                environment = self._start(spec, number, mtime)
            except BaseException:
                with pool.condition:
                    pool.running -= 1
                    pool.condition.notify()
                raise
        with self._guard:
            self._busy.add(environment)
        return environment

    def _release(self, pool: _Pool, environment: _Environment) -> None:
        with self._guard:
            self._busy.discard(environment)
        environment.last_used = time.monotonic()
        with pool.condition:
            if environment.alive:
                pool.idle.append(environment)
            else:
                pool.running -= 1
            pool.condition.notify()

    def _start(self, spec: FunctionSpec, number: int, mtime: float) -> _Environment:
        """A cold start: fork an environment, which sets its variables and imports the handler."""
        started = time.monotonic()
        fork_server = _fork_server()
        ours, theirs = fork_server.Pipe()
        environment_spec = EnvironmentSpec(
            function_id=spec.logical_id,
            code_dir=str(spec.code_dir),
            module_path=str(spec.module_path),
            module_name=spec.module_name,
            handler_name=spec.function_name,
            variables=self._variables(spec),
        )
        process = fork_server.Process(
            target=serve, args=(theirs, environment_spec), name=f"{spec.logical_id}#{number}", daemon=True
        )
        process.start()
        theirs.close()
        environment = _Environment(number=number, process=process, connection=ours, handler_mtime=mtime)
        if not ours.poll(START_TIMEOUT_SECONDS):
            environment.close()
            raise HandlerUnavailable(f"{spec.logical_id}: the execution environment did not start")
        try:
            reply = ours.recv()
        except EOFError:
            environment.close()
            raise HandlerUnavailable(f"{spec.logical_id}: the execution environment exited during init") from None
        if reply[0] != "ready":
            environment.close()
            raise HandlerUnavailable(f"{spec.logical_id}: importing {spec.module_path} failed: {reply[1]}")
        init_ms = (time.monotonic() - started) * 1000
        print(
            f"[local] {spec.logical_id}: execution environment #{number} started (cold start, init {init_ms:.0f} ms)",
            file=sys.stderr,
            flush=True,
        )
        return environment

    def _variables(self, spec: FunctionSpec) -> dict[str, str]:
        """The environment's `os.environ`: this process's (the moto endpoint and fake credentials the runner
        set, PATH...), what the Lambda runtime sets, and the function's own variables, in that order."""
        region = self._template.context.region
        return {
            **os.environ,
            # AWS_SAM_LOCAL also turns Powertools' X-Ray tracing off, as under SAM.
            "AWS_SAM_LOCAL": "true",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", region),
            "AWS_LAMBDA_FUNCTION_NAME": spec.physical_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(spec.timeout_seconds),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "_HANDLER": spec.handler,
            **spec.environment,
        }


def _handler_mtime(spec: FunctionSpec) -> float:
    try:
        return spec.module_path.stat().st_mtime
    except FileNotFoundError:
        raise HandlerUnavailable(
            f"{spec.logical_id}: handler file {spec.module_path} does not exist (Handler: {spec.handler})"
        ) from None
