"""Run the template's functions in this process, each with its own environment.

Why in-process: no Docker, a debugger and breakpoints work, and a request costs microseconds of overhead.
As on Lambda, one function runs one invocation at a time (a lock per function) while different functions run
concurrently: the Connect callback calls the demo utility's token endpoint, served by this same runner, from
inside its own invocation. The function's `Environment.Variables` (and the variables Lambda itself sets) are
applied to `os.environ` for the call and restored when the last overlapping call ends. `os.environ` is
process-global, so functions running at once share it: every function here gets the same Globals variables,
and only the AWS_LAMBDA_* names differ (Powertools reads those from the context object, not the environment),
so nothing observable depends on which one wrote last. A template that gave functions different variables of
the same name would need a process per function.

Handlers are imported lazily, on first invocation, from their CodeUri under a module name unique to the
function (several functions all have an `app.py`). A missing or broken handler file is reported when the
function is called, not at startup, and a handler file edited while the runner is up is re-imported on the
next call (only the handler module: code under shared/ needs a restart).
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from meterhub.local.template import FunctionSpec, LocalTemplate

Handler = Callable[[Any, "LambdaContext"], Any]


class LocalLambdaError(Exception):
    """Base for failures the caller maps to an API Gateway or CLI error."""


class FunctionNotFound(LocalLambdaError):
    pass


class HandlerUnavailable(LocalLambdaError):
    """The handler file is missing, fails to import, or lacks the handler function."""


class InvocationFailed(LocalLambdaError):
    """The handler raised; `error` is the original exception (its message matters to authorizers)."""

    def __init__(self, function_id: str, error: BaseException) -> None:
        super().__init__(f"{function_id} raised {type(error).__name__}: {error}")
        self.function_id = function_id
        self.error = error


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
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class _Loaded:
    handler: Handler
    module: ModuleType
    mtime: float


class LocalLambda:
    """The template's functions, invocable by logical id."""

    def __init__(self, template: LocalTemplate) -> None:
        self._template = template
        self._locks: dict[str, threading.RLock] = {}
        self._guard = threading.Lock()  # guards the lock table and the handler cache
        self._environment_in_use = _SharedEnvironment()
        self._loaded: dict[str, _Loaded] = {}

    def _lock(self, function_id: str) -> threading.RLock:
        with self._guard:
            return self._locks.setdefault(function_id, threading.RLock())

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
        with (
            self._lock(function_id),
            self._environment_in_use.applied(self._environment(spec)),
            _on_sys_path(str(spec.code_dir)),
        ):
            with self._guard:
                handler = self._handler(spec)
            context = context or self.context_for(spec)
            started = time.monotonic()
            try:
                return handler(event, context)
            except Exception as error:
                raise InvocationFailed(function_id, error) from error
            finally:
                elapsed = time.monotonic() - started
                if elapsed > spec.timeout_seconds:
                    print(
                        f"[local] {function_id} ran {elapsed:.1f}s, over its {spec.timeout_seconds}s Timeout "
                        "(Lambda would have stopped it)",
                        file=sys.stderr,
                    )

    def _environment(self, spec: FunctionSpec) -> dict[str, str]:
        region = self._template.context.region
        return {
            # What the Lambda runtime sets; AWS_SAM_LOCAL also turns Powertools' X-Ray tracing off, as under SAM.
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

    def _handler(self, spec: FunctionSpec) -> Handler:
        path = spec.module_path
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            raise HandlerUnavailable(
                f"{spec.logical_id}: handler file {path} does not exist (Handler: {spec.handler})"
            ) from None
        loaded = self._loaded.get(spec.logical_id)
        if loaded is None or loaded.mtime != mtime:
            loaded = _import_handler(spec, mtime)
            self._loaded[spec.logical_id] = loaded
        return loaded.handler


def _import_handler(spec: FunctionSpec, mtime: float) -> _Loaded:
    module_name = "meterhub_local_fn_" + re.sub(r"\W", "_", f"{spec.logical_id}_{spec.module_name}")
    import_spec = importlib.util.spec_from_file_location(module_name, spec.module_path)
    if import_spec is None or import_spec.loader is None:
        raise HandlerUnavailable(f"{spec.logical_id}: cannot import {spec.module_path}")
    module = importlib.util.module_from_spec(import_spec)
    sys.modules[module_name] = module
    try:
        import_spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[module_name]
        raise HandlerUnavailable(
            f"{spec.logical_id}: importing {spec.module_path} failed: {type(error).__name__}: {error}"
        ) from error
    handler = getattr(module, spec.function_name, None)
    if not callable(handler):
        raise HandlerUnavailable(f"{spec.logical_id}: {spec.module_path} has no function {spec.function_name!r}")
    return _Loaded(handler=handler, module=module, mtime=mtime)


class _SharedEnvironment:
    """`os.environ` for invocations that may overlap: the first to start saves what was there, every one
    applies its variables, and only the last to finish restores the saved values. Restoring on each exit
    (what a lone invocation would do) removed the table names from under a function still running, which
    then failed to read its settings."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._saved: dict[str, str | None] = {}

    @contextmanager
    def applied(self, variables: Mapping[str, str]) -> Iterator[None]:
        with self._lock:
            for name in variables:
                self._saved.setdefault(name, os.environ.get(name))
            os.environ.update(variables)
            self._active += 1
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
                if self._active == 0:
                    for name, value in self._saved.items():
                        if value is None:
                            os.environ.pop(name, None)
                        else:
                            os.environ[name] = value
                    self._saved.clear()


@contextmanager
def _on_sys_path(directory: str) -> Iterator[None]:
    """The CodeUri is the function's import root on Lambda, so sibling modules must import here too."""
    sys.path.insert(0, directory)
    try:
        yield
    finally:
        sys.path.remove(directory)
