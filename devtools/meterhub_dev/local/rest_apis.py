"""The REST APIs template.yaml declares: stages, authorizers, gateway responses, routes and usage plans.

Routes come from the functions' `Api` events, so a route added to the template is served locally with no
code change; an event without `RestApiId` lands on SAM's implicit API, shaped by `Globals.Api`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from meterhub_dev.local.intrinsics import LOCAL_STAGE, Resolver, ref_target
from meterhub_dev.local.template_yaml import TemplateError

if TYPE_CHECKING:
    from meterhub_dev.local.function_specs import FunctionSpec

IMPLICIT_API_ID = "ServerlessRestApi"


@dataclass(frozen=True)
class AuthorizerSpec:
    name: str
    function_id: str
    payload_type: str  # TOKEN or REQUEST
    header: str | None  # TOKEN: the header carrying the token
    validation_expression: str | None
    identity_headers: tuple[str, ...] = ()  # REQUEST: headers that must be present
    identity_query_strings: tuple[str, ...] = ()
    reauthorize_every: int = 300


@dataclass(frozen=True)
class GatewayResponseSpec:
    response_type: str
    status_code: int | None
    templates: Mapping[str, str]
    headers: Mapping[str, str]


@dataclass(frozen=True)
class ApiSpec:
    logical_id: str
    stage_name: str
    default_authorizer: str | None
    authorizers: Mapping[str, AuthorizerSpec]
    gateway_responses: Mapping[str, GatewayResponseSpec]
    binary_media_types: tuple[str, ...]
    api_key_source: str = "HEADER"  # AUTHORIZER: the authorizer's usageIdentifierKey names the API key
    api_key_required: bool = False  # Auth.ApiKeyRequired: the default of the API's routes


@dataclass(frozen=True)
class Route:
    api_id: str
    method: str  # upper case, or ANY
    path: str
    function_id: str
    authorizer: str | None
    event_name: str
    api_key_required: bool = False  # only such routes are metered by a usage plan


@dataclass(frozen=True)
class UsagePlanSpec:
    """An AWS::ApiGateway::UsagePlan: the APIs it meters and the throttle every one of its keys gets."""

    logical_id: str
    name: str
    api_ids: tuple[str, ...]  # logical ids of the AWS::Serverless::Api resources in its ApiStages
    rate_limit: float | None  # requests per second (token refill), None: not throttled
    burst_limit: int | None  # bucket size


def build_api(resolver: Resolver, logical_id: str, properties: Mapping[str, Any]) -> ApiSpec:
    where = f"{logical_id}.Properties"
    auth: Mapping[str, Any] = properties.get("Auth") or {}
    authorizers = {
        name: _authorizer(resolver, name, spec, f"{where}.Auth.Authorizers.{name}")
        for name, spec in (auth.get("Authorizers") or {}).items()
    }
    default_authorizer = resolver.resolve(auth.get("DefaultAuthorizer"), f"{where}.Auth.DefaultAuthorizer")
    if default_authorizer == "NONE":
        default_authorizer = None
    if default_authorizer not in {None, "AWS_IAM", *authorizers}:
        raise TemplateError(f"{where}.Auth.DefaultAuthorizer {default_authorizer!r} is not in Authorizers")
    responses = {
        response_type: _gateway_response(resolver, response_type, spec, f"{where}.GatewayResponses.{response_type}")
        for response_type, spec in (properties.get("GatewayResponses") or {}).items()
    }
    return ApiSpec(
        logical_id=logical_id,
        stage_name=str(resolver.resolve(properties.get("StageName", LOCAL_STAGE), f"{where}.StageName")),
        default_authorizer=default_authorizer,
        authorizers=authorizers,
        gateway_responses=responses,
        binary_media_types=tuple(
            str(item).replace("~1", "/")
            for item in resolver.resolve(properties.get("BinaryMediaTypes") or [], f"{where}.BinaryMediaTypes")
        ),
        api_key_source=str(resolver.resolve(properties.get("ApiKeySourceType", "HEADER"), f"{where}.ApiKeySourceType")),
        api_key_required=_true(resolver.resolve(auth.get("ApiKeyRequired", False), f"{where}.Auth.ApiKeyRequired")),
    )


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def build_usage_plan(
    resolver: Resolver, logical_id: str, properties: Mapping[str, Any], apis: Mapping[str, ApiSpec]
) -> UsagePlanSpec:
    """The plan's name, APIs and throttle. A stage-specific throttle (ApiStages[].Throttle) and quotas are
    not applied locally; the plan-wide Throttle is."""
    where = f"{logical_id}.Properties"
    api_ids = []
    for n, stage in enumerate(properties.get("ApiStages") or []):
        api_id = ref_target(stage.get("ApiId"))
        if api_id is None or api_id not in apis:
            raise TemplateError(f"{where}.ApiStages[{n}].ApiId must be !Ref <AWS::Serverless::Api in this template>")
        api_ids.append(api_id)
    throttle: Mapping[str, Any] = resolver.resolve(properties.get("Throttle") or {}, f"{where}.Throttle")
    rate, burst = throttle.get("RateLimit"), throttle.get("BurstLimit")
    return UsagePlanSpec(
        logical_id=logical_id,
        name=str(resolver.resolve(properties.get("UsagePlanName", logical_id), f"{where}.UsagePlanName")),
        api_ids=tuple(api_ids),
        rate_limit=float(rate) if rate is not None else None,
        burst_limit=int(burst) if burst is not None else None,
    )


def _authorizer(resolver: Resolver, name: str, spec: Mapping[str, Any], where: str) -> AuthorizerSpec:
    function_id = ref_target(spec.get("FunctionArn"))
    if function_id is None:
        raise TemplateError(f"{where}.FunctionArn must be !GetAtt <Function>.Arn to run locally")
    payload_type = str(resolver.resolve(spec.get("FunctionPayloadType", "TOKEN"), where)).upper()
    identity: Mapping[str, Any] = resolver.resolve(spec.get("Identity") or {}, f"{where}.Identity")
    header = identity.get("Header", "Authorization") if payload_type == "TOKEN" else None
    return AuthorizerSpec(
        name=name,
        function_id=function_id,
        payload_type=payload_type,
        header=header,
        validation_expression=identity.get("ValidationExpression"),
        identity_headers=tuple(identity.get("Headers") or ()),
        identity_query_strings=tuple(identity.get("QueryStrings") or ()),
        reauthorize_every=int(identity.get("ReauthorizeEvery", 300)),
    )


def _gateway_response(
    resolver: Resolver, response_type: str, spec: Mapping[str, Any], where: str
) -> GatewayResponseSpec:
    resolved: Mapping[str, Any] = resolver.resolve(spec, where)
    status = resolved.get("StatusCode")
    headers: dict[str, str] = {}
    for name, value in ((resolved.get("ResponseParameters") or {}).get("Headers") or {}).items():
        text = str(value)
        if len(text) >= 2 and text[0] == text[-1] == "'":  # only static values ('...') exist without a request
            headers[name] = text[1:-1]
    return GatewayResponseSpec(
        response_type=response_type,
        status_code=int(status) if status is not None else None,
        templates={str(key): str(value) for key, value in (resolved.get("ResponseTemplates") or {}).items()},
        headers=headers,
    )


def build_routes(
    resolver: Resolver,
    functions: Mapping[str, FunctionSpec],
    apis: dict[str, ApiSpec],
    global_api: Mapping[str, Any],
) -> tuple[Route, ...]:
    routes: list[Route] = []
    for function in functions.values():
        for event in function.events:
            if event.type != "Api":
                continue
            where = f"{function.logical_id}.Events.{event.name}.Properties"
            api_id = ref_target(event.properties.get("RestApiId")) or IMPLICIT_API_ID
            if api_id not in apis:
                if api_id != IMPLICIT_API_ID:
                    raise TemplateError(f"{where}.RestApiId names no AWS::Serverless::Api ({api_id})")
                apis[api_id] = build_api(resolver, api_id, global_api)  # SAM's implicit API, shaped by Globals.Api
            api = apis[api_id]
            auth: Mapping[str, Any] = resolver.resolve(event.properties.get("Auth") or {}, f"{where}.Auth")
            authorizer = auth.get("Authorizer", api.default_authorizer)
            if authorizer in {"NONE", "AWS_IAM"}:
                authorizer = None
            if authorizer is not None and authorizer not in api.authorizers:
                raise TemplateError(f"{where}.Auth.Authorizer {authorizer!r} is not an authorizer of {api_id}")
            key_required = _true(auth.get("ApiKeyRequired", api.api_key_required))
            routes.append(
                Route(
                    api_id=api_id,
                    method=str(resolver.resolve(event.properties.get("Method"), f"{where}.Method")).upper(),
                    path=str(resolver.resolve(event.properties.get("Path"), f"{where}.Path")),
                    function_id=function.logical_id,
                    authorizer=authorizer,
                    event_name=event.name,
                    api_key_required=key_required,
                )
            )
    return tuple(routes)
