"""What the local runner needs to know from the SAM template, read from the template itself.

The template is the single list of routes and resources; reading it (instead of keeping a second list here)
is what lets a route, table, bucket or queue added to template.yaml appear locally with no code change.

Intrinsic functions are resolved the way CloudFormation would for a stack whose physical names are the
logical ids: `!Ref PartnersTable` is "PartnersTable", `!GetAtt PartnersTable.Arn` is that table's ARN in the
local account, `!Ref StageName` is the `local` stage. Anything that cannot be resolved locally
(`!ImportValue`, an unknown resource) fails loudly with the path of the offending value rather than
turning into a wrong table name at request time.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"
LOCAL_STAGE = "local"
IMPLICIT_API_ID = "ServerlessRestApi"

# Resource types whose physical name can be set by a property (otherwise CloudFormation generates one; the
# runner uses the logical id so names are predictable for the admin CLI and tests).
_NAME_PROPERTIES = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::Serverless::Function": "FunctionName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::KMS::Alias": "AliasName",
}

_TABLE_INDEX_KEYS = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput", "OnDemandThroughput")


class TemplateError(Exception):
    """The template cannot be run locally as written (the message names the offending value)."""


# ----- YAML with CloudFormation short tags -----------------------------------------------------------------


class CfnLoader(yaml.SafeLoader):
    """A safe loader that turns `!Ref X` into `{"Ref": "X"}`, `!Sub s` into `{"Fn::Sub": s}` and so on."""


def _construct_tag(loader: CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:  # pragma: no cover - yaml has no other node kinds
        raise TemplateError(f"Unsupported YAML node for !{tag_suffix}")
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    return {f"Fn::{tag_suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_tag)


def load_yaml(path: Path) -> dict[str, Any]:
    try:
        with path.open(encoding="utf-8") as stream:
            document = yaml.load(stream, Loader=CfnLoader)  # noqa: S506 - CfnLoader is a SafeLoader
    except yaml.YAMLError as error:
        raise TemplateError(f"{path} is not valid YAML: {error}") from error
    except OSError as error:
        raise TemplateError(f"cannot read {path}: {error}") from error
    if not isinstance(document, dict):
        raise TemplateError(f"{path} is not a CloudFormation template (top level is not a mapping)")
    return document


def ref_target(value: Any) -> str | None:
    """The logical id a `!Ref X` / `!GetAtt X.Attr` / `!Sub ${X...}` points at, without resolving it.

    Used to tell which resource an event or authorizer refers to, whatever attribute it asks for.
    """
    if isinstance(value, dict) and len(value) == 1:
        ((name, argument),) = value.items()
        if name == "Ref" and isinstance(argument, str):
            return argument
        if name == "Fn::GetAtt":
            if isinstance(argument, list) and argument and isinstance(argument[0], str):
                return argument[0]
            if isinstance(argument, str):
                return argument.partition(".")[0]
        if name == "Fn::Sub" and isinstance(argument, str):
            match = re.fullmatch(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}", argument)
            return match.group(1) if match else None
    return None


# ----- the model -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalContext:
    """Where the template is deployed locally; the endpoint is known only once moto has started."""

    region: str = DEFAULT_REGION
    account_id: str = DEFAULT_ACCOUNT_ID
    aws_endpoint_url: str | None = None
    # The stage parameter is `local` so functions see STAGE=local and requests carry stage "local".
    parameter_overrides: Mapping[str, str] = field(default_factory=lambda: {"StageName": LOCAL_STAGE})


@dataclass(frozen=True)
class EventSource:
    """One entry of a function's `Events`; `properties` are raw (resolve them with `LocalTemplate.resolve`)."""

    name: str
    type: str
    properties: Mapping[str, Any]


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    physical_name: str
    code_dir: Path
    handler: str
    environment: Mapping[str, str]
    timeout_seconds: int
    memory_mb: int
    events: tuple[EventSource, ...]

    @property
    def module_name(self) -> str:
        return self.handler.rpartition(".")[0]

    @property
    def function_name(self) -> str:
        return self.handler.rpartition(".")[2]

    @property
    def module_path(self) -> Path:
        return self.code_dir.joinpath(*self.module_name.split(".")).with_suffix(".py")


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


@dataclass(frozen=True)
class TableSpec:
    logical_id: str
    physical_name: str
    create_kwargs: Mapping[str, Any]
    ttl_attribute: str | None


@dataclass(frozen=True)
class BucketSpec:
    logical_id: str
    physical_name: str
    versioned: bool
    notification_configuration: Mapping[str, Any]  # raw, for event-source relays


