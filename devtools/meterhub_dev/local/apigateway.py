"""API Gateway (REST, v1) behaviour the handlers depend on, with no HTTP server attached.

Kept apart from the server so routing precedence, the proxy event, policy evaluation and gateway responses
can be unit-tested directly; the shapes follow what API Gateway sends and expects, so a handler that works
here works behind the real gateway.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from meterhub_dev.local.rest_apis import ApiSpec, GatewayResponseSpec, Route

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's hard limit for a REST request body

# Status and message of each gateway response type when the template does not customise it.
_DEFAULT_RESPONSES: dict[str, tuple[int, str | None]] = {
    "ACCESS_DENIED": (403, "User is not authorized to access this resource with an explicit deny"),
    "API_CONFIGURATION_ERROR": (500, "Internal server error"),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, None),
    "AUTHORIZER_FAILURE": (500, None),
    "BAD_REQUEST_BODY": (400, "Invalid request body"),
    "BAD_REQUEST_PARAMETERS": (400, "Missing required request parameters"),
    "INTEGRATION_FAILURE": (504, "Internal server error"),
    "INTEGRATION_TIMEOUT": (504, "Endpoint request timed out"),
    "INVALID_API_KEY": (403, "Forbidden"),
    "MISSING_AUTHENTICATION_TOKEN": (403, "Missing Authentication Token"),
    "QUOTA_EXCEEDED": (429, "Limit Exceeded"),
    "REQUEST_TOO_LARGE": (413, "Request Too Long"),
    "RESOURCE_NOT_FOUND": (404, "Not Found"),
    "THROTTLED": (429, "Too Many Requests"),
    "UNAUTHORIZED": (401, "Unauthorized"),
    "UNSUPPORTED_MEDIA_TYPE": (415, "Unsupported Media Type"),
}

_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-www-form-urlencoded")
_TEXT_SUFFIXES = ("+json", "+xml", "javascript", "yaml")


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)


def json_response(status: int, payload: Any) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "application/json")], json.dumps(payload).encode("utf-8"))


# ----- routing ---------------------------------------------------------------------------------------------

_LITERAL, _PARAMETER, _GREEDY = 0, 1, 2


def _segments(path: str) -> list[str]:
    return [segment for segment in path.strip("/").split("/") if segment]


def _kind(segment: str) -> int:
    if segment.startswith("{") and segment.endswith("+}"):
        return _GREEDY
    if segment.startswith("{") and segment.endswith("}"):
        return _PARAMETER
    return _LITERAL


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    path_parameters: dict[str, str]


class RouteTable:
    """METHOD + path -> route, with API Gateway's precedence.

    The most specific resource wins segment by segment (a literal beats `{param}`, which beats `{proxy+}`),
    so `POST /v2/meters/search` is never taken for `/v2/meters/{meter_id}`; an exact method beats ANY.
    """

    def __init__(self, routes: Sequence[Route]) -> None:
        self.routes = tuple(routes)

    def match(self, method: str, path: str) -> RouteMatch | None:
        request_segments = [unquote(segment) for segment in _segments(path)]
        candidates: list[tuple[tuple[int, ...], int, RouteMatch]] = []
        for route in self.routes:
            if route.method not in {method.upper(), "ANY"}:
                continue
            parameters = _match_segments(_segments(route.path), request_segments)
            if parameters is None:
                continue
            specificity = tuple(_kind(segment) for segment in _segments(route.path))
            candidates.append((specificity, 0 if route.method != "ANY" else 1, RouteMatch(route, parameters)))
        if not candidates:
            return None
        return min(candidates, key=lambda candidate: (candidate[0], candidate[1]))[2]


def _match_segments(pattern: Sequence[str], request: Sequence[str]) -> dict[str, str] | None:
    parameters: dict[str, str] = {}
    for index, segment in enumerate(pattern):
        kind = _kind(segment)
        if kind == _GREEDY:
            if index >= len(request):
                return None
            parameters[segment[1:-2]] = "/".join(request[index:])
            return parameters
        if index >= len(request):
            return None
        if kind == _PARAMETER:
            parameters[segment[1:-1]] = request[index]
        elif segment != request[index]:
            return None
    return parameters if len(pattern) == len(request) else None


# ----- the proxy event -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IncomingRequest:
    method: str
    path: str  # without the query string, still percent-encoded
    query_string: str
    headers: Sequence[tuple[str, str]]
    body: bytes
    source_ip: str = "127.0.0.1"
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    received_at: float = field(default_factory=time.time)

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        return values[-1] if values else None


def is_binary(content_type: str | None, body: bytes, binary_media_types: Sequence[str]) -> bool:
    """Whether the body travels base64-encoded: a declared binary type, a non-text type, or not UTF-8."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    if any(fnmatch.fnmatch(media_type, pattern.lower()) for pattern in binary_media_types):
        return True
    if media_type and not (media_type.startswith(_TEXT_TYPES) or media_type.endswith(_TEXT_SUFFIXES)):
        return True
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _single_and_multi(pairs: Sequence[tuple[str, str]]) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    """API Gateway's two views of repeated keys: the last value, and all values (null when there are none)."""
    if not pairs:
        return None, None
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        multi.setdefault(key, []).append(value)
    return {key: values[-1] for key, values in multi.items()}, multi


