"""What the local runner needs to know from the SAM template, read from the template itself.

The template is the single list of routes and resources; reading it (instead of keeping a second list here)
is what lets a route, table, bucket or queue added to template.yaml appear locally with no code change.
`template_yaml` reads the file, `intrinsics` resolves its values, `rest_apis` and `resource_specs` read the
APIs and the resources; this module puts them together with the functions into one `LocalTemplate`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meterhub_dev.local.function_specs import EventSource, FunctionSpec
from meterhub_dev.local.intrinsics import LocalContext, Resolver, ref_target, stringify
from meterhub_dev.local.resource_specs import (
    BucketSpec,
    QueueSpec,
    TableSpec,
    build_bucket,
    build_queue,
    build_table,
)
from meterhub_dev.local.rest_apis import ApiSpec, Route, UsagePlanSpec, build_api, build_routes, build_usage_plan
from meterhub_dev.local.template_yaml import TemplateError, load_yaml


@dataclass(frozen=True)
class LocalTemplate:
    path: Path
    context: LocalContext
    resources: Mapping[str, Mapping[str, Any]]
    functions: Mapping[str, FunctionSpec]
    apis: Mapping[str, ApiSpec]
    routes: tuple[Route, ...]
    tables: Mapping[str, TableSpec]
    buckets: Mapping[str, BucketSpec]
    queues: Mapping[str, QueueSpec]
    resolver: Resolver
    # KMS aliases (logical id -> alias name). Functions name keys by alias, so a local key behind the same
    # alias is all they need; key ids are random in KMS and moto alike.
    kms_aliases: Mapping[str, str] = field(default_factory=dict)
    usage_plans: Mapping[str, UsagePlanSpec] = field(default_factory=dict)
    # SFTP servers (AWS::Transfer::Server with a Lambda identity provider): logical id -> the function's id.
    sftp_servers: Mapping[str, str] = field(default_factory=dict)

    def resolve(self, value: Any, where: str = "value") -> Any:
        return self.resolver.resolve(value, where)

    def physical_name(self, logical_id: str) -> str:
        return self.resolver.physical_name(logical_id)

    def api_for(self, route: Route) -> ApiSpec:
        return self.apis[route.api_id]


def load_template(path: Path, context: LocalContext | None = None) -> LocalTemplate:
    path = path.resolve()
    context = context or LocalContext()
    document = load_yaml(path)
    resolver = Resolver(document, context)
    resources: Mapping[str, Mapping[str, Any]] = document.get("Resources") or {}
    globals_section: Mapping[str, Any] = document.get("Globals") or {}

    def of_type(*types: str) -> list[tuple[str, Mapping[str, Any]]]:
        return [
            (logical_id, resource.get("Properties") or {})
            for logical_id, resource in resources.items()
            if resource.get("Type") in types and _included(resolver, resource)
        ]

    functions = {
        logical_id: _function(resolver, path.parent, logical_id, properties, globals_section.get("Function") or {})
        for logical_id, properties in of_type("AWS::Serverless::Function")
    }
    apis = {
        logical_id: build_api(resolver, logical_id, _merge(globals_section.get("Api") or {}, properties))
        for logical_id, properties in of_type("AWS::Serverless::Api")
    }
    routes = build_routes(resolver, functions, apis, globals_section.get("Api") or {})
    tables = {logical_id: build_table(resolver, logical_id, properties) for logical_id, properties in of_type(_TABLE)}
    buckets = {
        logical_id: build_bucket(resolver, logical_id, properties) for logical_id, properties in of_type(_BUCKET)
    }
    queues = {logical_id: build_queue(resolver, logical_id, properties) for logical_id, properties in of_type(_QUEUE)}
    kms_aliases = {logical_id: resolver.physical_name(logical_id) for logical_id, _ in of_type("AWS::KMS::Alias")}
    usage_plans = {
        logical_id: build_usage_plan(resolver, logical_id, properties, apis)
        for logical_id, properties in of_type("AWS::ApiGateway::UsagePlan")
    }
    sftp_servers = {
        logical_id: _identity_function(logical_id, properties, functions)
        for logical_id, properties in of_type("AWS::Transfer::Server")
        if "SFTP" in (resolver.resolve(properties.get("Protocols") or ["SFTP"], f"{logical_id}.Protocols"))
    }
    return LocalTemplate(
        path=path,
        context=context,
        resources=resources,
        functions=functions,
        apis=apis,
        routes=routes,
        tables=tables,
        buckets=buckets,
        queues=queues,
        resolver=resolver,
        kms_aliases=kms_aliases,
        usage_plans=usage_plans,
        sftp_servers=sftp_servers,
    )


_TABLE = "AWS::DynamoDB::Table"
_BUCKET = "AWS::S3::Bucket"
_QUEUE = "AWS::SQS::Queue"


def _included(resolver: Resolver, resource: Mapping[str, Any]) -> bool:
    """A resource with a false `Condition` does not exist in the stack."""
    condition = resource.get("Condition")
    return condition is None or resolver.condition(str(condition))


def _identity_function(logical_id: str, properties: Mapping[str, Any], functions: Mapping[str, FunctionSpec]) -> str:
    """The function a Transfer Family server asks about each login (the local SFTP server invokes it too)."""
    where = f"{logical_id}.Properties.IdentityProviderDetails.Function"
    if properties.get("IdentityProviderType") != "AWS_LAMBDA":
        raise TemplateError(f"{logical_id}: only IdentityProviderType AWS_LAMBDA is served locally")
    function_id = ref_target((properties.get("IdentityProviderDetails") or {}).get("Function"))
    if function_id is None or function_id not in functions:
        raise TemplateError(f"{where} must be !GetAtt <a function of this template>.Arn")
    return function_id


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """SAM's Globals rule: maps merge recursively, anything else in the resource wins."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and not _is_intrinsic(value):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _is_intrinsic(value: Mapping[str, Any]) -> bool:
    return len(value) == 1 and any(key == "Ref" or key.startswith("Fn::") for key in value)


def _function(
    resolver: Resolver, root: Path, logical_id: str, own: Mapping[str, Any], global_function: Mapping[str, Any]
) -> FunctionSpec:
    properties = _merge(global_function, own)
    where = f"{logical_id}.Properties"
    code_uri = resolver.resolve(properties.get("CodeUri", "."), f"{where}.CodeUri")
    handler = resolver.resolve(properties.get("Handler"), f"{where}.Handler")
    if not isinstance(code_uri, str):
        raise TemplateError(f"{where}.CodeUri must be a local directory to run locally, got {code_uri!r}")
    if not isinstance(handler, str) or "." not in handler:
        raise TemplateError(f"{where}.Handler must look like 'module.function', got {handler!r}")
    variables = ((properties.get("Environment") or {}).get("Variables")) or {}
    environment = {
        name: stringify(resolver.resolve(value, f"{where}.Environment.Variables.{name}"))
        for name, value in variables.items()
    }
    events = tuple(
        EventSource(name=name, type=str(event.get("Type", "")), properties=event.get("Properties") or {})
        for name, event in (own.get("Events") or {}).items()
    )
    return FunctionSpec(
        logical_id=logical_id,
        physical_name=resolver.physical_name(logical_id),
        code_dir=(root / code_uri).resolve(),
        handler=handler,
        environment=environment,
        timeout_seconds=int(resolver.resolve(properties.get("Timeout", 3), f"{where}.Timeout")),
        memory_mb=int(resolver.resolve(properties.get("MemorySize", 128), f"{where}.MemorySize")),
        events=events,
    )
