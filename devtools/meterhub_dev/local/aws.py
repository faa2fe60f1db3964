"""An embedded moto server holding the template's tables, buckets and queues.

A real HTTP endpoint (rather than `moto.mock_aws` patching this process) is what lets other processes, the
admin CLI, the AWS CLI or a test, read and write the same data the local API serves. The environment is
pointed at it before any boto3 client exists, and fake credentials replace whatever is configured, so
nothing the runner does can reach a real AWS account. Where moto itself must act more like AWS (complete S3
event records, atomic DynamoDB requests), `meterhub_dev.local.moto_fidelity` says why and how.
"""

from __future__ import annotations

import logging
import os
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import boto3
from meterhub.platform.adapters import clients
from moto.server import ThreadedMotoServer

from meterhub_dev.local import moto_fidelity
from meterhub_dev.local.intrinsics import DEFAULT_REGION
from meterhub_dev.local.provisioning import Provisioned, provision
from meterhub_dev.local.stack import LocalTemplate

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class LocalAws:
    """moto on 127.0.0.1 and a free port; `start()` also points this process's AWS settings at it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self._endpoint_url: str | None = None
        self._fidelity = ExitStack()

    @property
    def endpoint_url(self) -> str:
        if self._endpoint_url is None:
            raise RuntimeError("LocalAws.start() has not been called")
        return self._endpoint_url

    @property
    def region(self) -> str:
        return os.environ.get("AWS_DEFAULT_REGION", DEFAULT_REGION)

    def start(self) -> str:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log is noise here
        self._fidelity.enter_context(moto_fidelity.installed())
        self._server.start()
        host, port = self._server.get_host_and_port()
        self._endpoint_url = f"http://{host}:{port}"
        configure_environment(self._endpoint_url)
        return self._endpoint_url

    def stop(self) -> None:
        if self._endpoint_url is not None:
            self._server.stop()
            self._endpoint_url = None
        self._fidelity.close()

    def dynamodb(self) -> DynamoDBClient:
        return boto3.client("dynamodb", endpoint_url=self.endpoint_url, region_name=self.region)

    def s3(self) -> S3Client:
        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=self.region)

    def sqs(self) -> SQSClient:
        return boto3.client("sqs", endpoint_url=self.endpoint_url, region_name=self.region)

    def kms(self) -> KMSClient:
        return boto3.client("kms", endpoint_url=self.endpoint_url, region_name=self.region)

    def apigateway(self) -> Any:
        """An API Gateway client (the project carries no type stubs for it)."""
        return boto3.client("apigateway", endpoint_url=self.endpoint_url, region_name=self.region)

    def provision(self, template: LocalTemplate) -> Provisioned:
        """Create every table, bucket, queue, KMS key alias and usage plan of the template, as `sam deploy`
        would."""
        created = provision(template, self.dynamodb(), self.s3(), self.sqs(), self.kms())
        apigateway = self.apigateway()
        for plan in template.usage_plans.values():
            # The plan's keys live here (the admin CLI adds partners' keys); its throttle is read from the
            # template by the local API (meterhub_dev.local.usage_plans).
            created.usage_plans[plan.logical_id] = apigateway.create_usage_plan(name=plan.name)["id"]
        return created


def configure_environment(endpoint_url: str) -> None:
    """Send every boto3 client of this process (and of child processes) to moto, with fake credentials."""
    for name in list(os.environ):
        # A service-specific endpoint or a session token would override or leak past the moto endpoint.
        if name.startswith("AWS_ENDPOINT_URL_") or name in {"AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"}:
            del os.environ[name]
    os.environ.pop("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", None)
    os.environ.pop("AWS_PROFILE", None)  # a profile this machine lacks would fail every client before moto
    os.environ["AWS_ENDPOINT_URL"] = endpoint_url
    os.environ.update(FAKE_CREDENTIALS)
    os.environ.setdefault("AWS_DEFAULT_REGION", DEFAULT_REGION)
    clients.reset()
