"""CloudFormation's intrinsic functions, conditions and parameters, evaluated against the local deployment.

Intrinsic functions are resolved the way CloudFormation would for a stack whose physical names are the
logical ids: `!Ref PartnersTable` is "PartnersTable", `!GetAtt PartnersTable.Arn` is that table's ARN in the
local account, `!Ref StageName` is the `local` stage. Anything that cannot be resolved locally
(`!ImportValue`, an unknown resource) fails loudly with the path of the offending value rather than
turning into a wrong table name at request time.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from meterhub_dev.local.template_yaml import TemplateError

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"
LOCAL_STAGE = "local"

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


@dataclass(frozen=True)
class LocalContext:
    """Where the template is deployed locally; the endpoint is known only once moto has started."""

    region: str = DEFAULT_REGION
    account_id: str = DEFAULT_ACCOUNT_ID
    aws_endpoint_url: str | None = None
    # The stage parameter is `local` so functions see STAGE=local and requests carry stage "local".
    parameter_overrides: Mapping[str, str] = field(default_factory=lambda: {"StageName": LOCAL_STAGE})


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
            "AWS::IAM::Role": f"arn:aws:iam::{account}:role/{name}",
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
            return str(delimiter).join(stringify(item) for item in self.resolve(items, where))
        if name == "Fn::If":
            condition, when_true, when_false = argument
            return self.resolve(when_true if self.condition(str(condition)) else when_false, where)
        if name == "Fn::Equals":
            left, right = (self.resolve(item, where) for item in argument)
            return stringify(left) == stringify(right)
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
                return stringify(variables[expression])
            logical_id, dot, attribute = expression.partition(".")
            if dot and logical_id in self._resources:
                return stringify(self._get_att(logical_id, attribute, where))
            return stringify(self._ref(expression, where))

        return re.sub(r"\$\{([^}]+)\}", replace, str(text))


def stringify(value: Any) -> str:
    """CloudFormation's string form: booleans are lower case (environment variables are strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