@dataclass(frozen=True)
class QueueSpec:
    logical_id: str
    physical_name: str
    attributes: Mapping[str, str]
    dead_letter_queue: str | None  # logical id of the redrive target, created first


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

    def resolve(self, value: Any, where: str = "value") -> Any:
        return self.resolver.resolve(value, where)

    def physical_name(self, logical_id: str) -> str:
        return self.resolver.physical_name(logical_id)

    def api_for(self, route: Route) -> ApiSpec:
        return self.apis[route.api_id]


# ----- intrinsic functions ---------------------------------------------------------------------------------


class _NoValue:
    """`!Ref AWS::NoValue`: the property disappears."""


NO_VALUE = _NoValue()


class Resolver:
    """Evaluates intrinsic functions against the local deployment (see the module docstring)."""

    def __init__(self, document: Mapping[str, Any], context: LocalContext) -> None:
        self._document = document
        self._context = context
        self._resources: Mapping[str, Mapping[str, Any]] = document.get("Resources") or {}
        self._conditions: Mapping[str, Any] = document.get("Conditions") or {}
        self._condition_values: dict[str, bool] = {}

    # -- names -----------------------------------------------------------------------------------------------

    def resource_type(self, logical_id: str) -> str:
        resource = self._resources.get(logical_id)
        if resource is None:
            raise TemplateError(f"Unknown resource {logical_id!r}")
        return str(resource.get("Type", ""))

    def physical_name(self, logical_id: str) -> str:
        resource_type = self.resource_type(logical_id)
        properties = self._resources[logical_id].get("Properties") or {}
        name_property = _NAME_PROPERTIES.get(resource_type)
        if name_property and properties.get(name_property) is not None:
            return str(self.resolve(properties[name_property], f"{logical_id}.{name_property}"))
        if resource_type == "AWS::SQS::Queue" and self._truthy(properties.get("FifoQueue"), logical_id):
            return f"{logical_id}.fifo"
        return logical_id

    def _truthy(self, value: Any, where: str) -> bool:
        resolved = self.resolve(value, where)
        return resolved is True or str(resolved).lower() == "true"

    def queue_url(self, logical_id: str) -> str:
        name = self.physical_name(logical_id)
        endpoint = self._context.aws_endpoint_url
        if endpoint:
            return f"{endpoint.rstrip('/')}/{self._context.account_id}/{name}"
        return f"https://sqs.{self._context.region}.amazonaws.com/{self._context.account_id}/{name}"

    def arn(self, logical_id: str) -> str:
        resource_type = self.resource_type(logical_id)
        name = self.physical_name(logical_id)
        region, account = self._context.region, self._context.account_id
        arns = {
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{region}:{account}:table/{name}",
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{region}:{account}:{name}",
            "AWS::SNS::Topic": f"arn:aws:sns:{region}:{account}:{name}",
            "AWS::Serverless::Function": f"arn:aws:lambda:{region}:{account}:function:{name}",
            "AWS::Lambda::Function": f"arn:aws:lambda:{region}:{account}:function:{name}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{region}:{account}:log-group:{name}:*",
            "AWS::KMS::Key": f"arn:aws:kms:{region}:{account}:key/{name}",
        }
        if resource_type not in arns:
            raise TemplateError(f"No local ARN for {logical_id} ({resource_type})")
        return arns[resource_type]

    def _ref(self, name: str, where: str) -> Any:
        pseudo = {
            "AWS::Region": self._context.region,
            "AWS::AccountId": self._context.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "meterhub-local",
            "AWS::StackId": f"arn:aws:cloudformation:{self._context.region}:{self._context.account_id}:stack/local",
            "AWS::NotificationARNs": [],
        }
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in pseudo:
            return pseudo[name]
        parameters: Mapping[str, Any] = self._document.get("Parameters") or {}
        if name in parameters:
            if name in self._context.parameter_overrides:
                return self._context.parameter_overrides[name]
            if "Default" not in parameters[name]:
                raise TemplateError(f"{where}: parameter {name} has no Default; pass --parameter {name}=VALUE")
            return parameters[name]["Default"]
        if name in self._resources:
            if self.resource_type(name) == "AWS::SQS::Queue":
                return self.queue_url(name)  # Ref of a queue is its URL, as in CloudFormation
            return self.physical_name(name)
        raise TemplateError(f"{where}: !Ref {name} names no parameter or resource")

    def _get_att(self, logical_id: str, attribute: str, where: str) -> Any:
        resource_type = self.resource_type(logical_id)
        name = self.physical_name(logical_id)
        if attribute == "Arn":
            return self.arn(logical_id)
        if resource_type == "AWS::SQS::Queue" and attribute == "QueueName":
            return name
        if resource_type == "AWS::SQS::Queue" and attribute == "QueueUrl":
            return self.queue_url(logical_id)
        if resource_type == "AWS::DynamoDB::Table" and attribute == "StreamArn":
            return f"{self.arn(logical_id)}/stream/local"
        if resource_type == "AWS::S3::Bucket" and attribute in {"DomainName", "RegionalDomainName"}:
            return f"{name}.s3.amazonaws.com"
        raise TemplateError(f"{where}: !GetAtt {logical_id}.{attribute} has no local value")

    # -- evaluation ------------------------------------------------------------------------------------------

    def condition(self, name: str) -> bool:
        if name not in self._condition_values:
            if name not in self._conditions:
                raise TemplateError(f"Unknown condition {name!r}")
            self._condition_values[name] = bool(self.resolve(self._conditions[name], f"Conditions.{name}"))
        return self._condition_values[name]

    def resolve(self, value: Any, where: str = "value") -> Any:
        if isinstance(value, list):
            items = [self.resolve(item, f"{where}[{index}]") for index, item in enumerate(value)]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref" or name == "Condition" or name.startswith("Fn::"):
                return self._intrinsic(name, argument, where)
        resolved = {key: self.resolve(item, f"{where}.{key}") for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _intrinsic(self, name: str, argument: Any, where: str) -> Any:
        if name == "Ref":
            return self._ref(str(argument), where)
        if name == "Condition":
            return self.condition(str(argument))
        if name == "Fn::GetAtt":
            if isinstance(argument, str):
                argument = argument.split(".", 1)
            logical_id, attribute = (self.resolve(part, where) for part in argument)
            return self._get_att(str(logical_id), str(attribute), where)
        if name == "Fn::Sub":
            return self._sub(argument, where)
        if name == "Fn::Join":
            delimiter, items = argument
            return str(delimiter).join(_stringify(item) for item in self.resolve(items, where))
        if name == "Fn::If":
            condition, when_true, when_false = argument
            return self.resolve(when_true if self.condition(str(condition)) else when_false, where)
        if name == "Fn::Equals":
            left, right = (self.resolve(item, where) for item in argument)
            return _stringify(left) == _stringify(right)
        if name == "Fn::Not":
            return not self._as_condition(argument[0], where)
        if name == "Fn::And":
            return all(self._as_condition(item, where) for item in argument)
        if name == "Fn::Or":
            return any(self._as_condition(item, where) for item in argument)
        if name == "Fn::Select":
            index, items = argument
            return self.resolve(items, where)[int(self.resolve(index, where))]
        if name == "Fn::Split":
            delimiter, source = argument
            return str(self.resolve(source, where)).split(str(delimiter))
        if name == "Fn::FindInMap":
            map_name, top_key, second_key = (str(self.resolve(item, where)) for item in argument)
            try:
                return self._document["Mappings"][map_name][top_key][second_key]
            except KeyError:
                raise TemplateError(f"{where}: no mapping {map_name}.{top_key}.{second_key}") from None
        if name == "Fn::Base64":
            return base64.b64encode(str(self.resolve(argument, where)).encode("utf-8")).decode("ascii")
        if name == "Fn::GetAZs":
            return [f"{self._context.region}{zone}" for zone in "abc"]
        raise TemplateError(f"{where}: {name} cannot be evaluated locally")

    def _as_condition(self, value: Any, where: str) -> bool:
        return bool(self.resolve(value, where))

    def _sub(self, argument: Any, where: str) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], self.resolve(argument[1], where)
        else:
            text, variables = argument, {}

        def replace(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression.startswith("!"):
                return "${" + expression[1:] + "}"
            if expression in variables:
                return _stringify(variables[expression])
            logical_id, dot, attribute = expression.partition(".")
            if dot and logical_id in self._resources:
                return _stringify(self._get_att(logical_id, attribute, where))
            return _stringify(self._ref(expression, where))

        return re.sub(r"\$\{([^}]+)\}", replace, str(text))


def _stringify(value: Any) -> str:
    """CloudFormation's string form: booleans are lower case (environment variables are strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ----- building the model ----------------------------------------------------------------------------------


def find_template(start: Path | None = None) -> Path:
    """template.yaml in the current directory or the nearest parent (so the runner works from sub-folders)."""
    directory = (start or Path.cwd()).resolve()
    for candidate in (directory, *directory.parents):
        for name in ("template.yaml", "template.yml"):
            if (candidate / name).is_file():
                return candidate / name
    raise TemplateError(f"No template.yaml in {directory} or its parents; pass --template")


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
        logical_id: _api(resolver, logical_id, _merge(globals_section.get("Api") or {}, properties))
        for logical_id, properties in of_type("AWS::Serverless::Api")
    }
    routes = _routes(resolver, functions, apis, globals_section.get("Api") or {})
    tables = {logical_id: _table(resolver, logical_id, properties) for logical_id, properties in of_type(_TABLE)}
    buckets = {logical_id: _bucket(resolver, logical_id, properties) for logical_id, properties in of_type(_BUCKET)}
    queues = {logical_id: _queue(resolver, logical_id, properties) for logical_id, properties in of_type(_QUEUE)}
    kms_aliases = {logical_id: resolver.physical_name(logical_id) for logical_id, _ in of_type("AWS::KMS::Alias")}
    usage_plans = {
        logical_id: _usage_plan(resolver, logical_id, properties, apis)
        for logical_id, properties in of_type("AWS::ApiGateway::UsagePlan")
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
    )


_TABLE = "AWS::DynamoDB::Table"
_BUCKET = "AWS::S3::Bucket"
_QUEUE = "AWS::SQS::Queue"


def _included(resolver: Resolver, resource: Mapping[str, Any]) -> bool:
    """A resource with a false `Condition` does not exist in the stack."""
    condition = resource.get("Condition")
    return condition is None or resolver.condition(str(condition))


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
        name: _stringify(resolver.resolve(value, f"{where}.Environment.Variables.{name}"))
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


def _api(resolver: Resolver, logical_id: str, properties: Mapping[str, Any]) -> ApiSpec:
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


def _usage_plan(
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


def _routes(
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
                apis[api_id] = _api(resolver, api_id, global_api)  # SAM's implicit API, shaped by Globals.Api
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


def _table(resolver: Resolver, logical_id: str, properties: Mapping[str, Any]) -> TableSpec:
    where = f"{logical_id}.Properties"

    def get(name: str) -> Any:
        return resolver.resolve(properties.get(name), f"{where}.{name}")

    kwargs: dict[str, Any] = {
        "TableName": resolver.physical_name(logical_id),
        "AttributeDefinitions": get("AttributeDefinitions"),
        "KeySchema": get("KeySchema"),
        "BillingMode": get("BillingMode") or "PROVISIONED",
    }
    if kwargs["BillingMode"] == "PROVISIONED":
        kwargs["ProvisionedThroughput"] = get("ProvisionedThroughput") or {
            "ReadCapacityUnits": 5,
            "WriteCapacityUnits": 5,
        }
    for index_kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        indexes: Sequence[Mapping[str, Any]] = get(index_kind) or []
        if indexes:
            kwargs[index_kind] = [{k: v for k, v in index.items() if k in _TABLE_INDEX_KEYS} for index in indexes]
    stream = get("StreamSpecification")
    if stream:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    ttl: Mapping[str, Any] = get("TimeToLiveSpecification") or {}
    enabled = ttl.get("Enabled") is True or str(ttl.get("Enabled")).lower() == "true"
    return TableSpec(
        logical_id=logical_id,
        physical_name=kwargs["TableName"],
        create_kwargs=kwargs,
        ttl_attribute=str(ttl["AttributeName"]) if enabled and ttl.get("AttributeName") else None,
    )


def _bucket(resolver: Resolver, logical_id: str, properties: Mapping[str, Any]) -> BucketSpec:
    versioning = resolver.resolve(properties.get("VersioningConfiguration") or {}, f"{logical_id}.Versioning")
    return BucketSpec(
        logical_id=logical_id,
        physical_name=resolver.physical_name(logical_id),
        versioned=versioning.get("Status") == "Enabled",
        notification_configuration=properties.get("NotificationConfiguration") or {},
    )


_QUEUE_ATTRIBUTES = (
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoQueue",
    "FifoThroughputLimit",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
)


def _queue(resolver: Resolver, logical_id: str, properties: Mapping[str, Any]) -> QueueSpec:
    where = f"{logical_id}.Properties"
    attributes = {
        name: _stringify(resolver.resolve(properties[name], f"{where}.{name}"))
        for name in _QUEUE_ATTRIBUTES
        if properties.get(name) is not None
    }
    dead_letter_queue = None
    redrive = properties.get("RedrivePolicy")
    if redrive:
        dead_letter_queue = ref_target(redrive.get("deadLetterTargetArn"))
        policy = resolver.resolve(redrive, f"{where}.RedrivePolicy")
        attributes["RedrivePolicy"] = _json(policy)
    return QueueSpec(
        logical_id=logical_id,
        physical_name=resolver.physical_name(logical_id),
        attributes=attributes,
        dead_letter_queue=dead_letter_queue,
    )


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
