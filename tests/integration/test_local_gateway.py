"""The local runner's API Gateway in front of functions run as the runner runs them (each invocation in its
own execution environment, a subprocess): authorizer first, then the function, with API Gateway's answers for
every way either can fail. Moved from the unit suite, which is offline and spawns nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

from meterhub_dev.local.api import LocalApiGateway
from meterhub_dev.local.apigateway import IncomingRequest
from meterhub_dev.local.lambda_runtime import LocalLambda
from meterhub_dev.local.stack import load_template

# ----- the gateway in front of in-process functions ----------------------------------------------------------

GATEWAY_TEMPLATE = """
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: local
      Auth:
        DefaultAuthorizer: Token
        Authorizers:
          Token:
            FunctionArn: !GetAtt AuthFn.Arn
            Identity: {Header: Authorization, ValidationExpression: "^Bearer [a-z]+$"}
      GatewayResponses:
        UNAUTHORIZED: {StatusCode: 401, ResponseTemplates: {application/json: '{"m":"401"}'}}
  AuthFn: {Type: AWS::Serverless::Function, Properties: {CodeUri: fn/, Handler: auth.handler}}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      Environment: {Variables: {GREETING: hello}}
      Events:
        Echo: {Type: Api, Properties: {RestApiId: !Ref Api, Path: "/echo/{name}", Method: post}}
        Public: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /public, Method: get, Auth: {Authorizer: NONE}}}
        Boom: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /boom, Method: get}}
  Absent:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: absent/
      Handler: app.handler
      Events:
        Missing: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /missing, Method: get, Auth: {Authorizer: NONE}}}
"""

AUTH_CODE = """
def handler(event, context):
    token = event["authorizationToken"].split()[1]
    if token == "unauth":
        raise Exception("Unauthorized")
    if token == "boom":
        raise ValueError("authorizer bug")
    effect = "Allow" if token == "allow" else "Deny"
    statement = {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}
    return {"principalId": "p-1", "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
            "context": {"partner_id": "p-1"}}
"""

APP_CODE = """
import json, os

def handler(event, context):
    if event["resource"] == "/boom":
        raise RuntimeError("handler bug")
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps({
        "greeting": os.environ["GREETING"], "name": event["pathParameters"] and event["pathParameters"]["name"],
        "authorizer": event["requestContext"].get("authorizer"), "body": event["body"],
        "remaining": context.get_remaining_time_in_millis() > 0})}
"""


def test_gateway_authorizes_then_invokes(tmp_path: Path) -> None:
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "auth.py").write_text(AUTH_CODE, encoding="utf-8")
    (tmp_path / "fn" / "app.py").write_text(APP_CODE, encoding="utf-8")
    (tmp_path / "template.yaml").write_text(GATEWAY_TEMPLATE, encoding="utf-8")
    template = load_template(tmp_path / "template.yaml")
    gateway = LocalApiGateway(template, LocalLambda(template))

    def call(method: str, path: str, token: str | None = None, body: bytes = b"") -> tuple[int, object]:
        headers = [("Authorization", f"Bearer {token}")] if token else []
        response = gateway.handle(IncomingRequest(method, path, "", headers, body))
        return response.status, json.loads(response.body)

    status, payload = call("POST", "/echo/ada", "allow", b'{"x":1}')
    assert status == 200
    assert payload == {
        "greeting": "hello",
        "name": "ada",
        "authorizer": {"partner_id": "p-1", "principalId": "p-1", "integrationLatency": 0},
        "body": '{"x":1}',
        "remaining": True,
    }
    assert "GREETING" not in os.environ
    assert call("POST", "/echo/ada") == (401, {"m": "401"})  # no header: the authorizer is not invoked
    assert call("POST", "/echo/ada", "NOT-VALID") == (401, {"m": "401"})  # fails ValidationExpression
    assert call("POST", "/echo/ada", "unauth") == (401, {"m": "401"})
    assert call("POST", "/echo/ada", "deny")[0] == 403
    assert call("POST", "/echo/ada", "boom")[0] == 500
    assert call("GET", "/boom", "allow") == (502, {"message": "Internal server error"})
    assert call("GET", "/missing") == (502, {"message": "Internal server error"})  # no handler file: no crash
    assert call("GET", "/public")[0] == 200  # Auth: {Authorizer: NONE}
    assert call("GET", "/nowhere") == (403, {"message": "Missing Authentication Token"})  # API Gateway default