def method_arn(api: ApiSpec, request: IncomingRequest, region: str, account_id: str) -> str:
    return f"arn:aws:execute-api:{region}:{account_id}:{api_id(api)}/{api.stage_name}/{request.method}{request.path}"


def api_id(api: ApiSpec) -> str:
    """A stable, API-Gateway-looking id (10 lower-case characters) derived from the logical id."""
    return uuid.uuid5(uuid.NAMESPACE_URL, api.logical_id).hex[:10]


def build_proxy_event(
    match: RouteMatch,
    api: ApiSpec,
    request: IncomingRequest,
    *,
    authorizer: Mapping[str, Any] | None = None,
    account_id: str = "123456789012",
    domain_name: str = "127.0.0.1",
) -> dict[str, Any]:
    headers, multi_headers = _single_and_multi(request.headers)
    query, multi_query = _single_and_multi(parse_qsl(request.query_string, keep_blank_values=True))
    binary = bool(request.body) and is_binary(request.header("content-type"), request.body, api.binary_media_types)
    if not request.body:
        body: str | None = None
    elif binary:
        body = base64.b64encode(request.body).decode("ascii")
    else:
        body = request.body.decode("utf-8")
    received = datetime.fromtimestamp(request.received_at, UTC)
    path = unquote(request.path)
    request_context: dict[str, Any] = {
        "accountId": account_id,
        "apiId": api_id(api),
        "domainName": domain_name,
        "domainPrefix": domain_name.split(".")[0],
        "extendedRequestId": request.request_id,
        "httpMethod": request.method,
        "identity": {
            "accessKey": None,
            "accountId": None,
            "caller": None,
            "cognitoAuthenticationProvider": None,
            "cognitoAuthenticationType": None,
            "cognitoIdentityId": None,
            "cognitoIdentityPoolId": None,
            "principalOrgId": None,
            "sourceIp": request.source_ip,
            "user": None,
            "userAgent": request.header("user-agent"),
            "userArn": None,
        },
        "path": f"/{api.stage_name}{path}",
        "protocol": "HTTP/1.1",
        "requestId": request.request_id,
        "requestTime": received.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "requestTimeEpoch": int(request.received_at * 1000),
        "resourceId": uuid.uuid5(uuid.NAMESPACE_URL, match.route.path).hex[:6],
        "resourcePath": match.route.path,
        "stage": api.stage_name,
    }
    if authorizer is not None:
        request_context["authorizer"] = dict(authorizer)
    return {
        "resource": match.route.path,
        "path": path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": match.path_parameters or None,
        "stageVariables": None,
        "requestContext": request_context,
        "body": body,
        "isBase64Encoded": binary,
    }


def token_authorizer_event(token: str, arn: str) -> dict[str, Any]:
    return {"type": "TOKEN", "authorizationToken": token, "methodArn": arn}


def request_authorizer_event(proxy_event: Mapping[str, Any], arn: str) -> dict[str, Any]:
    event = {key: proxy_event[key] for key in proxy_event if key not in {"body", "isBase64Encoded"}}
    return {"type": "REQUEST", "methodArn": arn, **event}


# ----- authorizer results ----------------------------------------------------------------------------------


class AuthorizerConfigurationError(Exception):
    """The authorizer answered with something API Gateway cannot use (a 500 AUTHORIZER_CONFIGURATION_ERROR)."""


@dataclass(frozen=True)
class AuthorizerDecision:
    allowed: bool
    principal_id: str
    context: dict[str, str]
    usage_identifier_key: str | None = None  # the API key a usage plan meters (ApiKeySourceType AUTHORIZER)

    def request_context(self) -> dict[str, Any]:
        """`requestContext.authorizer` as a REST API passes it: the context, principalId, latency."""
        return {**self.context, "principalId": self.principal_id, "integrationLatency": 0}


def evaluate_authorizer_result(result: Any, arn: str) -> AuthorizerDecision:
    """Allow only when an Allow statement covers the method ARN and no Deny does (explicit deny wins)."""
    if not isinstance(result, Mapping) or "principalId" not in result or "policyDocument" not in result:
        raise AuthorizerConfigurationError("authorizer result needs principalId and policyDocument")
    policy = result["policyDocument"]
    statements = policy.get("Statement", []) if isinstance(policy, Mapping) else None
    if not isinstance(statements, list):
        raise AuthorizerConfigurationError("policyDocument.Statement must be a list")
    allowed = denied = False
    for statement in statements:
        resources = statement.get("Resource", [])
        actions = statement.get("Action", [])
        resources = [resources] if isinstance(resources, str) else resources
        actions = [actions] if isinstance(actions, str) else actions
        if not any(fnmatch.fnmatchcase("execute-api:Invoke", action) for action in actions):
            continue
        if any(fnmatch.fnmatchcase(arn, resource) for resource in resources):
            effect = str(statement.get("Effect", "")).lower()
            allowed = allowed or effect == "allow"
            denied = denied or effect == "deny"
    context = result.get("context") or {}
    if not isinstance(context, Mapping):
        raise AuthorizerConfigurationError("context must be an object")
    flat: dict[str, str] = {}
    for key, value in context.items():
        if isinstance(value, Mapping | list) or value is None:
            raise AuthorizerConfigurationError(f"context[{key!r}] must be a string, number or boolean")
        flat[key] = _header_value(value)  # a REST API hands every context value to the function as a string
    usage_key = result.get("usageIdentifierKey")
    if usage_key is not None and not isinstance(usage_key, str):
        raise AuthorizerConfigurationError("usageIdentifierKey must be a string")
    return AuthorizerDecision(
        allowed=allowed and not denied,
        principal_id=str(result["principalId"]),
        context=flat,
        usage_identifier_key=usage_key,
    )


# ----- gateway responses and proxy results -----------------------------------------------------------------


def gateway_response(api: ApiSpec, response_type: str, request_id: str, message: str | None = None) -> HttpResponse:
    """The answer API Gateway gives without a function: the template's override, else DEFAULT_4XX/5XX."""
    default_status, default_message = _DEFAULT_RESPONSES.get(response_type, (500, "Internal server error"))
    message = message if message is not None else default_message
    own = api.gateway_responses.get(response_type)
    status = own.status_code if own and own.status_code is not None else default_status
    family = api.gateway_responses.get("DEFAULT_4XX" if status < 500 else "DEFAULT_5XX")
    spec: GatewayResponseSpec | None = own if own and own.templates else family
    headers = {**(family.headers if family else {}), **(own.headers if own else {})}
    if spec and "application/json" in spec.templates:
        template = spec.templates["application/json"]
    else:
        template = '{"message":$context.error.messageString}'
    variables = {
        "$context.error.messageString": json.dumps(message),
        "$context.error.message": message or "",
        "$context.error.responseType": response_type,
        "$context.requestId": request_id,
    }
    body = template
    for variable, value in variables.items():
        body = body.replace(variable, value)
    response = HttpResponse(status, [("Content-Type", "application/json")], body.encode("utf-8"))
    response.headers.extend(headers.items())
    response.headers.append(("x-amzn-ErrorType", _error_type(response_type)))
    return response


def _error_type(response_type: str) -> str:
    return {
        "ACCESS_DENIED": "AccessDeniedException",
        "UNAUTHORIZED": "UnauthorizedException",
        "MISSING_AUTHENTICATION_TOKEN": "MissingAuthenticationTokenException",
        "REQUEST_TOO_LARGE": "RequestTooLargeException",
        "THROTTLED": "TooManyRequestsException",
        "QUOTA_EXCEEDED": "LimitExceededException",
        "INVALID_API_KEY": "ForbiddenException",
    }.get(response_type, "InternalServerErrorException")


class MalformedProxyResponse(Exception):
    """The handler's result is not a Lambda proxy response (API Gateway answers 502)."""


def internal_server_error() -> HttpResponse:
    """What API Gateway answers when the integration fails: the function raised or returned garbage."""
    response = json_response(502, {"message": "Internal server error"})
    response.headers.append(("x-amzn-ErrorType", "InternalServerErrorException"))
    return response


def parse_proxy_result(result: Any) -> HttpResponse:
    if not isinstance(result, Mapping):
        raise MalformedProxyResponse(f"expected an object, got {type(result).__name__}")
    unknown = set(result) - {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded", "cookies"}
    if unknown:
        raise MalformedProxyResponse(f"unexpected keys {sorted(unknown)}")
    try:
        status = int(result.get("statusCode", 200))
    except (TypeError, ValueError):
        raise MalformedProxyResponse(f"statusCode {result.get('statusCode')!r} is not a number") from None
    headers: list[tuple[str, str]] = []
    multi: Mapping[str, Any] = result.get("multiValueHeaders") or {}
    single: Mapping[str, Any] = result.get("headers") or {}
    if not isinstance(multi, Mapping) or not isinstance(single, Mapping):
        raise MalformedProxyResponse("headers and multiValueHeaders must be objects")
    for name, values in multi.items():
        headers.extend((name, _header_value(value)) for value in (values if isinstance(values, list) else [values]))
    headers.extend((name, _header_value(value)) for name, value in single.items() if name not in multi)
    body = result.get("body")
    if body is None:
        payload = b""
    elif not isinstance(body, str):
        raise MalformedProxyResponse(f"body must be a string, got {type(body).__name__}")
    elif result.get("isBase64Encoded"):
        try:
            payload = base64.b64decode(body, validate=True)
        except binascii.Error as error:
            raise MalformedProxyResponse(f"isBase64Encoded but the body is not base64: {error}") from error
    else:
        payload = body.encode("utf-8")
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return HttpResponse(status, headers, payload)


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
